import CKernels
import GraphIR

/// The float32 side of a mixed-precision graph: `quantize` / `dequantize` between the two, and
/// the float ops (`CFloatKernels`) on row-major tensors.
extension Emission {
    /// A C expression for a float32 value: a `static const` array for a constant (emitted once),
    /// the caller's input, or the value's place in the workspace.
    mutating func fbuf(_ v: ValueID, for n: Node) throws(CodegenError) -> String {
        if let t = g.constants[v] {
            if let name = floatConstants[v] { return name }
            guard t.dtype == .float32 else { throw fail(n, "reads a \(t.dtype.rawValue) constant as float32") }
            let count = t.shape.elementCount
            let name =
                external != nil && count > 256
                ? try weights(v, .identity(count: count), for: n) : floatArray("f", t.floatArray())
            floatConstants[v] = name
            return name
        }
        guard g.values[v].dtype == .float32 else { throw fail(n, "expects a float32 input") }
        if program.inCaller.contains(v) { return "in" }
        return "((float *)(ws + \(program.offsets[v]!)))"
    }

    mutating func floatArray(_ base: String, _ values: [Float]) -> String {
        let n = name(base)
        var lines: [String] = []
        for start in stride(from: 0, to: values.count, by: 8) {
            lines.append(values[start..<min(start + 8, values.count)].map(Self.cFloat).joined(separator: ", ") + ",")
        }
        constants.append(
            "static const float \(n)[\(max(values.count, 1))] = {\n"
                + (values.isEmpty ? "0" : lines.joined(separator: "\n")) + "\n};")
        return n
    }

    /// `(const int[]){a, b, …}`: a C99 compound literal for a kernel's small int arguments.
    static func ints(_ a: [Int]) -> String { "(const int[]){\(a.map(String.init).joined(separator: ", "))}" }

    static func strides(_ dims: [Int]) -> [Int] { Shape(dims).strides }

    /// Strides reading `from` (right-aligned, NumPy broadcasting) over the index space `to`: 0
    /// along a dimension it repeats.
    static func broadcastStrides(_ from: [Int], to: [Int]) -> [Int] {
        let padded = [Int](repeating: 1, count: to.count - from.count) + from
        return zip(padded, strides(padded)).enumerated().map { i, e in e.0 == 1 && to[i] != 1 ? 0 : e.1 }
    }

    /// (code, lo, hi) of a fused activation for `fk_act` (the `FK_ACT_` codes of fk_config.h).
    static func activation(_ a: FusedActivation) -> (Int32, String, String) {
        switch a {
        case .none: (FK_ACT_NONE, "0", "0")
        case .relu: (FK_ACT_RELU, "0", "0")
        case .clip(let lo, let hi): (FK_ACT_CLIP, Self.cFloat(lo), Self.cFloat(hi))
        case .hardSwish: (FK_ACT_HARD_SWISH, "0", "0")
        }
    }

    /// (code, lo, hi) of a unary activation op for `fk_act` / `fk_unary_f32`, nil for other ops.
    static func unaryKind(_ op: Op) -> (Int32, String, String)? {
        switch op {
        case .relu: (FK_ACT_RELU, "0", "0")
        case .clip(let a, let b): (FK_ACT_CLIP, cFloat(a), cFloat(b))
        case .hardSwish: (FK_ACT_HARD_SWISH, "0", "0")
        case .hardSigmoid: (FK_ACT_HARD_SIGMOID, "0", "0")
        case .gelu: (FK_ACT_GELU, "0", "0")
        case .sigmoid: (FK_ACT_SIGMOID, "0", "0")
        case .silu: (FK_ACT_SILU, "0", "0")
        default: nil
        }
    }

