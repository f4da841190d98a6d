import ArgumentParser
import Driver
import Frontends
import GraphIR

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Options that select and shape the model read from a checkpoint.
struct ModelSelection: ParsableArguments {
    @Option(
        help:
            "Architecture, when detection is not enough: mobilenet_v2, resnet18/34/50/101/152, vit (torchvision or timm names)."
    )
    var arch: String?

    @Option(
        help: "Key prefix selecting one model in a checkpoint (e.g. student. or teacher.); auto-detected by default.")
    var prefix: String?

    @Option(help: "Attention heads of a ViT (default: hidden size / 64).")
    var heads: Int?

    @Option(help: "Batch size the graph is built for (ONNX dynamic batch dimensions too; run takes it from the input).")
    var batch = 1

    @Option(help: "Input height and width of a CNN built from a checkpoint (default 224); preprocessing targets it.")
    var inputSize: Int?

    @Option(
        help:
            "The input shape, e.g. 1x3x48x192 (as trtexec's --shapes): fixes the dimensions an ONNX input leaves open (default: from a .npy input or data set)."
    )
    var inputShape: String?

    var options: ModelOptions {
        get throws {
            var o = ModelOptions(arch: arch, prefix: prefix, heads: heads, batch: batch, inputSize: inputSize)
            if let s = inputShape {
                let dims = s.lowercased().split(separator: "x", omittingEmptySubsequences: false).map { Int($0) }
                guard (1...8).contains(dims.count), dims.allSatisfy({ ($0 ?? 0) >= 1 && ($0 ?? 0) <= 1 << 20 }) else {
                    throw ValidationError("--input-shape must be dimensions joined by x, each 1…1048576, not '\(s)'")
                }
                o.inputShape = dims.compactMap { $0 }
            }
            return o
        }
    }
}

struct Fkdc: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fkdc",
        abstract: "Compile PyTorch image classifiers into verified INT8 models for NVIDIA Jetson boards.",
        discussion: """
            Reads PyTorch checkpoints (.pt .pth .ckpt), safetensors and .fkir graphs.
            Exit codes: 0 ok, 1 usage, 2 bad input, 3 a verification gate failed.
            """,
        version: FkdcVersion.string,
        subcommands: [
            Inspect.self, Run.self, Opt.self, Compile.self, Verify.self, Diff.self, ReportCommand.self, Targets.self,
            Preprocess.self,
        ])
}

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Describe a model: format, architecture, input shape, a layer table and totals.")

    @Argument(help: "Model file (.pt .pth .ckpt .safetensors .fkir).")
    var file: String

    @OptionGroup var model: ModelSelection

    @Flag(help: "Print the graph IR text (constants over 16 elements elided).")
    var ir = false

    @Flag(help: "Print the graph IR text with every constant's data (parseable back).")
    var irFull = false

    @Flag(help: "Print the report as JSON.")
    var json = false

    func run() throws {
        let m = try ModelLoader.load(path: file, options: model.options)
        if ir || irFull {
            print(IRPrinter(elideConstantsOver: irFull ? nil : 16).print(m.graph), terminator: "")
            return
        }
        let r = InspectReport(m)
        print(json ? r.json().render() : r.text(), terminator: json ? "\n" : "")
    }
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate a model in float32 on an NCHW .npy batch; print top-k and write logits.")

    @Argument(help: "Model file (.pt .pth .ckpt .safetensors .fkir).")
    var file: String

    @OptionGroup var model: ModelSelection

    @Option(help: "Input: a float32 NCHW .npy array (already resized and normalised).")
    var input: String

    @Option(help: "Write the logits [N, classes] as float32 .npy here.")
    var output: String?

    @Option(help: "How many classes to print per sample.")
    var topk = 3

    @Option(help: "Run this pass pipeline before evaluating (comma-separated names, or 'default').")
    var passes: String?

    @Flag(help: "Run the default optimisation pipeline before evaluating (same as --passes default).")
    var optimize = false

    @Option(help: "Evaluate this many times and print the median latency (for benchmarks).")
    var `repeat` = 1

    func validate() throws {
        guard topk >= 1 else { throw ValidationError("--topk must be at least 1") }
        guard (1...10000).contains(`repeat`) else { throw ValidationError("--repeat must be in 1…10000") }
    }

    @Flag(help: "Run an int8 model in the fake-quant float32 mode (fast error analysis; within one int8 step).")
    var fakeQuant = false

    func run() throws {
        let x = try NPY.read(path: input)
        let r = try Runner.run(
            modelPath: file, input: x, inputPath: input, topK: topk, options: model.options,
            repeat: `repeat`, pipeline: passes ?? (optimize ? "default" : nil), fakeQuant: fakeQuant)
        print(Runner.text(r), terminator: "")
        if `repeat` > 1 {
            let ms = { (s: Double) in String((s * 100_000).rounded() / 100) }
            printError(
                "latency: median \(ms(r.medianSeconds)) ms, min \(ms(r.seconds.min() ?? 0)) ms over \(`repeat`) runs")
            if Evaluator.blasCoreName.lowercased() == "prescott" {
                printError(
                    "note: OpenBLAS runs its generic SSE3 kernels (core 'Prescott'): it does not recognise this CPU; "
                        + "OPENBLAS_CORETYPE=Haswell (or SkylakeX) selects AVX2 (AVX-512) kernels where the CPU has them"
                )
            }
        }
        if let output { try NPY.write(r.logits, to: output) }
    }
}

