import Foundation
import Testing

/// Runs the built `fkdc` executable, as a user would, to check exit codes and messages.
@Suite struct CLITests {
    static let binary: String? = {
        for config in ["debug", "release"] {
            let p = Repo.path(".build/\(config)/fkdc")
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }()

    func fkdc(_ args: [String]) throws -> (code: Int32, out: String, err: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.binary!)
        p.arguments = args
        p.currentDirectoryURL = URL(fileURLWithPath: Repo.root)
        let out = Pipe()
        let err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    @Test(arguments: [
        "truncated_zip.pt", "corrupt_deflate.pt", "wrong_crc.pt", "pickle_posix_system.pt", "pickle_huge_binunicode.pt",
        "pickle_deep_nesting.pt", "overlapping.safetensors", "oversized_header.safetensors", "missing_key.pt",
        "wrong_shape.pt", "legacy_format.pt", "truncated.onnx", "cycle.onnx", "raw_data_length.onnx",
        "external_parent.onnx", "external_absolute.onnx", "unsupported_op.onnx", "undefined_input.onnx",
    ])
    func hostileInputsExitWithTwo(file: String) throws {
        guard Self.binary != nil else {
            print("skipped: the fkdc executable is not built")
            return
        }
        let r = try fkdc(["inspect", "Tests/Fixtures/hostile/" + file])
        #expect(r.code == 2)
        #expect(r.err.hasPrefix("fkdc: error: Tests/Fixtures/hostile/\(file): "), "\(r.err)")
        #expect(r.out.isEmpty)
    }

    @Test func usageErrorsExitWithOneAndHelpWithZero() throws {
        guard Self.binary != nil else { return }
        #expect(try fkdc(["inspect"]).code == 1)
        #expect(try fkdc(["run", "samples/student.pt"]).code == 1)
        #expect(try fkdc(["frobnicate"]).code == 1)
        let help = try fkdc(["run", "--help"])
        #expect(help.code == 0)
        #expect(help.out.contains("--input"))
    }

    @Test func optPrintsWhatEachPassDidAndWritesIR() throws {
        guard Self.binary != nil else { return }
        let out = NSTemporaryDirectory() + "fkdc-opt-\(getpid()).fkir"
        defer { unlink(out) }
        let r = try fkdc(["opt", "samples/student.pt", "--time-passes", "-o", out])
        #expect(r.code == 0)
        #expect(r.out.contains("folded batch norms: 52"))
        #expect(r.out.contains("fused activations: 35"))
        #expect(r.out.contains("nodes: 153 → 64"))
        let run = try fkdc(["run", out, "--input", "samples/inputs/x0.npy"])
        #expect(run.code == 0)
        let plain = try fkdc(["run", "samples/student.pt", "--input", "samples/inputs/x0.npy"])
        func classes(_ s: String) -> [Substring] { s.split(separator: " ").filter { $0.allSatisfy(\.isNumber) } }
        #expect(classes(run.out) == classes(plain.out))
        #expect(try fkdc(["opt", "samples/student.pt", "--passes", "nope"]).code == 1)
    }

    @Test func runWritesLogitsAndPrintsTopK() throws {
        guard Self.binary != nil else { return }
        let out = NSTemporaryDirectory() + "fkdc-cli-\(getpid()).npy"
        defer { unlink(out) }
        let r = try fkdc([
            "run", "samples/student.safetensors", "--input", "samples/inputs/batch3.npy", "--output", out, "--topk",
            "2",
        ])
        #expect(r.code == 0)
        #expect(r.out.split(separator: "\n").count == 3)
        #expect(r.out.hasPrefix("sample 0:  class "))
        #expect(FileManager.default.fileExists(atPath: out))
        let bad = try fkdc(["run", "samples/student.pt", "--input", "samples/student.pt"])
        #expect(bad.code == 2)
        #expect(bad.err.contains("not a .npy file"))
    }
}
