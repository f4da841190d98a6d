import Foundation
import Testing

@testable import Driver
@testable import Frontends
@testable import GraphIR

enum Repo {
    static let root: String = {
        var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)
        return parts.joined(separator: "/")
    }()
    static func path(_ relative: String) -> String { root + "/" + relative }
}

func maxAbsDiff(_ a: Tensor, _ b: Tensor) -> Float {
    zip(a.floatArray(), b.floatArray()).map { abs($0 - $1) }.max() ?? .infinity
}

@Suite struct GoldenLogitsTests {
    /// fkdc's float32 evaluator against torch's logits, committed by samples/make_samples.py.
    @Test(
        arguments: [
            ("samples/student.pt", "student", nil as Int?),
            ("samples/student.ckpt", "student", nil),
            ("samples/student.safetensors", "student", nil),
            ("samples/teacher_vit.pt", "teacher", 4),
        ], ["x0", "x1", "x2", "x3", "batch3"])
    func matchesTorch(model: (String, String, Int?), input: String) throws {
        let x = try NPY.read(path: Repo.path("samples/inputs/\(input).npy"))
        let want = try NPY.read(path: Repo.path("samples/golden/\(model.1)_\(input).npy"))
        let r = try Runner.run(
            modelPath: Repo.path(model.0), input: x, inputPath: input, topK: 1, options: ModelOptions(heads: model.2))
        #expect(r.logits.shape == want.shape)
        #expect(maxAbsDiff(r.logits, want) <= 1e-4)
    }

    @Test(arguments: [
        ("samples/mobilenet_v2_w050.pt", "mobilenet_v2_w050_x0"), ("samples/resnet10_c3_f16.pt", "resnet10_c3_f16_x0"),
    ])
    func otherFamiliesMatchTorch(model: String, golden: String) throws {
        let x = try NPY.read(path: Repo.path("samples/inputs/x0.npy"))
        let want = try NPY.read(path: Repo.path("samples/golden/\(golden).npy"))
        let r = try Runner.run(modelPath: Repo.path(model), input: x, inputPath: "x0", topK: 1)
        #expect(maxAbsDiff(r.logits, want) <= 1e-4)
    }

    /// ONNX samples against onnxruntime's outputs (1e-4 for the student, 1e-3 for the ViT).
    @Test(arguments: [("student", Float(1e-4)), ("teacher_vit", Float(1e-3))], ["x0", "x1", "x2", "x3", "batch3"])
    func onnxMatchesOnnxruntime(model: (String, Float), input: String) throws {
        let x = try NPY.read(path: Repo.path("samples/inputs/\(input).npy"))
        let want = try NPY.read(path: Repo.path("samples/golden/\(model.0)_onnx_\(input).npy"))
        let r = try Runner.run(modelPath: Repo.path("samples/\(model.0).onnx"), input: x, inputPath: input, topK: 1)
        #expect(maxAbsDiff(r.logits, want) <= model.1)
    }

    @Test func decomposedONNXPatternMatchesOnnxruntime() throws {
        let x = try NPY.read(path: Repo.path("Tests/Fixtures/valid/decomposed_input.npy"))
        let want = try NPY.read(path: Repo.path("Tests/Fixtures/valid/decomposed_output.npy"))
        let r = try Runner.run(
            modelPath: Repo.path("Tests/Fixtures/valid/decomposed_layernorm_gelu.onnx"), input: x, inputPath: "x",
            topK: 1)
        #expect(maxAbsDiff(r.logits, want) <= 1e-5)
    }

    /// The full-size models, when `make_samples.py --full-teacher` has written them.
    @Test(arguments: [
        ("vit_b_16.pt", "vit_b_16_x0.npy"), ("resnet50.pt", "resnet50_x0.npy"),
        ("vit_b_16.onnx", "vit_b_16_onnx_x0.npy"),
    ])
    func largeModelsWhenPresent(model: String, golden: String) throws {
        let path = Repo.path("samples/large/" + model)
        guard FileManager.default.fileExists(atPath: path) else {
            print("skipped: \(path) is absent (make it with samples/make_samples.py --full-teacher)")
            return
        }
        let x = try NPY.read(path: Repo.path("samples/inputs/x0.npy"))
        let want = try NPY.read(path: Repo.path("samples/large/" + golden))
        let r = try Runner.run(modelPath: path, input: x, inputPath: "x0", topK: 1)
        #expect(maxAbsDiff(r.logits, want) <= 1e-3)
    }
}