/// Writes to standard error (file descriptor 2).
func printError(_ message: String) {
    var m = message + "\n"
    m.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
}

func fail(_ message: String, code: Int32) -> Never {
    printError("fkdc: error: \(message)")
    exit(code)
}

do {
    var command = try Fkdc.parseAsRoot()
    try command.run()
} catch let e as DriverError {
    fail(e.message, code: e.exitCode)
} catch {
    let code = Fkdc.exitCode(for: error)
    if code == .success {
        print(Fkdc.fullMessage(for: error))
        exit(0)
    }
    printError(Fkdc.fullMessage(for: error))
    exit(1)
}

struct Opt: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run graph optimisation passes over a model, print what each did, write the optimised IR.",
        discussion: "Passes: " + Driver.passCatalog)

    @Argument(help: "Model file (.pt .pth .ckpt .safetensors .fkir).")
    var file: String

    @OptionGroup var model: ModelSelection

    @Option(help: "Comma-separated pass names, or 'default'.")
    var passes = "default"

    @Option(help: "Print the IR after this pass ('all' for every pass); repeatable.")
    var printIRAfter: [String] = []

    @Flag(help: "Print how long each pass took.")
    var timePasses = false

    @Option(name: .shortAndLong, help: "Write the optimised graph here as .fkir text (with all constant data).")
    var output: String?

    func run() throws {
        let m = try ModelLoader.load(path: file, options: model.options)
        let r = try Optimizer.run(m.graph, pipeline: passes, printIRAfter: Set(printIRAfter)) { pass, ir in
            print("// IR after \(pass)\n\(ir)", terminator: "")
        }
        print(Optimizer.summary(r, times: timePasses), terminator: "")
        print("nodes: \(r.nodesBefore) → \(r.graph.nodes.count)")
        if let output { try AtomicFile.write(Array(r.graph.text.utf8), to: output) }
    }
}

