import CKernels
import GraphIR

/// One CUDA emission: the program's steps printed as launches of the fk_cuda.cuh kernels, the
/// weights as one byte blob uploaded at init (each array 16-byte aligned), and for fp16 the
/// dequantization launches of `_cuda_init`.
struct CUDAEmission {
    let program: KernelProgram
    let p: String
    let precision: GPUPrecision
    var g: Graph { program.graph }
    var blob: [UInt8] = []
    /// fp16: bytes of half weights after the blob (written by `_cuda_init`).
    var halfBytes = 0
    var body: [String] = []
    var initBody: [String] = []
    var used: Set<String> = []
    var costs: [StepCost] = []
    var workspaceBytes = 0
    var inputOffset = 0
    var outputOffset = 0
    var preprocess: (parameters: fk_preprocessing, summary: String)?
    typealias StepCost = CUDAEmitter.StepCost

    init(program: KernelProgram, p: String, precision: GPUPrecision) {
        self.program = program
        self.p = p
        self.precision = precision
    }

    var upper: String { p.uppercased() }
    var elementType: String { precision == .fp16 ? "__half" : "int8_t" }
    var elementBytes: Int { precision == .fp16 ? 2 : 1 }
    var blobBytes: Int { (blob.count + 15) / 16 * 16 }
    var weightBytes: Int { blobBytes + halfBytes }

    func fail(_ n: Node?, _ m: String) -> CodegenError {
        CodegenError(n.map { "node '\($0.name)' (\($0.op.name)): \(m)" } ?? m)
    }

    // MARK: the weight blob

    mutating func put(_ bytes: [UInt8]) -> Int {
        blob += [UInt8](repeating: 0, count: blobBytes - blob.count)
        let offset = blob.count
        blob += bytes
        return offset
    }

    mutating func int8s(_ a: [Int8]) -> String { "(const int8_t *)(wts + \(put(a.map { UInt8(bitPattern: $0) })))" }

    mutating func int32s(_ a: [Int32]) -> String {
        "(const int32_t *)(wts + \(put(a.flatMap { v in (0..<4).map { UInt8(truncatingIfNeeded: UInt32(bitPattern: v) >> (8 * $0)) } })))"
    }

    mutating func floats(_ a: [Float]) -> String {
        "(const float *)(wts + \(put(a.flatMap { v in (0..<4).map { UInt8(truncatingIfNeeded: v.bitPattern >> (8 * $0)) } })))"
    }

    /// fp16: int8 weights (already in the kernel's layout) and their per-channel scales in the
    /// blob, a half copy written at init: out[i] = q[i] s[(i / inner) % channels].
    mutating func halfWeights(_ q: [Int8], scales: [Float], channels: Int, inner: Int) -> String {
        let (qs, ss) = (int8s(q), floats(scales))
        let offset = (halfBytes + 15) / 16 * 16
        halfBytes = offset + 2 * q.count
        let out = "(__half *)(wts + \(upper)_CUDA_HALF_BASE + \(offset))"
        used.insert("fk_cu_dequantize_weights")
        initBody.append(
            "    FK_LAUNCH(fk_cu_dequantize_weights, dim3(\(blocks(q.count))), dim3(256), 0, s, \(qs), \(q.count), \(ss), \(channels), \(inner), \(out));"
        )
        return "(const __half *)(wts + \(upper)_CUDA_HALF_BASE + \(offset))"
    }

    func blocks(_ n: Int) -> Int { (n + 255) / 256 }

    // MARK: activations

    /// A value's bytes in the workspace, typed.
    func act(_ v: ValueID) throws(CodegenError) -> String {
        guard let o = program.offsets[v] else {
            throw fail(nil, "value '\(g.values[v].name)' has no place in the workspace")
        }
        return "(\(elementType) *)(ws + \(o))"
    }

    func hwc(_ v: ValueID) -> (h: Int, w: Int, c: Int) {
        let d = g.values[v].shape.dims
        return d.count == 4 ? (d[2], d[3], d[1]) : (1, 1, d.count >= 2 ? d[1] : d[0])
    }

    func q(_ v: ValueID) throws(CodegenError) -> QuantParams {
        guard let p = g.values[v].quant, !p.scales.isEmpty, !p.zeroPoints.isEmpty else {
            throw fail(nil, "value '\(g.values[v].name)' has no quantization parameters")
        }
        return p
    }

