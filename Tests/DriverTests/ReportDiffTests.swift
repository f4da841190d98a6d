import Foundation
import Testing

@testable import Driver

/// `fkdc diff`: two reports compared number by number, per class and per layer, and the gates
/// given checked on both (exit 3 when the second fails one: regressed or still failing).
@Suite struct ReportDiffTests {
    /// A report.json with what diff reads.
    static func report(int8Top1: Double, glaucoma: Double, conv: Double, precision: String = "int8") -> String {
        """
        {"size": {"ratio": 0.2538, "file_ratio": 0.2613},
         "accuracy": {"measured": true, "fp32_top1": 1.0, "int8_top1": \(int8Top1), "top1_agreement": \(int8Top1),
           "logit_sqnr_db": 20.0,
           "per_class": {"normal": {"samples": 10, "fp32_recall": 1.0, "int8_recall": 1.0},
                         "glaucoma": {"samples": 10, "fp32_recall": 1.0, "int8_recall": \(glaucoma)}},
           "probability": {"max_delta": 0.05, "threshold_flips": [{"threshold": 0.5, "samples": 0, "share": 0.0}]}},
         "layers": [{"name": "conv", "op": "conv2d", "precision": "\(precision)", "sqnr_db": \(conv)},
                    {"name": "fc", "op": "fully_connected", "precision": "int8", "sqnr_db": 30.0}]}
        """
    }

    static func diff(_ a: String, _ b: String, gates: Gates = Gates()) throws -> ReportDiff {
        let (x, y) = (Array(a.utf8), Array(b.utf8))
        return try x.withUnsafeBytes { xa in
            try y.withUnsafeBytes { yb in try ReportDiff.compare(xa, yb, files: ("a", "b"), gates: gates) }
        }
    }

    @Test func perClassAndPerLayerChangesAreListed() throws {
        let d = try Self.diff(
            Self.report(int8Top1: 1.0, glaucoma: 1.0, conv: 25),
            Self.report(int8Top1: 0.95, glaucoma: 0.9, conv: 18, precision: "float32"))
        #expect(d.classes.map(\.name) == ["normal", "glaucoma"])
        #expect(d.classes[1].a == 1.0 && d.classes[1].b == 0.9)
        #expect(d.layers.first?.name == "conv" && d.layers.first?.b == 18)
        #expect(d.precisionChanges.map(\.b) == ["float32"])
        let t = d.text()
        #expect(t.contains("top-1 int8") && t.contains("(−5.0% worse)"), "\(t)")
        #expect(t.contains("glaucoma") && t.contains("(−10.0% worse)"))
        #expect(t.contains("precision: conv int8 → float32"))
        #expect(d.failures.isEmpty)  // only the default size gate, passed by both
    }

    @Test func aGateTheSecondFailsIsARegression() throws {
        var g = Gates()
        g.maxClassDrop = 5
        g.maxTop1Drop = 1
        let d = try Self.diff(
            Self.report(int8Top1: 1.0, glaucoma: 1.0, conv: 25), Self.report(int8Top1: 0.95, glaucoma: 0.9, conv: 25),
            gates: g)
        #expect(d.failures.count == 2 && d.failures.allSatisfy { $0.hasPrefix("regressed: ") }, "\(d.failures)")
        // both failing: still failing, not a regression
        let both = try Self.diff(
            Self.report(int8Top1: 0.9, glaucoma: 0.9, conv: 25), Self.report(int8Top1: 0.9, glaucoma: 0.9, conv: 25),
            gates: g)
        #expect(both.failures.allSatisfy { $0.hasPrefix("still failing: ") } && both.failures.count == 2)
    }

    @Test func theCommandExitsThreeOnARegressionAndTwoOnABadReport() throws {
        let dir = NSTemporaryDirectory() + "fkdc-diff-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir + "/a", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: dir + "/b", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.report(int8Top1: 1.0, glaucoma: 1.0, conv: 25).write(
            toFile: dir + "/a/report.json", atomically: true, encoding: .utf8)
        try Self.report(int8Top1: 1.0, glaucoma: 0.8, conv: 20).write(
            toFile: dir + "/b/report.json", atomically: true, encoding: .utf8)
        let ok = try CLI.run(["diff", dir + "/a", dir + "/b"])
        #expect(ok.code == 0 && ok.out.contains("glaucoma"), "\(ok.err)")
        let bad = try CLI.run(["diff", dir + "/a", dir + "/b", "--max-class-drop", "10"])
        #expect(bad.code == 3 && bad.err.contains("regressed: gate class_drop: 20.0 > limit 10.0"), "\(bad.err)")
        try "{".write(toFile: dir + "/b/report.json", atomically: true, encoding: .utf8)
        let broken = try CLI.run(["diff", dir + "/a", dir + "/b"])
        #expect(broken.code == 2 && broken.err.contains("not JSON"), "\(broken.err)")
    }
}