struct Compile: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Compile a model to a verified INT8 binary for a target: DIR/model.fkdc, DIR/report.json and DIR/report.html.",
        discussion: """
            import → default passes → calibration → int8 → emit → verify. Exit code 3 when a gate fails.
            Without --calib, activation ranges come from the batch-norm statistics in the checkpoint (data-free).
            With --val, fp32 and int8 are compared: top-1 and per-class recall (labelled data), top-1 agreement,
            logit SQNR and per-layer SQNR. Data: an image folder (PNG/JPEG, one subfolder per class) or a
            float32 NCHW .npy (labels from --calib-labels / --val-labels).
            """)

    @Argument(help: "Model file (.pt .pth .ckpt .safetensors .onnx .fkir).")
    var file: String

    @OptionGroup var model: ModelSelection

    @Option(help: "Calibration data: image folder or .npy (omit for data-free calibration).")
    var calib: String?

    @Option(help: "Integer labels .npy for --calib (optional).")
    var calibLabels: String?

    @Option(help: "Range selection.")
    var calibMethod: CalibrationMethod = .minmax

    @Option(help: "Percentile for --calib-method percentile.")
    var percentile = 99.99

    @Option(help: "Histogram bins for percentile, entropy and mse.")
    var bins = 2048

    @Flag(help: "One weight scale per tensor instead of per output channel (the naive scheme).")
    var perTensor = false

    @Flag(
        help:
            "Requantize the classifier's output to int8 (and emit <name>_run_int8, int8 in and out) instead of float32 logits from its int32 accumulators."
    )
    var int8Logits = false

    @Option(
        help:
            "Bias correction (the mean error of rounded weights subtracted from each layer's bias); auto (the default): off."
    )
    var biasCorrection: BiasCorrectionMode = .auto

    @Option(
        help: "standard, or sequential: each layer calibrated on the outputs of the already-quantized layers before it."
    )
    var calibMode: CalibrationMode = .standard

    @Option(
        help:
            "Weight rounding: nearest, or adaround (each layer's weights rounded up or down to fit its float output on --calib; slower)."
    )
    var rounding: RoundingMode = .nearest

    @Option(help: "Optimisation steps per layer for --rounding adaround.")
    var adaroundIterations = QuantizeOptions().adaroundIterations

    @Option(
        help:
            "Accuracy-targeted mixed precision: keep the fewest layers in float32 for the int8 model's top-1 agreement with fp32 on --val to reach this, in percent."
    )
    var targetAgreement: Double?

    @Option(
        help:
            "Accuracy-targeted mixed precision: keep the fewest layers in float32 for the top-1 drop on labelled --val to stay within this, in points."
    )
    var targetTop1Drop: Double?

    @Option(
        help:
            "Accuracy-targeted mixed precision: keep the fewest layers in float32 for the largest |p_int8 − p_fp32| of any class on any --val sample to stay within this, in points."
    )
    var targetProbDelta: Double?

    @Option(
        help:
            "Threads for calibration, validation, learned rounding and the accuracy-target search (default: every processor); the outputs are the same bytes for any count."
    )
    var threads: Int?

    @Option(help: "Validation data: image folder or .npy.")
    var val: String?

    @Option(help: "Integer labels .npy for --val.")
    var valLabels: String?

    @Option(
        help:
            "Decision thresholds, comma-separated (e.g. 0.3,0.5): --val counts the samples for which some class's p > t differs between fp32 and int8 (default 0.5)."
    )
    var thresholds: String?

    @Flag(help: "Fail on the first unreadable image instead of skipping it.")
    var strict = false

    @OptionGroup var preprocessing: PreprocessOptions

    @Option(help: "Use at most this many samples of each data set.")
    var limit: Int?

    @Option(help: "Teacher model evaluated on --val: its top-1 and the student's retention.")
    var teacher: String?

    @Option(help: "Attention heads of a ViT teacher (default: hidden size / 64).")
    var teacherHeads: Int?

    @Option(help: "Key prefix of the teacher in a checkpoint holding both (e.g. teacher.).")
    var teacherPrefix: String?

    @Flag(help: "Print the SQNR of every int8 layer.")
    var layers = false

    @Option(help: "Target profile (fkdc targets describes them).")
    var target: TargetProfile = .named("generic-c")!

    @Option(name: .shortAndLong, help: "Output folder (default: <model name>-<target>).")
    var output: String?

    @Flag(help: "Also write the int8 graph as readable IR, DIR/model_int8.fkir.")
    var emitIr = false

    @Option(help: "Symbol prefix of the generated C (model.h / model.c): <name>_run.")
    var name = "model"

    @Option(
        help:
            "Where the generated C finds its weights: embedded (static const arrays in model.c) or external (read from model.fkdc by <name>_prepare)."
    )
    var weights: WeightPlacement = .embedded

    @Option(
        help:
            "Also write: onnx-qdq (DIR/model_qdq.onnx, the model with fkdc's scales as QuantizeLinear/DequantizeLinear, opset 13), trt-calib (DIR/model_trt_calib.cache, the activation scales as a TensorRT calibration cache). Repeatable."
    )
    var emit: [EmitKind] = []

    @OptionGroup var gates: GateOptions

    func run() throws {
        var o = QuantizeOptions()
        o.calib = calib
        o.calibLabels = calibLabels
        o.method = calibMethod
        o.percentile = percentile
        o.bins = bins
        o.perTensor = perTensor
        o.int8Logits = int8Logits
        o.biasCorrection = biasCorrection.setting
        o.sequential = calibMode == .sequential
        o.rounding = rounding
        o.adaroundIterations = adaroundIterations
        for (flag, v) in [
            ("target-agreement", targetAgreement), ("target-top1-drop", targetTop1Drop),
            ("target-prob-delta", targetProbDelta),
        ] {
            if let v, !v.isFinite || v < 0 || v > 100 { throw ValidationError("--\(flag) must be a number in 0…100") }
        }
        if let t = threads, !(1...1024).contains(t) { throw ValidationError("--threads must be 1 to 1024") }
        o.threads = threads
        o.target = AccuracyTarget(agreement: targetAgreement, top1Drop: targetTop1Drop, probDelta: targetProbDelta)
        o.val = val
        o.valLabels = valLabels
        if let t = thresholds {
            let v = t.split(separator: ",", omittingEmptySubsequences: false).map {
                Double($0.trimmingCharacters(in: .whitespaces))
            }
            guard !v.isEmpty, v.count <= 16, v.allSatisfy({ ($0 ?? -1) > 0 && ($0 ?? 2) < 1 }) else {
                throw ValidationError(
                    "--thresholds must be up to 16 numbers between 0 and 1, comma-separated, not '\(t)'")
            }
            o.thresholds = v.compactMap { $0 }
        }
        o.strict = strict
        o.limit = limit
        o.teacher = teacher
        o.teacherOptions = ModelOptions(prefix: teacherPrefix, heads: teacherHeads)
        o.preprocessing = try preprocessing.preprocessing(model: file)
        let profile = target
        var mo = try model.options
        if mo.inputShape == nil {  // what the data says fills dimensions an ONNX input leaves open
            if let npy = [calib, val].compactMap({ $0 }).first(where: { $0.hasSuffix(".npy") }) {
                mo.dataShape = try NPY.read(path: npy).shape.dims
            } else if let pre = o.preprocessing, let size = pre.crop ?? pre.exactSize {
                mo.dataShape = [1, 3, size.height, size.width]
            }
        }
        let m = try ModelLoader.load(path: file, options: mo)
        var stem = String(file.split(separator: "/").last ?? "model")
        if let dot = stem.lastIndex(of: "."), dot > stem.startIndex { stem = String(stem[..<dot]) }
        let dir = output ?? "\(stem)-\(profile.name)"
        var c = CompileOptions(output: dir)
        c.quantize = o
        c.target = profile
        c.gates = try gates.gates()
        c.name = name
        c.externalWeights = weights == .external
        c.emitTensorRTCache = emit.contains(.trtCalib)
        c.emitQDQ = emit.contains(.onnxQDQ)
        let r = try Compiler.run(m, options: c, progress: ProgressBar())
        let q = r.quantized
        print("model:       \(m.path) (\(m.architecture))")
        print("calibration: \(q.calibration)\(perTensor ? ", per-tensor weights" : ", per-channel weights")")
        print(
            "int8:        \(q.count("quantize", "int8 nodes")) nodes; float32: \(q.floatNodes.count)"
                + (q.floatNodes.isEmpty
                    ? ""
                    : " (" + q.floatNodes.prefix(24).map { "\($0.node): \($0.op)" }.joined(separator: ", ")
                        + (q.floatNodes.count > 24 ? ", … \(q.floatNodes.count - 24) more in report.json" : "") + ")"))
        for s in q.skipped { printError("skipped \(s.file): \(s.reason)") }
        if let a = q.accuracy {
            print(a.text(), terminator: "")
            if layers { print(a.layerTable(), terminator: "") }
        } else {
            print("accuracy:    not measured (no --val data)")
        }
        if emitIr { try AtomicFile.write(Array(q.int8.text.utf8), to: dir + "/model_int8.fkir") }
        print(Report.summary(r, target: profile, output: dir), terminator: "")
        try GateOptions.exitIfFailed(r.gates)
    }
}

