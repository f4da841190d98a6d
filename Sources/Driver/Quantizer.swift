import Frontends
import GraphIR
import Passes

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Range selection methods for calibration data.
public typealias CalibrationMethod = Calibrator.Method

/// How to quantize.
public struct QuantizeOptions: Sendable {
    /// Calibration data (image folder or .npy); nil: data-free, from batch-norm statistics.
    public var calib: String?
    public var calibLabels: String?
    public var method: CalibrationMethod = .minmax
    public var percentile: Double = 99.99
    public var bins = 2048
    /// One weight scale per tensor (the naive scheme, for comparison).
    public var perTensor = false
    /// Error-aware calibration: each layer on the outputs of the already-quantized layers before it.
    public var sequential = false
    /// Bias correction: analytic from batch-norm statistics without data, empirical (calibration
    /// data's channel means) with it. nil (auto): on for data-free ranges only — with data it
    /// measured slightly worse on the sample student (README's ablation).
    public var biasCorrection: Bool?
    /// Validation data (image folder or .npy) and labels for .npy.
    public var val: String?
    public var valLabels: String?
    public var strict = false
    public var preprocessing = Preprocessing()
    /// At most this many samples from each data set.
    public var limit: Int?
    /// A teacher model evaluated on the validation data (its top-1 and the student's retention).
    public var teacher: String?
    public var teacherOptions = ModelOptions()

    public init() {}
}

/// What quantization produced.
public struct QuantizeResult: Sendable {
    public var float: Graph
    public var int8: Graph
    public var ranges: [String: (Float, Float)]
    /// Layers whose bias was corrected for the mean weight-rounding error.
    public var biasCorrected = 0
    public var floatNodes: [(node: String, op: String)]
    /// "data-free (batch-norm statistics)" or "minmax on 16 samples of …".
    public var calibration: String
    public var accuracy: AccuracyReport?
    public var skipped: [(file: String, reason: String)]
}

public enum Quantizer {
    public static func run(
        _ model: LoadedModel, options: QuantizeOptions, progress: ProgressBar? = nil
    ) throws(DriverError) -> QuantizeResult {
        var ctx = PassContext()
        var g = model.graph
        do { _ = try PassManager(passes: PassRegistry.defaultPipeline).run(on: &g, context: &ctx) } catch {
            throw DriverError(.badInput, error.description)
        }
        let ranges: [String: (Float, Float)]
        let means: [String: [Float]]
        var calibration: String
        var skipped: [(file: String, reason: String)] = []
        var pre = options.preprocessing
        if let inShape = g.inputs.first.map({ g.values[$0].shape.dims }), inShape.count == 4 {
            (pre.height, pre.width) = (inShape[2], inShape[3])
        }
        if let calib = options.calib {
            let data = try DatasetLoader.load(
                path: calib, labels: options.calibLabels, preprocessing: pre, strict: options.strict,
                limit: options.limit)
            skipped += data.skipped
            let c = Calibrator(method: options.method, percentile: options.percentile, bins: options.bins)
            do {
                if options.sequential {
                    progress?.start("calibrating layer by layer (\(options.method.rawValue))", total: g.nodes.count)
                    (ranges, means) = try SequentialCalibration(calibrator: c, perTensorWeights: options.perTensor)
                        .calibrate(g, batches: data.samples) { i, _ in progress?.update(i) }
                } else {
                    progress?.start(
                        "calibrating (\(options.method.rawValue))",
                        total: options.method == .minmax ? data.count : 2 * data.count)
                    (ranges, means) = try c.calibrate(g, batches: data.samples) { i, _ in progress?.update(i) }
                }
            } catch { throw DriverError(.badInput, "\(calib): \(error.description)") }
            progress?.finish()
            calibration =
                "\(options.method.rawValue)\(options.sequential ? " (sequential)" : "") on \(data.count) samples of \(calib)"
        } else {
            let df = DataFreeRanges(normalisationMean: pre.mean, std: pre.std)
            do { (ranges, means) = try df.analyse(g, statistics: ctx.batchNormStatistics) } catch {
                throw DriverError(.badInput, "\(model.path): \(error.description)")
            }
            calibration = "data-free (batch-norm statistics, ±\(Int(df.k))σ)"
        }
        ctx.activationRanges = ranges
        ctx.perTensorWeights = options.perTensor
        var q = g
        var corrected = 0
        if options.biasCorrection ?? (options.calib == nil) {
            corrected = BiasCorrection(perTensorWeights: options.perTensor).apply(to: &q, inputMeans: means)
            if corrected > 0 { calibration += ", bias correction on \(corrected) layers" }
        }
        do { _ = try PassManager(passes: [PassRegistry.named("quantize")!]).run(on: &q, context: &ctx) } catch {
            throw DriverError(.badInput, error.description)
        }
        var result = QuantizeResult(
            float: g, int8: q, ranges: ranges, biasCorrected: corrected, floatNodes: ctx.floatNodes,
            calibration: calibration, accuracy: nil,
            skipped: skipped)
        if let val = options.val {
            let data = try DatasetLoader.load(
                path: val, labels: options.valLabels, preprocessing: pre, strict: options.strict, limit: options.limit)
            result.skipped += data.skipped
            result.accuracy = try AccuracyReport.measure(float: g, int8: q, data: data, progress: progress)
            if let teacher = options.teacher {
                guard data.labels != nil else {
                    throw DriverError(.badInput, "\(val): --teacher needs labelled validation data")
                }
                result.accuracy?.teacher = try teacherTop1(teacher, options: options, data: data)
            }
        }
        return result
    }
}

extension Quantizer {
    /// The teacher's float32 top-1 on the validation data (reloaded at the teacher's input size).
    static func teacherTop1(_ path: String, options: QuantizeOptions, data: Dataset) throws(DriverError) -> (
        name: String, top1: Double
    ) {
        let t = try ModelLoader.load(path: path, options: options.teacherOptions)
        var pre = options.preprocessing
        let shape = t.graph.values[t.graph.inputs[0]].shape.dims
        var samples = data
        if shape.count == 4, shape[2] != data.samples[0].shape[2] || shape[3] != data.samples[0].shape[3] {
            (pre.height, pre.width) = (shape[2], shape[3])
            samples = try DatasetLoader.load(
                path: data.source, labels: options.valLabels, preprocessing: pre, strict: options.strict,
                limit: options.limit)
        }
        let ev = Evaluator(graph: t.graph)
        var correct = 0
        for (x, l) in zip(samples.samples, samples.labels ?? []) {
            do throws(IRError) {
                if AccuracyReport.argmax(try ev.run([x])[0]) == l { correct += 1 }
            } catch { throw DriverError(.badInput, "\(path): \(error.description)") }
        }
        return (t.architecture, Double(correct) / Double(max(samples.count, 1)))
    }
}

/// A progress bar on stderr for passes over data that take longer than a second.
public final class ProgressBar: @unchecked Sendable {
    var label = ""
    var total = 0
    var started = 0.0
    var shown = false

    public init() {}

    static func now() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }

    func start(_ label: String, total: Int) {
        self.label = label
        self.total = total
        started = Self.now()
        shown = false
    }

    func update(_ done: Int) {
        let elapsed = Self.now() - started
        guard elapsed > 1 || shown, total > 0 else { return }
        shown = true
        let width = 30
        let filled = width * min(done, total) / total
        var line =
            "\r\(label) [" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        line += "] \(done)/\(total) \(Int(elapsed))s"
        line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    }

    func finish() {
        if shown { _ = "\n".withCString { write(2, $0, 1) } }
    }
}