@Suite struct InspectTests {
    /// PyTorch's count (sum of p.numel() over model.parameters()) for the ViT teacher, which
    /// includes the position embedding and class token, in both formats.
    @Test(arguments: ["samples/teacher_vit.pt", "samples/teacher_vit.onnx"])
    func vitParametersAsPyTorchCounts(file: String) throws {
        #expect(
            InspectReport(try ModelLoader.load(path: Repo.path(file), options: ModelOptions(heads: 4))).parameters
                == 665_604)
    }

    @Test func onnxReportsTheCheckpointsParametersAndMACs() throws {
        let onnx = InspectReport(try ModelLoader.load(path: Repo.path("samples/student.onnx")))
        let pt = InspectReport(try ModelLoader.load(path: Repo.path("samples/student.pt")))
        #expect(onnx.parameters == 2_228_996)
        #expect(onnx.parameters == pt.parameters)
        #expect(onnx.macs == pt.macs)
        #expect(onnx.model.format == "onnx")
    }

    @Test(arguments: ["samples/student.pt", "samples/student.ckpt", "samples/student.safetensors"])
    func studentTable(file: String) throws {
        let r = InspectReport(try ModelLoader.load(path: Repo.path(file)))
        #expect(r.parameters == 2_228_996)
        // the usual 300.8M of torchvision with 1000 classes, less 1,274,880 for the 4-class head
        #expect(r.macs == 299_499_392)
        let text = r.text()
        #expect(text.contains("parameters:   2,228,996"))
        #expect(text.contains("architecture: mobilenet_v2"))
        #expect(text.contains("features.0.0"))
        #expect(
            r.layers.first
                == LayerInfo(
                    name: "features.0.0", op: "conv2d", outputShape: [1, 32, 112, 112], parameters: 864,
                    macs: 10_838_016))
        #expect(
            r.layers.last
                == LayerInfo(name: "classifier.1", op: "gemm", outputShape: [1, 4], parameters: 5124, macs: 5120))
        let json = r.json().render()
        #expect(json.contains("\"parameters\": 2228996"))
        #expect(json.contains("\"architecture\": \"mobilenet_v2"))
    }

    @Test func checkpointLocationIsReported() throws {
        let m = try ModelLoader.load(path: Repo.path("samples/student.ckpt"))
        #expect(m.location == "state dict at 'state_dict', prefix 'student.'")
    }
}

@Suite struct IRFileTests {
    /// The printed IR of a real model parses back to the same graph and runs to the same logits.
    @Test func teacherIRRoundTripsAndRuns() throws {
        let m = try ModelLoader.load(path: Repo.path("samples/teacher_vit.pt"), options: ModelOptions(heads: 4))
        let text = m.graph.text
        let back = try IRParser().parse(text)
        #expect(back == m.graph.canonicalized())
        let path = NSTemporaryDirectory() + "fkdc-teacher-\(getpid()).fkir"
        try AtomicFile.write(Array(text.utf8), to: path)
        defer { unlink(path) }
        let x = try NPY.read(path: Repo.path("samples/inputs/x0.npy"))
        let a = try Runner.run(
            modelPath: Repo.path("samples/teacher_vit.pt"), input: x, inputPath: "x0", topK: 1,
            options: ModelOptions(heads: 4))
        let b = try Runner.run(modelPath: path, input: x, inputPath: "x0", topK: 1)
        #expect(a.logits == b.logits)
    }
}

@Suite struct NPYTests {
    @Test func writeThenRead() throws {
        let t = Tensor(shape: Shape([2, 3]), floats: [1, 2, 3, 4, 5, 6])
        let path = NSTemporaryDirectory() + "fkdc-\(getpid()).npy"
        defer { unlink(path) }
        try NPY.write(t, to: path)
        #expect(try NPY.read(path: path) == t)
    }

    @Test func rejectsBadFiles() throws {
        let path = NSTemporaryDirectory() + "fkdc-bad-\(getpid()).npy"
        defer { unlink(path) }
        try AtomicFile.write(Array("not numpy".utf8), to: path)
        let e = #expect(throws: DriverError.self) { try NPY.read(path: path) }
        #expect(e?.exitCode == 2)
        #expect(e?.message.contains("bad magic") == true)
        // a header that promises more data than the file holds
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, 224, 224), }"
        header += String(repeating: " ", count: (64 - (10 + header.utf8.count + 1) % 64) % 64) + "\n"
        try AtomicFile.write(
            [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count), 0] + Array(header.utf8) + [0, 0, 0, 0],
            to: path)
        let short = #expect(throws: DriverError.self) { try NPY.read(path: path) }
        #expect(short?.message.contains("needs 602112 bytes but the file holds 4") == true)
    }

    @Test func runRejectsAnInputOfTheWrongShape() throws {
        let x = Tensor(shape: Shape([1, 3, 128, 128]), floats: [Float](repeating: 0, count: 3 * 128 * 128))
        let e = #expect(throws: DriverError.self) {
            try Runner.run(modelPath: Repo.path("samples/student.pt"), input: x, inputPath: "x.npy", topK: 1)
        }
        #expect(e?.message == "x.npy: shape [1,3,128,128] does not match the model input [N,3,224,224]")
    }
}