/// The verification gates, shared by compile and verify.
struct GateOptions: ParsableArguments {
    @Option(help: "Largest allowed int8 weight and bias bytes as a fraction of the fp32 weight bytes.")
    var maxSizeRatio = 0.30

    @Option(help: "Largest allowed whole binary (its fixed overhead included) as a fraction of the fp32 weight bytes.")
    var maxFileRatio: Double?

    @Option(help: "Largest allowed top-1 drop, fp32 → int8, in percentage points (needs labelled --val).")
    var maxTop1Drop: Double?

    @Option(help: "Largest allowed drop of any class's recall, in percentage points (needs labelled --val).")
    var maxClassDrop: Double?

    @Option(help: "Smallest allowed top-1 agreement between fp32 and int8, in percent (needs --val).")
    var minAgreement: Double?

    @Option(help: "Smallest allowed int8 student top-1 ÷ teacher top-1, as a fraction (needs --val and --teacher).")
    var minRetention: Double?

    @Option(help: "Largest allowed |p_int8 − p_fp32| of any class on any sample, in percentage points (needs --val).")
    var maxProbDelta: Double?

    @Option(
        help:
            "Largest allowed share of samples, in percent, whose decision (some class's p > t) flips at any --thresholds value (needs --val)."
    )
    var maxThresholdFlips: Double?

