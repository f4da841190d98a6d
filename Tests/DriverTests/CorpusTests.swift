import Foundation
import Testing

@testable import Codegen
@testable import Driver
@testable import GraphIR

/// The corpus of third-party architectures (Tests/Fixtures/corpus, made by scripts/make_corpus.py:
/// torchvision's own classes exported by torch's ONNX exporter, narrow, random weights): each
/// imports within 1e-4 of onnxruntime, compiles with the default gates (calibrated on its two
/// inputs), keeps no float32 op between its first convolution and its classifier where the
/// README's table says so, and its generated C gives the int8 evaluator's bytes.
@Suite(.serialized) struct CorpusTests {
    static let folder = Repo.path("Tests/Fixtures/corpus")
    /// Every model, with the float32 ops its int8 graph keeps between the first convolution and
    /// the classifier (README.md, "Supported architectures").
    static let models: [(name: String, float32Ops: Int)] = [
        ("mobilenet_v3_small", 0), ("mobilenet_v3_large", 0), ("efficientnet_b0", 0), ("resnet50", 0),
        ("regnet_y", 0), ("shufflenet_v2", 0), ("squeezenet", 0), ("densenet121", 0), ("mnasnet", 0),
        ("convnext_tiny", 14),
    ]

    /// Each of the batch's images as its own [1, C, H, W] tensor.
    static func images(_ t: Tensor) -> [Tensor] {
        let d = t.shape.dims
        let per = d.dropFirst().reduce(1, *)
        let v = t.floatArray()
        return (0..<d[0]).map { i in
            Tensor(shape: Shape([1] + d.dropFirst()), floats: Array(v[(i * per)..<((i + 1) * per)]))
        }
    }

    /// The float32 ops strictly between the first convolution and the last weighted layer.
    static func float32OpsInside(_ g: Graph) -> [String] {
        let weighted = g.nodes.indices.filter {
            switch g.nodes[$0].op {
            case .conv2d, .fullyConnected, .gemm: true
            default: false
            }
        }
        guard let first = weighted.first, let last = weighted.last, first < last else { return [] }
        return g.nodes[(first + 1)..<last].filter {
            !$0.op.isQuantization && g.values[$0.outputs[0]].dtype == .float32
        }.map { "\($0.op.name) \($0.name)" }
    }

    /// The plain `fkdc compile` (no data: ranges from the moments the model carries) passes its
    /// default gate and keeps the same ops in int8. These exports hold few batch norms (torch's
    /// exporter folds them into the convolutions), and the report says what the ranges came from.
    @Test(arguments: models.map(\.name))
    func plainCompileWithoutData(_ name: String) throws {
        let m = try ModelLoader.load(path: "\(Self.folder)/\(name).onnx")
        let dir = NSTemporaryDirectory() + "fkdc-corpus-plain-\(getpid())/\(name)"
        try Outputs.makeDirectory(dir)
        let r = try Compiler.run(m, options: CompileOptions(output: dir))
        let failed = r.gates.filter { !$0.passed }.map(\.name)
        #expect(!r.gates.isEmpty && failed.isEmpty, "\(name): gates failed: \(failed)")
        // DenseNet's batch norms after each concat stay (no convolution before them to fold into);
        // moments carried from the input's alone are ranged at ±6σ, recorded statistics at ±10σ
        let said =
            name == "densenet121"
            ? "data-free (batch-norm statistics, ±10σ)" : "moments carried from the input's, ±6σ)"
        #expect(r.quantized.calibration.contains(said), "\(r.quantized.calibration)")
        let expected = try #require(Self.models.first { $0.name == name }).float32Ops
        #expect(Self.float32OpsInside(r.quantized.int8).count == expected)
    }

