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

    var options: ModelOptions { ModelOptions(arch: arch, prefix: prefix, heads: heads, batch: batch) }
}

struct Fkdc: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fkdc",
        abstract: "Compile PyTorch image classifiers into verified INT8 models for NVIDIA Jetson boards.",
        discussion: """
            Reads PyTorch checkpoints (.pt .pth .ckpt), safetensors and .fkir graphs.
            Exit codes: 0 ok, 1 usage, 2 bad input, 3 a verification gate failed.
            """,
        subcommands: [Inspect.self, Run.self, Opt.self])
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

    @Option(help: "Threads for the BLAS kernels (default: all cores).")
    var threads: Int?

    @Option(help: "Run this pass pipeline before evaluating (comma-separated names, or 'default').")
    var passes: String?

    @Flag(help: "Run the default optimisation pipeline before evaluating (same as --passes default).")
    var optimize = false

    @Option(help: "Evaluate this many times and print the median latency (for benchmarks).")
    var `repeat` = 1

    func validate() throws {
        guard topk >= 1 else { throw ValidationError("--topk must be at least 1") }
        if let t = threads, t < 1 { throw ValidationError("--threads must be at least 1") }
        guard (1...10000).contains(`repeat`) else { throw ValidationError("--repeat must be in 1…10000") }
    }

    func run() throws {
        if let t = threads { Evaluator.setThreads(t) }
        let x = try NPY.read(path: input)
        let r = try Runner.run(
            modelPath: file, input: x, inputPath: input, topK: topk, options: model.options,
            repeat: `repeat`, pipeline: passes ?? (optimize ? "default" : nil))
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
