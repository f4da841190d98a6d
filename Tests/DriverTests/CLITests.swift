import Foundation
import Testing

/// Runs the built `fkdc` executable, as a user would, to check exit codes and messages.
@Suite struct CLITests {
    static let binary = CLI.binary

    func fkdc(_ args: [String]) throws -> (code: Int32, out: String, err: String) {
        let r = try CLI.run(args)
        return (r.code, r.out, r.err)
    }

    @Test func usageErrorsExitWithOneAndHelpWithZero() throws {
        guard Self.binary != nil else { return }
        #expect(try fkdc(["inspect"]).code == 1)
        #expect(try fkdc(["run", "samples/student.pt"]).code == 1)
        #expect(try fkdc(["frobnicate"]).code == 1)
        // decision thresholds must lie strictly between 0 and 1
        for t in ["1.5", "0", "0.5,x", ""] {
            let r = try fkdc(["compile", "samples/student.ckpt", "--thresholds", t, "-o", "/nonexistent/x"])
            #expect(r.code == 1 && r.err.contains("--thresholds must be"), "\(t): \(r.err)")
        }
        let help = try fkdc(["run", "--help"])
        #expect(help.code == 0)
        #expect(help.out.contains("--input"))
    }

    /// An ONNX input with open H and W: the shape from --input-shape, or from the .npy data; none
    /// is exit 2 naming the input and its dims; a bad --input-shape is a usage error.
    @Test func openInputDimensionsTakeTheShapeGivenOrTheData() throws {
        guard Self.binary != nil else { return }
        let model = "Tests/Fixtures/valid/onnx_dynamic_minus1.onnx"
        let npy = "Tests/Fixtures/valid/batch8_4x8x8.npy"
        let none = try fkdc(["inspect", model])
        #expect(none.code == 2 && none.err.contains("graph input 'x' [?,4,?,?] is dynamic"), "\(none.err)")
        let given = try fkdc(["inspect", model, "--input-shape", "1x4x48x192"])
        #expect(given.code == 0 && given.out.contains("f32[1,4,48,192]"), "\(given.out)")
        #expect(try fkdc(["inspect", model, "--input-shape", "1x4x0x9"]).code == 1)
        #expect(try fkdc(["inspect", model, "--input-shape", "1x3x48x192"]).code == 2)
        #expect(try fkdc(["run", model, "--input", npy]).code == 0)
        let dir = NSTemporaryDirectory() + "fkdc-dynamic-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let c = try fkdc([
            "compile", model, "--calib", npy, "--target", "generic-c", "--max-size-ratio", "100", "-o", dir,
        ])
        #expect(c.code == 0, "\(c.out)")
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

    @Test func compileGatesExitWithThreeAndVerifyRechecks() throws {
        guard Self.binary != nil else { return }
        let dir = NSTemporaryDirectory() + "fkdc-gates-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let ok = try fkdc(["compile", "samples/student.pt", "--target", "jetson-nano", "-o", dir])
        #expect(ok.code == 0, "\(ok.err)")
        #expect(ok.out.contains("gate size_ratio"))
        #expect(ok.out.contains("not measured (no --val data)"))
        // verify: the size gates (int8 weights 0.2538, the whole file 0.2613 of the fp32 weight
        // bytes) pass at 0.27 and fail below; accuracy gates fail without data
        #expect(ok.out.contains("2263120 int8 weight bytes vs 8915984 fp32: ratio 0.2538"), "\(ok.out)")
        #expect(
            try fkdc(["verify", dir + "/report.json", "--max-size-ratio", "0.27", "--max-file-ratio", "0.27"]).code == 0
        )
        let small = try fkdc(["verify", dir, "--max-size-ratio", "0.2"])
        #expect(small.code == 3)
        #expect(small.err.contains("gate size_ratio: 0.2538 > limit 0.2"), "\(small.err)")
        let file = try fkdc(["verify", dir, "--max-file-ratio", "0.26"])
        #expect(file.code == 3 && file.err.contains("gate file_ratio: 0.2613 > limit 0.26"), "\(file.err)")
        let agreement = try fkdc(["verify", dir, "--min-agreement", "99"])
        #expect(agreement.code == 3)
        #expect(agreement.err.contains("gate agreement: not measured"))
        let prob = try fkdc(["verify", dir, "--max-prob-delta", "1", "--max-threshold-flips", "0"])
        #expect(prob.code == 3 && prob.err.contains("gate prob_delta: not measured"), "\(prob.err)")
        #expect(prob.err.contains("gate threshold_flips: not measured"))
        // compile itself exits 3 on a failed gate, after writing the report
        let tight = try fkdc([
            "compile", "samples/student.pt", "--target", "jetson-nano", "-o", dir, "--max-size-ratio", "0.1",
        ])
        #expect(tight.code == 3)
        #expect(tight.err.contains("size_ratio"))
        #expect(
            try fkdc(["compile", "samples/student.pt", "--target", "pdp-11", "-o", dir]).err.contains("jetson-nano"))
        #expect(try fkdc(["verify", "samples/student.pt"]).code == 2)
        // bad option values: usage errors (1) naming the option; a bad input size is bad input (2)
        let name = try fkdc(["compile", "samples/student.pt", "--name", "1model", "-o", dir])
        #expect(name.code == 1 && name.err.contains("--name '1model' must be a C identifier"))
        let named = try fkdc(["compile", "samples/student.pt", "--name", "fundus_v2", "-o", dir])
        #expect(named.code == 0, "\(named.err)")
        let header = try String(contentsOfFile: dir + "/model.h", encoding: .utf8)
        #expect(
            header.contains("int fundus_v2_run(const float *input")
                && header.contains("#define FUNDUS_V2_WORKSPACE_BYTES"))
        let wrongWeights = try fkdc(["compile", "samples/student.pt", "--weights", "inside", "-o", dir])
        #expect(
            wrongWeights.code == 1 && wrongWeights.err.contains("'inside' is invalid for '--weights")
                && wrongWeights.err.contains("'embedded' and 'external'"))
        let external = try fkdc(["compile", "samples/student.pt", "--weights", "external", "-o", dir])
        #expect(external.code == 0, "\(external.err)")
        let extHeader = try String(contentsOfFile: dir + "/model.h", encoding: .utf8)
        #expect(extHeader.contains("#define MODEL_WEIGHTS_EXTERNAL 1") && extHeader.contains("int model_prepare("))
        let extReport = try String(contentsOfFile: dir + "/report.json", encoding: .utf8)
        #expect(extReport.contains("\"weights\": \"external\""), "\(extReport)")
        let bc = try fkdc(["compile", "samples/student.pt", "--bias-correction", "maybe", "-o", dir])
        #expect(bc.code == 1 && bc.err.contains("'maybe' is invalid for '--bias-correction"))
        let bins = try fkdc([
            "compile", "samples/student.pt", "--calib", "samples/fundus/calib", "--bins", "3", "-o", dir,
        ])
        #expect(bins.code == 1 && bins.err.contains("16…65536 bins, not 3"))
        let seq = try fkdc(["compile", "samples/student.pt", "--calib-mode", "sequential", "-o", dir])
        #expect(seq.code == 1 && seq.err.contains("sequential calibration needs calibration data"))
        let ada = try fkdc(["compile", "samples/student.pt", "--rounding", "adaround", "-o", dir])
        #expect(ada.code == 1 && ada.err.contains("--rounding adaround learns the rounding on calibration data"))
        let target = try fkdc(["compile", "samples/student.pt", "--target-agreement", "99", "-o", dir])
        #expect(target.code == 1 && target.err.contains("measured on validation data: give --val"))
        let range = try fkdc(["compile", "samples/student.pt", "--target-agreement", "150", "-o", dir])
        #expect(range.code == 1 && range.err.contains("--target-agreement must be a number in 0…100"))
        let size = try fkdc(["compile", "samples/student.pt", "--input-size", "8", "-o", dir])
        #expect(size.code == 2 && size.err.contains("input size 8 out of range"))
        #expect(try fkdc(["verify", dir, "--min-agreement", "-1"]).code == 1)
        let targets = try fkdc(["targets"])
        #expect(targets.code == 0 && targets.out.contains("sm_53") && targets.out.contains("dp4a no"))
    }
}