    /// The fp16 kernels' clamp: the node's fused activation in real units (the int8 path gets
    /// the same from its output range and clamp).
    func realClamp(_ n: Node) -> [String] {
        let act: FusedActivation
        switch n.op {
        case .conv2d(let a): act = a.activation
        case .fullyConnected(let a), .gemm(let a), .add(let a): act = a
        default: act = .none
        }
        let (none, top) = ("-FK_CU_NO_CLAMP", "FK_CU_NO_CLAMP")
        switch act {
        case .relu: return ["0.0f", top]
        case .clip(let lo, let hi):
            return [lo.isFinite ? Emission.cFloat(lo) : none, hi.isFinite ? Emission.cFloat(hi) : top]
        default: return [none, top]
        }
    }

    /// One launch in `_cuda_run`, and its cost.
    mutating func launch(
        _ kernel: String, section: String? = nil, grid: [Int], block: [Int], smem: Int = 0, sync: Bool = false,
        _ args: [String], node: Node?, ops: Int, bytes: Int
    ) throws(CodegenError) {
        guard grid.allSatisfy({ $0 > 0 }), grid.dropFirst().allSatisfy({ $0 <= 65535 }), grid[0] < Int(Int32.max)
        else { throw fail(node, "a grid of \(grid) blocks is beyond CUDA's limits") }
        used.insert(section ?? kernel)
        let dims = { (d: [Int]) in "dim3(\(d.map(String.init).joined(separator: ", ")))" }
        body.append(
            "    \(sync ? "FK_LAUNCH_SYNC" : "FK_LAUNCH")(\(kernel), \(dims(grid)), \(dims(block)), \(smem), s, \(args.joined(separator: ", ")));"
        )
        let name = node?.name ?? ""
        let quoted = name.unicodeScalars.allSatisfy {
            $0.isASCII && !"\"\\?".unicodeScalars.contains($0) && $0.value >= 32
        }
        body.append("    FK_CUDA_MARK(\(costs.count), \"\(kernel)\", \"\(quoted ? name : "?")\");")
        costs.append(StepCost(kernel: kernel, node: name, ops: ops, bytes: bytes))
    }

    /// One thread an element.
    mutating func launch1D(
        _ kernel: String, section: String? = nil, n: Int, _ args: [String], node: Node?, ops: Int = 0, bytes: Int
    ) throws(CodegenError) {
        try launch(kernel, section: section, grid: [blocks(n)], block: [256], args, node: node, ops: ops, bytes: bytes)
    }

    // MARK: the program

    /// The float32 ops of mixed-precision graphs the CUDA backend runs (in float32, as generated C).
    static func hasFloat32Kernel(_ op: Op) -> Bool {
        switch op {
        case .relu, .clip, .hardSwish, .hardSigmoid, .gelu, .sigmoid, .silu, .add, .mul, .layerNorm, .transpose,
            .slice, .concat:
            true
        default: false
        }
    }

    /// The kernels of `_cuda_preprocess`.
    static let preprocessKernels: Set<String> = [
        "fk_cu_pixels", "fk_cu_resample", "fk_cu_nearest", "fk_cu_crop_normalise", "fk_cu_unit_f32",
        "fk_cu_resample_f32", "fk_cu_tensor_nearest", "fk_cu_crop_normalise_f32",
    ]

