import CKernels
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

    /// The same int8 graph emitted for another target, in a folder of its own (model.h, model.c).
    static func emitted(for target: String) throws -> String {
        let f = try #require(fixture)
        let dir = "\(f.dir)/\(target)"
        let out = try CEmitter(target: try #require(TargetProfile.named(target))).emit(f.result.quantized.int8)
        try Outputs.makeDirectory(dir)
        try out.header.write(toFile: "\(dir)/model.h", atomically: true, encoding: .utf8)
        try out.source.write(toFile: "\(dir)/model.c", atomically: true, encoding: .utf8)
        return dir
    }

    /// Builds the integrator example with `cc` and `flags` on the C in `dir` (the jetson-nano
    /// emission by default), runs it (through `runner`) on every input, and compares the logits
    /// with the evaluator's.
    func buildAndCompare(
        _ cc: String, _ flags: [String], runner: [String] = [], tag: String, dir: String? = nil, graph: Graph? = nil
    ) throws {
        let f = try #require(Self.fixture)
        let src = dir ?? f.dir
        let exe = "\(f.dir)/classify-\(tag)"
        let build = try Self.sh(
            cc,
            ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-pthread"] + flags + [
                "-I", src, "-o", exe, Repo.path("samples/integrator/main.c"), "\(src)/model.c", "-lm",
            ])
        #expect(build.code == 0, "\(tag): \(build.out)")
        guard build.code == 0 else { return }
        #expect(build.out.isEmpty, "\(tag) printed warnings: \(build.out)")
        let evaluator = QuantizedEvaluator(graph: graph ?? f.result.quantized.int8)
        // `_run`, and on two of the inputs `_run_parallel` on three threads (fk_pool.h): the same bytes
        for (name, x) in f.inputs {
            let want = try evaluator.run([x])[0]
            for threads in ["x0", "random1"].contains(name) ? [[], ["-t", "3"]] : [[]] {
                let raw = "\(f.dir)/\(tag)-\(name).raw"
                let args = [exe] + threads + ["\(f.dir)/\(name).npy", raw]
                let run =
                    runner.isEmpty
                    ? try Self.sh(exe, Array(args.dropFirst())) : try Self.sh(runner[0], runner.dropFirst() + args)
                #expect(run.code == 0, "\(tag) \(name) \(threads): \(run.out)")
                let got = try Data(contentsOf: URL(fileURLWithPath: raw))
                #expect(
                    Array(got) == Array(want.bytes), "\(tag) \(name) \(threads): C logits differ from the evaluator's")
            }
        }
    }

    @Test func generatedFilesAreComplete() throws {
        let f = try #require(Self.fixture)
        let h = try String(contentsOfFile: "\(f.dir)/model.h", encoding: .utf8)
        for s in [
            "extern \"C\"", "#define MODEL_WORKSPACE_BYTES", "#define MODEL_FKDC_FORMAT_VERSION 2",
            "int model_run(const float *input, float *logits, void *workspace);",
        ] { #expect(h.contains(s), "model.h lacks \(s)") }
        // the classifier's logits come from its accumulators: no int8 output, so no int8 entry point
        #expect(!h.contains("model_run_int8("))
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

    /// Float32 logits straight from the classifier's int32 accumulators (the default) leave the
    /// int8 output grid; `--int8-logits` keeps it, with the int8-in/int8-out entry point, and its C
    /// still gives the evaluator's bits.
    @Test func logitsComeFromTheAccumulatorsUnlessInt8IsAsked() throws {
        let f = try #require(Self.fixture)
        let src = try String(contentsOfFile: "\(f.dir)/model.c", encoding: .utf8)
        #expect(src.contains("fk_linear_f32("))
        let dir = f.dir + "/int8-logits"
        var o = CompileOptions(output: dir)
        o.target = TargetProfile.named("jetson-nano")!
        o.quantize.calib = Repo.path("samples/fundus/calib")
        o.quantize.limit = 8
        o.quantize.int8Logits = true
        let r = try Compiler.run(try ModelLoader.load(path: Repo.path("samples/student.ckpt")), options: o)
        let h = try String(contentsOfFile: "\(dir)/model.h", encoding: .utf8)
        for s in ["int model_run_int8(", "MODEL_OUTPUT_SCALE", "MODEL_OUTPUT_ZERO_POINT"] {
            #expect(h.contains(s), "model.h lacks \(s)")
        }
        let g8 = r.quantized.int8
        let last = try #require(g8.nodes.last)
        #expect(last.op == .dequantize)
        let oq = try #require(g8.values[last.inputs[0]].quant)
        let grid = Set(
            (-128...127).map { QuantMath.dequantize(Int8($0), scale: oq.scales[0], zeroPoint: oq.zeroPoints[0]) })
        var offGrid = 0
        for (_, x) in f.inputs {
            let int8Logits = try QuantizedEvaluator(graph: g8).run([x])[0].floatArray()
            #expect(int8Logits.allSatisfy(grid.contains))
            let full = try QuantizedEvaluator(graph: f.result.quantized.int8).run([x])[0].floatArray()
            offGrid += full.filter { !grid.contains($0) }.count
        }
        #expect(offGrid > f.inputs.count * 3, "float32 logits should leave the int8 grid")
        guard let gcc = Self.which("gcc") else {
            print("skipped: gcc not found")
            return
        }
        try buildAndCompare(gcc, ["-O2"], tag: "gcc-int8-logits", dir: dir, graph: g8)
        try splitCheck(dir: dir, graph: g8)
    }

    @Test func gccBuildsWarningFreeAndMatchesTheEvaluator() throws {
        guard let gcc = Self.which("gcc") else {
            print("skipped: gcc not found")
            return
        }
        try buildAndCompare(gcc, ["-O2"], tag: "gcc")
        // the x86-64 profile's C with -march=native takes the AVX2 (VPMADDWD) path where the CPU has it
        let avx2 = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?.contains(" avx2") ?? false
        let x86 = try Self.emitted(for: "x86-64")
        try buildAndCompare(gcc, ["-O2"], tag: "gcc-x86", dir: x86)
        if avx2 {
            try buildAndCompare(gcc, ["-O3", "-march=native"], tag: "gcc-native", dir: x86)
            try buildAndCompare(
                gcc,
                [
                    "-O1", "-g", "-march=native", "-fsanitize=address,undefined",
                    "-fno-sanitize-recover=all",
                ], tag: "asan-avx2", dir: x86)
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

    /// `--weights external`: no weight arrays in the C; `model_prepare` unpacks them from the
    /// `.fkdc` (every build byte-equal to the evaluator again) and refuses any other file.
    @Test func externalWeightsAreReadFromTheFkdc() throws {
        let f = try #require(Self.fixture)
        let dir = f.dir + "-external"
        let m = try ModelLoader.load(path: Repo.path("samples/student.ckpt"))
        var o = CompileOptions(output: dir)
        o.target = TargetProfile.named("jetson-nano")!
        o.quantize.calib = Repo.path("samples/fundus/calib")
        o.quantize.limit = 8
        o.externalWeights = true
        let r = try Compiler.run(m, options: o)
        let c = try #require(r.c)
        #expect(c.packedBytes >= 2_100_000, "the student's int8 weights are packed: \(c.packedBytes)")
        let src = try String(contentsOfFile: "\(dir)/model.c", encoding: .utf8)
        #expect(!src.contains("static const int8_t w"), "weights were embedded")
        #expect(src.utf8.count < 600_000)
        let h = try String(contentsOfFile: "\(dir)/model.h", encoding: .utf8)
        #expect(h.contains("int model_prepare(const void *fkdc, size_t size, void *packed);"))
        #expect(h.contains("int model_run(const void *weights, const float *input, float *logits, void *workspace);"))
        var builds: [(exe: String, runner: [String])] = []
        for (cc, flags, runner, tag) in [
            ("gcc", ["-O2"], [String](), "gcc"),
            ("gcc", ["-O1", "-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=all"], [], "asan"),
            ("aarch64-linux-gnu-gcc", ["-O2", "-mcpu=cortex-a57", "-static"], ["qemu-aarch64"], "a64"),
        ] {
            guard let exe = Self.which(cc), runner.allSatisfy({ Self.which($0) != nil }) else {
                print("skipped: \(([cc] + runner).joined(separator: " or ")) not found")
                continue
            }
            let out = "\(dir)/classify-\(tag)"
            let b = try Self.sh(
                exe,
                ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-pthread"] + flags + [
                    "-I", dir, "-o", out, Repo.path("samples/integrator/main.c"), "\(dir)/model.c", "-lm",
                ])
            #expect(b.code == 0 && b.out.isEmpty, "\(tag): \(b.out)")
            if b.code == 0 { builds.append((out, runner.compactMap { Self.which($0) })) }
        }
        func run(_ b: (exe: String, runner: [String]), _ args: [String]) throws -> (code: Int32, out: String) {
            b.runner.isEmpty ? try Self.sh(b.exe, args) : try Self.sh(b.runner[0], [b.exe] + args)
        }
        let evaluator = QuantizedEvaluator(graph: r.quantized.int8)
        for b in builds {
            for (name, x) in f.inputs {
                let want = try evaluator.run([x])[0]
                for threads in [[], ["-t", "2"]] {
                    let raw = "\(dir)/\(name).raw"
                    let res = try run(b, threads + ["\(dir)/model.fkdc", "\(f.dir)/\(name).npy", raw])
                    #expect(res.code == 0, "\(b.exe) \(name): \(res.out)")
                    let got = try Data(contentsOf: URL(fileURLWithPath: raw))
                    #expect(
                        Array(got) == Array(want.bytes),
                        "\(b.exe) \(name) \(threads): \(got.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }) vs \(want.floatArray())"
                    )
                }
            }
        }
        // any other file: refused with the reason, exit 2
        var bad = try Array(Data(contentsOf: URL(fileURLWithPath: "\(dir)/model.fkdc")))
        bad[bad.count - 100] ^= 1
        try Data(bad).write(to: URL(fileURLWithPath: "\(dir)/bad.fkdc"))
        for file in ["\(dir)/bad.fkdc", Repo.path("Tests/Fixtures/valid/tiny.fkdc")] {
            guard let b = builds.first else { break }
            let res = try run(b, [file, "\(f.dir)/x0.npy"])
            #expect(res.code == 2 && res.out.contains("not the model.fkdc"), "\(file): \(res.out)")
        }
    }

    /// fkdc's own exact evaluator with its weighted layers through the C kernels (`CKernelLayers`,
    /// the AVX2 build where the CPU has it) gives the Swift reference's bytes at every node.
    @Test func evaluatorThroughTheCKernelsGivesTheReferenceBytes() throws {
        let f = try #require(Self.fixture)
        let g = f.result.quantized.int8
        let layers = CKernelLayers(graph: g)
        #expect(layers.plans.compactMap { $0 }.count == g.nodes.filter { $0.op.name == "conv2d" }.count)
        print("CKernelLayers on this host: \(CKernelLayers.simd)")
        let (fast, reference) = (QuantizedEvaluator(graph: g, layers: layers), QuantizedEvaluator(graph: g))
        for (name, x) in f.inputs {
            var (a, b): ([String: [UInt8]], [String: [UInt8]]) = ([:], [:])
            _ = try fast.run([x]) { n, t in a[n.name] = Array(t.bytes) }
            _ = try reference.run([x]) { n, t in b[n.name] = Array(t.bytes) }
            #expect(a.count == b.count && b.keys.allSatisfy { a[$0] == b[$0] }, "\(name)")
        }
    }

    /// The generated requantization (`fk_requant_n`: scalar, AVX2 eight at a time, NEON eight and
    /// four at a time) against `QuantMath.requantize` on accumulators, multipliers and shifts at
    /// their extremes, with and without a fused clamp.
    @Test func requantizationEdgeCasesMatchInC() throws {
        let f = try #require(Self.fixture)
        let accs: [Int32] = [.min, .min + 1, -(1 << 30), -12345, -1, 0, 1, 12345, 1 << 30, .max]
        // INT32_MIN: the one multiplier whose product with INT32_MIN saturates (the AVX2 path's
        // checked blocks; fkdc's own multipliers are in [2^30, 2^31))
        let mults: [Int32] = [1 << 30, .max, 1_518_500_250, 1, .min]
        let rights = [0, 1, 2, 15, 30, 31]
        // every accumulator with every multiplier and right shifts 0, 1 and 31 (150, no left shift:
        // the AVX2 blocks), then left shifts and a tail: 165 cases, not a multiple of 8
        var cases: [(acc: Int32, q: Requantizer)] = []
        for a in accs {
            for m in mults {
                for r in [0, 1, 31] { cases.append((a, Requantizer(multiplier: m, leftShift: 0, rightShift: r))) }
            }
        }
        for i in 0..<15 {
            let q = Requantizer(
                multiplier: mults[i % mults.count], leftShift: [1, 3, 8][i % 3], rightShift: rights[i % rights.count])
            cases.append((accs[(i * 7) % accs.count], q))
        }
        let clamps: [(zp: Int32, lo: Int32, hi: Int32)] = [
            (0, -128, 127), (-128, -128, 127), (127, -128, 127), (-5, -5, 40),
        ]
        func list<T>(_ a: [T]) -> String { a.map { "\($0)" }.joined(separator: ", ") }
        var c = "#include \"model.c\"\n#include <stdio.h>\nint main(void)\n{\n"
        c += "    static const int32_t acc[] = {\(list(cases.map { $0.acc == .min ? "INT32_MIN" : "\($0.acc)" }))};\n"
        let ms = cases.map { $0.q.multiplier == .min ? "INT32_MIN" : "\($0.q.multiplier)" }
        c += "    static const int32_t m[] = {\(list(ms))};\n"
        c += "    static const int8_t l[] = {\(list(cases.map { $0.q.leftShift }))};\n"
        c += "    static const int8_t r[] = {\(list(cases.map { $0.q.rightShift }))};\n"
        c += "    int8_t out[\(cases.count)];\n    int i;\n"
        for k in clamps {
            c += "    fk_requant_n(acc, m, l, r, \(cases.count), \(k.zp), \(k.lo), \(k.hi), out);\n"
            c += "    for (i = 0; i < \(cases.count); i++) printf(\"%d\\n\", out[i]);\n"
            // the x86 C's sixteen-channel block requantization (AVX2, or AVX-512 where -march=native
            // has it), one pixel per block of sixteen cases, printed as "b<value>"
            c += "#if defined(__AVX2__)\n    for (i = 0; i + 16 <= \(cases.count); i += 16) {\n"
            c += "        __m256i v[8];\n        int j;\n"
            c += "        v[0] = _mm256_loadu_si256((const __m256i *)(acc + i));\n"
            c += "        v[1] = _mm256_loadu_si256((const __m256i *)(acc + i + 8));\n"
            c += "        for (j = 2; j < 8; j++) v[j] = v[j % 2];\n"
            c += "        fk_requant16x4_avx2(v, 1, m + i, l + i, r + i, \(k.zp), \(k.lo), \(k.hi), out + i, 16);\n"
            c += "        for (j = 0; j < 16; j++) printf(\"b%d\\n\", out[i + j]);\n    }\n#endif\n"
        }
        c += "    return 0;\n}\n"
        let src = "\(f.dir)/requant_test.c"
        try c.write(toFile: src, atomically: true, encoding: .utf8)
        let want = clamps.flatMap { k in
            cases.map { Int(QuantMath.requantize($0.acc, $0.q, zeroPoint: k.zp, lo: k.lo, hi: k.hi)) }
        }
        let avx2 = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?.contains(" avx2") ?? false
        // the jetson-nano C (NEON) natively and on aarch64; the x86-64 C (AVX2) with -march=native
        let x86 = try Self.emitted(for: "x86-64")
        try c.replacing("#include \"model.c\"", with: "#include \"\(x86)/model.c\"")
            .write(toFile: "\(f.dir)/requant_test_x86.c", atomically: true, encoding: .utf8)
        var builds: [(cc: String, flags: [String], runner: String?, src: String)] = [("gcc", ["-O2"], nil, src)]
        if avx2 { builds.append(("gcc", ["-O2", "-march=native"], nil, "\(f.dir)/requant_test_x86.c")) }
        builds.append(("aarch64-linux-gnu-gcc", ["-O2", "-mcpu=cortex-a57", "-static"], "qemu-aarch64", src))
        for (n, b) in builds.enumerated() {
            guard let cc = Self.which(b.cc), b.runner.map({ Self.which($0) != nil }) ?? true else {
                print("skipped: \(b.cc) \(b.runner ?? "") not found")
                continue
            }
            let exe = "\(f.dir)/requant-\(n)"
            let built = try Self.sh(cc, ["-std=c99", "-w"] + b.flags + ["-I", f.dir, "-o", exe, b.src, "-lm"])
            #expect(built.code == 0, "\(built.out)")
            guard built.code == 0 else { continue }
            let run = try b.runner.map { try Self.sh(Self.which($0)!, [exe]) } ?? Self.sh(exe, [])
            let lines = run.out.split(separator: "\n")
            let got = lines.compactMap { Int($0) }
            #expect(
                got == want,
                "\(b.cc) \(b.flags): \(zip(got, want).enumerated().filter { $0.element.0 != $0.element.1 }.prefix(5))")
            if b.flags.contains("-march=native") {
                let blocks = lines.filter { $0.hasPrefix("b") }.compactMap { Int($0.dropFirst()) }
                let whole = cases.count / 16 * 16
                let wantBlocks = (0..<clamps.count).flatMap { k in want[(k * cases.count)..<(k * cases.count + whole)] }
                #expect(blocks == wantBlocks, "fk_requant16x4_avx2 (\(blocks.count) values)")
            }
        }
    }

    /// `<prefix>_preprocess` gives `fkdc preprocess`'s floats bit for bit, for RGB, BGR and RGBA
    /// pixels with padded rows (and NV12 against the same kernel called here), on x86-64 and on
    /// aarch64 under qemu, under PIL's 8-bit arithmetic and torch's float32 one.
    @Test(arguments: Preprocessing.Pipeline.allCases)
    func generatedPreprocessEqualsFkdcPreprocess(pipeline: Preprocessing.Pipeline) throws {
        let f = try #require(Self.fixture)
        var pre = Preprocessing()
        pre.resize = .shorterSide(256)
        pre.crop = Preprocessing.Size(224, 224)
        pre.interpolation = .bicubic
        pre.channels = .bgr
        pre.pipeline = pipeline
        if pipeline == .tensor {  // and a letterbox, padded with YOLO's grey
            (pre.resize, pre.crop, pre.padValue) = (.fit, nil, 114)
        }
        var emitter = try CEmitter(target: try #require(TargetProfile.named("jetson-nano")))
        emitter.preprocess = (pre.kernelParameters, pre.summary)
        let out = try emitter.emit(f.result.quantized.int8)
        let dir = "\(f.dir)/pre-\(pipeline)"
        try Outputs.makeDirectory(dir)
        try out.header.write(toFile: "\(dir)/model.h", atomically: true, encoding: .utf8)
        try out.source.write(toFile: "\(dir)/model.c", atomically: true, encoding: .utf8)
        #expect(out.header.contains("int model_preprocess(const uint8_t *pixels"))
        // a 300 x 451 photograph as RGB, BGR and RGBA rows of stride + 7 bytes, and an NV12 frame
        let photo = Repo.path("Tests/Fixtures/preprocess/chelsea.png")
        let px = try PreprocessTests.pixels(photo)
        let (h, w) = (px.shape[2], px.shape[3])
        var harness = "#include \"model.h\"\n#include <stdio.h>\n#include <stdlib.h>\n"
        harness +=
            "int main(int argc, char **argv)\n{\n    int w, h, stride, format;\n    FILE *in = fopen(argv[1], \"rb\");\n"
        harness +=
            "    FILE *out = fopen(argv[2], \"wb\");\n    unsigned char *px;\n    static float x[MODEL_INPUT_SIZE];\n"
        harness += "    void *scratch;\n    size_t n;\n    (void)argc;\n"
        harness += "    if (fscanf(in, \"%d %d %d %d\\n\", &w, &h, &stride, &format) != 4) return 2;\n"
        harness += "    n = (size_t)stride * h * 2;\n    px = malloc(n);\n    n = fread(px, 1, n, in);\n"
        harness += "    scratch = aligned_alloc(64, (model_preprocess_scratch_bytes(w, h) + 63) / 64 * 64);\n"
        harness += "    if (model_preprocess(px, w, h, stride, format, x, scratch) != 0) return 3;\n"
        harness += "    fwrite(x, sizeof x, 1, out);\n    return 0;\n}\n"
        try harness.write(toFile: "\(dir)/harness.c", atomically: true, encoding: .utf8)
        let want = try DatasetLoader.image(
            photo,
            {
                var q = pre
                (q.height, q.width) = (224, 224)
                return q
            }())
        let builds: [(cc: String, flags: [String], runner: String?)] = [
            ("gcc", ["-O2"], nil), ("aarch64-linux-gnu-gcc", ["-O2", "-mcpu=cortex-a57", "-static"], "qemu-aarch64"),
        ]
        for (k, b) in builds.enumerated() {
            guard let cc = Self.which(b.cc), b.runner.map({ Self.which($0) != nil }) ?? true else {
                print("skipped: \(b.cc) \(b.runner ?? "") not found")
                continue
            }
            let exe = "\(dir)/harness-\(k)"
            let built = try Self.sh(
                cc,
                ["-std=c11", "-Wall", "-Wextra", "-Werror"] + b.flags + [
                    "-I", dir, "-o", exe, "\(dir)/harness.c",
                    "\(dir)/model.c", "-lm",
                ])
            #expect(built.code == 0, "\(built.out)")
            guard built.code == 0 else { continue }
            for format in [FK_FORMAT_RGB, FK_FORMAT_BGR, FK_FORMAT_RGBA, FK_FORMAT_NV12] {
                let fr = Self.frame(px, format)
                let input = "\(dir)/frame-\(format).bin"
                try (Data("\(w) \(h) \(fr.stride) \(format)\n".utf8) + Data(fr.bytes)).write(
                    to: URL(fileURLWithPath: input))
                let raw = "\(dir)/out-\(k)-\(format).raw"
                let run =
                    try b.runner.map { try Self.sh(Self.which($0)!, [exe, input, raw]) } ?? Self.sh(exe, [input, raw])
                #expect(run.code == 0, "\(b.cc) format \(format): \(run.out)")
                var expected = want.floatArray()
                if format == FK_FORMAT_NV12 {
                    var p = pre.kernelParameters
                    (p.out_h, p.out_w) = (224, 224)
                    let scratch = UnsafeMutableRawPointer.allocate(
                        byteCount: fk_preprocess_scratch(&p, Int32(w), Int32(h)), alignment: 64)
                    defer { scratch.deallocate() }
                    #expect(
                        fk_preprocess_u8(fr.bytes, Int32(w), Int32(h), fr.stride, format, &p, &expected, scratch) == 0)
                }
                let got = try Data(contentsOf: URL(fileURLWithPath: raw))
                #expect(got == expected.withUnsafeBytes { Data($0) }, "\(b.cc) format \(format)")
            }
        }
    }

    /// An RGB image [1, 3, h, w] of 0…255 as a frame of `format` (RGB, BGR and RGBA rows
    /// of w·bpp + 7 bytes; NV12 from the green channel and subsampled blue and red).
    static func frame(_ px: (values: [Int], shape: [Int]), _ format: Int32) -> (bytes: [UInt8], stride: Int) {
        let (h, w) = (px.shape[2], px.shape[3])
        let bpp = format == FK_FORMAT_RGBA ? 4 : format == FK_FORMAT_NV12 ? 1 : 3
        let stride = w * bpp + 7
        var b = [UInt8](repeating: 0, count: stride * h + (format == FK_FORMAT_NV12 ? stride * ((h + 1) / 2) : 0))
        for y in 0..<h {
            for x in 0..<w {
                let rgb = (0..<3).map { UInt8(px.values[($0 * h + y) * w + x]) }
                switch format {
                case FK_FORMAT_NV12:
                    b[y * stride + x] = rgb[1]
                    if y % 2 == 0 && x % 2 == 0 {
                        b[stride * h + (y / 2) * stride + x] = rgb[2]
                        b[stride * h + (y / 2) * stride + x + 1] = rgb[0]
                    }
                case FK_FORMAT_BGR: for c in 0..<3 { b[y * stride + x * 3 + c] = rgb[2 - c] }
                case FK_FORMAT_RGBA:
                    for c in 0..<3 { b[y * stride + x * 4 + c] = rgb[c] }
                    b[y * stride + x * 4 + 3] = UInt8((x * 7 + y) % 256)
                default: for c in 0..<3 { b[y * stride + x * 3 + c] = rgb[c] }
                }
            }
        }
        return (b, stride)
    }

    /// Each target's C carries the SIMD paths its profile names and no others.
    @Test func simdPathsFollowTheTargetProfile() throws {
        let f = try #require(Self.fixture)
        let avx2 = ["immintrin.h", "_mm256_", "@simd avx2"]
        let neon = ["arm_neon.h", "vmlal_", "@simd neon"]
        for t in TargetProfile.all {
            let c = try CEmitter(target: t).emit(f.result.quantized.int8).source
            for s in avx2 { #expect(c.contains(s) == t.simd.contains(.avx2), "\(t.name): \(s)") }
            for s in neon { #expect(c.contains(s) == t.simd.contains(.neon), "\(t.name): \(s)") }
        }
        #expect(TargetProfile.named("generic-c")?.simd == [])
        #expect(TargetProfile.named("x86-64")?.simd == [.avx2])
        #expect(TargetProfile.all.filter { $0.name.hasPrefix("jetson-") }.allSatisfy { $0.simd == [.neon] })
    }

    /// The kernel text the emitter embeds is the C files' (scripts/embed-c-kernels.py --check).
    @Test func embeddedKernelsAreFresh() throws {
        guard let python = Self.which("python3") else {
            print("skipped: python3 not found")
            return
        }
        let r = try Self.sh(python, [Repo.path("scripts/embed-c-kernels.py"), "--check"])
        #expect(r.code == 0, "\(r.out)")
    }

    /// `_run_parallel` and `_run_int8_parallel` with a parallel_for that splits unevenly and runs
    /// the pieces last first (sizes 1, 2, … 7, then again): the bytes of `_run` and `_run_int8`,
    /// the evaluator's. Built with the sanitizers: no piece reads or writes outside its rows.
    @Test func parallelRunGivesTheSameBytesForAnySplit() throws {
        let f = try #require(Self.fixture)
        try splitCheck(dir: f.dir, graph: f.result.quantized.int8)
        // the student's 52 convolutions and 10 adds are split
        let steps =
            try String(contentsOfFile: "\(f.dir)/model.c", encoding: .utf8)
            .components(separatedBy: "    model_parallel(&t, ").count - 1
        #expect(steps == 62, "\(steps) parallel steps")
    }

    /// Runs the split harness on the C in `dir` (with `_run_int8_parallel` where the C has it).
    func splitCheck(dir src: String, graph: Graph) throws {
        let f = try #require(Self.fixture)
        guard let gcc = Self.which("gcc") else {
            print("skipped: gcc not found")
            return
        }
        let harness = """
            #include <stdio.h>
            #include <string.h>
            #include "model.h"
            #include "read_npy.h"
            static void backwards(void *pool, int n, model_task_fn task, void *task_data)
            {
                int cuts[4096], k = 0, at = 0, i;
                (void)pool;
                while (at < n && k < 4095) {
                    cuts[k++] = at;
                    at += 1 + k % 7;
                }
                cuts[k] = n;
                for (i = k - 1; i >= 0; i--) task(task_data, cuts[i], cuts[i + 1] < n ? cuts[i + 1] : n);
                task(task_data, n, n);
            }
            int main(int argc, char **argv)
            {
                static float x[MODEL_INPUT_SIZE], a[MODEL_OUTPUT_SIZE], b[MODEL_OUTPUT_SIZE];
                static union { double d; unsigned char bytes[MODEL_WORKSPACE_BYTES]; } ws;
                FILE *out;
                if (argc < 3 || read_npy(argv[1], x, MODEL_INPUT_SIZE) != 0) return 2;
                if (model_run(x, a, ws.bytes) != 0 || model_run_parallel(x, b, ws.bytes, backwards, NULL) != 0) return 3;
                if (memcmp(a, b, sizeof a) != 0) return 4;
            #ifdef MODEL_INPUT_SCALE
                {
                    static int8_t q[MODEL_INPUT_SIZE], qa[MODEL_OUTPUT_SIZE], qb[MODEL_OUTPUT_SIZE];
                    int i;
                    for (i = 0; i < MODEL_INPUT_SIZE; i++) q[i] = (int8_t)((int)(x[i] * 40) % 128);
                    if (model_run_int8(q, qa, ws.bytes) != 0 || model_run_int8_parallel(q, qb, ws.bytes, backwards, NULL) != 0)
                        return 3;
                    if (memcmp(qa, qb, sizeof qa) != 0) return 5;
                }
            #endif
                out = fopen(argv[2], "wb");
                if (out == NULL || fwrite(b, sizeof b, 1, out) != 1) return 2;
                fclose(out);
                return 0;
            }
            """
        let dir = src + "-split"
        try Outputs.makeDirectory(dir)
        try harness.write(toFile: "\(dir)/split.c", atomically: true, encoding: .utf8)
        let exe = "\(dir)/split"
        let build = try Self.sh(
            gcc,
            ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O1", "-g", "-fsanitize=address,undefined"]
                + ["-fno-sanitize-recover=all", "-I", src, "-I", Repo.path("samples/integrator"), "-o", exe]
                + ["\(dir)/split.c", "\(src)/model.c", "-lm"])
        #expect(build.code == 0 && build.out.isEmpty, "\(build.out)")
        guard build.code == 0 else { return }
        let evaluator = QuantizedEvaluator(graph: graph)
        for (name, x) in f.inputs where ["x0", "random0", "random1"].contains(name) {
            let run = try Self.sh(exe, ["\(f.dir)/\(name).npy", "\(dir)/\(name).raw"])
            #expect(run.code == 0, "\(name): exit \(run.code) (4, 5: a split run differs) \(run.out)")
            let got = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/\(name).raw"))
            let want = try evaluator.run([x])[0]
            #expect(
                Array(got) == Array(want.bytes),
                "\(name): \(got.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }) vs \(want.floatArray())")
        }
    }

    /// NEON's 1×1 kernel sums two products in 16 bits, which a -128 weight could overflow: a layer
    /// with one keeps the other kernel (and the C still gives the evaluator's bytes).
    @Test func neonDotKernelOnlyWithoutMinus128Weights() throws {
        let f = try #require(Self.fixture)
        var g = f.result.quantized.int8
        let nano = try #require(TargetProfile.named("jetson-nano"))
        func calls(_ src: String, _ kernel: String) -> Int { src.components(separatedBy: "    \(kernel)(").count - 1 }
        let before = try CEmitter(target: nano).emit(g).source
        let dots = calls(before, "fk_pointwise_dot")
        #expect(dots >= 34 && calls(before, "fk_pointwise") == 0, "\(dots)")
        let node = try #require(
            g.nodes.first { n in
                guard case .conv2d(let a) = n.op, a.groups == 1, let w = g.constants[n.inputs[1]] else { return false }
                return w.shape.dims.suffix(2) == [1, 1] && w.dtype == .int8
            })
        let w = try #require(g.constants[node.inputs[1]])
        var bytes = Array(w.bytes)
        bytes[0] = 0x80
        g.constants[node.inputs[1]] = bytes.withUnsafeBytes { Tensor(dtype: .int8, shape: w.shape, bytes: $0) }
        let after = try CEmitter(target: nano).emit(g).source
        #expect(calls(after, "fk_pointwise_dot") == dots - 1 && calls(after, "fk_pointwise") == 1)
        let dir = f.dir + "-minus128"
        try Outputs.makeDirectory(dir)
        try CEmitter(target: nano).emit(g).header.write(toFile: "\(dir)/model.h", atomically: true, encoding: .utf8)
        try after.write(toFile: "\(dir)/model.c", atomically: true, encoding: .utf8)
        guard let cross = Self.which("aarch64-linux-gnu-gcc"), let qemu = Self.which("qemu-aarch64") else {
            print("skipped: aarch64-linux-gnu-gcc or qemu-aarch64 not found")
            return
        }
        try buildAndCompare(
            cross, ["-O2", "-mcpu=cortex-a57", "-static"], runner: [qemu], tag: "a64-minus128", dir: dir, graph: g)
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

    /// The image variant decodes PNGs with fkdc's decoder and preprocesses them through
    /// `model_preprocess`: its logits equal the evaluator's on `fkdc preprocess`'s tensor.
    @Test func integratorImageExampleEqualsTheEvaluatorOnPreprocessedImages() throws {
        let f = try #require(Self.fixture)
        guard let make = Self.which("make"), Self.which("cc") != nil else {
            print("skipped: make or cc not found")
            return
        }
        let exe = Repo.path("samples/integrator/classify-image")
        let build = try Self.sh(
            make, ["-s", "-B", "MODEL=\(f.dir)", "classify-image"], cwd: Repo.path("samples/integrator"))
        #expect(build.code == 0, "\(build.out)")
        guard build.code == 0 else { return }
        defer { try? FileManager.default.removeItem(atPath: exe) }
        let evaluator = QuantizedEvaluator(graph: f.result.quantized.int8)
        let pre = f.result.quantized.preprocessing  // the samples' own (fed as they are)
        for image in ["0_normal/000.png", "1_diabetic_retinopathy/001.png"] {
            let path = Repo.path("samples/fundus/val/" + image)
            let raw = "\(f.dir)/image-logits.raw"
            let run = try Self.sh(exe, [path, raw])
            #expect(run.code == 0, "\(image): \(run.out)")
            let want = try evaluator.run([try DatasetLoader.image(path, pre)])[0]
            let got = try Data(contentsOf: URL(fileURLWithPath: raw))
            #expect(Array(got) == Array(want.bytes), "\(image)")
        }
    }
}