    @Test(arguments: models.map(\.name))
    func corpusModel(_ name: String) throws {
        let onnx = "\(Self.folder)/\(name).onnx"
        let x = try NPY.read(path: "\(Self.folder)/\(name)_x.npy")
        let ort = try NPY.read(path: "\(Self.folder)/\(name)_ort.npy").floatArray()
        let m = try ModelLoader.load(path: onnx)
        // float32: the imported graph and the optimised one, image by image, against onnxruntime
        let k = ort.count / x.shape[0]
        let scale = max(ort.map(abs).max() ?? 0, 1e-12)
        let dir = NSTemporaryDirectory() + "fkdc-corpus-\(getpid())/\(name)"
        try Outputs.makeDirectory(dir)
        var o = CompileOptions(output: dir)
        o.target = TargetProfile.named("jetson-orin-nano")!
        o.quantize.calib = "\(Self.folder)/\(name)_x.npy"
        let r = try Compiler.run(m, options: o)
        for (i, img) in Self.images(x).enumerated() {
            let want = ort[(i * k)..<((i + 1) * k)]
            for (what, g) in [("imported", m.graph), ("optimised", r.quantized.float)] {
                let got = try Evaluator(graph: g).run([img])[0].floatArray()
                let err = zip(got, want).map { abs($0 - $1) }.max() ?? .infinity
                #expect(
                    got.count == k && err <= 1e-4 * scale, "\(name) \(what) image \(i): |Δ| \(err), max |y| \(scale)")
            }
        }
        // int8: the default gates pass, and float32 stays only where the table says
        let failed = r.gates.filter { !$0.passed }.map(\.name)
        #expect(failed.isEmpty, "\(name): gates failed: \(failed)")
        let inside = Self.float32OpsInside(r.quantized.int8)
        let expected = try #require(Self.models.first { $0.name == name }).float32Ops
        #expect(inside.count == expected, "\(name): \(inside.count) float32 ops inside: \(inside.prefix(8))")
        // the C backend and both CUDA paths take the int8 graph
        let c = try #require(r.c, "\(name): no C (\(r.cSkipped ?? ""))")
        for t in ["jetson-nano", "jetson-orin-nano"] {
            _ = try CUDAEmitter(target: try #require(TargetProfile.named(t))).emit(r.quantized.int8)
        }
        // generated C: bit for bit the int8 evaluator's logits
        try Self.checkGeneratedC(c, r.quantized.int8, images: Self.images(x), dir: dir, name: name)
        // fkdc's own exact evaluator with its layers through the C kernels (grouped, dense,
        // depthwise, 1×1, token gemms): the Swift reference's bytes
        let fast = QuantizedEvaluator(graph: r.quantized.int8, layers: CKernelLayers(graph: r.quantized.int8))
        let reference = QuantizedEvaluator(graph: r.quantized.int8)
        for (i, img) in Self.images(x).enumerated() {
            var (a, b): ([String: [UInt8]], [String: [UInt8]]) = ([:], [:])
            _ = try fast.run([img]) { n, t in a[n.name] = Array(t.bytes) }
            _ = try reference.run([img]) { n, t in b[n.name] = Array(t.bytes) }
            let differ = b.keys.sorted().filter { a[$0] != b[$0] }
            #expect(differ.isEmpty, "\(name) image \(i): C-kernel layers differ at \(differ.prefix(5))")
        }
    }

    /// Builds the generated C with samples/integrator's main (gcc -O1, warnings as errors) and
    /// checks its logits on each image are the int8 evaluator's bytes.
    static func checkGeneratedC(_ c: CEmitter.Output, _ int8: Graph, images: [Tensor], dir: String, name: String) throws
    {
        guard let gcc = CGenTests.which("gcc") else {
            print("skipped: gcc not found (\(name) C)")
            return
        }
        try c.header.write(toFile: "\(dir)/model.h", atomically: true, encoding: .utf8)
        try c.source.write(toFile: "\(dir)/model.c", atomically: true, encoding: .utf8)
        let exe = "\(dir)/classify"
        let build = try CGenTests.sh(
            gcc,
            [
                "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O1", "-I", dir, "-o", exe,
                Repo.path("samples/integrator/main.c"), "\(dir)/model.c", "-lm",
            ])
        #expect(build.code == 0 && build.out.isEmpty, "\(name): \(build.out)")
        guard build.code == 0 else { return }
        let evaluator = QuantizedEvaluator(graph: int8)
        for (i, img) in images.enumerated() {
            try NPY.write(img, to: "\(dir)/x\(i).npy")
            let run = try CGenTests.sh(exe, ["\(dir)/x\(i).npy", "\(dir)/y\(i).raw"])
            #expect(run.code == 0, "\(name) image \(i): \(run.out)")
            let want = try evaluator.run([img])[0]
            let got = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/y\(i).raw"))
            #expect(Array(got) == Array(want.bytes), "\(name) image \(i): C logits differ from the evaluator's")
        }
    }
}
