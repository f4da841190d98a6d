/// An activation applied by the op that produced a value (created by `fuse-activation`): for
/// INT8 kernels a relu or clip is only a tighter clamp of the requantized output.
public enum FusedActivation: Sendable, Hashable {
    case none
    case relu
    /// Clamp to [min, max]; ReLU6 is clip(0, 6).
    case clip(min: Float, max: Float)
    case hardSwish

    /// The standalone op this activation stands for.
    public var op: Op? {
        switch self {
        case .none: nil
        case .relu: .relu
        case .clip(let lo, let hi): .clip(min: lo, max: hi)
        case .hardSwish: .hardSwish
        }
    }
}

/// Attributes of a 2-D convolution.
///
/// Input `[N, Cin, H, W]`, weights `[Cout, Cin/groups, Kh, Kw]`, optional bias `[Cout]`,
/// output `[N, Cout, Ho, Wo]`.
public struct Conv2dAttrs: Sendable, Hashable {
    public var stride: [Int]  // [sh, sw]
    public var pad: [Int]  // [top, left, bottom, right]
    public var dilation: [Int]  // [dh, dw]
    public var groups: Int
    public var activation: FusedActivation

    public init(
        stride: [Int] = [1, 1], pad: [Int] = [0, 0, 0, 0], dilation: [Int] = [1, 1], groups: Int = 1,
        activation: FusedActivation = .none
    ) {
        self.stride = stride
        self.pad = pad
        self.dilation = dilation
        self.groups = groups
        self.activation = activation
    }
}

/// Attributes of max and average pooling over `[N, C, H, W]`.
public struct PoolAttrs: Sendable, Hashable {
    public var kernel: [Int]  // [kh, kw]
    public var stride: [Int]  // [sh, sw]
    public var pad: [Int]  // [top, left, bottom, right]
    public var ceilMode: Bool
    /// Average pooling only: whether padded positions count in the divisor (PyTorch's default).
    public var countIncludePad: Bool

    public init(
        kernel: [Int], stride: [Int], pad: [Int] = [0, 0, 0, 0], ceilMode: Bool = false,
        countIncludePad: Bool = true
    ) {
        self.kernel = kernel
        self.stride = stride
        self.pad = pad
        self.ceilMode = ceilMode
        self.countIncludePad = countIncludePad
    }
}

/// The closed set of operations of the IR.
///
/// Operand conventions (inputs in order):
/// - `conv2d`: x `[N,Cin,H,W]`, w `[Cout,Cin/groups,Kh,Kw]`, optional b `[Cout]`.
/// - `batch_norm`: x `[N,C,…]`, scale `[C]`, bias `[C]`, mean `[C]`, var `[C]`.
/// - `gemm` (a linear layer): x `[…,K]`, w `[N,K]`, optional b `[N]`; y = x·wᵀ + b.
/// - `fully_connected`: x `[B,…]` read as `[B,K]` (flattened), w `[N,K]`, optional b `[N]` → `[B,N]`.
/// - `mat_mul`: a `[…,M,K]`, b `[…,K,N]` (leading dims broadcast).
/// - `add`, `mul`: two operands, NumPy broadcasting.
/// - `layer_norm`: x, scale, bias; normalises over the dims from `axis` to the end.
/// - `gather`: data, int64 indices (a constant); output replaces `axis` by the indices' shape.
public enum Op: Sendable, Hashable {
    case conv2d(Conv2dAttrs)
    case batchNorm(epsilon: Float)
    case gemm(FusedActivation = .none)
    case fullyConnected(FusedActivation = .none)
    case matMul
    case add(FusedActivation = .none)
    case mul
    case relu
    /// Clamp to [min, max]; ReLU6 is clip(0, 6).
    case clip(min: Float, max: Float)
    case hardSwish
    case hardSigmoid
    /// Exact GELU: x·Φ(x) with the erf form.
    case gelu
    case sigmoid
    /// SiLU (swish): x·sigmoid(x), computed as exporters' `x * Sigmoid(x)` is.
    case silu
    case layerNorm(axis: Int, epsilon: Float)
    case softmax(axis: Int)
    case globalAvgPool
    case avgPool(PoolAttrs)
    case maxPool(PoolAttrs)
    /// Target shape; at most one -1, inferred from the element count.
    case reshape(shape: [Int])
    /// To 2-D: dims before `axis` multiply into the first, the rest into the second.
    case flatten(axis: Int)
    case transpose(perm: [Int])
    case concat(axis: Int)
    /// Elements `start..<end` step `step` along `axis` (bounds clamped as in Python).
    case slice(axis: Int, start: Int, end: Int, step: Int)
    case gather(axis: Int)
    /// Broadcast to `shape` (NumPy rules).
    case expand(shape: [Int])
    /// Inference no-ops kept from the source model until passes remove them.
    case identity
    case dropout(ratio: Float)
    /// float32 → int8 with the output value's quantization parameters.
    case quantize
    /// int8 → float32 with the input value's quantization parameters.
    case dequantize