    func gates() throws -> Gates {
        var g = Gates()
        for (name, v) in [
            ("max-size-ratio", maxSizeRatio), ("max-file-ratio", maxFileRatio), ("max-top1-drop", maxTop1Drop),
            ("max-class-drop", maxClassDrop),
            ("min-agreement", minAgreement), ("min-retention", minRetention), ("max-prob-delta", maxProbDelta),
            ("max-threshold-flips", maxThresholdFlips),
        ] {
            if let v, !v.isFinite || v < 0 { throw ValidationError("--\(name) must be a number ≥ 0") }
        }
        g.maxSizeRatio = maxSizeRatio
        g.maxFileRatio = maxFileRatio
        g.maxTop1Drop = maxTop1Drop
        g.maxClassDrop = maxClassDrop
        g.minAgreement = minAgreement
        g.minRetention = minRetention
        g.maxProbDelta = maxProbDelta
        g.maxThresholdFlips = maxThresholdFlips
        return g
    }

    /// Exit code 3 naming every failed gate, its limit and its value.
    static func exitIfFailed(_ results: [GateResult]) throws {
        let failed = results.filter { !$0.passed }
        guard !failed.isEmpty else { return }
        throw DriverError(.gateFailed, failed.map(\.message).joined(separator: "; "))
    }
}

/// A report.json path, or a compile's directory holding one.
func reportPath(_ p: String) -> String {
    var st = stat()
    return stat(p, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR ? p + "/report.json" : p
}

func mapReport(_ path: String) throws -> MappedFile {
    do { return try MappedFile(path: path) } catch { throw DriverError(.badInput, "\(path): cannot open: \(error)") }
}

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Draw a compile's report.json as report.html (self-contained: inline SVG and CSS, no script).")

    @Argument(help: "DIR/report.json, or DIR.")
    var report: String

    @Option(name: .shortAndLong, help: "Where to write the page (default: report.html beside the JSON).")
    var output: String?

    func run() throws {
        let path = reportPath(report)
        let f = try mapReport(path)
        let page = try HTMLReport.render(jsonBytes: Array(f.bytes), file: path)
        let dir = path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        let dest = output ?? (path.contains("/") ? (dir.isEmpty ? "/" : dir + "/") : "") + "report.html"
        try AtomicFile.write(Array(page.utf8), to: dest)
        print("wrote \(dest)")
    }
}

struct Diff: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "What changed between two compiles' report.json (size, accuracy per class, per-layer SQNR); exit 3 when the second fails a gate given here.",
        discussion: "Each gate is checked on both reports: REGRESSED when the first passed it, FAIL when both fail.")

    @Argument(help: "The reference: A/report.json, or A.")
    var before: String

    @Argument(help: "The candidate: B/report.json, or B.")
    var after: String

    @Option(help: "How many of the layers whose SQNR moved most to list.")
    var layers = 8

    @OptionGroup var gates: GateOptions

    func run() throws {
        let (a, b) = (reportPath(before), reportPath(after))
        let (fa, fb) = (try mapReport(a), try mapReport(b))
        let d = try ReportDiff.compare(fa.bytes, fb.bytes, files: (a, b), gates: try gates.gates())
        print("\(a) → \(b)")
        print(d.text(limitLayers: max(layers, 0)), terminator: "")
        if !d.failures.isEmpty { throw DriverError(.gateFailed, d.failures.joined(separator: "; ")) }
    }
}

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Re-check a compile's report.json against gates without recompiling (exit 3 when one fails).")

    @Argument(help: "DIR/report.json, or DIR.")
    var report: String

    @OptionGroup var gates: GateOptions

    func run() throws {
        let path = reportPath(report)
        let f = try mapReport(path)
        let values = try Report.values(fromJSON: f.bytes, file: path)
        let results = try gates.gates().check(values)
        for g in results { print((g.passed ? "pass  " : "FAIL  ") + g.message) }
        try GateOptions.exitIfFailed(results)
    }
}