    mutating func run() throws(CodegenError) {
        if preprocess != nil { used.formUnion(Self.preprocessKernels) }
        for s in program.steps where s.kernel == .float32 {
            let n = g.nodes[s.node]
            guard Self.hasFloat32Kernel(n.op) else {
                throw fail(
                    n, "runs in float32 (mixed precision), and the CUDA backend has no float32 kernel for it: no CUDA")
            }
        }
        for v in g.values.indices where program.offsets[v] != nil {
            guard g.values[v].shape.elementCount < Int(Int32.max) / 4 else {
                throw fail(nil, "value '\(g.values[v].name)' is too large for the CUDA kernels' int indices")
            }
        }
        let x = g.inputs[0]
        let (h, w, c) = hwc(x)
        let inputBytes = h * w * c * 4
        let outputCount = g.values[g.outputs[0]].shape.elementCount
        workspaceBytes = (program.workspaceBytes + 15) / 16 * 16
        inputOffset = workspaceBytes
        workspaceBytes += (inputBytes + 15) / 16 * 16
        outputOffset = workspaceBytes
        workspaceBytes += (outputCount * 4 + 15) / 16 * 16
        if let ends = program.int8Ends {
            // the int8 ends: the input quantized (fp16: converted) into the first map, the logits back
            let qin = ends.quantizedInput
            let stored = h * w * c * elementBytes
            if precision == .int8 {
                try launch1D(
                    "fk_cu_quantize_nchw", n: h * w * c,
                    [
                        "input", "\(c)", "\(h * w)", Emission.cFloat(try q(qin).scales[0]),
                        "\(try q(qin).zeroPoints[0])",
                        try act(qin),
                    ],
                    node: g.nodes.first, bytes: inputBytes + stored)
            } else {
                try launch1D(
                    "fk_cu_half_from_nchw", n: h * w * c, ["input", "\(c)", "\(h * w)", try act(qin)],
                    node: g.nodes.first, bytes: inputBytes + stored)
            }
        }
        var i = 0
        while i < program.steps.count {
            let fused = residual(after: i)
            try step(g.nodes[program.steps[i].node], program.steps[i], residual: fused)
            i += fused == nil ? 1 : 2
        }
        if let ends = program.int8Ends {
            let out = ends.int8Output
            let n = g.values[out].shape.elementCount
            if precision == .int8 {
                try launch1D(
                    "fk_cu_dequantize", n: n,
                    [
                        try act(out), "\(n)", Emission.cFloat(try q(out).scales[0]), "\(try q(out).zeroPoints[0])",
                        "output",
                    ],
                    node: g.nodes.last, bytes: n * 5)
            } else {
                try launch1D(
                    "fk_cu_float_from_half", n: n, [try act(out), "\(n)", "output"], node: g.nodes.last, bytes: n * 6)
            }
        } else {
            let out = g.outputs[0]
            guard program.offsets[out] != nil else { throw fail(nil, "the output is the input: nothing to run") }
            try launch1D(
                "fk_cu_copy_f32", n: outputCount, [try fptr(out, for: g.nodes.last), "\(outputCount)", "output"],
                node: g.nodes.last, bytes: 8 * outputCount)
        }
    }

    /// A float32 value: the caller's input, a constant (in the blob), or the workspace.
    mutating func fptr(_ v: ValueID, for n: Node?) throws(CodegenError) -> String {
        if let t = g.constants[v] {
            guard t.dtype == .float32 else { throw fail(n, "reads a \(t.dtype.rawValue) constant as float32") }
            return floats(t.floatArray())
        }
        guard g.values[v].dtype == .float32 else { throw fail(n, "expects a float32 value") }
        if program.inCaller.contains(v) { return "input" }
        guard let o = program.offsets[v] else { throw fail(n, "a float32 value outside the workspace") }
        return "(float *)(ws + \(o))"
    }

