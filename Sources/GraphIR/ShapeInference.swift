/// Output types of each op from its input types (and constant inputs, where an op reads them).
public enum ShapeInference {
    public struct Inferred: Sendable, Equatable {
        public var dtype: DType
        public var shape: Shape
    }

    /// NumPy broadcasting of two shapes, or nil when they are incompatible.
    public static func broadcast(_ a: [Int], _ b: [Int]) -> [Int]? {
        let n = max(a.count, b.count)
        var out = [Int](repeating: 0, count: n)
        for i in 0..<n {
            let da = i < n - a.count ? 1 : a[i - (n - a.count)]
            let db = i < n - b.count ? 1 : b[i - (n - b.count)]
            if da == db || db == 1 {
                out[i] = da
            } else if da == 1 {
                out[i] = db
            } else {
                return nil
            }
        }
        return out
    }

    /// For each element of `to` (row-major), the flat index of the element of `from` it reads
    /// under broadcasting.
    public static func broadcastOffsets(from: [Int], to: [Int]) -> [Int] {
        Kernels.broadcastOffsets(from: from, to: to)
    }

    /// Normalises a possibly negative axis for a given rank.
    public static func axis(_ a: Int, rank: Int) -> Int? {
        let r = a < 0 ? a + rank : a
        return (0..<rank).contains(r) ? r : nil
    }

    /// Output length of a window of `k` (dilated extent) sliding with `stride` over `n + padding`.
    /// Every argument is at most 2^62 (dims and attributes below 2^31, extents below 2^62), so
    /// the sums cannot overflow; 0 when the window does not fit.
    static func windowCount(_ n: Int, _ padBefore: Int, _ padAfter: Int, _ extent: Int, _ stride: Int, ceil: Bool)
        -> Int
    {
        let span = n + padBefore + padAfter - extent
        guard span >= 0, stride > 0 else { return 0 }
        var out = (ceil ? (span + stride - 1) / stride : span / stride) + 1
        // PyTorch: the last window must start inside the input or the leading padding.
        if ceil, (out - 1) * stride >= n + padBefore { out -= 1 }
        return out
    }

    /// Output types of `op` on `inputs`. Total on any input: input shapes beyond
    /// `Graph.maxElements`, attributes beyond `Graph.maxAttribute` and outputs that would exceed
    /// the element limit are errors, never an overflow.
    public static func infer(op: Op, inputs: [Value], constants: [Tensor?], node: String) throws(IRError)
        -> [Inferred]
    {
        guard op.arity.contains(inputs.count), constants.count == inputs.count else {
            throw IRError(
                .arity, at: node,
                "\(op.name) takes \(op.arity.lowerBound)…\(op.arity.upperBound == Int.max ? "n" : String(op.arity.upperBound)) inputs, got \(inputs.count)"
            )
        }
        for v in inputs {
            guard let n = v.shape.span, n <= Graph.maxElements else {
                throw IRError(
                    .shapeMismatch, at: node,
                    "\(op.name): input %\(v.name) \(v.shape) holds more than the \(Graph.maxElements) elements a value may have"
                )
            }
        }
        let out = try inferBounded(op: op, inputs: inputs, constants: constants, node: node)
        for o in out {
            guard let n = o.shape.span, n <= Graph.maxElements else {
                throw IRError(
                    .shapeMismatch, at: node,
                    "\(op.name): the output \(o.shape) would hold more than the \(Graph.maxElements) elements a value may have"
                )
            }
        }
        return out
    }

