import GraphIR

/// An int8 (or mixed-precision) graph lowered for a target: each node's kernel and its
/// precomputed parameters, each value's layout and place in the workspace. Every emitter reads
/// this; the int8 evaluator reads the same `KernelParameters` (TFLite Micro's Prepare/Eval
/// split: everything derived from the model is computed here, once; kernels only apply it).
public struct KernelProgram: Sendable {
    /// How a backend stores a value.
    public enum Layout: Sendable, Equatable {
        /// The IR's row-major order (NCHW for feature maps).
        case rowMajor
        /// An int8 feature map [1, C, H, W] channel-last (NHWC): the int8 kernels' layout.
        case channelLast
    }

    /// The kernel a step runs, as backends name them (each maps it to its code).
    public enum Kernel: String, Sendable, CaseIterable {
        /// A 1×1 convolution without padding or stride, and linear layers over rows:
        /// the input zero point folded into the bias.
        case pointwise
        case depthwise
        /// A classifier's one row with float32 output from its int32 accumulators
        /// (`FloatOutputParameters`).
        case linearToFloat
        /// A dense convolution whose window (kh·kw·C ≤ `FK_DENSE_MAX_COLS`) is gathered once per pixel.
        case denseConvolution
        /// Any other convolution (grouped, or windows too large to gather).
        case convolution
        case add, averagePool, maxPool
        /// An int8 mul, elementwise or one value per channel (`Int8Support.MulForm`).
        case mul
        /// transpose, slice, concat on int8: `StridedCopy` in each value's layout.
        case move
        /// A pointwise function by table (hard_swish, hard_sigmoid, sigmoid, silu, gelu).
        case lookup
        /// A channel-last map read in row-major order (a flatten before a linear layer), and back.
        case toRowMajor, toChannelLast
        case quantize, dequantize
        /// A float32 op (the op itself says which).
        case float32
    }

    public struct Step: Sendable {
        /// Index in `graph.nodes`.
        public var node: Int
        public var kernel: Kernel
        public var parameters: KernelParameters
    }

    public let graph: Graph
    public let target: TargetProfile
    /// The steps with code, in order (reshapes that share their input's bytes have none).
    public var steps: [Step]
    public var layouts: [Layout]
    /// The graph starts by quantizing its input and ends by dequantizing int8 logits: the core
    /// runs the int8 network between (an int8-in/int8-out entry point exists), and `steps` holds
    /// neither end.
    public var int8Ends: (quantizedInput: ValueID, int8Output: ValueID)?
    /// Values living in the caller's input buffer (the graph input and what aliases it).
    public var inCaller: Set<ValueID>
    /// Each workspace value's byte offset (aliases share their input's).
    public var offsets: [ValueID: Int]
    public var workspaceBytes: Int
    /// The largest sum of the activations one step reads and writes (the planner's yardstick).
    public var largestLivePair: Int
    /// Bytes an int8 value's element takes in this backend: 1, or 2 where the CUDA fp16 path
    /// stores the same map in half.
    public var int8ElementBytes = 1
    /// Steps (indices in `steps`) whose 1×1 convolution takes the residual add that follows into
    /// its epilogue (lowered with `fusingResidualAdds`: the CUDA backend).
    public var residualFusions: Set<Int> = []

    /// Bytes a value occupies (int8 one per element, or `int8ElementBytes`; float32 four).
    public func storageBytes(_ v: ValueID) -> Int {
        graph.values[v].shape.elementCount * (graph.values[v].dtype == .float32 ? 4 : int8ElementBytes)
    }

    /// Whether a value's stored bytes are in the row-major order of its logical shape.
    public func naturalOrder(_ v: ValueID) -> Bool {
        layouts[v] == .rowMajor || graph.values[v].shape[2] * graph.values[v].shape[3] == 1
    }

    /// Each logical axis' stride through a value's stored elements (a channel-last map's C is
    /// the fastest).
    public func strides(_ v: ValueID) -> [Int] {
        let d = graph.values[v].shape.dims
        guard layouts[v] == .channelLast, d.count == 4 else { return Shape(d).strides }
        return [d[1] * d[2] * d[3], 1, d[3] * d[1], d[1]]
    }

    /// The copies a move step makes (one per input), in its values' layouts, simplified for the
    /// kernels; nil when the op is no move.
    public func copies(_ n: Node) -> [StridedCopy]? {
        let ins = n.inputs.map { graph.values[$0].shape.dims }
        let out = graph.values[n.outputs[0]].shape.dims
        return StridedCopy.of(n.op, inputs: ins, output: out) { i, _ in strides(i.map { n.inputs[$0] } ?? n.outputs[0])
        }?
        .map { $0.simplified() }
    }

    /// Whether any activation in the workspace is float32 (it must then be 4-byte aligned).
    public var floatActivations: Bool {
        offsets.keys.contains { graph.values[$0].dtype == .float32 }
    }
}
