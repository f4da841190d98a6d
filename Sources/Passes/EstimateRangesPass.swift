import GraphIR

/// Activation ranges (and channel means) from the configured source.
struct EstimateRangesPass: Pass {
    static let name = "estimate-ranges"
    static let summary = "Estimate activation ranges: data-free from batch-norm statistics, or calibrated on data"

    func run(on graph: inout Graph, context: inout PassContext) throws(PassError) {
        let q = context.quantization
        guard let source = q.source else {
            throw PassError(.failed, pass: Self.name, "no range source (calibration data or batch-norm statistics)")
        }
        let progress = q.progress
        do throws(IRError) {
            switch source {
            case .dataFree(let mean, let std):
                var df = DataFreeRanges(normalisationMean: mean, std: std)
                if context.batchNormStatistics.isEmpty { df.k = DataFreeRanges.fromInputAlone }
                let r: (ranges: [String: (Float, Float)], means: [String: [Float]])
                do { r = try df.analyse(graph, statistics: context.batchNormStatistics) } catch {
                    throw IRError(.badInput, at: error.location, error.message)
                }
                (context.quantization.ranges, context.quantization.channelMeans) = (r.ranges, r.means)
                context.quantization.calibration =
                    context.batchNormStatistics.isEmpty
                    ? "data-free (no batch-norm statistics in the model: moments carried from the input's, ±\(Int(df.k))σ)"
                    : "data-free (batch-norm statistics, ±\(Int(df.k))σ)"
            case .data(let samples, let c, let sequential, let name):
                let label = "calibrating\(sequential ? " layer by layer" : "") (\(c.method.rawValue))"
                let r =
                    sequential
                    ? try SequentialCalibration(calibrator: c, perTensorWeights: q.perTensorWeights)
                        .calibrate(graph, batches: samples) { i, n in progress?(label, i, n) }
                    : try c.calibrate(graph, batches: samples) { i, n in progress?(label, i, n) }
                (context.quantization.ranges, context.quantization.channelMeans) = (r.ranges, r.means)
                context.quantization.calibration =
                    "\(c.method.rawValue)\(sequential ? " (sequential)" : "") on \(samples.count) samples of \(name)"
            }
        } catch { throw PassError(.failed, pass: Self.name, at: error.location, error.message) }
        context.count("activation ranges", context.quantization.ranges.count)
    }
}