struct Preprocess: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write exactly what a model sees of images: float32 NCHW .npy (and labels for class folders).",
        discussion: """
            The same preprocessing compile applies to --calib and --val image folders: by default torchvision's
            eval transform (Resize(256) + CenterCrop(224) for 224), or what --model declares.
            """)

    @Argument(help: "Images (PNG, JPEG) or folders of them (one subfolder per class gives labels).")
    var paths: [String]

    @Option(name: .shortAndLong, help: "Output .npy: [N, 3, H, W] float32.")
    var output: String

    @Option(help: "Also write the labels of class folders here (int64 .npy).")
    var labelsOutput: String?

    @Option(
        help:
            "Preprocess as compile would for this model: its input size and the preprocessing it declares (preprocessor_config.json in its folder)."
    )
    var model: String?

    @Option(help: "The model's input size, HxW or N (default: --model's, else 224).")
    var size: String?

    @OptionGroup var preprocessing: PreprocessOptions

    @Flag(help: "Fail on the first unreadable image instead of skipping it.")
    var strict = false

    func run() throws {
        var p = try preprocessing.preprocessing(model: model) ?? Preprocessing()
        if let size {
            guard let s = Preprocessing.Size(parsing: size) else { throw ValidationError("--size must be N or HxW") }
            (p.height, p.width) = (s.height, s.width)
        } else if let model {
            let g = try ModelLoader.load(path: model).graph
            let x = g.inputs.first.map { g.values[$0].shape.dims } ?? []
            guard x.count == 4, x[1] == 3 else {
                throw DriverError(.badInput, "\(model): the model does not take one 3-channel image (input \(x))")
            }
            (p.height, p.width) = (x[2], x[3])
        }
        let d = try DatasetLoader.preprocess(paths, p, strict: strict)
        for s in d.skipped { printError("skipped \(s.file): \(s.reason)") }
        if labelsOutput != nil && d.labels == nil {
            throw ValidationError("--labels-output needs class folders (one subfolder per class) and nothing else")
        }
        var files = [(path: output, bytes: NPY.encode(d.stacked()))]
        if let l = labelsOutput, let t = d.labelTensor() { files.append((l, NPY.encode(t))) }
        try AtomicFile.writeAll(files)
        print("\(d.count) images → \(output) [\(d.count), 3, \(p.height), \(p.width)]: \(p.summary)")
        if let l = labelsOutput { print("labels → \(l) (classes: \(d.classNames.joined(separator: ", ")))") }
    }
}

struct Targets: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the target profiles compile knows.")

    func run() throws {
        for t in TargetProfile.all {
            print("\(t.name)  —  \(t.summary)")
            print("    CPU:    \(t.cpu)")
            if let g = t.gpu {
                print(
                    "    GPU:    \(g.arch), CUDA \(g.cuda), fp16 \(g.fp16 ? "yes" : "no"), dp4a \(g.dp4a ? "yes" : "no")"
                )
            } else {
                print("    GPU:    none")
            }
            print("    compute: \(t.precisions.joined(separator: ", "))")
            print("    emits:  model.fkdc, report.json; \(t.emits.joined(separator: "; "))")
        }
    }
}

// the library's enums as option values: `--help` lists them, and a bad value is refused by name
extension CalibrationMethod: ExpressibleByArgument {}
extension Preprocessing.Interpolation: ExpressibleByArgument {}
extension Preprocessing.Channels: ExpressibleByArgument {}
extension Preprocessing.Pipeline: ExpressibleByArgument {}
extension Preprocessing.PadAlign: ExpressibleByArgument {}
extension CalibrationMode: ExpressibleByArgument {}
extension RoundingMode: ExpressibleByArgument {}
extension BiasCorrectionMode: ExpressibleByArgument {}
extension WeightPlacement: ExpressibleByArgument {}

/// What `compile --emit` adds to the output folder.
enum EmitKind: String, ExpressibleByArgument, CaseIterable {
    case onnxQDQ = "onnx-qdq"
    case trtCalib = "trt-calib"
}

extension TargetProfile: ExpressibleByArgument {
    public init?(argument: String) {
        guard let t = TargetProfile.named(argument) else { return nil }
        self = t
    }

    public static var allValueStrings: [String] { all.map(\.name) }
    public var defaultValueDescription: String { name }
}

