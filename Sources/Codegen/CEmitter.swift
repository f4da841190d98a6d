import GraphIR

/// A graph the C emitter cannot express, naming the node and why.
public struct CodegenError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Generated C for an int8 graph (`model.h` / `model.c`): C99, no allocation, reentrant (all
/// state in the caller's workspace), weights as `static const` arrays, and the exact arithmetic
/// of `QuantizedEvaluator` (DESIGN.md's INT8 rules), so its int8 kernels equal the evaluator's
/// bit for bit. int8 feature maps are channel-last (NHWC) inside; everything else (float32
/// values of a mixed-precision graph, int8 tensors of other ranks) is row-major as in the IR; the
/// API takes and returns NCHW. A graph that starts by quantizing its input and ends by
/// dequantizing int8 logits also gets an int8-in/int8-out entry point; any other graph (float32
/// at either end, or entirely float32) gets the float one only.
public struct CEmitter {
    public var prefix: String
    public var target: TargetProfile
    /// Named in the generated files' first line, e.g. "fkdc 0.7.0".
    public var generator: String
    /// Set: the weights stay in the `.fkdc` (`--weights external`); nil: `static const` in the C.
    public var external: ExternalWeights?

    public init(
        prefix: String = "model", target: TargetProfile, generator: String = "fkdc", external: ExternalWeights? = nil
    ) {
        self.prefix = prefix
        self.target = target
        self.generator = generator
        self.external = external
    }

    public struct Output: Sendable {
        public var header: String
        public var source: String
        public var workspaceBytes: Int
        /// The largest sum of two activations live at the same time (the planner's yardstick).
        public var largestLivePair: Int
        /// Ops that run in float32 in the generated C (mixed precision), and how many run in int8.
        public var float32Ops: Int
        public var int8Ops: Int
        /// With external weights: the caller's buffer `_prepare` unpacks them into (0 otherwise).
        public var packedBytes: Int
    }

    /// A value's buffer: a workspace offset and its logical shape (N, C, H, W or N, C).
    struct Buffer {
        var offset: Int
        var bytes: Int
    }

    public func emit(_ g: Graph) throws(CodegenError) -> Output {
        var e = Emission(g: g, p: prefix, target: target, generator: generator)
        e.external = external
        try e.run()
        return Output(
            header: e.header(), source: e.source(), workspaceBytes: e.workspace, largestLivePair: e.largestPair,
            float32Ops: e.floatOps, int8Ops: e.int8Ops, packedBytes: e.packedBytes)
    }
}

struct Emission {
    let g: Graph
    let p: String
    let target: TargetProfile
    let generator: String
    var body: [String] = []
    var constants: [String] = []
    var workspace = 0
    var largestPair = 0
    var offsets: [ValueID: Int] = [:]
    var inputValue: ValueID = 0
    var quantizedInput: ValueID = 0
    var int8Output: ValueID = 0
    var outputShape: [Int] = []
    var counter = 0
    /// The graph starts by quantizing its input and ends by dequantizing int8 logits: `core` runs
    /// the int8 network between, and `run_int8` exists.
    var int8Ends = false
    var floatOps = 0
    var int8Ops = 0
    /// Some activation in the workspace is float32 (the workspace must then be 4-byte aligned).
    var floatActivations = false
    /// Values living in the caller's input (the graph input and what aliases it).
    var inCaller: Set<ValueID> = []
    var floatConstants: [ValueID: String] = [:]
    var external: ExternalWeights?
    /// With external weights: the `fk_pack` calls of `_prepare`, and the packed buffer's size.
    var pack: [String] = []
    var packedBytes = 0

    init(g: Graph, p: String, target: TargetProfile, generator: String) {
        self.g = g
        self.p = p
        self.target = target
        self.generator = generator
    }

    var upper: String { p.uppercased() }

    func fail(_ n: Node?, _ m: String) -> CodegenError {
        CodegenError(n.map { "node '\($0.name)' (\($0.op.name)): \(m)" } ?? m)
    }

    /// bias' = bias − zx·Σ_k w[o][k] for weights [rows][cols]: the input zero point folded into the
    /// bias, so `fk_pointwise`'s inner loop is a plain dot product (the same integers).
    static func foldZeroPoint(_ bias: [Int32], _ w: [Int8], rows: Int, cols: Int, zx: Int32) -> [Int32] {
        (0..<rows).map { o in
            var s: Int64 = 0
            for k in 0..<cols { s += Int64(w[o * cols + k]) }
            return Int32(clamping: Int64(bias[o]) - Int64(zx) * s)
        }
    }

    static func cFloat(_ f: Float) -> String {
        if f.isNaN { return "NAN" }
        if f.isInfinite { return f > 0 ? "HUGE_VALF" : "(-HUGE_VALF)" }
        let s = "\(f)"
        return s.contains(".") || s.contains("e") ? s + "f" : s + ".0f"
    }

    /// H, W, C of an NCHW (or NC) int8 value, batch 1.
    func hwc(_ v: ValueID) -> (h: Int, w: Int, c: Int) {
        let d = g.values[v].shape.dims
        return d.count == 4 ? (d[2], d[3], d[1]) : (1, 1, d.count >= 2 ? d[1] : d[0])
    }

    func q(_ v: ValueID) -> QuantParams { g.values[v].quant! }

    mutating func name(_ base: String) -> String {
        counter += 1
        return "\(base)\(counter)"
    }

    mutating func array<T: BinaryInteger>(_ type: String, _ base: String, _ values: [T]) -> String {
        let n = name(base)
        var lines: [String] = []
        var line = ""
        for (i, v) in values.enumerated() {
            line += "\(v),"
            if i % 24 == 23 {
                lines.append(line)
                line = ""
            }
        }
        if !line.isEmpty { lines.append(line) }
        constants.append(
            "static const \(type) \(n)[\(max(values.count, 1))] = {\n"
                + (values.isEmpty ? "0" : lines.joined(separator: "\n"))
                + "\n};")
        return n
    }

    // MARK: - planning

    /// Which values alias their input (no copy: same bytes, same layout).
    func aliases(_ n: Node) -> Bool {
        if g.constants[n.inputs[0]] != nil { return false }  // a constant reshaped: copied (float32) or refused
        switch n.op {
        case .identity, .dropout: return true
        case .reshape, .flatten:
            // NHWC equals NCHW order only without a spatial extent
            return naturalOrder(n.inputs[0]) && naturalOrder(n.outputs[0])
        default: return false
        }
    }

    /// An int8 feature map [1, C, H, W] is stored channel-last (NHWC); every other value row-major.
    func isNHWC(_ v: ValueID) -> Bool { g.values[v].dtype == .int8 && g.values[v].shape.rank == 4 }

    /// Whether the stored bytes are in the row-major order of the logical shape.
    func naturalOrder(_ v: ValueID) -> Bool { !isNHWC(v) || hwc(v).h * hwc(v).w == 1 }

    func storageBytes(_ v: ValueID) -> Int {
        g.values[v].shape.elementCount * (g.values[v].dtype == .float32 ? 4 : 1)
    }

    mutating func plan() throws(CodegenError) {
        guard g.inputs.count == 1, g.outputs.count == 1 else {
            throw fail(nil, "the C emitter needs one input and one output")
        }
        inputValue = g.inputs[0]
        let outputValue = g.outputs[0]
        outputShape = g.values[outputValue].shape.dims
        guard g.values[inputValue].dtype == .float32, g.values[inputValue].shape.rank == 4,
            g.values[inputValue].shape[0] == 1
        else { throw fail(nil, "the C emitter needs a batch-1 NCHW float32 input") }
        guard g.values[outputValue].dtype == .float32 else { throw fail(nil, "the C emitter needs a float32 output") }
        guard !g.nodes.isEmpty else { throw fail(nil, "the graph has no ops") }
        let readers = g.nodes.filter { $0.inputs.contains(inputValue) }.count
        if let first = g.nodes.first, case .quantize = first.op, first.inputs == [inputValue], readers == 1,
            let last = g.nodes.last, case .dequantize = last.op, last.outputs == g.outputs, g.nodes.count > 2,
            naturalOrder(last.inputs[0])
        {
            int8Ends = true
            quantizedInput = first.outputs[0]
            int8Output = last.inputs[0]
        }
        let finalValue = int8Ends ? int8Output : outputValue
        // lifetimes over the values `core` computes (with the quantized input when int8Ends)
        var root: [ValueID: ValueID] = [:]
        var def: [ValueID: Int] = [:]
        var end: [ValueID: Int] = [:]
        inCaller = int8Ends ? [] : [inputValue]
        for (i, n) in g.nodes.enumerated() {
            let out = n.outputs[0]
            guard g.values[out].dtype == .int8 || g.values[out].dtype == .float32 else {
                throw fail(n, "produces \(g.values[out].dtype.rawValue); the C emitter handles int8 and float32")
            }
            if int8Ends && i == g.nodes.count - 1 { continue }
            if aliases(n) {
                root[out] = root[n.inputs[0]] ?? n.inputs[0]
                if inCaller.contains(n.inputs[0]) { inCaller.insert(out) }
            } else {
                root[out] = out
                def[out] = i
            }
            for v in n.inputs where g.constants[v] == nil && !inCaller.contains(v) {
                let r = root[v] ?? v
                end[r] = max(end[r] ?? i, i)
            }
        }
        if !inCaller.contains(finalValue) { end[root[finalValue]!] = g.nodes.count }
        let roots = def.keys.sorted { (storageBytes($0), -$0) > (storageBytes($1), -$1) }
        var placed: [(id: ValueID, start: Int, bytes: Int)] = []
        // the blocks placed so far that are live at each step: the blocks a new one can clash
        // with are found through its own lifetime, not by testing every block placed
        var liveAt = [[Int]](repeating: [], count: g.nodes.count + 1)
        var seenBy = [Int](repeating: -1, count: roots.count)
        for (k, r) in roots.enumerated() {
            let bytes = (storageBytes(r) + 15) / 16 * 16
            if g.values[r].dtype == .float32 { floatActivations = true }
            let life = def[r]!...max(end[r] ?? def[r]!, def[r]!)
            var offset = 0
            var found: [Int] = []
            for t in life {
                for p in liveAt[t] where seenBy[p] != k {
                    seenBy[p] = k
                    found.append(p)
                }
            }
            let clashes = found.sorted { (placed[$0].start, $0) < (placed[$1].start, $1) }.map { placed[$0] }
            // first fit; an earlier block may overlap after moving past a later one: retry until clear
            var moved = true
            while moved {
                moved = false
                for c in clashes where offset + bytes > c.start && offset < c.start + c.bytes {
                    offset = c.start + c.bytes
                    moved = true
                }
            }
            for t in life { liveAt[t].append(placed.count) }
            placed.append((r, offset, bytes))
            workspace = max(workspace, offset + bytes)
        }
        let starts = Dictionary(uniqueKeysWithValues: placed.map { ($0.id, $0.start) })
        for (v, r) in root where !inCaller.contains(v) { offsets[v] = starts[r]! }
        // the yardstick: the largest input + output bytes in the workspace any one op touches at once
        for (i, n) in g.nodes.enumerated() where !aliases(n) && (!int8Ends || (i > 0 && i < g.nodes.count - 1)) {
            let ins = n.inputs.filter { g.constants[$0] == nil && offsets[$0] != nil }.map(storageBytes)
            largestPair = max(largestPair, ins.reduce(0, +) + storageBytes(n.outputs[0]))
        }
    }

    // MARK: - code

    /// An int8 value's bytes in the workspace.
    func buf(_ v: ValueID) -> String { "(ws + \(offsets[v]!))" }

    /// The nodes `core` runs.
    var coreNodes: ArraySlice<Node> { int8Ends ? g.nodes.dropFirst().dropLast() : g.nodes[...] }

    mutating func run() throws(CodegenError) {
        try plan()
        for n in coreNodes where !aliases(n) {
            if g.values[n.outputs[0]].dtype == .float32 || n.op.isQuantization {
                try floatNode(n)
            } else {
                int8Ops += 1
                try node(n)
            }
        }
    }

    mutating func node(_ n: Node) throws(CodegenError) {
        let out = n.outputs[0]
        guard n.inputs.allSatisfy({ g.constants[$0] != nil || g.values[$0].dtype == .int8 }) else {
            throw fail(n, "an int8 op with a float32 input")
        }
        switch n.op {
        case .conv2d, .fullyConnected, .gemm: break
        default:
            guard !n.inputs.contains(where: { g.constants[$0] != nil }) else {
                throw fail(n, "an int8 op on a constant (fold constants first)")
            }
        }
        let oq = q(out)
        let (ho, wo, _) = hwc(out)
        body.append("    /* \(n.name): \(n.op.name) */")
        func clamp(_ act: FusedActivation) throws(CodegenError) -> (Int32, Int32) {
            guard let r = QuantMath.clampRange(act, oq) else { throw fail(n, "activation has no int8 clamp") }
            return r
        }
        switch n.op {
        case .conv2d(let a):
            guard let w = g.constants[n.inputs[1]], w.dtype == .int8 else { throw fail(n, "needs int8 weights") }
            let xq = q(n.inputs[0])
            let (h, wd, c) = hwc(n.inputs[0])
            let ws = w.shape.dims
            let (o, cg, kh, kw) = (ws[0], ws[1], ws[2], ws[3])
            let wScales =
                q(n.inputs[1]).scales.count == 1
                ? [Float](repeating: q(n.inputs[1]).scales[0], count: o) : q(n.inputs[1]).scales
            let req = Int8Kernels.channelRequantizers(xq: xq, wScales: wScales, outQ: oq)
            let (lo, hi) = try clamp(a.activation)
            var bias =
                n.inputs.count > 2
                ? g.constants[n.inputs[2]]!.int64ArrayExact().map { Int32($0) } : [Int32](repeating: 0, count: o)
            let wq = w.int64ArrayExact().map { Int8($0) }
            let zx = xq.zeroPoints[0]
            let mult = array("int32_t", "m", req.map(\.multiplier))
            let lsh = array("int8_t", "l", req.map { Int8($0.leftShift) })
            let rsh = array("int8_t", "r", req.map { Int8($0.rightShift) })
            let pointwise = kh == 1 && kw == 1 && a.groups == 1 && a.stride == [1, 1] && a.pad == [0, 0, 0, 0]
            let depthwise = a.groups == c && a.groups == o && cg == 1
            if pointwise {
                bias = Self.foldZeroPoint(bias, wq, rows: o, cols: cg, zx: zx)
                let wn = try weights(n.inputs[1], .pairs(rows: o, cols: cg), for: n)
                let bn = array("int32_t", "b", bias)
                body.append(
                    "    fk_pointwise(\(buf(n.inputs[0])), \(h * wd), \(c), \(wn), \(bn), \(mult), \(lsh), \(rsh), \(buf(out)), \(o), \(oq.zeroPoints[0]), \(lo), \(hi));"
                )
            } else if depthwise {
                // weights [kh][kw][C]: the inner loop runs over channels
                let wn = try weights(n.inputs[1], .depthwise(channels: o, kk: kh * kw), for: n)
                let bn = array("int32_t", "b", bias)
                body.append(
                    "    fk_depthwise(\(buf(n.inputs[0])), \(h), \(wd), \(c), \(zx), \(wn), \(bn), \(mult), \(lsh), \(rsh), \(buf(out)), \(ho), \(wo), \(kh), \(kw), \(a.stride[0]), \(a.stride[1]), \(a.pad[0]), \(a.pad[1]), \(a.dilation[0]), \(a.dilation[1]), \(oq.zeroPoints[0]), \(lo), \(hi));"
                )
            } else if a.groups == 1 && kh * kw * cg <= 1024 {
                // weights [kh][kw][C][O]
                let wn = try weights(n.inputs[1], .dense(o: o, cg: cg, kk: kh * kw), for: n)
                let bn = array("int32_t", "b", bias)
                body.append(
                    "    fk_conv_dense(\(buf(n.inputs[0])), \(h), \(wd), \(c), \(zx), \(wn), \(bn), \(mult), \(lsh), \(rsh), \(buf(out)), \(ho), \(wo), \(o), \(kh), \(kw), \(a.stride[0]), \(a.stride[1]), \(a.pad[0]), \(a.pad[1]), \(a.dilation[0]), \(a.dilation[1]), \(oq.zeroPoints[0]), \(lo), \(hi));"
                )
            } else {
                // weights [O][kh][kw][Cg]
                let wn = try weights(n.inputs[1], .general(o: o, cg: cg, kk: kh * kw), for: n)
                let bn = array("int32_t", "b", bias)
                body.append(
                    "    fk_conv(\(buf(n.inputs[0])), \(h), \(wd), \(c), \(zx), \(wn), \(bn), \(mult), \(lsh), \(rsh), \(buf(out)), \(ho), \(wo), \(o), \(kh), \(kw), \(a.stride[0]), \(a.stride[1]), \(a.pad[0]), \(a.pad[1]), \(a.dilation[0]), \(a.dilation[1]), \(a.groups), \(oq.zeroPoints[0]), \(lo), \(hi));"
                )
            }
        case .fullyConnected(let act), .gemm(let act):
            guard let w = g.constants[n.inputs[1]], w.dtype == .int8, w.shape.rank == 2 else {
                throw fail(n, "needs int8 weights [N, K]")
            }
            let xq = q(n.inputs[0])
            let (o, k) = (w.shape[0], w.shape[1])
            let count = g.values[n.inputs[0]].shape.elementCount
            guard k > 0, count % k == 0, naturalOrder(n.inputs[0]), naturalOrder(out) else {
                throw fail(n, "a linear layer on a spatial int8 map (channel-last inside)")
            }
            let rows = count / k  // a row per token (a ViT's [1, tokens, K]) or per batch item
            let wScales =
                q(n.inputs[1]).scales.count == 1
                ? [Float](repeating: q(n.inputs[1]).scales[0], count: o) : q(n.inputs[1]).scales
            let req = Int8Kernels.channelRequantizers(xq: xq, wScales: wScales, outQ: oq)
            let (lo, hi) = try clamp(act)
            var bias =
                n.inputs.count > 2
                ? g.constants[n.inputs[2]]!.int64ArrayExact().map { Int32($0) } : [Int32](repeating: 0, count: o)
            let wq = w.int64ArrayExact().map { Int8($0) }
            bias = Self.foldZeroPoint(bias, wq, rows: o, cols: k, zx: xq.zeroPoints[0])
            let mult = array("int32_t", "m", req.map(\.multiplier))
            let lsh = array("int8_t", "l", req.map { Int8($0.leftShift) })
            let rsh = array("int8_t", "r", req.map { Int8($0.rightShift) })
            let wn = try weights(n.inputs[1], .pairs(rows: o, cols: k), for: n)
            let bn = array("int32_t", "b", bias)
            body.append(
                "    fk_pointwise(\(buf(n.inputs[0])), \(rows), \(k), \(wn), \(bn), \(mult), \(lsh), \(rsh), \(buf(out)), \(o), \(oq.zeroPoints[0]), \(lo), \(hi));"
            )
        case .add(let act):
            guard g.values[n.inputs[0]].shape == g.values[n.inputs[1]].shape,
                g.values[n.inputs[0]].shape == g.values[out].shape
            else { throw fail(n, "the C emitter handles add of equal shapes only") }
            let (aq, bq) = (q(n.inputs[0]), q(n.inputs[1]))
            let r = Int8Kernels.addRequantizers(aq: aq, bq: bq, outQ: oq)
            let (lo, hi) = try clamp(act)
            body.append(
                "    fk_add(\(buf(n.inputs[0])), \(aq.zeroPoints[0]), \(r.a.multiplier), \(r.a.leftShift), \(r.a.rightShift), \(buf(n.inputs[1])), \(bq.zeroPoints[0]), \(r.b.multiplier), \(r.b.leftShift), \(r.b.rightShift), \(buf(out)), \(g.values[out].shape.elementCount), \(oq.zeroPoints[0]), \(r.out.multiplier), \(r.out.leftShift), \(r.out.rightShift), \(lo), \(hi));"
            )
        case .globalAvgPool, .avgPool:
            let xq = q(n.inputs[0])
            let (h, wd, c) = hwc(n.inputs[0])
            let a: PoolAttrs
            if case .avgPool(let pa) = n.op { a = pa } else { a = PoolAttrs(kernel: [h, wd], stride: [1, 1]) }
            // one requantizer per window size (the count a window divides by)
            let maxCount = (a.kernel[0] + a.pad[0] + a.pad[2]) * (a.kernel[1] + a.pad[1] + a.pad[3])
            let reqs = (0...maxCount).map {
                Requantizer(real: Double(xq.scales[0]) / (Double(oq.scales[0]) * Double(max($0, 1))))
            }
            let mult = array("int32_t", "m", reqs.map(\.multiplier))
            let lsh = array("int8_t", "l", reqs.map { Int8($0.leftShift) })
            let rsh = array("int8_t", "r", reqs.map { Int8($0.rightShift) })
            body.append(
                "    fk_avgpool(\(buf(n.inputs[0])), \(h), \(wd), \(c), \(xq.zeroPoints[0]), \(buf(out)), \(ho), \(wo), \(a.kernel[0]), \(a.kernel[1]), \(a.stride[0]), \(a.stride[1]), \(a.pad[0]), \(a.pad[1]), \(a.pad[2]), \(a.pad[3]), \(a.countIncludePad ? 1 : 0), \(mult), \(lsh), \(rsh), \(oq.zeroPoints[0]));"
            )
        case .maxPool(let a):
            let (h, wd, c) = hwc(n.inputs[0])
            body.append(
                "    fk_maxpool(\(buf(n.inputs[0])), \(h), \(wd), \(c), \(buf(out)), \(ho), \(wo), \(a.kernel[0]), \(a.kernel[1]), \(a.stride[0]), \(a.stride[1]), \(a.pad[0]), \(a.pad[1]));"
            )
        case .reshape, .flatten:
            if naturalOrder(out) {
                // a spatial map flattened: NHWC → the NCHW order the reshape means
                let (h, wd, c) = hwc(n.inputs[0])
                body.append("    fk_to_nchw(\(buf(n.inputs[0])), \(h * wd), \(c), \(buf(out)));")
            } else if naturalOrder(n.inputs[0]) {
                // row-major values read as a spatial map: NCHW → NHWC
                let (h, wd, c) = hwc(out)
                body.append("    fk_nchw_to_nhwc(\(buf(n.inputs[0])), \(c), \(h * wd), \(buf(out)));")
            } else {
                throw fail(n, "reshapes one spatial int8 map into another")
            }
        default:
            throw fail(n, "has no C kernel")
        }
    }

    /// The weights parameter of the entry points (external weights only).
    var weightsParam: String { external != nil ? "const void *weights, " : "" }

    func header() -> String {
        let x = g.values[inputValue].shape.dims
        let guardName = "\(upper)_MODEL_H"
        var quant = ""
        var int8API = ""
        if int8Ends {
            let (iq, oq) = (q(quantizedInput), q(int8Output))
            quant = """
                #define \(upper)_INPUT_SCALE \(Self.cFloat(iq.scales[0]))
                #define \(upper)_INPUT_ZERO_POINT \(iq.zeroPoints[0])
                #define \(upper)_OUTPUT_SCALE \(Self.cFloat(oq.scales[0]))
                #define \(upper)_OUTPUT_ZERO_POINT \(oq.zeroPoints[0])

                """
            int8API = """

                /* The same on int8: input NCHW quantized with \(upper)_INPUT_SCALE / _ZERO_POINT, logits
                 * int8 with \(upper)_OUTPUT_SCALE / _ZERO_POINT. */
                int \(p)_run_int8(\(weightsParam)const int8_t *input, int8_t *logits, void *workspace);

                """
        }
        var weightsAPI = "#define \(upper)_WEIGHTS_EXTERNAL 0\n"
        if let ext = external {
            weightsAPI = """
                #define \(upper)_WEIGHTS_EXTERNAL 1
                #define \(upper)_FKDC_BYTES \(ext.fileBytes)
                #define \(upper)_FKDC_CRC32 0x\(String(ext.crc, radix: 16, uppercase: true))u
                #define \(upper)_PACKED_BYTES \(max(packedBytes, 1))

                /* External weights: unpacks the weights of model.fkdc (`fkdc`: its `size` bytes, mapped
                 * or read by the caller) into `packed` (\(upper)_PACKED_BYTES bytes, aligned to at least
                 * 4) in the layouts the kernels read. Only the file this C was generated with is
                 * accepted: its size, magic and CRC-32 (over every byte) are checked. Call it once; the
                 * file may then be released. Every run reads `packed` (pass it as `weights`). Returns
                 * 0, or −1. */
                int \(p)_prepare(const void *fkdc, size_t size, void *packed);

                """
        }
        let alignment =
            floatActivations
            ? "aligned to at least 4 bytes (float32 activations; 16 is best)" : "any alignment; 16 is best"
        let precision =
            floatOps == 0
            ? "The int8 arithmetic is fkdc's\n * (docs/fkdc-format.md, DESIGN.md \"INT8 arithmetic\"): outputs equal `fkdc run model.fkdc`\n * bit for bit."
            : "\(int8Ops) ops run in int8 (fkdc's arithmetic) and \(floatOps) in float32\n * (mixed precision, products summed in the evaluator's order, never fused): outputs equal\n * `fkdc run model.fkdc` bit for bit (do not build with -ffp-contract=fast)."
        let refusals = [
            "an argument is NULL", floatActivations ? "the workspace is not 4-byte aligned" : nil,
            external != nil ? "the weights are not 4-byte aligned" : nil,
        ].compactMap { $0 }
        return """
            /* \(p) — generated by \(generator) for \(target.name). Do not edit.
             *
             * C99, no allocation, reentrant: all state lives in the caller's workspace of
             * \(upper)_WORKSPACE_BYTES bytes (\(alignment)). \(precision) Link with -lm. */
            #ifndef \(guardName)
            #define \(guardName)

            #include <stddef.h>
            #include <stdint.h>

            #ifdef __cplusplus
            extern "C" {
            #endif

            #define \(upper)_FKDC_FORMAT_VERSION \(FkdcFile.majorVersion)
            #define \(upper)_TARGET "\(target.name)"
            #define \(upper)_INPUT_N \(x[0])
            #define \(upper)_INPUT_C \(x[1])
            #define \(upper)_INPUT_H \(x[2])
            #define \(upper)_INPUT_W \(x[3])
            #define \(upper)_INPUT_SIZE \(x.reduce(1, *))
            #define \(upper)_OUTPUT_SIZE \(outputShape.reduce(1, *))
            \(quant)#define \(upper)_WORKSPACE_BYTES \(workspace)
            #define \(upper)_FLOAT32_OPS \(floatOps)
            \(weightsAPI)
            /* input: NCHW float32, normalised as the model expects (\(upper)_INPUT_SIZE values);
             * logits: \(upper)_OUTPUT_SIZE float32. Returns 0, or −1 when \(refusals.joined(separator: " or ")). */
            int \(p)_run(\(weightsParam)const float *input, float *logits, void *workspace);
            \(int8API)
            #ifdef __cplusplus
            }
            #endif

            #endif

            """
    }

    func source() -> String {
        let x = g.values[inputValue].shape.dims
        let (c, h, w) = (x[1], x[2], x[3])
        let outCount = outputShape.reduce(1, *)
        var s = "/* \(p) — generated by \(generator) for \(target.name). Do not edit. */\n"
        s +=
            "#include \"model.h\"\n\n#include <math.h>\n#include <stddef.h>\n#include <stdint.h>\n#include <string.h>\n\n"
        if floatOps > 0 {
            // float32 products are never fused into multiply-adds, so the bits are the evaluator's
            // whatever the language mode (GNU modes let gcc contract across statements)
            s += "#if defined(__clang__)\n#pragma clang fp contract(off)\n#elif defined(__GNUC__)\n"
            s += "#pragma GCC optimize(\"fp-contract=off\")\n#endif\n\n"
        }
        s += CKernels.source(
            neon: target.neon, calls: (body + pack + (external != nil ? ["fk_crc32("] : [])).joined(separator: "\n"))
        s += "\n/* weights, biases and requantization (multiplier, left shift, right shift) per channel */\n"
        s += constants.joined(separator: "\n") + "\n\n"
        var check = "if (input == NULL || logits == NULL || workspace == NULL"
        if floatActivations { check += " || (uintptr_t)workspace % 4 != 0" }
        if external != nil { check += " || weights == NULL || (uintptr_t)weights % 4 != 0" }
        check += ") return -1;"
        let wts = external != nil ? "const unsigned char *wts, " : ""
        let wtsArg = external != nil ? "(const unsigned char *)weights, " : ""
        let unused = external != nil ? "    (void)wts;\n" : ""
        if let ext = external {
            s += """
                int \(p)_prepare(const void *fkdc, size_t size, void *packed)
                {
                    const unsigned char *f = (const unsigned char *)fkdc;
                    unsigned char *p = (unsigned char *)packed;
                    unsigned long crc;
                    if (fkdc == NULL || packed == NULL || (uintptr_t)packed % 4 != 0) return -1;
                    if (size != \(ext.fileBytes)u || memcmp(f, "FKDC\\r\\n\\x1a\\n", 8) != 0) return -1;
                    crc = (unsigned long)f[24] | (unsigned long)f[25] << 8 | (unsigned long)f[26] << 16 | (unsigned long)f[27] << 24;
                    if (crc != 0x\(String(ext.crc, radix: 16, uppercase: true))ul || fk_crc32(f, size) != crc) return -1;
                    memset(p, 0, \(max(packedBytes, 1)));
                \(pack.joined(separator: "\n"))
                    return 0;
                }


                """
        }
        if !int8Ends {
            let result = inCaller.contains(g.outputs[0]) ? "input" : "((const float *)(ws + \(offsets[g.outputs[0]]!)))"
            s += "static void \(p)_core(\(wts)const float *in, int8_t *ws)\n{\n\(unused)"
            s += (body.isEmpty ? "    (void)in;\n    (void)ws;" : body.joined(separator: "\n")) + "\n}\n\n"
            s += """
                int \(p)_run(\(weightsParam)const float *input, float *logits, void *workspace)
                {
                    int8_t *ws = (int8_t *)workspace;
                    int i;
                    \(check)
                    \(p)_core(\(wtsArg)input, ws);
                    for (i = 0; i < \(outCount); i++) logits[i] = \(result)[i];
                    return 0;
                }

                """
            return s
        }
        let iq = q(quantizedInput)
        let oq = q(int8Output)
        s += "static void \(p)_core(\(wts)int8_t *ws)\n{\n\(unused)" + body.joined(separator: "\n") + "\n}\n\n"
        let inOff = offsets[quantizedInput]!
        let outOff = offsets[int8Output]!
        s += """
            int \(p)_run(\(weightsParam)const float *input, float *logits, void *workspace)
            {
                int8_t *ws = (int8_t *)workspace;
                int i;
                \(check)
                fk_quantize_nchw(input, \(c), \(h * w), \(Self.cFloat(iq.scales[0])), \(iq.zeroPoints[0]), ws + \(inOff));
                \(p)_core(\(wtsArg)ws);
                for (i = 0; i < \(outCount); i++)
                    logits[i] = fk_dequantize(ws[\(outOff) + i], \(Self.cFloat(oq.scales[0])), \(oq.zeroPoints[0]));
                return 0;
            }

            int \(p)_run_int8(\(weightsParam)const int8_t *input, int8_t *logits, void *workspace)
            {
                int8_t *ws = (int8_t *)workspace;
                int i;
                \(check)
                fk_nchw_to_nhwc(input, \(c), \(h * w), ws + \(inOff));
                \(p)_core(\(wtsArg)ws);
                for (i = 0; i < \(outCount); i++) logits[i] = ws[\(outOff) + i];
                return 0;
            }

            """
        return s
    }
}
