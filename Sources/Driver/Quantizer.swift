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

/// `--calib-mode`: each layer calibrated on its own float32 inputs, or on the outputs of the
/// already-quantized layers before it.
public enum CalibrationMode: String, Sendable, CaseIterable {
    case standard, sequential
}

/// `--bias-correction`.
public enum BiasCorrectionMode: String, Sendable, CaseIterable {
    /// fkdc's default: off. On the sample student and the trained text-line model, data-free
    /// ranges with the analytic correction moved probabilities further than without (README's
    /// ablation), and with data it lowered the logit SQNR.
    case auto
    case on, off

    /// As `QuantizeOptions.biasCorrection` holds it (nil: auto).
    public var setting: Bool? {
        switch self {
        case .auto: nil
        case .on: true
        case .off: false
        }
    }
}

/// `--rounding`: how weights are rounded to their int8 levels.
public enum RoundingMode: String, Sendable, CaseIterable {
    /// To the nearest level.
    case nearest
    /// Learned on the calibration data, per layer (`AdaRound`).
    case adaround
}

/// `--weights`: where generated C finds its weights.
public enum WeightPlacement: String, Sendable, CaseIterable {
    /// `static const` arrays in model.c.
    case embedded
    /// Unpacked from model.fkdc by `<name>_prepare`.
    case external
}

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
    /// The classifier's output requantized to int8 (`QuantizationContext.int8Logits`) instead of
    /// float32 from its int32 accumulators.
    public var int8Logits = false
    /// Error-aware calibration: each layer on the outputs of the already-quantized layers before it.
    public var sequential = false
    /// Weight rounding, and AdaRound's iterations per layer.
    public var rounding: RoundingMode = .nearest
    public var adaroundIterations = AdaRound.defaultIterations
    /// Threads for validation, learned rounding and the accuracy-target search (nil: every online
    /// processor). The results do not depend on it.
    public var threads: Int?
    /// Accuracy-targeted mixed precision (needs `val`).
    public var target = AccuracyTarget()
    /// Bias correction: analytic from batch-norm statistics without data, empirical (calibration
    /// data's channel means) with it. nil (auto): off — it measured worse on the sample student
    /// both ways (README's ablation).
    public var biasCorrection: Bool?
    /// Validation data (image folder or .npy) and labels for .npy.
    public var val: String?
    public var valLabels: String?
    /// Decision thresholds whose flips the validation counts (each in 0…1).
    public var thresholds = AccuracyReport.defaultThresholds
    public var strict = false
    /// Applied to image data; nil: what the model declares (a `preprocessor_config.json` beside
    /// it), else torchvision's eval transform for its input size.
    public var preprocessing: Preprocessing?
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
    /// What learned rounding did per layer (empty with nearest rounding).
    public var adaround: [AdaRound.Layer] = []
    public var floatNodes: [(node: String, op: String, reason: String)]
    /// "data-free (batch-norm statistics)" or "minmax on 16 samples of …".
    public var calibration: String
    /// What every pass did (the default pipeline, then the quantization passes), in order.
    public var passes: [PassRecord]
    public var accuracy: AccuracyReport?
    public var skipped: [(file: String, reason: String)]
    /// The preprocessing applied to image data (the model's input size filled in).
    public var preprocessing = Preprocessing()
    /// What the accuracy target kept in float32 (nil without a target).
    public var mixedPrecision: MixedPrecisionResult?
}

/// The outcome of `--target-agreement` / `--target-top1-drop` / `--target-prob-delta`.
public struct MixedPrecisionResult: Sendable {
    public var target: AccuracyTarget
    /// Whether the result meets the target on the validation data.
    public var met: Bool
    /// Each activation kept in float32, best first: its name, the nodes kept with it, and the
    /// logit SQNR (fake-quant) with it alone in float32.
    public var kept: [(value: String, nodes: [String], sqnr: Double)]
    /// The result's top-1 agreement (fraction), top-1 drop and max |Δp| (points).
    public var agreement: Double
    public var top1Drop: Double?
    public var probDelta: Double
    /// Exact int8 evaluations of the validation data the search ran.
    public var evaluations: Int
    /// The bytes the float32 layers add to the weights.
    public var extraBytes: Int
}

extension QuantizeResult {
    /// What a pass counted (`count("quantize", "int8 nodes")`), 0 when it counted nothing.
    public func count(_ pass: String, _ what: String) -> Int {
        passes.filter { $0.name == pass }.flatMap(\.counts).filter { $0.0 == what }.map(\.1).reduce(0, +)
    }
}

