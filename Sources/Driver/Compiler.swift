import Codegen
import Frontends
import GraphIR

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

public enum FkdcVersion {
    public static let string = "0.7.0"
}

/// Verification gates (`compile` and `verify`). Units: sizes as a ratio of the fp32 weight
/// bytes (`size_ratio`: the int8 model's weight and bias bytes, what quantization shrinks;
/// `file_ratio`: the whole binary, its fixed overhead included); top-1 and class drops in
/// percentage points; agreement in percent; retention as a fraction of the teacher's top-1;
/// probability change in percentage points; decision flips in percent of the samples.
public struct Gates: Sendable {
    public var maxSizeRatio: Double = 0.30
    public var maxFileRatio: Double?
    public var maxTop1Drop: Double?
    public var maxClassDrop: Double?
    public var minAgreement: Double?
    public var minRetention: Double?
    public var maxProbDelta: Double?
    public var maxThresholdFlips: Double?

    public init() {}

    /// Checks the gates against a report's numbers. A gate whose value was not measured fails.
    public func check(_ r: ReportValues) -> [GateResult] {
        var out: [GateResult] = []
        out.append(GateResult(name: "size_ratio", limit: maxSizeRatio, value: r.sizeRatio, atMost: true))
        if let l = maxFileRatio {
            out.append(GateResult(name: "file_ratio", limit: l, value: r.fileRatio, atMost: true))
        }
        if let l = maxTop1Drop {
            let v = r.fp32Top1.flatMap { f in r.int8Top1.map { (f - $0) * 100 } }
            out.append(GateResult(name: "top1_drop", limit: l, value: v, atMost: true))
        }
        if let l = maxClassDrop {
            let drops = r.perClass.map { ($0.fp32 - $0.int8) * 100 }
            out.append(GateResult(name: "class_drop", limit: l, value: drops.isEmpty ? nil : drops.max(), atMost: true))
        }
        if let l = minAgreement {
            out.append(GateResult(name: "agreement", limit: l, value: r.agreement.map { $0 * 100 }, atMost: false))
        }
        if let l = minRetention {
            out.append(GateResult(name: "retention", limit: l, value: r.retention, atMost: false))
        }
        if let l = maxProbDelta {
            out.append(GateResult(name: "prob_delta", limit: l, value: r.probDelta.map { $0 * 100 }, atMost: true))
        }
        if let l = maxThresholdFlips {
            out.append(GateResult(name: "threshold_flips", limit: l, value: r.thresholdFlipShare, atMost: true))
        }
        return out
    }
}

/// The numbers gates read, from a fresh compile or from report.json.
public struct ReportValues: Sendable {
    /// int8 weight and bias bytes ÷ fp32 weight bytes.
    public var sizeRatio: Double
    /// Binary bytes ÷ fp32 weight bytes (nil in a report.json from before it was recorded).
    public var fileRatio: Double?
    public var fp32Top1: Double?
    public var int8Top1: Double?
    public var agreement: Double?
    public var perClass: [(name: String, fp32: Double, int8: Double)] = []
    public var retention: Double?
    /// The largest |p_int8 − p_fp32| (a probability, 0…1).
    public var probDelta: Double?
    /// The largest share of samples, in percent, whose decision flips at a threshold.
    public var thresholdFlipShare: Double?
}

public struct GateResult: Sendable {
    public var name: String
    public var limit: Double
    /// nil: not measured (the gate fails).
    public var value: Double?
    /// The value must be ≤ limit (else ≥ limit).
    public var atMost: Bool
    public var passed: Bool {
        guard let value else { return false }
        // a tolerance for values that crossed a JSON round trip or a percentage conversion
        return atMost ? value <= limit + 1e-9 : value >= limit - 1e-9
    }

    public var message: String {
        guard let value else {
            return
                "gate \(name): not measured (limit \(atMost ? "≤" : "≥") \(Self.format(limit)); it needs validation data)"
        }
        return "gate \(name): \(Self.format(value)) \(passed ? (atMost ? "≤" : "≥") : (atMost ? ">" : "<")) limit "
            + Self.format(limit)
    }

    static func format(_ d: Double) -> String { String((d * 10000).rounded() / 10000) }
}

/// What `compile --target` needs beyond quantization.
public struct CompileOptions: Sendable {
    public var quantize = QuantizeOptions()
    public var target: TargetProfile = TargetProfile.named("generic-c")!
    public var output: String
    public var gates = Gates()
    /// Symbol prefix of the generated C (`<name>_run`).
    public var name = "model"
    /// The generated C reads its weights from `model.fkdc` (`<name>_prepare`) instead of holding them.
    public var externalWeights = false
    /// Also write `model_trt_calib.cache` (`TensorRTCache`).
    public var emitTensorRTCache = false
    /// Also write `model_qdq.onnx` (`QDQExport`).
    public var emitQDQ = false

    public init(output: String) { self.output = output }
}

public struct CompileResult: Sendable {
    public var quantized: QuantizeResult
    public var report: JSON
    public var values: ReportValues
    public var gates: [GateResult]
    public var binaryBytes: Int
    public var fp32WeightBytes: Int
    /// The int8 model's constants (int8 weights, int32 biases, what stays float32).
    public var int8WeightBytes: Int
    public var files: [String]
    /// The generated C, or why there is none (a graph with float32 ops).
    public var c: CEmitter.Output?
    public var cSkipped: String?
    /// The generated CUDA of a target with a GPU, or why there is none; nil without a GPU.
    public var cuda: CUDABackend?
}

