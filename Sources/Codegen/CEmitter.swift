import CKernels
import GraphIR

/// A graph the C emitter cannot express, naming the node and why.
public struct CodegenError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Generated C for an int8 graph (`model.h` / `model.c`): C99, no allocation, reentrant (all
/// state in the caller's workspace), weights as `static const` arrays, and the exact arithmetic
/// of `QuantizedEvaluator` (DESIGN.md's INT8 rules): both apply the parameters of one
/// `KernelProgram` (`Lowering`), so its int8 kernels equal the evaluator's bit for bit. The
/// kernels are the C files of `Sources/CKernels` with the SIMD paths the target names. int8
/// feature maps are channel-last (NHWC) inside; everything else is row-major as in the IR; the
/// API takes and returns NCHW. A graph that starts by quantizing its input and ends by
/// dequantizing int8 logits also gets an int8-in/int8-out entry point.
public struct CEmitter {
    public let prefix: String
    public var target: TargetProfile
    /// Named in the generated files' first line, e.g. "fkdc 0.7.0".
    public var generator: String
    /// Set: the weights stay in the `.fkdc` (`--weights external`); nil: `static const` in the C.
    public var external: ExternalWeights?
    /// The model's preprocessing (`fk_preprocessing`, and in words): generated C then has
    /// `<prefix>_preprocess` too.
    public var preprocess: (parameters: fk_preprocessing, summary: String)?

    /// `prefix` names the C symbols (`<prefix>_run`): a C identifier of at most 64 characters.
    public init(
        prefix: String = "model", target: TargetProfile, generator: String = "fkdc", external: ExternalWeights? = nil
    ) throws(CodegenError) {
        guard Self.isCIdentifier(prefix) else {
            throw CodegenError(
                "symbol prefix '\(prefix)' must be a C identifier of at most 64 characters (letters, digits, _; not starting with a digit)"
            )
        }
        self.prefix = prefix
        self.target = target
        self.generator = generator
        self.external = external
    }

    public static func isCIdentifier(_ s: String) -> Bool {
        func letter(_ c: Unicode.Scalar) -> Bool { ("a"..."z").contains(c) || ("A"..."Z").contains(c) || c == "_" }
        guard let first = s.unicodeScalars.first, letter(first), s.unicodeScalars.count <= 64 else { return false }
        return s.unicodeScalars.allSatisfy { letter($0) || ("0"..."9").contains($0) }
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

    public func emit(_ g: Graph) throws(CodegenError) -> Output {
        let program: KernelProgram
        do { program = try Lowering.lower(g, for: target) } catch {
            throw CodegenError(error.location.isEmpty ? error.message : "node '\(error.location)': \(error.message)")
        }
        return try emit(program)
    }

    /// C for a lowered program.
    public func emit(_ program: KernelProgram) throws(CodegenError) -> Output {
        var e = Emission(program: program, p: prefix, generator: generator)
        e.external = external
        e.preprocess = preprocess
        try e.run()
        return Output(
            header: e.header(), source: e.source(), workspaceBytes: program.workspaceBytes,
            largestLivePair: program.largestLivePair, float32Ops: e.floatOps, int8Ops: e.int8Ops,
            packedBytes: e.packedBytes)
    }
}

/// One emission: the program's steps printed as kernel calls, the constants they read, and the
/// kernels they call (`used`, for `CKernelLibrary`).
struct Emission {
    let program: KernelProgram
    let p: String
    let generator: String
    var g: Graph { program.graph }
    var target: TargetProfile { program.target }
    var body: [String] = []
    var constants: [String] = []
    var counter = 0
    var floatOps = 0
    var int8Ops = 0
    var floatConstants: [ValueID: String] = [:]
    var external: ExternalWeights?
    var preprocess: (parameters: fk_preprocessing, summary: String)?
    /// With external weights: the `fk_pack` calls of `_prepare`, and the packed buffer's size.
    var pack: [String] = []
    var packedBytes = 0
    /// The kernels the C calls.
    var used: Set<String> = []

    init(program: KernelProgram, p: String, generator: String) {
        self.program = program
        self.p = p
        self.generator = generator
    }

    var upper: String { p.uppercased() }

    func fail(_ n: Node?, _ m: String) -> CodegenError {
        CodegenError(n.map { "node '\($0.name)' (\($0.op.name)): \(m)" } ?? m)
    }

    /// `kernel(args…);` in the body.
    mutating func call(_ kernel: String, _ args: [String]) {
        used.insert(kernel)
        body.append("    \(kernel)(\(args.joined(separator: ", ")));")
    }

    mutating func call(_ kernel: String, _ args: String) {
        used.insert(kernel)
        body.append("    \(kernel)(\(args));")
    }

    /// The steps `<prefix>_run_parallel` splits: each the body of one `case` of `<prefix>_slice`,
    /// which computes items [begin, end) of it (output rows or pixels).
    var slices: [String] = []

    /// A step split over `items` (output rows, pixels): `lines` compute items [begin, end), reading
    /// `ws` (and `wts`). `_run` runs it whole, `_run_parallel` through the caller's pool.
    mutating func parallelStep(_ kernel: String, items: Int, _ lines: [String]) {
        used.insert(kernel)
        body.append("    \(p)_parallel(&t, \(slices.count), \(items));")
        slices.append(lines.map { "        " + $0 }.joined(separator: "\n"))
    }

    /// A kernel the entry points call (marked used; the text is written by the caller).
    mutating func uses(_ kernel: String) -> String {
        used.insert(kernel)
        return kernel
    }

    static func cFloat(_ f: Float) -> String {
        if f.isNaN { return "NAN" }
        if f.isInfinite { return f > 0 ? "HUGE_VALF" : "(-HUGE_VALF)" }
        let s = "\(f)"
        return s.contains(".") || s.contains("e") ? s + "f" : s + ".0f"
    }

    /// H, W, C of an NCHW (or NC) value, batch 1.
    func hwc(_ v: ValueID) -> (h: Int, w: Int, c: Int) {
        let d = g.values[v].shape.dims
        return d.count == 4 ? (d[2], d[3], d[1]) : (1, 1, d.count >= 2 ? d[1] : d[0])
    }

    func q(_ v: ValueID) -> QuantParams { g.values[v].quant! }

    mutating func name(_ base: String) -> String {
        counter += 1
        return "\(base)\(counter)"
    }

    /// An initializer's integers, `perLine` to a line, each followed by a comma.
    static func lines<T: BinaryInteger>(_ values: [T], perLine: Int) -> [String] {
        var lines: [String] = []
        var line = ""
        for (i, v) in values.enumerated() {
            line += "\(v),"
            if i % perLine == perLine - 1 {
                lines.append(line)
                line = ""
            }
        }
        if !line.isEmpty { lines.append(line) }
        return lines
    }

    /// Floating-point contraction off for gcc and clang (fused multiply-adds would change bits).
    static let fpContractOff =
        "#if defined(__clang__)\n#pragma clang fp contract(off)\n#elif defined(__GNUC__)\n"
        + "#pragma GCC optimize(\"fp-contract=off\")\n#endif\n"

    mutating func array<T: BinaryInteger>(_ type: String, _ base: String, _ values: [T]) -> String {
        let n = name(base)
        let lines = Self.lines(values, perLine: 24)
        constants.append(
            "static const \(type) \(n)[\(max(values.count, 1))] = {\n"
                + (values.isEmpty ? "0" : lines.joined(separator: "\n"))
                + "\n};")
        return n
    }

    /// The three arrays of per-channel requantizers (multiplier, left shift, right shift).
    mutating func requantizers(_ r: ChannelRequantizers) -> [String] {
        [array("int32_t", "m", r.multipliers), array("int8_t", "l", r.leftShifts), array("int8_t", "r", r.rightShifts)]
    }

    /// An int8 value's bytes in the workspace.
    func buf(_ v: ValueID) -> String { "(ws + \(program.offsets[v]!))" }

    func naturalOrder(_ v: ValueID) -> Bool { program.naturalOrder(v) }

    mutating func run() throws(CodegenError) {
        for s in program.steps {
            let n = g.nodes[s.node]
            switch s.kernel {
            case .float32, .quantize, .dequantize: try floatNode(n, s)
            default:
                int8Ops += 1
                try int8Node(n, s)
            }
        }
    }
}