public enum Quantizer {
    /// The default passes, then `estimate-ranges`, `bias-correction` and `quantize`, through the
    /// pass manager with one context (the verifier after each); every pass's counts reach
    /// `QuantizeResult.passes`. Settings are checked before any data is read.
    public static func run(
        _ model: LoadedModel, options: QuantizeOptions, progress: ProgressBar? = nil
    ) throws(DriverError) -> QuantizeResult {
        // one BLAS thread in the whole process (see `Evaluator.useOneBLASThread`)
        Evaluator.useOneBLASThread()
        var ctx = PassContext()
        // fusion leaves alone what would take an op out of int8 (hard_swish into a conv)
        ctx.fusableActivations = Int8Support.fusable
        var g = model.graph
        var records: [PassRecord]
        do { records = try PassManager(passes: PassRegistry.defaultPipeline).run(on: &g, context: &ctx) } catch {
            throw DriverError(.badInput, error.description)
        }
        var skipped: [(file: String, reason: String)] = []
        var pre = try Preprocessing.resolved(options.preprocessing, model: model.path)
        if let inShape = g.inputs.first.map({ g.values[$0].shape.dims }), inShape.count == 4 {
            (pre.height, pre.width) = (inShape[2], inShape[3])
        }
        if options.calib != nil || options.val != nil, let why = pre.invalidity {
            throw DriverError(.usage, "preprocessing: \(why)")
        }
        if let calib = options.calib {
            var c = Calibrator(method: options.method, percentile: options.percentile, bins: options.bins)
            if let why = c.invalidity { throw DriverError(.usage, why) }
            c.threads = options.threads ?? Parallel.processors
            let data = try DatasetLoader.load(
                path: calib, labels: options.calibLabels, preprocessing: pre, strict: options.strict,
                limit: options.limit)
            skipped += data.skipped
            ctx.quantization.source = .data(
                samples: data.samples, calibrator: c, sequential: options.sequential, source: calib)
        } else {
            guard !options.sequential else {
                throw DriverError(.usage, "sequential calibration needs calibration data (--calib)")
            }
            guard options.rounding == .nearest else {
                throw DriverError(.usage, "--rounding adaround learns the rounding on calibration data: give --calib")
            }
            ctx.quantization.source = .dataFree(mean: pre.mean, std: pre.std)
        }
        ctx.quantization.perTensorWeights = options.perTensor
        ctx.quantization.int8Logits = options.int8Logits
        ctx.quantization.biasCorrection = options.biasCorrection
        if options.rounding == .adaround {
            guard (1...100_000).contains(options.adaroundIterations) else {
                throw DriverError(
                    .usage, "--adaround-iterations must be 1 to 100000, not \(options.adaroundIterations)")
            }
            var ada = AdaRound(iterations: options.adaroundIterations)
            ada.threads = options.threads ?? Parallel.processors
            ctx.quantization.adaround = ada
        }
        let bar = progress
        ctx.quantization.progress = { label, done, total in
            if done <= 1 { bar?.start(label, total: total) }
            bar?.update(done)
            if done == total { bar?.finish() }
        }
        if options.target.isSet {
            guard options.val != nil else {
                throw DriverError(
                    .usage,
                    "--target-agreement, --target-top1-drop and --target-prob-delta are measured on validation data: give --val"
                )
            }
            if options.target.top1Drop != nil, options.val.map({ $0.hasSuffix(".npy") }) == true,
                options.valLabels == nil
            {
                throw DriverError(.usage, "--target-top1-drop needs labelled validation data (--val-labels)")
            }
        }
        let file = options.calib ?? model.path
        // ranges (and corrected biases), then the int8 graph from them
        var prequantized = g
        var q = g
        var plainContext = ctx
        var roundingRecords: [PassRecord] = []
        do {
            records += try PassManager(passes: PassRegistry.rangePipeline).run(on: &prequantized, context: &ctx)
            q = prequantized
            plainContext = ctx
            roundingRecords = try PassManager(passes: PassRegistry.roundingPipeline).run(on: &q, context: &plainContext)
        } catch { throw DriverError(.badInput, "\(file): \(error.description)") }
        var valData: Dataset?
        if let val = options.val {
            valData = try DatasetLoader.load(
                path: val, labels: options.valLabels, preprocessing: pre, strict: options.strict, limit: options.limit)
        }
        var mixed: MixedPrecisionResult?
        if options.target.isSet, let data = valData {
            guard options.target.top1Drop == nil || data.labels != nil else {
                throw DriverError(.usage, "\(data.source): --target-top1-drop needs labelled validation data")
            }
            let plainBytes = q.constantBytes
            let o = try MixedPrecision.search(
                float: g, prequantized: prequantized, context: ctx, plain: q, plainRecords: roundingRecords,
                plainContext: plainContext, data: data, target: options.target, progress: progress,
                threads: options.threads ?? Parallel.processors)
            q = o.int8
            plainContext = o.context
            roundingRecords = o.records
            mixed = MixedPrecisionResult(
                target: options.target, met: o.met, kept: o.kept.map { ($0.value, $0.nodes, $0.sqnr) },
                agreement: o.score.agreement, top1Drop: o.score.top1Drop, probDelta: o.score.probDelta,
                evaluations: o.evaluations,
                extraBytes: q.constantBytes - plainBytes)
        }
        ctx = plainContext
        records += roundingRecords
        let quant = ctx.quantization
        var result = QuantizeResult(
            float: g, int8: q, ranges: quant.ranges, biasCorrected: quant.biasCorrected, adaround: quant.adaroundLayers,
            floatNodes: quant.floatNodes,
            calibration: quant.calibration, passes: records, accuracy: nil, skipped: skipped, preprocessing: pre)
        result.mixedPrecision = mixed
        if let val = options.val, let data = valData {
            result.skipped += data.skipped
            result.accuracy = try AccuracyReport.measure(
                float: g, int8: q, data: data, progress: progress, thresholds: options.thresholds,
                threads: options.threads ?? Parallel.processors)
            if let teacher = options.teacher {
                guard data.labels != nil else {
                    throw DriverError(.badInput, "\(val): --teacher needs labelled validation data")
                }
                result.accuracy?.teacher = try teacherTop1(teacher, options: options, preprocessing: pre, data: data)
            }
        }
        return result
    }
}

extension Quantizer {
    /// The teacher's float32 top-1 on the validation data (reloaded at the teacher's input size).
    static func teacherTop1(_ path: String, options: QuantizeOptions, preprocessing: Preprocessing, data: Dataset)
        throws(DriverError) -> (name: String, top1: Double)
    {
        let t = try ModelLoader.load(path: path, options: options.teacherOptions)
        var pre = preprocessing
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
