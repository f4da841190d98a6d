import GraphIR

/// Bias correction where configured (`--bias-correction on`; off by default).
struct BiasCorrectionPass: Pass {
    static let name = "bias-correction"
    static let summary = "Subtract the mean error of rounded weights from each layer's bias"

    func run(on graph: inout Graph, context: inout PassContext) throws(PassError) {
        let q = context.quantization
        guard q.biasCorrection ?? false else { return }
        let n = BiasCorrection(perTensorWeights: q.perTensorWeights).apply(to: &graph, inputMeans: q.channelMeans)
        context.quantization.biasCorrected = n
        if n > 0 { context.quantization.calibration += ", bias correction on \(n) layers" }
        context.count("bias-corrected layers", n)
    }
}