    /// The snake_case name used by the text form.
    public var name: String {
        switch self {
        case .conv2d: "conv2d"
        case .batchNorm: "batch_norm"
        case .gemm: "gemm"
        case .fullyConnected: "fully_connected"
        case .matMul: "mat_mul"
        case .add: "add"
        case .mul: "mul"
        case .relu: "relu"
        case .clip: "clip"
        case .hardSwish: "hard_swish"
        case .hardSigmoid: "hard_sigmoid"
        case .gelu: "gelu"
        case .sigmoid: "sigmoid"
        case .silu: "silu"
        case .layerNorm: "layer_norm"
        case .softmax: "softmax"
        case .globalAvgPool: "global_avg_pool"
        case .avgPool: "avg_pool"
        case .maxPool: "max_pool"
        case .reshape: "reshape"
        case .flatten: "flatten"
        case .transpose: "transpose"
        case .concat: "concat"
        case .slice: "slice"
        case .gather: "gather"
        case .expand: "expand"
        case .identity: "identity"
        case .dropout: "dropout"
        case .quantize: "quantize"
        case .dequantize: "dequantize"
        }
    }

    /// Allowed input counts.
    public var arity: ClosedRange<Int> {
        switch self {
        case .conv2d, .gemm, .fullyConnected: 2...3
        case .batchNorm: 5...5
        case .layerNorm: 3...3
        case .matMul, .add, .mul, .gather: 2...2
        case .concat: 1...Int.max
        default: 1...1
        }
    }

    /// Inputs that hold weights (counted as parameters by `inspect`).
    public var parameterInputs: Range<Int> {
        switch self {
        case .conv2d, .gemm, .fullyConnected: 1..<3
        case .batchNorm: 1..<3  // running mean and variance are buffers, not parameters (as PyTorch counts)
        case .layerNorm: 1..<3
        default: 0..<0
        }
    }

    /// The activation fused into this op, if it can carry one.
    public var fusedActivation: FusedActivation? {
        switch self {
        case .conv2d(let a): a.activation
        case .gemm(let a), .fullyConnected(let a), .add(let a): a
        default: nil
        }
    }

    /// The same op with `act` fused; nil when the op cannot carry an activation.
    public func fusing(_ act: FusedActivation) -> Op? {
        switch self {
        case .conv2d(var a):
            a.activation = act
            return .conv2d(a)
        case .gemm: return .gemm(act)
        case .fullyConnected: return .fullyConnected(act)
        case .add: return .add(act)
        default: return nil
        }
    }

    public var isElementwise: Bool {
        switch self {
        case .add, .mul, .relu, .clip, .hardSwish, .hardSigmoid, .gelu, .sigmoid, .silu: true
        default: false
        }
    }

    public var isActivation: Bool {
        switch self {
        case .relu, .clip, .hardSwish, .hardSigmoid, .gelu, .sigmoid, .silu: true
        default: false
        }
    }

    public var isPooling: Bool {
        switch self {
        case .globalAvgPool, .avgPool, .maxPool: true
        default: false
        }
    }

    public var isQuantization: Bool {
        switch self {
        case .quantize, .dequantize: true
        default: false
        }
    }

    public var isLayout: Bool {
        switch self {
        case .reshape, .flatten, .transpose, .concat, .slice, .gather, .expand, .identity, .dropout: true
        default: false
        }
    }
}
