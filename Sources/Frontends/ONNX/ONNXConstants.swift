import GraphIR

/// Arithmetic on constant tensors, for folding the shape computations exported graphs carry
/// (Shape → Gather → Unsqueeze → Concat → Reshape, Equal/Where, Cast, …) at import. Values are
/// computed in Double and stored in the result's dtype.
enum ConstMath {
    static func values(_ t: Tensor) -> [Double] {
        switch t.dtype {
        case .int64, .int32, .int16, .int8, .uint8, .bool: t.int64ArrayExact().map(Double.init)
        case .float64:
            (0..<t.elementCount).map { t.storage.pointer.loadUnaligned(fromByteOffset: 8 * $0, as: Double.self) }
        default: t.floatArray().map(Double.init)
        }
    }

    /// A Double as Int64, saturating (NaN becomes 0).
    static func int(_ x: Double) -> Int64 {
        guard x.isFinite else { return x.isNaN ? 0 : (x > 0 ? .max : .min) }
        return x >= 9.2e18 ? .max : (x <= -9.2e18 ? .min : Int64(x))
    }

    static func tensor(_ v: [Double], shape: [Int], dtype: DType) -> Tensor {
        let s = TensorStorage(byteCount: v.count * dtype.byteSize)
        let p = s.mutablePointer!
        for (i, x) in v.enumerated() {
            switch dtype {
            case .float32: p.storeBytes(of: Float(x), toByteOffset: 4 * i, as: Float.self)
            case .float64: p.storeBytes(of: x, toByteOffset: 8 * i, as: Double.self)
            case .float16: p.storeBytes(of: Float16(Float(x)).bitPattern, toByteOffset: 2 * i, as: UInt16.self)
            case .bfloat16:
                let f = Float(x).bitPattern
                let rounded = f &+ 0x7fff &+ ((f >> 16) & 1)  // round to nearest even
                p.storeBytes(of: UInt16(truncatingIfNeeded: rounded >> 16), toByteOffset: 2 * i, as: UInt16.self)
            case .int64: p.storeBytes(of: int(x), toByteOffset: 8 * i, as: Int64.self)
            case .int32: p.storeBytes(of: Int32(clamping: int(x)), toByteOffset: 4 * i, as: Int32.self)
            case .int16: p.storeBytes(of: Int16(clamping: int(x)), toByteOffset: 2 * i, as: Int16.self)
            case .int8: p.storeBytes(of: Int8(clamping: int(x)), toByteOffset: i, as: Int8.self)
            case .uint8, .bool: p.storeBytes(of: UInt8(clamping: int(x)), toByteOffset: i, as: UInt8.self)
            }
        }
        return Tensor(dtype: dtype, shape: Shape(shape), storage: s)
    }

    static func scalar(_ t: Tensor) -> Double? { t.elementCount == 1 ? values(t)[0] : nil }

    /// Elementwise binary op with NumPy broadcasting.
    static func binary(_ a: Tensor, _ b: Tensor, dtype: DType? = nil, _ f: (Double, Double) -> Double) -> Tensor? {
        guard let shape = ShapeInference.broadcast(a.shape.dims, b.shape.dims) else { return nil }
        let (va, vb) = (values(a), values(b))
        let ia = ShapeInference.broadcastOffsets(from: a.shape.dims, to: shape)
        let ib = ShapeInference.broadcastOffsets(from: b.shape.dims, to: shape)
        let out = zip(ia, ib).map { f(va[$0], vb[$1]) }
        return tensor(out, shape: shape, dtype: dtype ?? a.dtype)
    }

    static func unary(_ a: Tensor, dtype: DType? = nil, _ f: (Double) -> Double) -> Tensor {
        tensor(values(a).map(f), shape: a.shape.dims, dtype: dtype ?? a.dtype)
    }

    /// Any reordering or selection expressed as "output element i reads input element idx[i]".
    static func gather(_ a: Tensor, _ idx: [Int], shape: [Int]) -> Tensor {
        let v = values(a)
        return tensor(idx.map { v[$0] }, shape: shape, dtype: a.dtype)
    }