    /// quantize, dequantize and the float32 ops between (mixed precision).
    mutating func floatStep(_ n: Node, _ s: KernelProgram.Step) throws(CodegenError) {
        let out = n.outputs[0]
        let count = g.values[out].shape.elementCount
        let half = precision == .fp16
        switch (s.kernel, s.parameters) {
        case (.quantize, .quantize(let scale, let z)):
            let x = try fptr(n.inputs[0], for: n)
            let (h, w, c) = hwc(out)
            let natural = program.naturalOrder(out)
            let bytes = 4 * count + mapBytes(out)
            switch (half, natural) {
            case (false, true):
                try launch1D(
                    "fk_cu_quantize_n", n: count, [x, "\(count)", Emission.cFloat(scale), "\(z)", try act(out)],
                    node: n,
                    bytes: bytes)
            case (false, false):
                try launch1D(
                    "fk_cu_quantize_nchw", n: count,
                    [x, "\(c)", "\(h * w)", Emission.cFloat(scale), "\(z)", try act(out)], node: n, bytes: bytes)
            case (true, true):
                try launch1D("fk_cu_half_from_f32", n: count, [x, "\(count)", try act(out)], node: n, bytes: bytes)
            case (true, false):
                try launch1D(
                    "fk_cu_half_from_nchw", n: count, [x, "\(c)", "\(h * w)", try act(out)], node: n, bytes: bytes)
            }
        case (.dequantize, .dequantize(let scale, let z)):
            let x = n.inputs[0]
            let y = try fptr(out, for: n)
            let (h, w, c) = hwc(x)
            let natural = program.naturalOrder(x)
            let bytes = 4 * count + mapBytes(x)
            switch (half, natural) {
            case (false, true):
                try launch1D(
                    "fk_cu_dequantize", n: count, [try act(x), "\(count)", Emission.cFloat(scale), "\(z)", y], node: n,
                    bytes: bytes)
            case (false, false):
                try launch1D(
                    "fk_cu_dequantize_nhwc", n: count,
                    [try act(x), "\(h * w)", "\(c)", Emission.cFloat(scale), "\(z)", y], node: n, bytes: bytes)
            case (true, true):
                try launch1D("fk_cu_float_from_half", n: count, [try act(x), "\(count)", y], node: n, bytes: bytes)
            case (true, false):
                try launch1D(
                    "fk_cu_float_from_half_nhwc", n: count, [try act(x), "\(h * w)", "\(c)", y], node: n, bytes: bytes)
            }
        case (.float32, _):
            switch n.op {
            case .relu, .clip, .hardSwish, .hardSigmoid, .gelu, .sigmoid, .silu:
                var (kind, lo, hi) = Emission.unaryKind(n.op) ?? (FK_ACT_RELU, "0", "0")
                if kind != FK_ACT_CLIP { (lo, hi) = ("0.0f", "0.0f") }
                let x = try fptr(n.inputs[0], for: n)
                try launch1D(
                    "fk_cu_unary_f32", n: count, [x, "\(count)", "\(kind)", lo, hi, try fptr(out, for: n)], node: n,
                    ops: 4 * count, bytes: 8 * count)
            case .add, .mul:
                let od = g.values[out].shape.dims
                guard od.count <= 4 else { throw fail(n, "rank \(od.count) (the CUDA kernels handle up to 4)") }
                let dd = [Int](repeating: 1, count: 4 - od.count) + od
                let a = try fptr(n.inputs[0], for: n)
                let b = try fptr(n.inputs[1], for: n)
                let sa = Emission.broadcastStrides(g.values[n.inputs[0]].shape.dims, to: dd)
                let sb = Emission.broadcastStrides(g.values[n.inputs[1]].shape.dims, to: dd)
                let (act, lo, hi) = Emission.activation(n.op.fusedActivation ?? .none)
                let list = { (v: [Int]) in "{\(v.map(String.init).joined(separator: ", "))}" }
                let space = "fk_cu_space{\(list(dd)), \(list(sa)), \(list(sb))}"
                try launch1D(
                    "fk_cu_binary_f32", n: count,
                    [a, b, try fptr(out, for: n), space, n.op == .mul ? "1" : "0", "\(act)", lo, hi], node: n,
                    ops: count, bytes: 12 * count)
            case .layerNorm(let axis, let eps):
                let od = g.values[out].shape.dims
                guard let ax = ShapeInference.axis(axis, rank: od.count) else { throw fail(n, "axis out of range") }
                let inner = od[ax...].reduce(1, *)
                guard g.values[n.inputs[1]].shape.elementCount == inner,
                    g.values[n.inputs[2]].shape.elementCount == inner
                else { throw fail(n, "scale and bias must hold \(inner) values") }
                let outer = count / max(inner, 1)
                let args = [
                    try fptr(n.inputs[0], for: n), "\(outer)", "\(inner)", try fptr(n.inputs[1], for: n),
                    try fptr(n.inputs[2], for: n), Emission.cFloat(eps), try fptr(out, for: n),
                ]
                try launch1D("fk_cu_layernorm_f32", n: outer, args, node: n, ops: 8 * count, bytes: 8 * count)
            case .transpose, .slice, .concat:
                guard let copies = program.copies(n), copies.count == n.inputs.count else {
                    throw fail(n, "axis, permutation or step out of range")
                }
                for (i, cp) in copies.enumerated() {
                    let box = try moveBox(cp, for: n)
                    let src = "\(try fptr(n.inputs[i], for: n)) + \(cp.source)"
                    let dst = "\(try fptr(out, for: n)) + \(cp.destination)"
                    try launch1D(
                        "fk_cu_move_copy<float>", section: "fk_cu_move", n: cp.elementCount,
                        [src, dst, box, "\(cp.elementCount)"], node: n, bytes: 8 * cp.elementCount)
                }
            default:
                throw fail(n, "has no float32 CUDA kernel: no CUDA")
            }
        default:
            throw fail(n, "\(s.kernel.rawValue) with the parameters of another kernel")
        }
    }

    /// A move's copy as the `fk_cu_box` argument of the fk_cu_move kernels.
    func moveBox(_ cp: StridedCopy, for n: Node) throws(CodegenError) -> String {
        let rank = cp.counts.count
        guard rank <= Int(FK_MAX_RANK) else {
            throw fail(n, "rank \(rank) (the CUDA kernels handle up to \(FK_MAX_RANK))")
        }
        let list = { (v: [Int]) in "{\(v.map(String.init).joined(separator: ", "))}" }
        let pad = { (v: [Int]) in v + [Int](repeating: 1, count: Int(FK_MAX_RANK) - rank) }
        return
            "fk_cu_box{\(rank), \(list(pad(cp.counts))), \(list(pad(cp.sourceStrides))), \(list(pad(cp.destinationStrides)))}"
    }

