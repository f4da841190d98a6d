import Foundation
import Testing

@testable import Codegen
@testable import Driver
@testable import GraphIR

/// The generated C against the exact int8 evaluator: built warning-free with gcc and clang
/// (C99, -Wall -Wextra -Werror -pedantic), with AddressSanitizer and UndefinedBehaviorSanitizer,
/// and cross-compiled for the Jetson Nano's Cortex-A57 (NEON path) under qemu-aarch64; every
/// build's logits must equal the evaluator's byte for byte. A missing tool skips its build with
/// a message (CI installs them all).
@Suite(.serialized) struct CGenTests {
    static func which(_ tool: String) -> String? {
        if tool.hasPrefix("/") { return FileManager.default.isExecutableFile(atPath: tool) ? tool : nil }
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
            let p = "\(dir)/\(tool)"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }

    @discardableResult
    static func sh(_ exe: String, _ args: [String], cwd: String? = nil) throws -> (code: Int32, out: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = args
        if let cwd { p.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// The student compiled for jetson-nano (calibrated on a few images: a fine logit scale), its
    /// folder, and the inputs: the sample tensors and random ones that drive values into the clamps.
    static let fixture: (dir: String, result: CompileResult, inputs: [(String, Tensor)])? = {
        let dir = NSTemporaryDirectory() + "fkdc-cgen-\(getpid())"
        do {
            try Outputs.makeDirectory(dir)
            let m = try ModelLoader.load(path: Repo.path("samples/student.ckpt"))
            var o = CompileOptions(output: dir)
            o.target = TargetProfile.named("jetson-nano")!
            o.quantize.calib = Repo.path("samples/fundus/calib")
            o.quantize.limit = 8
            let r = try Compiler.run(m, options: o)
            var inputs: [(String, Tensor)] = []
            for n in ["x0", "x1", "x2", "x3"] {
                inputs.append((n, try NPY.read(path: Repo.path("samples/inputs/\(n).npy"))))
            }
            var s: UInt64 = 42
            for k in 0..<2 {
                let v = (0..<(3 * 224 * 224)).map { _ -> Float in
                    s = s &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                    return Float(Int64(bitPattern: s >> 11) % 20001) / 10000 * 4 - 2
                }
                inputs.append(("random\(k)", Tensor(shape: Shape([1, 3, 224, 224]), floats: v)))
            }
            for (n, t) in inputs { try NPY.write(t, to: "\(dir)/\(n).npy") }
            return (dir, r, inputs)
        } catch {
            print("CGenTests fixture failed: \(error)")
            return nil
        }
    }()

    /// Builds the integrator example with `cc` and `flags`, runs it (through `runner`) on every
    /// input, and compares the logits with the evaluator's.
    func buildAndCompare(_ cc: String, _ flags: [String], runner: [String] = [], tag: String) throws {
        let f = try #require(Self.fixture)
        let exe = "\(f.dir)/classify-\(tag)"
        let build = try Self.sh(
            cc,
            ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"] + flags + [
                "-I", f.dir, "-o", exe, Repo.path("samples/integrator/main.c"), "\(f.dir)/model.c", "-lm",
            ])
        #expect(build.code == 0, "\(tag): \(build.out)")
        guard build.code == 0 else { return }
        #expect(build.out.isEmpty, "\(tag) printed warnings: \(build.out)")
        let evaluator = QuantizedEvaluator(graph: f.result.quantized.int8)
        for (name, x) in f.inputs {
            let raw = "\(f.dir)/\(tag)-\(name).raw"
            let args = [exe, "\(f.dir)/\(name).npy", raw]
            let run =
                runner.isEmpty
                ? try Self.sh(exe, Array(args.dropFirst())) : try Self.sh(runner[0], runner.dropFirst() + args)
            #expect(run.code == 0, "\(tag) \(name): \(run.out)")
            let want = try evaluator.run([x])[0]
            let got = try Data(contentsOf: URL(fileURLWithPath: raw))
            #expect(Array(got) == Array(want.bytes), "\(tag) \(name): C logits differ from the evaluator's")
        }
    }

    @Test func generatedFilesAreComplete() throws {
        let f = try #require(Self.fixture)
        let h = try String(contentsOfFile: "\(f.dir)/model.h", encoding: .utf8)
        for s in [
            "extern \"C\"", "#define MODEL_WORKSPACE_BYTES", "#define MODEL_FKDC_FORMAT_VERSION 1", "MODEL_INPUT_SCALE",
            "int model_run(const float *input, float *logits, void *workspace);", "int model_run_int8(",
        ] { #expect(h.contains(s), "model.h lacks \(s)") }
        let c = try String(contentsOfFile: "\(f.dir)/model.c", encoding: .utf8)
        #expect(!c.contains("malloc"))
        #expect(c.contains("#if defined(__ARM_NEON)"))
        // the memory plan: within 2x of the largest pair of simultaneously live activations
        let out = try #require(f.result.c)
        #expect(out.workspaceBytes <= 2 * out.largestLivePair)
        #expect(h.contains("#define MODEL_WORKSPACE_BYTES \(out.workspaceBytes)"))
        // a generic-c target gets no NEON code
        let plain = try CEmitter(target: TargetProfile.named("generic-c")!).emit(f.result.quantized.int8)
        #expect(!plain.source.contains("__ARM_NEON"))
    }

    @Test func gccBuildsWarningFreeAndMatchesTheEvaluator() throws {
        guard let gcc = Self.which("gcc") else {
            print("skipped: gcc not found")
            return
        }
        try buildAndCompare(gcc, ["-O2"], tag: "gcc")
        // -march=native takes the AVX2 (VPMADDWD) path where the CPU has it
        let avx2 = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?.contains(" avx2") ?? false
        if avx2 {
            try buildAndCompare(gcc, ["-O3", "-march=native"], tag: "gcc-native")
        } else {
            print("skipped: no AVX2")
        }
    }

    @Test func clangBuildsWarningFreeAndMatchesTheEvaluator() throws {
        guard let clang = Self.which("clang-19") ?? Self.which("clang") else {
            print("skipped: clang not found")
            return
        }
        try buildAndCompare(clang, ["-O2"], tag: "clang")
    }

    @Test func sanitizersFindNothing() throws {
        guard let gcc = Self.which("gcc") else {
            print("skipped: gcc not found")
            return
        }
        try buildAndCompare(
            gcc, ["-O1", "-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"],
            tag: "asan")
    }

    @Test func aarch64UnderQemuMatchesTheEvaluator() throws {
        guard let cross = Self.which("aarch64-linux-gnu-gcc"), let qemu = Self.which("qemu-aarch64") else {
            print(
                "skipped: aarch64-linux-gnu-gcc or qemu-aarch64 not found (apt install gcc-aarch64-linux-gnu qemu-user)"
            )
            return
        }
        try buildAndCompare(cross, ["-O2", "-mcpu=cortex-a57", "-static"], runner: [qemu], tag: "aarch64")
    }

    @Test func integratorExamplePrintsTheSameTop1AsFkdcRun() throws {
        let f = try #require(Self.fixture)
        guard let make = Self.which("make"), Self.which("cc") != nil else {
            print("skipped: make or cc not found")
            return
        }
        let build = try Self.sh(make, ["-s", "-B", "MODEL=\(f.dir)", "classify"], cwd: Repo.path("samples/integrator"))
        #expect(build.code == 0, "\(build.out)")
        defer { try? FileManager.default.removeItem(atPath: Repo.path("samples/integrator/classify")) }
        for (name, x) in f.inputs.prefix(4) {
            let run = try Self.sh(Repo.path("samples/integrator/classify"), ["\(f.dir)/\(name).npy"])
            let r = try Runner.run(modelPath: "\(f.dir)/model.fkdc", input: x, inputPath: name, topK: 1)
            #expect(run.out.contains("top-1: class \(r.top[0][0].index)\n"), "\(name): \(run.out)")
        }
    }
}
