import GraphIR

/// What the quantization passes (`estimate-ranges`, `bias-correction`, `quantize`) read and
/// record, typed: set the configuration, run the passes, read the results.
public struct QuantizationContext: Sendable {
    /// Where activation ranges come from.
    public enum RangeSource: Sendable {
        /// From the batch-norm statistics `fold-batchnorm` recorded, through the input
        /// normalisation (per-channel mean and standard deviation of the raw input).
        case dataFree(mean: [Float], std: [Float])
        /// Calibrated on these samples (`sequential`: each layer on the outputs of the already
        /// quantized layers before it); `source` names them in the summary.
        case data(samples: [Tensor], calibrator: Calibrator, sequential: Bool, source: String)
    }

    // MARK: configuration

    public var source: RangeSource?
    /// One scale per weight tensor instead of one per output channel (the naive way).
    public var perTensorWeights = false
    /// Int8 logits: the classifier requantizes its accumulators to an int8 output (dequantized
    /// after), as integrators with an int8-in/int8-out entry point want. Off (the default), a
    /// classifier whose int8 output would only be dequantized gives float32 straight from its
    /// int32 accumulators (`Int8Support.emitsFloat`).
    public var int8Logits = false
    /// Bias correction; nil (auto): off.
    public var biasCorrection: Bool?
    /// Nodes `quantize` leaves in float32 though they have an int8 kernel, with the reason
    /// (accuracy-targeted mixed precision), by node name.
    public var keepFloat: [String: String] = [:]
    /// Learned rounding after `quantize` (`--rounding adaround`); nil: nearest.
    public var adaround: AdaRound?
    /// The graph as `quantize` received it, kept by `quantize` when `adaround` is set.
    public var floatGraph: Graph?
    /// Called with (what, done, total) while ranges are estimated on data.
    public var progress: (@Sendable (String, Int, Int) -> Void)?

    // MARK: results

    /// Activation ranges (min, max) by value name (names survive the rewrites between passes,
    /// value ids do not).
    public var ranges: [String: (Float, Float)] = [:]
    /// Per-channel means of each value as the int8 model computes it (for bias correction).
    public var channelMeans: [String: [Float]] = [:]
    /// What `estimate-ranges` did, in words ("minmax on 16 samples of …", "data-free …").
    public var calibration = ""
    /// Layers whose bias `bias-correction` corrected.
    public var biasCorrected = 0
    /// Nodes `quantize` left in float32 (no int8 kernel, or no range), as (node, op).
    public var floatNodes: [(node: String, op: String, reason: String)] = []

    /// What `adaround` did, layer by layer.
    public var adaroundLayers: [AdaRound.Layer] = []

    public init() {}
}
