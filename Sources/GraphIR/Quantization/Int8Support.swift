/// What runs in int8: one table, read by the quantizer, sequential calibration, activation
/// fusion (through `fusable`), the lowering (and so the int8 evaluator and every emitter).
///
/// A row names an op family, the int8 kernel it lowers to and what the node must satisfy;
/// anything else stays float32 with the row's reason (or "no int8 kernel").
public enum Int8Support {
    /// The int8 kernels (a backend picks its variant of `convolution`, e.g. 1×1 or depthwise).
    public enum Kernel: String, Sendable, CaseIterable {
        case convolution, linear, add, mul, averagePool, maxPool, reshape
        /// Elements moved without arithmetic (transpose, slice), or requantized to the output's
        /// parameters on the way (each input of a concat): `StridedCopy`.
        case move
        /// A pointwise function as a 256-entry table from input codes to output codes, made for
        /// the node's (input, output) parameters: exact for any function of one value.
        case lookup

    }

    /// How an op runs.
    public enum Decision: Sendable, Equatable {
        /// In int8 with this kernel, with its own output parameters (from a calibrated range).
        case int8(Kernel)
        /// In int8 with this kernel when its input already is int8, keeping the input's
        /// parameters (max pooling, reshapes: no range of their own); float32 otherwise.
        case int8IfInputIs(Kernel)
        case float32(reason: String)
    }

    public struct Row: Sendable {
        public var ops: [String]
        public var kernel: Kernel
        public var keepsInputParameters: Bool
        /// What a node needs, in words (README.md lists the table).
        public var requires: String
    }

    /// The table, in words; `decide` applies it.
    public static let rows: [Row] = [
        Row(
            ops: ["conv2d"], kernel: .convolution, keepsInputParameters: false,
            requires: "constant weights [O, C/groups, kh, kw], constant bias, activation none, relu or clip"),
        Row(
            ops: ["fully_connected", "gemm"], kernel: .linear, keepsInputParameters: false,
            requires: "constant weights [N, K], constant bias, activation none, relu or clip"),
        Row(
            ops: ["add"], kernel: .add, keepsInputParameters: false,
            requires: "two computed operands of the output's shape, activation none, relu or clip"),
        Row(
            ops: ["mul"], kernel: .mul, keepsInputParameters: false,
            requires:
                "two computed operands: one shape, or an NCHW map and one value per channel (squeeze-and-excitation)"),
        Row(
            ops: ["concat"], kernel: .move, keepsInputParameters: false,
            requires: "computed inputs, each requantized to the output's parameters"),
        Row(ops: ["transpose", "slice"], kernel: .move, keepsInputParameters: true, requires: "an int8 input"),
        Row(
            ops: ["global_avg_pool", "avg_pool"], kernel: .averagePool, keepsInputParameters: false,
            requires: "an NCHW input"),
        Row(ops: ["max_pool"], kernel: .maxPool, keepsInputParameters: true, requires: "an NCHW int8 input"),
        Row(
            ops: ["reshape", "flatten", "identity", "dropout"], kernel: .reshape, keepsInputParameters: true,
            requires: "an int8 input"),
        Row(
            ops: ["hard_swish", "hard_sigmoid", "sigmoid", "silu", "gelu"], kernel: .lookup,
            keepsInputParameters: false,
            requires: "a computed input: a 256-entry table per (input, output) parameters"),
    ]

    /// Whether an activation fused into an int8 conv2d, linear layer or add still runs in int8
    /// (as a clamp): fusion passes leave the others (hard_swish) as separate ops.
    public static func fusable(_ a: FusedActivation) -> Bool {
        switch a {
        case .none, .relu, .clip: true
        case .hardSwish: false
        }
    }

    /// Whether `op` on `inputs` (int8 input and weights) may give float32 straight from its int32
    /// accumulators, acc[o]·s_in·s_w[o] with its activation as a float clamp, instead of an int8
    /// output that would only be dequantized: a linear layer or 1×1 convolution producing one row
    /// (the classifier, whose logits then keep the accumulators' precision). `QuantizePass` makes
    /// such nodes; the verifier, the int8 evaluator and the lowering accept them.
    public static func emitsFloat(_ op: Op, inputs: [Value]) -> Bool {
        guard inputs.count >= 2, inputs[0].dtype == .int8, inputs[1].dtype == .int8 else { return false }
        let w = inputs[1].shape.dims
        switch op {
        case .conv2d(let a): guard KernelParameters.isPointwise(a, weights: w) else { return false }
        case .fullyConnected, .gemm: guard w.count == 2 else { return false }
        default: return false
        }
        guard let o = w.first, o > 0 else { return false }
        return inputs[0].shape.elementCount == inputs[1].shape.elementCount / o && fusable(op.fusedActivation ?? .none)
    }