    /// Bytes an int8 map takes on the device in this precision.
    func mapBytes(_ v: ValueID) -> Int { g.values[v].shape.elementCount * elementBytes }

    func int8Weights(_ v: ValueID, for n: Node) throws(CodegenError) -> [Int8] {
        guard let t = g.constants[v], t.dtype == .int8 else { throw fail(n, "needs constant int8 weights") }
        guard t.shape.elementCount < Int(Int32.max) / 4 else {
            throw fail(n, "\(t.shape.elementCount) weights: beyond the CUDA kernels' int indices")
        }
        return t.int64ArrayExact().map { Int8(truncatingIfNeeded: $0) }
    }

    /// fp16: the layer's bias in real units, b · s_in · s_w[o], with the input zero point the
    /// int8 bias folds (1×1 and linear) unfolded again: b = b' + zx Σ_k w[o][k], wrapping as the fold.
    func realBias(_ p: WeightedParameters, x: ValueID, weights: [Int8], outputs: Int) throws(CodegenError) -> [Float] {
        try realBias(p.bias, inputOffset: p.inputOffset, weightsID: p.weights, x: x, weights: weights, outputs: outputs)
    }

    func realBias(
        _ bias: [Int32], inputOffset: Int32, weightsID: ValueID, x: ValueID, weights: [Int8], outputs: Int
    ) throws(CodegenError) -> [Float] {
        let (sx, zx) = (Double(try q(x).scales[0]), try q(x).zeroPoints[0])
        let sw = g.values[weightsID].quant?.channelScales(outputs) ?? [Float](repeating: 1, count: outputs)
        let folded = zx &- inputOffset
        let per = weights.count / max(outputs, 1)
        return (0..<outputs).map { o in
            var b = bias[o]
            if folded != 0 {
                var sum: Int32 = 0
                for k in 0..<per { sum &+= Int32(weights[o * per + k]) }
                b &+= folded &* sum
            }
            return Float(Double(b) * sx * Double(sw[o]))
        }
    }

    /// `fk_cu_add_params{…}`: an int8 add's parameters.
    func addParams(_ p: AddParameters) -> String {
        let r = { (q: Requantizer) in ["\(q.multiplier)", "\(q.leftShift)", "\(q.rightShift)"] }
        let all =
            ["\(p.aZeroPoint)"] + r(p.a) + ["\(p.bZeroPoint)"] + r(p.b) + ["\(p.outputZeroPoint)"] + r(p.out)
            + ["\(p.clamp.lo)", "\(p.clamp.hi)"]
        return "fk_cu_add_params{\(all.joined(separator: ", "))}"
    }

    /// The residual add the 1×1 step at `i` takes into its epilogue (`residualFusions`: the next
    /// step adds the 1×1 output, read by nothing else, to another map of its shape; the plan keeps
    /// the 1×1 input clear of the add's output). The add's node, its other operand, whether that
    /// operand comes first, and the add's parameters.
    func residual(after i: Int) -> (add: Node, other: ValueID, otherFirst: Bool, parameters: AddParameters)? {
        guard program.residualFusions.contains(i), case .add(let ap) = program.steps[i + 1].parameters else {
            return nil
        }
        let out = g.nodes[program.steps[i].node].outputs[0]
        let add = g.nodes[program.steps[i + 1].node]
        let x = g.nodes[program.steps[i].node].inputs[0]
        let y = add.outputs[0]
        guard let xo = program.offsets[x], let yo = program.offsets[y],
            xo + program.storageBytes(x) <= yo || yo + program.storageBytes(y) <= xo
        else { return nil }
        let first = add.inputs[0] != out
        return (add, first ? add.inputs[0] : add.inputs[1], first, ap)
    }

    mutating func requantizers(_ r: ChannelRequantizers) -> [String] {
        [int32s(r.multipliers), int8s(r.leftShifts), int8s(r.rightShifts)]
    }