/// import → passes → calibrate → quantize → emit → verify, writing DIR/model.fkdc and
/// DIR/report.json. Every file is written under a temporary name first and renamed only when
/// all of them are complete, so a failure leaves DIR as it was.
public enum Compiler {
    public static func run(
        _ model: LoadedModel, options: CompileOptions, progress: ProgressBar? = nil
    ) throws(DriverError) -> CompileResult {
        guard CEmitter.isCIdentifier(options.name) else {
            throw DriverError(
                .usage, "--name '\(options.name)' must be a C identifier of at most 64 characters (letters, digits, _)")
        }
        let q = try Quantizer.run(model, options: options.quantize, progress: progress)
        let source = try sha256(ofFile: model.path)
        let pre = q.preprocessing
        let meta: [String: String] = [
            "compiler": "fkdc", "compiler_version": FkdcVersion.string, "target": options.target.name,
            "source_file": String(model.path.split(separator: "/").last ?? ""), "source_format": model.format,
            "source_sha256": source,
            "architecture": model.architecture, "calibration": q.calibration,
            "weights": options.quantize.perTensor ? "per-tensor" : "per-channel",
            "input_mean": pre.mean.map { "\($0)" }.joined(separator: ","),
            "input_std": pre.std.map { "\($0)" }.joined(separator: ","),
            "preprocessing": pre.summary,
        ]
        let layout = FkdcFile.layout(q.int8, metadata: meta)
        let binary = layout.bytes
        let parameters = model.graph.parameterCount
        let fp32Bytes = parameters * 4
        let weightBytes = q.int8.constants.values.reduce(0) { $0 + $1.byteCount }
        var values = ReportValues(sizeRatio: Double(weightBytes) / Double(max(fp32Bytes, 1)))
        values.fileRatio = Double(binary.count) / Double(max(fp32Bytes, 1))
        if let a = q.accuracy {
            values.fp32Top1 = a.fp32Top1
            values.int8Top1 = a.int8Top1
            values.agreement = a.agreement
            values.perClass = a.perClass.map { ($0.name, $0.fp32, $0.int8) }
            values.retention = a.retention
            values.probDelta = a.probabilities?.maxDelta
            values.thresholdFlipShare = a.probabilities?.worstFlipShare
        }
        let gates = options.gates.check(values)
        var c: CEmitter.Output?
        var cSkipped: String?
        do {
            var emitter = try CEmitter(
                prefix: options.name, target: options.target, generator: "fkdc \(FkdcVersion.string)",
                external: options.externalWeights ? ExternalWeights(layout: layout) : nil)
            if pre.invalidity == nil { emitter.preprocess = (pre.kernelParameters, pre.summary) }
            c = try emitter.emit(q.int8)
        } catch { cSkipped = error.message }
        let cuda = CUDABackend.run(
            q.int8, target: options.target, prefix: options.name, generator: "fkdc \(FkdcVersion.string)",
            preprocess: pre.invalidity == nil ? (pre.kernelParameters, pre.summary) : nil)
        var files = ["model.fkdc", "report.json", "report.html"]
        if c != nil { files += ["model.h", "model.c"] }
        if cuda?.output != nil { files += ["model_cuda.h", "model_cuda.cu"] }
        if options.emitTensorRTCache { files.append("model_trt_calib.cache") }
        let qdq = options.emitQDQ ? try QDQExport.model(float: q.float, int8: q.int8) : nil
        if qdq != nil { files.append("model_qdq.onnx") }
        let report = Report.json(
            model: model, options: options, result: q, sha256: source, parameters: parameters,
            binaryBytes: binary.count, weightBytes: weightBytes,
            breakdown: FkdcFile.breakdown(binary, graph: q.int8), values: values, gates: gates, files: files, c: c,
            cSkipped: cSkipped, cuda: cuda, preprocessing: pre.summary)
        let reportBytes = Array((report.render() + "\n").utf8)
        // the page is drawn from the JSON as written, as `fkdc report` draws it later
        let page = try HTMLReport.render(jsonBytes: reportBytes, file: options.output + "/report.json")
        try Outputs.makeDirectory(options.output)
        var out: [(path: String, bytes: [UInt8])] = [
            (options.output + "/model.fkdc", binary),
            (options.output + "/report.json", reportBytes),
            (options.output + "/report.html", Array(page.utf8)),
        ]
        if let c {
            out.append((options.output + "/model.h", Array(c.header.utf8)))
            out.append((options.output + "/model.c", Array(c.source.utf8)))
        }
        if let cu = cuda?.output {
            out.append((options.output + "/model_cuda.h", Array(cu.header.utf8)))
            out.append((options.output + "/model_cuda.cu", Array(cu.source.utf8)))
        }
        if let qdq { out.append((options.output + "/model_qdq.onnx", qdq)) }
        if options.emitTensorRTCache {
            out.append((options.output + "/model_trt_calib.cache", Array(TensorRTCache.text(q.int8).utf8)))
        }
        try AtomicFile.writeAll(out)
        return CompileResult(
            quantized: q, report: report, values: values, gates: gates, binaryBytes: binary.count,
            fp32WeightBytes: fp32Bytes, int8WeightBytes: weightBytes, files: files, c: c, cSkipped: cSkipped, cuda: cuda
        )
    }

    static func sha256(ofFile path: String) throws(DriverError) -> String {
        do {
            let f = try MappedFile(path: path)
            return SHA256.hex(f.bytes)
        } catch { throw DriverError(.badInput, "\(path): cannot read: \(error)") }
    }
}
