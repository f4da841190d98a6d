import Driver
import Foundation
import GraphIR
import Testing

/// Every file in Tests/Fixtures/hostile/ (hand-made, one per class of failure, and every crash the
/// fuzzers found) replayed through the command line as a user would meet it: exit 2, a message
/// naming the file, no signal, no hang, no run past 2 GB, nothing left in the output folder.
@Suite struct HostileInputTests {
    static let folder = "Tests/Fixtures/hostile/"
    static let files: [String] =
        ((try? FileManager.default.contentsOfDirectory(atPath: Repo.path(folder))) ?? []).sorted()
    static let tiny = "Tests/Fixtures/valid/tiny_bn.fkir"
    static let tinyInput = "Tests/Fixtures/valid/x_1x3x8x8.npy"

    /// The commands that read `file`, with the output folder each may write.
    static func commands(_ file: String, scratch: String) throws -> [[String]] {
        let path = folder + file
        let out = scratch + "/out"
        switch file.split(separator: ".").last.map(String.init) ?? "" {
        case "png", "jpg", "jpeg":
            // a calibration image, in an ImageFolder layout; --strict makes it an error
            let calib = scratch + "/calib/a"
            try FileManager.default.createDirectory(atPath: calib, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: Repo.path(path), toPath: calib + "/" + file)
            return [["compile", tiny, "--calib", scratch + "/calib", "--strict", "-o", out]]
        case "npy": return [["run", tiny, "--input", path], ["compile", tiny, "--calib", path, "-o", out]]
        case "fkdc": return [["inspect", path], ["run", path, "--input", tinyInput]]
        case "fkir": return [["inspect", path], ["run", path, "--input", tinyInput], ["compile", path, "-o", out]]
        default: return [["inspect", path], ["compile", path, "-o", out]]
        }
    }

    @Test func everyClassHasFixtures() {
        for prefix in ["shape_", "onnx_", "pickle_self", "storage_", "quant_", "fkdc_", "jpeg_", "png_", "npy_"] {
            #expect(Self.files.contains { $0.hasPrefix(prefix) }, "no fixture named \(prefix)*")
        }
    }

    @Test(arguments: files)
    func replayedThroughTheCLI(file: String) throws {
        guard CLI.binary != nil else {
            print("skipped: the fkdc executable is not built")
            return
        }
        let scratch = NSTemporaryDirectory() + "fkdc-hostile-\(getpid())-\(file)"
        try? FileManager.default.removeItem(atPath: scratch)
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        for args in try Self.commands(file, scratch: scratch) {
            let r = try CLI.run(args, timeout: 10)
            let what = "fkdc \(args.joined(separator: " ")): \(r.err.prefix(400))"
            #expect(!r.hung, "hung over 10 s: \(what)")
            #expect(r.signal == nil, "killed by signal \(r.signal ?? 0): \(what)")
            #expect(r.code == 2, "exit \(r.code): \(what)")
            // a high-water mark over every child so far: no run of any test went past 2 GB
            #expect(r.peakChildBytes < 2 << 30, "a run went past 2 GB RSS: \(what)")
            #expect(r.err.hasPrefix("fkdc: error: ") && r.err.contains(file), "the message names no file: \(what)")
            if args[0] == "inspect" { #expect(r.out.isEmpty, "partial output: \(r.out.prefix(200))") }
            let left = (try? FileManager.default.contentsOfDirectory(atPath: scratch + "/out")) ?? []
            #expect(left.isEmpty, "files left in the output folder: \(left)")
        }
    }

    /// Only regular files are opened: a FIFO (which would block `open`), a device or a directory is
    /// an error at once, as a model, as external ONNX data and as a calibration image.
    @Test func specialFilesAreRefusedWithoutBlocking() throws {
        guard CLI.binary != nil else { return }
        let dir = NSTemporaryDirectory() + "fkdc-special-\(getpid())"
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir + "/calib/a", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(mkfifo(dir + "/model.pt", 0o600) == 0)
        #expect(mkfifo(dir + "/calib/a/frame.png", 0o600) == 0)
        try FileManager.default.copyItem(
            atPath: Repo.path("Tests/Fixtures/valid/external_data.onnx"), toPath: dir + "/external_data.onnx")
        #expect(mkfifo(dir + "/external_weights.bin", 0o600) == 0)
        let cases: [([String], String)] = [
            (["inspect", dir + "/model.pt"], "a FIFO, not a regular file"),
            (["inspect", dir + "/external_data.onnx"], "a FIFO, not a regular file"),
            (["compile", Self.tiny, "--calib", dir + "/calib", "--strict", "-o", dir + "/out"], "a FIFO"),
            (["inspect", "/dev/zero"], "a device, not a regular file"),
            (["inspect", "Tests/Fixtures"], "a directory, not a regular file"),
            (["run", Self.tiny, "--input", dir + "/model.pt"], "a FIFO"),
        ]
        for (args, message) in cases {
            let r = try CLI.run(args, timeout: 10)
            #expect(!r.hung && r.signal == nil && r.code == 2, "fkdc \(args.joined(separator: " ")): \(r.err)")
            #expect(r.err.contains(message), "\(r.err)")
        }
        #expect(!FileManager.default.fileExists(atPath: dir + "/out"))
    }

    /// A model exported with a fixed batch of 1 runs an 8-image batch one image at a time, each
    /// getting exactly the logits of a run on its own; a batch that is not a multiple of a fixed
    /// batch is refused.
    @Test func fixedBatchModelsRunEverySample() throws {
        let model = Repo.path("Tests/Fixtures/valid/onnx_static_batch1.onnx")
        let input = try NPY.read(path: Repo.path("Tests/Fixtures/valid/batch8_4x8x8.npy"))
        let all = try Runner.run(modelPath: model, input: input, inputPath: "batch8", topK: 1)
        #expect(all.logits.shape[0] == 8)
        let f = input.floatArray()
        let per = f.count / 8
        var joined: [Float] = []
        for i in 0..<8 {
            let one = Tensor(shape: Shape([1, 4, 8, 8]), floats: Array(f[(i * per)..<((i + 1) * per)]))
            joined += try Runner.run(modelPath: model, input: one, inputPath: "one", topK: 1).logits.floatArray()
        }
        #expect(all.logits.floatArray() == joined)

        let text = try String(contentsOfFile: Repo.path(Self.tiny), encoding: .utf8)
        let two = NSTemporaryDirectory() + "fkdc-batch2-\(getpid()).fkir"
        defer { unlink(two) }
        try text.replacingOccurrences(of: "f32[1,", with: "f32[2,").write(
            toFile: two, atomically: true, encoding: .utf8)
        let three = Tensor(shape: Shape([3, 3, 8, 8]), floats: [Float](repeating: 0.5, count: 3 * 192))
        let e = #expect(throws: DriverError.self) {
            try Runner.run(modelPath: two, input: three, inputPath: "three.npy", topK: 1)
        }
        #expect(
            e?.message.contains("batch 3 is not a multiple of the model's fixed batch 2") == true,
            "\(e?.description ?? "")")
    }

    /// Inputs at the scale the contract names still load (their timing is in bench/hostile_scale.py).
    @Test func aLongChainImports() throws {
        let m = try ModelLoader.load(path: Repo.path("Tests/Fixtures/valid/onnx_chain_20000.onnx"))
        #expect(m.graph.nodes.count == 20000)
        let s = try ModelLoader.load(path: Repo.path("Tests/Fixtures/valid/onnx_slice_huge_step.onnx"))
        #expect(s.graph.values[s.graph.outputs[0]].shape == Shape([1, 1, 8, 8]))
    }
}