    mutating func floatNode(_ n: Node, _ step: KernelProgram.Step) throws(CodegenError) {
        floatOps += n.op.isQuantization ? 0 : 1
        let out = n.outputs[0]
        let od = g.values[out].shape.dims
        let count = g.values[out].shape.elementCount
        body.append("    /* \(n.name): \(n.op.name) (float32) */")
        func dims(_ i: Int) -> [Int] { g.values[n.inputs[i]].shape.dims }
        func rankOK(_ r: Int) throws(CodegenError) {
            guard r <= Int(FK_MAX_RANK) else { throw fail(n, "rank \(r) (the C kernels handle up to \(FK_MAX_RANK))") }
        }
        func constFloats(_ i: Int) throws(CodegenError) -> [Float] {
            guard let t = g.constants[n.inputs[i]], t.dtype == .float32 else {
                throw fail(n, "needs constant float32 weights")
            }
            return t.floatArray()
        }
        switch n.op {
        case .quantize:
            guard case .quantize(let scale, let z) = step.parameters else { throw fail(n, "quantize parameters") }
            let x = try fbuf(n.inputs[0], for: n)
            let y = buf(out)
            let s = Self.cFloat(scale)
            if naturalOrder(out) {
                call("fk_quantize_n", "\(x), \(count), \(s), \(z), \(y)")
            } else {
                let (h, w, c) = hwc(out)
                call("fk_quantize_nchw", "\(x), \(c), \(h * w), \(s), \(z), \(y)")
            }
        case .dequantize:
            guard case .dequantize(let scale, let z) = step.parameters else { throw fail(n, "dequantize parameters") }
            let y = try fbuf(out, for: n)
            let s = Self.cFloat(scale)
            if naturalOrder(n.inputs[0]) {
                call("fk_dequantize_n", "\(buf(n.inputs[0])), \(count), \(s), \(z), \(y)")
            } else {
                let (h, w, c) = hwc(n.inputs[0])
                call("fk_dequantize_nhwc", "\(buf(n.inputs[0])), \(h * w), \(c), \(s), \(z), \(y)")
            }
        case .conv2d(let a):
            let xd = dims(0)
            let w = try constFloats(1)
            let ws = dims(1)
            let x = try fbuf(n.inputs[0], for: n)
            let wn = try weights(n.inputs[1], .identity(count: w.count), for: n)
            let bn = n.inputs.count > 2 ? floatArray("b", try constFloats(2)) : "NULL"
            let (act, lo, hi) = Self.activation(a.activation)
            let y = try fbuf(out, for: n)
            call(
                "fk_conv_f32",
                "\(x), \(xd[0]), \(xd[1]), \(xd[2]), \(xd[3]), \(wn), \(bn), \(y), \(ws[0]), \(od[2]), \(od[3]), \(ws[2]), \(ws[3]), \(a.stride[0]), \(a.stride[1]), \(a.pad[0]), \(a.pad[1]), \(a.dilation[0]), \(a.dilation[1]), \(a.groups), \(act), \(lo), \(hi)"
            )
        case .gemm(let fused), .fullyConnected(let fused):
            let w = try constFloats(1)
            let (o, k) = (dims(1)[0], dims(1)[1])
            guard w.count == o * k else { throw fail(n, "weights must be [N, K]") }
            // weights transposed to [K][N]: the inner loop runs over contiguous outputs
            let x = try fbuf(n.inputs[0], for: n)
            let wn = try weights(n.inputs[1], .transposed(rows: o, cols: k), for: n)
            let bn = n.inputs.count > 2 ? floatArray("b", try constFloats(2)) : "NULL"
            let (act, lo, hi) = Self.activation(fused)
            let y = try fbuf(out, for: n)
            let rows = g.values[n.inputs[0]].shape.elementCount / max(k, 1)
            call("fk_gemm_f32", "\(x), \(rows), \(k), \(wn), \(bn), \(o), \(act), \(lo), \(hi), \(y)")
        case .matMul:
            let (ad, bd) = (dims(0), dims(1))
            guard ad.count >= 2, bd.count >= 2 else { throw fail(n, "mat_mul of a vector") }
            let (m, k, nn) = (ad[ad.count - 2], ad[ad.count - 1], bd[bd.count - 1])
            let lead = Array(od.dropLast(2))
            let batches = lead.reduce(1, *)
            // each product's offset in a and b: the broadcast index over the leading dims
            func offsets(_ d: [Int], _ block: Int) -> [Int] {
                let st = Self.broadcastStrides(Array(d.dropLast(2)), to: lead)
                return (0..<batches).map { t in
                    var rest = t
                    var off = 0
                    for i in stride(from: lead.count - 1, through: 0, by: -1) {
                        off += (rest % lead[i]) * st[i]
                        rest /= lead[i]
                    }
                    return off * block
                }
            }
            let a = try fbuf(n.inputs[0], for: n)
            let b = try fbuf(n.inputs[1], for: n)
            let ao = array("int", "o", offsets(ad, m * k))
            let bo = array("int", "o", offsets(bd, k * nn))
            let y = try fbuf(out, for: n)
            call("fk_matmul_f32", "\(a), \(ao), \(b), \(bo), \(batches), \(m), \(k), \(nn), \(y)")
        case .add, .mul:
            let dd = od.isEmpty ? [1] : od
            try rankOK(dd.count)
            let a = try fbuf(n.inputs[0], for: n)
            let b = try fbuf(n.inputs[1], for: n)
            let (act, lo, hi) = Self.activation(n.op.fusedActivation ?? .none)
            let y = try fbuf(out, for: n)
            let (sa, sb) = (Self.broadcastStrides(dims(0), to: dd), Self.broadcastStrides(dims(1), to: dd))
            let op = n.op == .mul ? 1 : 0
            call(
                "fk_binary_f32",
                "\(a), \(b), \(y), \(dd.count), \(Self.ints(dd)), \(Self.ints(sa)), \(Self.ints(sb)), \(op), \(act), \(lo), \(hi)"
            )
        case .relu, .clip, .hardSwish, .hardSigmoid, .gelu, .sigmoid, .silu:
            let (kind, lo, hi) = Self.unaryKind(n.op) ?? (FK_ACT_RELU, "0", "0")
            let x = try fbuf(n.inputs[0], for: n)
            let y = try fbuf(out, for: n)
            call("fk_unary_f32", "\(x), \(count), \(kind), \(lo), \(hi), \(y)")
        case .layerNorm(let axis, let eps):
            guard let ax = ShapeInference.axis(axis, rank: od.count) else { throw fail(n, "axis out of range") }
            let inner = od[ax...].reduce(1, *)
            guard g.values[n.inputs[1]].shape.elementCount == inner, g.values[n.inputs[2]].shape.elementCount == inner
            else { throw fail(n, "scale and bias must hold \(inner) values") }
            let x = try fbuf(n.inputs[0], for: n)
            let sc = try fbuf(n.inputs[1], for: n)
            let bi = try fbuf(n.inputs[2], for: n)
            let y = try fbuf(out, for: n)
            call(
                "fk_layernorm_f32", "\(x), \(count / max(inner, 1)), \(inner), \(sc), \(bi), \(Self.cFloat(eps)), \(y)")
        case .softmax(let axis):
            guard let ax = ShapeInference.axis(axis, rank: od.count) else { throw fail(n, "axis out of range") }
            let len = od[ax]
            let inner = od[(ax + 1)...].reduce(1, *)
            let x = try fbuf(n.inputs[0], for: n)
            let y = try fbuf(out, for: n)
            call("fk_softmax_f32", "\(x), \(count / max(len * inner, 1)), \(len), \(inner), \(y)")
        case .batchNorm(let eps):
            let xd = dims(0)
            guard xd.count >= 2 else { throw fail(n, "batch_norm needs [N, C, …]") }
            var p: [String] = []
            for i in 0...4 { p.append(try fbuf(n.inputs[i], for: n)) }
            let y = try fbuf(out, for: n)
            call(
                "fk_batchnorm_f32",
                "\(p[0]), \(xd[0]), \(xd[1]), \(xd[2...].reduce(1, *)), \(p[1]), \(p[2]), \(p[3]), \(p[4]), \(Self.cFloat(eps)), \(y)"
            )
        case .globalAvgPool:
            let xd = dims(0)
            guard xd.count == 4 else { throw fail(n, "global_avg_pool needs NCHW") }
            let x = try fbuf(n.inputs[0], for: n)
            let y = try fbuf(out, for: n)
            call("fk_gap_f32", "\(x), \(xd[0] * xd[1]), \(xd[2] * xd[3]), \(y)")
        case .avgPool(let a), .maxPool(let a):
            let xd = dims(0)
            guard xd.count == 4 else { throw fail(n, "pooling needs NCHW") }
            var isMax = 0
            if case .maxPool = n.op { isMax = 1 }
            let x = try fbuf(n.inputs[0], for: n)
            let y = try fbuf(out, for: n)
            call(
                "fk_pool_f32",
                "\(x), \(xd[0] * xd[1]), \(xd[2]), \(xd[3]), \(y), \(od[2]), \(od[3]), \(a.kernel[0]), \(a.kernel[1]), \(a.stride[0]), \(a.stride[1]), \(a.pad[0]), \(a.pad[1]), \(a.pad[2]), \(a.pad[3]), \(a.countIncludePad ? 1 : 0), \(isMax)"
            )
        case .reshape, .flatten, .identity, .dropout:
            // only a constant's reshape gets here (others alias): the same values, copied
            try copy(n, from: n.inputs[0], offset: 0, dims: [count], strides: [1], to: 0)
        case .expand:
            try copy(n, from: n.inputs[0], offset: 0, dims: od, strides: Self.broadcastStrides(dims(0), to: od), to: 0)
        case .transpose, .slice, .concat:
            let ins = n.inputs.indices.map(dims)
            guard let copies = StridedCopy.of(n.op, inputs: ins, output: od, strides: { _, d in Self.strides(d) })
            else {
                throw fail(n, "axis, permutation or step out of range")
            }
            for (i, c) in copies.enumerated() {
                try copy(
                    n, from: n.inputs[i], offset: c.source, dims: c.counts, strides: c.sourceStrides, to: c.destination,
                    ys: c.destinationStrides)
            }
        case .gather(let axis):
            let xd = dims(0)
            guard let idx = g.constants[n.inputs[1]], let ax = ShapeInference.axis(axis, rank: xd.count) else {
                throw fail(n, "gather needs constant indices")
            }
            let indices = idx.int64Array()
            guard indices.count <= 256 else { throw fail(n, "gathers \(indices.count) indices (at most 256)") }
            let (outer, len, inner) = (xd[..<ax].reduce(1, *), xd[ax], xd[(ax + 1)...].reduce(1, *))
            for (k, i) in indices.enumerated() {
                let j = i < 0 ? Int(i) + len : Int(i)
                try copy(
                    n, from: n.inputs[0], offset: j * inner, dims: [outer, inner], strides: [len * inner, 1],
                    to: k * inner, ys: [indices.count * inner, 1])
            }
        }
    }

    /// `fk_copy_f32`: out[to + Σ i·ys] = x[offset + Σ i·strides] over `dims` (ys: `out`'s own
    /// row-major strides unless given).
    mutating func copy(
        _ n: Node, from v: ValueID, offset: Int, dims: [Int], strides: [Int], to: Int, ys: [Int]? = nil
    ) throws(CodegenError) {
        let d = dims.isEmpty ? [1] : dims
        guard d.count <= Int(FK_MAX_RANK) else {
            throw fail(n, "rank \(d.count) (the C kernels handle up to \(FK_MAX_RANK))")
        }
        let x = try fbuf(v, for: n)
        let y = try fbuf(n.outputs[0], for: n)
        let xs = strides.isEmpty ? [1] : strides
        let dst = ys ?? Self.strides(d)
        call(
            "fk_copy_f32",
            "\(x)\(offset == 0 ? "" : " + \(offset)"), \(y)\(to == 0 ? "" : " + \(to)"), \(d.count), \(Self.ints(d)), \(Self.ints(xs)), \(Self.ints(dst))"
        )
    }
}