    static func transpose(_ a: Tensor, perm: [Int]) -> Tensor {
        if perm == [1, 0] { return transposed2D(a) }
        let dims = a.shape.dims
        let outShape = perm.map { dims[$0] }
        let st = a.shape.strides
        var idx: [Int] = []
        idx.reserveCapacity(a.elementCount)
        var counter = [Int](repeating: 0, count: outShape.count)
        for _ in 0..<a.elementCount {
            idx.append(zip(counter, perm).reduce(0) { $0 + $1.0 * st[$1.1] })
            var d = outShape.count - 1
            while d >= 0 {
                counter[d] += 1
                if counter[d] < outShape[d] { break }
                counter[d] = 0
                d -= 1
            }
        }
        return gather(a, idx, shape: outShape)
    }

    /// A matrix transposed, element bytes moved as they are, in tiles that stay in cache (a
    /// ViT-B/16's MatMul weights, 340 MB, are transposed at import). A source mapped from the
    /// model file gives its pages back afterwards: the graph holds the transposed copy, so the
    /// file's pages need not stay resident beside it.
    static func transposed2D(_ a: Tensor) -> Tensor {
        let (rows, cols, size) = (a.shape[0], a.shape[1], a.dtype.byteSize)
        let out = TensorStorage(byteCount: a.byteCount, zeroed: false)
        let (src, dst) = (a.storage.pointer, out.mutablePointer!)
        let tile = 32
        func move<T>(_: T.Type) {
            for r0 in stride(from: 0, to: rows, by: tile) {
                for c0 in stride(from: 0, to: cols, by: tile) {
                    for r in r0..<min(r0 + tile, rows) {
                        for c in c0..<min(c0 + tile, cols) {
                            let v = src.loadUnaligned(fromByteOffset: (r * cols + c) * size, as: T.self)
                            dst.storeBytes(of: v, toByteOffset: (c * rows + r) * size, as: T.self)
                        }
                    }
                }
            }
        }
        switch size {
        case 8: move(UInt64.self)
        case 4: move(UInt32.self)
        case 2: move(UInt16.self)
        default: move(UInt8.self)
        }
        if a.isMapped { a.storage.releaseResidentPages() }
        return Tensor(dtype: a.dtype, shape: Shape([cols, rows]), storage: out)
    }

    static func concat(_ ts: [Tensor], axis: Int) -> Tensor {
        var outShape = ts[0].shape.dims
        outShape[axis] = ts.reduce(0) { $0 + $1.shape[axis] }
        let outer = outShape[..<axis].reduce(1, *)
        var out: [Double] = []
        let vs = ts.map(values)
        for o in 0..<outer {
            for (t, v) in zip(ts, vs) {
                let chunk = t.shape.dims[axis...].reduce(1, *)
                out += v[(o * chunk)..<((o + 1) * chunk)]
            }
        }
        return tensor(out, shape: outShape, dtype: ts[0].dtype)
    }

    static func slice(_ a: Tensor, axis: Int, start: Int, step: Int, count: Int) -> Tensor {
        let dims = a.shape.dims
        let inner = dims[(axis + 1)...].reduce(1, *)
        let outer = dims[..<axis].reduce(1, *)
        var idx: [Int] = []
        for o in 0..<outer {
            for j in 0..<count { for i in 0..<inner { idx.append((o * dims[axis] + start + j * step) * inner + i) } }
        }
        var shape = dims
        shape[axis] = count
        return gather(a, idx, shape: shape)
    }

    static func take(_ a: Tensor, indices: [Int], indicesShape: [Int], axis: Int) -> Tensor {
        let dims = a.shape.dims
        let inner = dims[(axis + 1)...].reduce(1, *)
        let outer = dims[..<axis].reduce(1, *)
        var idx: [Int] = []
        for o in 0..<outer { for j in indices { for i in 0..<inner { idx.append((o * dims[axis] + j) * inner + i) } } }
        return gather(a, idx, shape: Array(dims[..<axis]) + indicesShape + Array(dims[(axis + 1)...]))
    }

    static func expand(_ a: Tensor, to shape: [Int]) -> Tensor {
        gather(a, ShapeInference.broadcastOffsets(from: a.shape.dims, to: shape), shape: shape)
    }
}