    /// Whether `node` runs in int8 (an int8 output, or int8 inputs and accumulators with a float32
    /// output as `emitsFloat` allows); quantize and dequantize do not count.
    public static func runsInInt8(_ node: Node, in g: Graph) -> Bool {
        guard !node.op.isQuantization else { return false }
        let out = g.values[node.outputs[0]]
        return out.dtype == .int8
            || (out.dtype == .float32 && emitsFloat(node.op, inputs: node.inputs.map { g.values[$0] }))
    }

    /// How an int8 mul broadcasts.
    public enum MulForm: Sendable, Equatable {
        /// Both operands of the output's shape.
        case elementwise
        /// Operand `operand` is `[N, C, 1, 1]`, scaling every pixel of the other `[N, C, H, W]`.
        case perChannel(operand: Int)
    }

    /// The broadcast of an int8 mul; nil for any other than `MulForm`'s.
    public static func mulForm(_ node: Node, in g: Graph) -> MulForm? {
        guard node.inputs.count == 2 else { return nil }
        let out = g.values[node.outputs[0]].shape.dims
        let dims = node.inputs.map { g.values[$0].shape.dims }
        if dims.allSatisfy({ $0 == out }) { return .elementwise }
        guard out.count == 4 else { return nil }
        for i in 0..<2 where dims[1 - i] == out && dims[i] == [out[0], out[1], 1, 1] { return .perChannel(operand: i) }
        return nil
    }

    /// How `node` of `g` runs (before quantization: float32 constants; after: int8 ones).
    public static func decide(_ node: Node, in g: Graph) -> Decision {
        let isConstant = { (v: ValueID) in g.constants[v] != nil }
        func act(_ a: FusedActivation, _ k: Kernel) -> Decision {
            fusable(a) ? .int8(k) : .float32(reason: "\(a.op?.name ?? "none") has no int8 clamp")
        }
        func weighted(_ a: FusedActivation, rank: Int, _ k: Kernel) -> Decision {
            guard node.inputs.count >= 2, let w = g.constants[node.inputs[1]], w.shape.rank == rank,
                w.dtype == .float32 || w.dtype == .int8
            else { return .float32(reason: "weights are not a constant of rank \(rank)") }
            guard node.inputs.count < 3 || isConstant(node.inputs[2]) else {
                return .float32(reason: "the bias is not a constant")
            }
            guard !isConstant(node.inputs[0]) else { return .float32(reason: "a constant input (fold constants)") }
            return act(a, k)
        }
        switch node.op {
        case .conv2d(let a): return weighted(a.activation, rank: 4, .convolution)
        case .fullyConnected(let a), .gemm(let a): return weighted(a, rank: 2, .linear)
        case .add(let a):
            guard node.inputs.count == 2, !node.inputs.contains(where: isConstant) else {
                return .float32(reason: "an add with a constant operand")
            }
            let out = g.values[node.outputs[0]].shape
            guard node.inputs.allSatisfy({ g.values[$0].shape == out }) else {
                return .float32(reason: "a broadcasting add")
            }
            return act(a, .add)
        case .mul:
            guard node.inputs.count == 2, !node.inputs.contains(where: isConstant) else {
                return .float32(reason: "a mul with a constant operand")
            }
            guard mulForm(node, in: g) != nil else {
                return .float32(reason: "a broadcasting mul other than one value per channel")
            }
            return .int8(.mul)
        case .concat:
            guard !node.inputs.contains(where: isConstant) else {
                return .float32(reason: "a constant input (fold constants)")
            }
            return .int8(.move)
        case .transpose, .slice:
            guard !isConstant(node.inputs[0]) else { return .float32(reason: "a constant input (fold constants)") }
            return .int8IfInputIs(.move)
        case .globalAvgPool, .avgPool:
            guard g.values[node.inputs[0]].shape.rank == 4, !isConstant(node.inputs[0]) else {
                return .float32(reason: "pooling needs an NCHW input")
            }
            return .int8(.averagePool)
        case .maxPool:
            guard g.values[node.inputs[0]].shape.rank == 4, !isConstant(node.inputs[0]) else {
                return .float32(reason: "pooling needs an NCHW input")
            }
            return .int8IfInputIs(.maxPool)
        case .reshape, .flatten, .identity, .dropout:
            guard !isConstant(node.inputs[0]) else { return .float32(reason: "a constant input (fold constants)") }
            return .int8IfInputIs(.reshape)
        case .hardSwish, .hardSigmoid, .sigmoid, .silu, .gelu:
            guard !isConstant(node.inputs[0]) else { return .float32(reason: "a constant input (fold constants)") }
            return .int8(.lookup)
        default:
            return .float32(reason: "no int8 kernel")
        }
    }
}