/// How images become the model's input (compile's data sets, `fkdc preprocess`): each option
/// given overrides one step of what the model declares (its folder's preprocessor_config.json, or
/// --preprocessor-config), else of torchvision's eval transform.
struct PreprocessOptions: ParsableArguments {
    @Option(
        help:
            "Resize first: N (the shorter side to N, torchvision's Resize(N)), HxW, 'none', 'model' (to the model's input size), 'eval' (torchvision's eval transform: the shorter side to size/0.875, then a centre crop to the size), 'fit' (letterbox: aspect kept, padded to the size) or 'height' (text lines: the model's height, the width in proportion up to the model's, padded). Default: the model's declared preprocessing, else 'eval'."
    )
    var resize: String?

    @Option(help: "Then a centre crop, HxW or N (torchvision's CenterCrop); the result must be the model's input size.")
    var crop: String?

    @Option(
        help: "Resampling filter (antialiased when downscaling; nearest-exact: by pixel centres). Default bilinear.")
    var interpolation: Preprocessing.Interpolation?

    @Option(
        help:
            "Whose pipeline: 'pil' (torchvision on PIL images: ImageFolder's loader; the default), 'tensor' (torchvision on float32 tensors: ToDtype(float32, scale=True) or ToTensor() before Resize) or 'hf' (a Hugging Face image processor)."
    )
    var pipeline: Preprocessing.Pipeline?

    @Option(help: "Channel order the model takes (default rgb).")
    var channels: Preprocessing.Channels?

    @Option(help: "Normalisation mean per channel (comma-separated; default ImageNet's).")
    var mean: String?

    @Option(help: "Normalisation standard deviation per channel (comma-separated; default ImageNet's).")
    var std: String?

    @Option(
        help:
            "A Hugging Face preprocessor_config.json to take the preprocessing from (default: the one in the model's folder)."
    )
    var preprocessorConfig: String?

    @Option(help: "The value padding reads, 0…255 in the image's units (default 0; 114 for YOLO's letterbox).")
    var padValue: Float?

    @Option(
        help: "Where padding leaves the image: centre or top-left (default: top-left for --resize height, else centre)."
    )
    var padAlign: Preprocessing.PadAlign?

    @Flag(
        help:
            "Turn images upright by their EXIF orientation first (PIL's ImageOps.exif_transpose; off by default, as ImageFolder's loader leaves it)."
    )
    var exifOrientation = false

    func floats(_ s: String?, _ name: String) throws -> [Float]? {
        guard let s else { return nil }
        let v = s.split(separator: ",").compactMap { Float($0.filter { $0 != " " }) }
        guard v.count == 3 else { throw ValidationError("--\(name) needs three comma-separated numbers") }
        return v
    }

    /// The preprocessing these options make of `base` (nil: torchvision's eval transform), or
    /// nil when they say nothing and there is no base (the quantizer then resolves the model's).
    func preprocessing(model: String?) throws -> Preprocessing? {
        let base =
            try preprocessorConfig.map { try Preprocessing.huggingFace(configAt: $0) }
            ?? model.flatMap { try Preprocessing.declared(besideModel: $0) }
        let given: [Any?] = [
            resize, crop, interpolation, pipeline, channels, mean, std, padValue, padAlign,
            exifOrientation ? true : nil,
        ]
        if given.allSatisfy({ $0 == nil }) { return base }
        var p = base ?? Preprocessing()
        switch resize {
        case nil: break
        case "eval": p.resize = .evalTransform
        case "model": p.resize = .model
        case "none": p.resize = .none
        case "fit": p.resize = .fit
        case "height": p.resize = .height
        case let r?:
            guard let s = Preprocessing.Size(parsing: r) else {
                throw ValidationError(
                    "--resize must be N, HxW, none, model, eval, fit or height (sides 1…16384), not '\(r)'")
            }
            p.resize = r.contains("x") || r.contains("X") ? .exact(s) : .shorterSide(s.height)
        }
        if let crop {
            guard let c = Preprocessing.Size(parsing: crop) else {
                throw ValidationError("--crop must be N or HxW (sides 1…16384), not '\(crop)'")
            }
            p.crop = c
        }
        if let interpolation { p.interpolation = interpolation }
        if let pipeline { p.pipeline = pipeline }
        if let channels { p.channels = channels }
        if exifOrientation { p.exifOrientation = true }
        if let padValue { p.padValue = padValue }
        if let padAlign { p.padAlign = padAlign }
        if let m = try floats(mean, "mean") { p.mean = m }
        if let s = try floats(std, "std") { p.std = s }
        return p
    }
}