    mutating func step(
        _ n: Node, _ s: KernelProgram.Step,
        residual: (add: Node, other: ValueID, otherFirst: Bool, parameters: AddParameters)? = nil
    ) throws(CodegenError) {
        let x = n.inputs[0]
        // a fused residual add: the step writes the add's output
        let out = residual?.add.outputs[0] ?? n.outputs[0]
        let (h, wd, c) = hwc(x)
        let (ho, wo, _) = hwc(out)
        let (xb, yb) = (mapBytes(x), mapBytes(out))
        let half = precision == .fp16
        switch (s.kernel, s.parameters) {
        case (.quantize, _), (.dequantize, _), (.float32, _):
            try floatStep(n, s)
        case (.pointwise, .weighted(let p)):
            let wq = try int8Weights(p.weights, for: n)
            let o = g.values[p.weights].shape[0]
            let k = wq.count / max(o, 1)
            let rows = g.values[x].shape.elementCount / max(k, 1)
            let grid = [(rows + 63) / 64, (o + 63) / 64]
            let macs = rows * k * o
            // the fused residual's arguments (none: a null pointer)
            var fusedResidual = half ? ["0", "0.0f", "0.0f"] : ["0", "0", "fk_cu_add_params{}"]
            if let r = residual {
                fusedResidual =
                    half
                    ? [try act(r.other)] + realClamp(r.add)
                    : [try act(r.other), r.otherFirst ? "1" : "0", addParams(r.parameters)]
            }
            if half {
                let bias = floats(try realBias(p, x: x, weights: wq, outputs: o))
                let sw = g.values[p.weights].quant?.channelScales(o) ?? []
                let wt = halfWeights(
                    WeightLayout.transposed(rows: o, cols: k).apply(wq, zero: 0), scales: sw, channels: o, inner: 1)
                try launch(
                    "fk_cu_pointwise_h", grid: grid, block: [256], sync: true,
                    [try act(x), "\(rows)", "\(k)", wt, bias, try act(out), "\(o)"] + realClamp(n)
                        + fusedResidual,
                    node: n, ops: 2 * macs, bytes: xb + yb + (residual == nil ? 0 : yb) + 2 * wq.count + 4 * o)
            } else {
                let kp = (k + 31) / 32 * 32
                var padded = [Int8](repeating: 0, count: o * kp)
                for r in 0..<o { for j in 0..<k { padded[r * kp + j] = wq[r * k + j] } }
                let wt = int8s(padded)
                let b = int32s(p.bias)
                let rq = requantizers(p.requant)
                try launch(
                    "fk_cu_pointwise", grid: grid, block: [256], sync: true,
                    [try act(x), "\(rows)", "\(k)", wt, "\(kp)", b] + rq
                        + [try act(out), "\(o)", "\(p.outputZeroPoint)", "\(p.clamp.lo)", "\(p.clamp.hi)"]
                        + fusedResidual,
                    node: n,
                    ops: 2 * macs, bytes: xb + yb + (residual == nil ? 0 : yb) + wq.count + 12 * o)
            }
        case (.linearToFloat, .weightedFloat(let p)):
            let wq = try int8Weights(p.weights, for: n)
            let o = g.values[p.weights].shape[0]
            let k = wq.count / max(o, 1)
            let y = try fptr(out, for: n)
            if half {
                // the real bias (the input zero point unfolded: the half map holds real values)
                let bias = floats(
                    try realBias(p.bias, inputOffset: 0, weightsID: p.weights, x: x, weights: wq, outputs: o))
                let sw = g.values[p.weights].quant?.channelScales(o) ?? []
                let wt = halfWeights(wq, scales: sw, channels: o, inner: k)
                let x16 = try act(x)
                try launch1D(
                    "fk_cu_linear_hf", n: o, [x16, "\(k)", wt, bias] + realClamp(n) + [y, "\(o)"], node: n,
                    ops: 2 * k * o, bytes: xb + 4 * o + 2 * wq.count)
            } else {
                let args =
                    [try act(x), "\(k)", int8s(wq), int32s(p.bias), floats(p.scales)] + realClamp(n) + [y, "\(o)"]
                try launch1D("fk_cu_linear_f32", n: o, args, node: n, ops: 2 * k * o, bytes: xb + 8 * o + wq.count)
            }
        case (.depthwise, .weighted(let p)):
            guard case .conv2d(let a) = n.op else { throw fail(n, "a depthwise kernel for a non-convolution") }
            let wq = try int8Weights(p.weights, for: n)
            let wd4 = g.values[p.weights].shape.dims
            guard wd4.count == 4 else { throw fail(n, "needs weights [C, 1, kh, kw]") }
            let (kh, kw) = (wd4[2], wd4[3])
            let layout = WeightLayout.depthwise(channels: c, kk: kh * kw).apply(wq, zero: 0)
            let pr = 7 * a.stride[0] + (kh - 1) * a.dilation[0] + 1
            let pc = 7 * a.stride[1] + (kw - 1) * a.dilation[1] + 1
            let smem = pr * pc * 32 * 2
            guard smem <= 48 * 1024 else {
                throw fail(
                    n,
                    "a depthwise window of \(kh)×\(kw), stride \(a.stride), needs \(smem) bytes of shared memory (48 KB)"
                )
            }
            let grid = [(wo + 7) / 8, (ho + 7) / 8, (c + 31) / 32]
            let geometry = [kh, kw, a.stride[0], a.stride[1], a.pad[0], a.pad[1], a.dilation[0], a.dilation[1]]
                .map(String.init)
            let macs = ho * wo * c * kh * kw
            if half {
                let bias = floats(try realBias(p, x: x, weights: wq, outputs: c))
                let sw = g.values[p.weights].quant?.channelScales(c) ?? []
                let wt = halfWeights(layout, scales: sw, channels: c, inner: 1)
                try launch(
                    "fk_cu_depthwise_h", grid: grid, block: [32, 8], smem: smem, sync: true,
                    [try act(x), "\(h)", "\(wd)", "\(c)", wt, bias, try act(out), "\(ho)", "\(wo)"] + geometry
                        + realClamp(n), node: n, ops: 2 * macs, bytes: xb + yb + 2 * wq.count + 4 * c)
            } else {
                let wt = int8s(layout)
                let b = int32s(p.bias)
                let rq = requantizers(p.requant)
                try launch(
                    "fk_cu_depthwise", grid: grid, block: [32, 8], smem: smem, sync: true,
                    [try act(x), "\(h)", "\(wd)", "\(c)", "\(p.inputOffset)", wt, b] + rq
                        + [try act(out), "\(ho)", "\(wo)"] + geometry
                        + ["\(p.outputZeroPoint)", "\(p.clamp.lo)", "\(p.clamp.hi)"], node: n, ops: 2 * macs,
                    bytes: xb + yb + wq.count + 12 * c)
            }
        case (.denseConvolution, .weighted(let p)), (.convolution, .weighted(let p)):
            guard case .conv2d(let a) = n.op else { throw fail(n, "a convolution kernel for a non-convolution") }
            let wq = try int8Weights(p.weights, for: n)
            let d = g.values[p.weights].shape.dims
            let (o, cg, kh, kw) = (d[0], d[1], d[2], d[3])
            let layout = WeightLayout.general(o: o, cg: cg, kk: kh * kw).apply(wq, zero: 0)
            let dims =
                [h, wd, c, ho, wo, o, kh, kw, a.stride[0], a.stride[1], a.pad[0], a.pad[1]]
                + [a.dilation[0], a.dilation[1], a.groups]
            let shape = "fk_cu_conv_shape{\(dims.map(String.init).joined(separator: ", "))}"
            let count = ho * wo * o
            let macs = count * kh * kw * cg
            if half {
                let bias = floats(try realBias(p, x: x, weights: wq, outputs: o))
                let sw = g.values[p.weights].quant?.channelScales(o) ?? []
                let wt = halfWeights(layout, scales: sw, channels: o, inner: kh * kw * cg)
                try launch1D(
                    "fk_cu_conv_h", n: count,
                    [try act(x), shape, wt, bias, try act(out)] + realClamp(n), node: n, ops: 2 * macs,
                    bytes: xb + yb + 2 * wq.count + 4 * o)
            } else {
                let wt = int8s(layout)
                let b = int32s(p.bias)
                let rq = requantizers(p.requant)
                try launch1D(
                    "fk_cu_conv", n: count,
                    [try act(x), shape, "\(p.inputOffset)", wt, b] + rq
                        + [try act(out), "\(p.outputZeroPoint)", "\(p.clamp.lo)", "\(p.clamp.hi)"], node: n,
                    ops: 2 * macs, bytes: xb + yb + wq.count + 12 * o)
            }
        case (.add, .add(let p)):
            let count = g.values[out].shape.elementCount
            let b = n.inputs[1]
            if half {
                try launch1D(
                    "fk_cu_add_h", n: count, [try act(x), try act(b), try act(out), "\(count)"] + realClamp(n), node: n,
                    ops: count, bytes: 3 * yb)
            } else {
                try launch1D(
                    "fk_cu_add", n: count, [try act(x), try act(b), try act(out), "\(count)", addParams(p)], node: n,
                    ops: count,
                    bytes: 3 * yb)
            }
        case (.mul, .mul(let p)):
            let count = g.values[out].shape.elementCount
            var (a, b, za, zb, c) = (x, n.inputs[1], p.aZeroPoint, p.bZeroPoint, 1)
            if case .perChannel(let k) = p.form {
                c = g.values[out].shape[1]
                if k == 0 { (a, b, za, zb) = (b, a, zb, za) }
            }
            let shape = ["\(count)", "\(c)", p.form == .elementwise ? "0" : "1"]
            if half {
                try launch1D(
                    "fk_cu_mul_h", n: count, [try act(a), try act(b), try act(out)] + shape, node: n, ops: count,
                    bytes: 3 * yb)
            } else {
                try launch1D(
                    "fk_cu_mul", n: count,
                    [try act(a), "\(za)", try act(b), "\(zb)", try act(out)] + shape
                        + ["\(p.outputZeroPoint)", "\(p.out.multiplier)", "\(p.out.leftShift)", "\(p.out.rightShift)"],
                    node: n, ops: count, bytes: 3 * yb)
            }
        case (.move, .move(let rescales)):
            guard let copies = program.copies(n), copies.count == n.inputs.count else {
                throw fail(n, "axis, permutation or step out of range")
            }
            for (i, cp) in copies.enumerated() {
                let box = try moveBox(cp, for: n)
                let count = cp.elementCount
                let src = "\(try act(n.inputs[i])) + \(cp.source)"
                let dst = "\(try act(out)) + \(cp.destination)"
                if half {
                    try launch1D(
                        "fk_cu_move_copy<__half>", section: "fk_cu_move", n: count, [src, dst, box, "\(count)"],
                        node: n,
                        bytes: 2 * count * elementBytes)
                } else {
                    let q = rescales[i].map { r in
                        [
                            "\(r.inputZeroPoint)", "\(r.requant.multiplier)", "\(r.requant.leftShift)",
                            "\(r.requant.rightShift)",
                        ]
                            + ["\(r.outputZeroPoint)"]
                    }
                    try launch1D(
                        "fk_cu_move", n: count, [src, dst, box, "\(count)"] + (q ?? ["0", "0", "0", "0", "0"]), node: n,
                        bytes: 2 * count)
                }
            }
        case (.averagePool, .averagePool(let p)):
            let a = p.pool
            let window = (a.kernel + a.stride + a.pad).map(String.init)
            let count = ho * wo * c
            let shape = [try act(x), "\(h)", "\(wd)", "\(c)"]
            if half {
                try launch1D(
                    "fk_cu_avgpool_h", n: count,
                    shape + [try act(out), "\(ho)", "\(wo)"] + window + ["\(a.countIncludePad ? 1 : 0)"], node: n,
                    ops: h * wd * c, bytes: xb + yb)
            } else {
                let rq = requantizers(p.byCount)
                try launch1D(
                    "fk_cu_avgpool", n: count,
                    shape + ["\(p.inputZeroPoint)", try act(out), "\(ho)", "\(wo)"] + window
                        + ["\(a.countIncludePad ? 1 : 0)", "\(p.byCount.count - 1)"] + rq + ["\(p.outputZeroPoint)"],
                    node: n, ops: h * wd * c, bytes: xb + yb + 6 * p.byCount.count)
            }
        case (.maxPool, .maxPool(let a)):
            let count = ho * wo * c
            try launch1D(
                half ? "fk_cu_maxpool_h" : "fk_cu_maxpool", n: count,
                [try act(x), "\(h)", "\(wd)", "\(c)", try act(out), "\(ho)", "\(wo)"]
                    + (a.kernel + a.stride + a.pad.prefix(2)).map(String.init), node: n,
                ops: count * a.kernel[0] * a.kernel[1], bytes: xb + yb)
        case (.lookup, .lookup(let t)):
            let count = g.values[out].shape.elementCount
            if half {
                guard let (kind, _, _) = Emission.unaryKind(n.op) else { throw fail(n, "no function (\(n.op.name))") }
                try launch1D(
                    "fk_cu_act_h", n: count, [try act(x), "\(count)", "\(kind)", try act(out)], node: n, ops: 4 * count,
                    bytes: 2 * yb)
            } else {
                try launch1D(
                    "fk_cu_lut", n: count, [try act(x), int8s(t), try act(out), "\(count)"], node: n, ops: count,
                    bytes: 2 * yb + 256)
            }
        case (.toRowMajor, .reshape):
            try launch1D(
                "fk_cu_to_nchw<\(elementType)>", section: "fk_cu_layout", n: h * wd * c,
                [try act(x), "\(h * wd)", "\(c)", try act(out)], node: n, bytes: xb + yb)
        case (.toChannelLast, .reshape):
            let (oh, ow, oc) = hwc(out)
            try launch1D(
                "fk_cu_nchw_to_nhwc<\(elementType)>", section: "fk_cu_layout", n: oh * ow * oc,
                [try act(x), "\(oc)", "\(oh * ow)", try act(out)], node: n, bytes: xb + yb)
        default:
            throw fail(n, "has no CUDA kernel (\(s.kernel.rawValue)): no CUDA")
        }
    }
}