    /// `infer` on inputs whose shapes are known to be within the element limit.
    static func inferBounded(op: Op, inputs: [Value], constants: [Tensor?], node: String) throws(IRError)
        -> [Inferred]
    {
        func fail(_ m: String) -> IRError { IRError(.shapeMismatch, at: node, "\(op.name): \(m)") }
        func attr(_ m: String) -> IRError { IRError(.badAttribute, at: node, "\(op.name): \(m)") }
        func small(_ a: [Int]) -> Bool { a.allSatisfy { $0 <= Graph.maxAttribute && $0 >= -Graph.maxAttribute } }
        let x = inputs[0]
        let xs = x.shape.dims
        let floatOut = { (s: [Int]) in [Inferred(dtype: x.dtype, shape: Shape(s))] }
        switch op {
        case .conv2d(let a):
            let w = inputs[1].shape.dims
            guard xs.count == 4, w.count == 4 else { throw fail("input \(x.shape) and weight \(Shape(w)) must be 4-D") }
            guard a.stride.count == 2, a.pad.count == 4, a.dilation.count == 2, a.groups >= 1,
                a.stride.allSatisfy({ $0 >= 1 }), a.dilation.allSatisfy({ $0 >= 1 }), a.pad.allSatisfy({ $0 >= 0 }),
                small(a.stride + a.pad + a.dilation + [a.groups])
            else { throw attr("stride, pad, dilation or groups out of range") }
            guard w[0] % a.groups == 0, xs[1] == w[1] * a.groups else {
                throw fail("input channels \(xs[1]) do not match weight \(Shape(w)) with groups=\(a.groups)")
            }
            if inputs.count == 3, inputs[2].shape.dims != [w[0]] {
                throw fail("bias \(inputs[2].shape) must be [\(w[0])]")
            }
            let ho = windowCount(xs[2], a.pad[0], a.pad[2], a.dilation[0] * (w[2] - 1) + 1, a.stride[0], ceil: false)
            let wo = windowCount(xs[3], a.pad[1], a.pad[3], a.dilation[1] * (w[3] - 1) + 1, a.stride[1], ceil: false)
            guard ho > 0, wo > 0 else { throw fail("kernel \(w[2])×\(w[3]) larger than padded input \(x.shape)") }
            return floatOut([xs[0], w[0], ho, wo])
        case .batchNorm(let eps):
            guard xs.count >= 2 else { throw fail("input \(x.shape) must have a channel dimension") }
            guard eps >= 0 else { throw attr("epsilon must be ≥ 0") }
            for p in inputs[1...] where p.shape.dims != [xs[1]] {
                throw fail("parameter \(p.name) \(p.shape) must be [\(xs[1])]")
            }
            return floatOut(xs)
        case .gemm:
            let w = inputs[1].shape.dims
            guard xs.count >= 1, w.count == 2, xs.last == w[1] else {
                throw fail("input \(x.shape) does not match weight \(Shape(w)) (expects [N, \(xs.last ?? 0)])")
            }
            if inputs.count == 3, inputs[2].shape.dims != [w[0]] {
                throw fail("bias \(inputs[2].shape) must be [\(w[0])]")
            }
            return floatOut(xs.dropLast() + [w[0]])
        case .fullyConnected:
            let w = inputs[1].shape.dims
            let k = xs.dropFirst().reduce(1, *)
            guard xs.count >= 1, w.count == 2, k == w[1] else {
                throw fail("input \(x.shape) flattens to \(k) features but the weight is \(Shape(w))")
            }
            if inputs.count == 3, inputs[2].shape.dims != [w[0]] {
                throw fail("bias \(inputs[2].shape) must be [\(w[0])]")
            }
            return floatOut([xs[0], w[0]])
        case .matMul:
            let b = inputs[1].shape.dims
            guard xs.count >= 2, b.count >= 2, xs[xs.count - 1] == b[b.count - 2],
                let lead = broadcast(Array(xs.dropLast(2)), Array(b.dropLast(2)))
            else { throw fail("cannot multiply \(x.shape) by \(inputs[1].shape)") }
            return floatOut(lead + [xs[xs.count - 2], b[b.count - 1]])
        case .add, .mul:
            guard let s = broadcast(xs, inputs[1].shape.dims) else {
                throw fail("cannot broadcast \(x.shape) with \(inputs[1].shape)")
            }
            return floatOut(s)
        case .relu, .hardSwish, .hardSigmoid, .gelu, .sigmoid, .silu, .identity:
            return floatOut(xs)
        case .clip(let lo, let hi):
            guard lo <= hi else { throw attr("min \(lo) > max \(hi)") }
            return floatOut(xs)
        case .dropout(let r):
            guard (0..<1).contains(r) else { throw attr("ratio must be in [0, 1)") }
            return floatOut(xs)
        case .layerNorm(let ax, let eps):
            guard let a = axis(ax, rank: xs.count) else { throw attr("axis \(ax) out of range for \(x.shape)") }
            guard eps >= 0 else { throw attr("epsilon must be ≥ 0") }
            let tail = Array(xs[a...])
            for p in inputs[1...] where p.shape.dims != tail {
                throw fail("parameter \(p.name) \(p.shape) must be \(Shape(tail))")
            }
            return floatOut(xs)
        case .softmax(let ax):
            guard axis(ax, rank: xs.count) != nil else { throw attr("axis \(ax) out of range for \(x.shape)") }
            return floatOut(xs)
        case .globalAvgPool:
            guard xs.count == 4 else { throw fail("input \(x.shape) must be [N,C,H,W]") }
            return floatOut([xs[0], xs[1], 1, 1])
        case .avgPool(let a), .maxPool(let a):
            guard xs.count == 4 else { throw fail("input \(x.shape) must be [N,C,H,W]") }
            guard a.kernel.count == 2, a.stride.count == 2, a.pad.count == 4, a.kernel.allSatisfy({ $0 >= 1 }),
                a.stride.allSatisfy({ $0 >= 1 }), a.pad.allSatisfy({ $0 >= 0 }), small(a.kernel + a.stride + a.pad)
            else { throw attr("kernel, stride or pad out of range") }
            let ho = windowCount(xs[2], a.pad[0], a.pad[2], a.kernel[0], a.stride[0], ceil: a.ceilMode)
            let wo = windowCount(xs[3], a.pad[1], a.pad[3], a.kernel[1], a.stride[1], ceil: a.ceilMode)
            guard ho > 0, wo > 0 else { throw fail("window \(a.kernel) larger than padded input \(x.shape)") }
            return floatOut([xs[0], xs[1], ho, wo])
        case .reshape(let target):
            guard target.filter({ $0 == -1 }).count <= 1, target.allSatisfy({ $0 >= -1 }) else {
                throw attr("shape \(target) may hold one -1 and no other negative")
            }
            guard let known = Shape(target.filter { $0 != -1 }).checkedElementCount, known <= Graph.maxElements else {
                throw fail("cannot reshape \(x.shape) to \(target): too many elements")
            }
            let n = x.shape.elementCount
            var out = target
            if let i = target.firstIndex(of: -1) {
                guard known > 0, n % known == 0 else { throw fail("cannot reshape \(x.shape) to \(target)") }
                out[i] = n / known
            }
            guard out.reduce(1, *) == n else { throw fail("cannot reshape \(x.shape) (\(n) elements) to \(target)") }
            return floatOut(out)
        case .flatten(let ax):
            guard (0...xs.count).contains(ax) else { throw attr("axis \(ax) out of range for \(x.shape)") }
            return floatOut([xs[..<ax].reduce(1, *), xs[ax...].reduce(1, *)])
        case .transpose(let perm):
            guard perm.count == xs.count, Set(perm) == Set(0..<xs.count) else {
                throw attr("perm \(perm) is not a permutation of \(xs.count) axes")
            }
            return floatOut(perm.map { xs[$0] })
        case .concat(let ax):
            guard let a = axis(ax, rank: xs.count) else { throw attr("axis \(ax) out of range for \(x.shape)") }
            var out = xs
            for v in inputs.dropFirst() {
                let s = v.shape.dims
                guard s.count == xs.count, (0..<s.count).allSatisfy({ $0 == a || s[$0] == xs[$0] }),
                    v.dtype == x.dtype
                else { throw fail("cannot concatenate \(x.shape) with \(v.shape) along axis \(a)") }
                out[a] += s[a]
            }
            return floatOut(out)
        case .slice(let ax, let start, let end, let step):
            guard let a = axis(ax, rank: xs.count) else { throw attr("axis \(ax) out of range for \(x.shape)") }
            guard step >= 1 else { throw attr("step must be ≥ 1") }
            let (s, e) = sliceBounds(start: start, end: end, dim: xs[a])
            var out = xs
            out[a] = e > s ? (e - s - 1) / step + 1 : 0
            return floatOut(out)
        case .gather(let ax):
            guard let a = axis(ax, rank: xs.count) else { throw attr("axis \(ax) out of range for \(x.shape)") }
            let idx = inputs[1]
            guard idx.dtype == .int64 || idx.dtype == .int32 else { throw fail("indices must be int64 or int32") }
            if let t = constants[1] {
                for i in t.int64Array() where !(-Int64(xs[a])..<Int64(xs[a])).contains(i) {
                    throw fail("index \(i) out of range for dimension \(xs[a])")
                }
            }
            return floatOut(Array(xs[..<a]) + idx.shape.dims + Array(xs[(a + 1)...]))
        case .expand(let target):
            guard small(target), let s = broadcast(xs, target), s == target else {
                throw fail("cannot expand \(x.shape) to \(target)")
            }
            return floatOut(s)
        case .quantize:
            guard x.dtype == .float32 else { throw IRError(.dtypeMismatch, at: node, "quantize reads f32") }
            return [Inferred(dtype: .int8, shape: x.shape)]
        case .dequantize:
            guard x.dtype == .int8 else { throw IRError(.dtypeMismatch, at: node, "dequantize reads i8") }
            return [Inferred(dtype: .float32, shape: x.shape)]
        }
    }

    /// Python-style clamped bounds of `start..<end` in a dimension of length `dim`.
    public static func sliceBounds(start: Int, end: Int, dim: Int) -> (Int, Int) {
        func norm(_ v: Int) -> Int { v < 0 ? max(v + dim, 0) : min(v, dim) }
        return (norm(start), norm(end))
    }
}
