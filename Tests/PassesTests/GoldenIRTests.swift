import Foundation
import Testing

@testable import GraphIR
@testable import Passes

enum Repo {
    static let root: String = {
        var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)
        return parts.joined(separator: "/")
    }()
    static func path(_ relative: String) -> String { root + "/" + relative }
}

/// One golden file: `// RUN: <pipeline>`, `// CHECK:` / `// CHECK-NOT:` lines (in the style of
/// LLVM's FileCheck) or `// EXPECT-ERROR:`, then the input graph.
struct GoldenCase: CustomStringConvertible, Sendable {
    var name: String
    var pipeline: String
    var checks: [(not: Bool, text: String)]
    var expectedError: String?
    var source: String

    var description: String { name }

    static let folder = Repo.path("Tests/PassesTests/Golden")

    static func all() -> [GoldenCase] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return files.filter { $0.hasSuffix(".fkir") }.sorted().map { load(String($0.dropLast(5))) }
    }

    static func load(_ name: String) -> GoldenCase {
        let text = (try? String(contentsOfFile: "\(folder)/\(name).fkir", encoding: .utf8)) ?? ""
        var c = GoldenCase(name: name, pipeline: "", checks: [], expectedError: nil, source: text)
        for line in text.split(separator: "\n") {
            let l = line.trimmingCharacters(in: .whitespaces)
            func after(_ p: String) -> String? {
                l.hasPrefix(p) ? String(l.dropFirst(p.count)).trimmingCharacters(in: .whitespaces) : nil
            }
            if let v = after("// RUN:") { c.pipeline = v }
            if let v = after("// CHECK:") { c.checks.append((false, v)) }
            if let v = after("// CHECK-NOT:") { c.checks.append((true, v)) }
            if let v = after("// EXPECT-ERROR:") { c.expectedError = v }
        }
        return c
    }
}

/// FileCheck's rule: CHECK lines match in order, each on a later line than the previous one;
/// a CHECK-NOT must not match between the previous CHECK's line and the next CHECK's line.
func fileCheck(_ output: String, _ checks: [(not: Bool, text: String)]) -> String? {
    let lines = output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    var pos = 0
    var pendingNot: [String] = []
    func notViolation(_ range: Range<Int>) -> String? {
        for n in pendingNot {
            if let i = range.first(where: { lines[$0].contains(n) }) {
                return "CHECK-NOT: \(n) matched line \(i + 1): \(lines[i])"
            }
        }
        return nil
    }
    for c in checks {
        if c.not {
            pendingNot.append(c.text)
            continue
        }
        guard let i = (pos..<lines.count).first(where: { lines[$0].contains(c.text) }) else {
            return "CHECK: \(c.text) not found after line \(pos)"
        }
        if let v = notViolation(pos..<i) { return v }
        pendingNot = []
        pos = i + 1
    }
    return notViolation(pos..<lines.count)
}

/// Deterministic inputs for differential checks.
func inputs(for g: Graph, seed: UInt64) -> [Tensor] {
    var state = seed
    return g.inputs.map { id in
        let n = g.values[id].shape.elementCount
        let f = (0..<n).map { _ -> Float in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Int64(bitPattern: state >> 11) % 2001) / 500 - 2
        }
        return Tensor(shape: g.values[id].shape, floats: f)
    }
}

@Suite struct GoldenIRTests {
    /// Set FKDC_REGENERATE_GOLDEN=1 to rewrite the `.expected` snapshots from the current passes;
    /// read the diff before committing them.
    static let regenerate = ProcessInfo.processInfo.environment["FKDC_REGENERATE_GOLDEN"] == "1"

    @Test(arguments: GoldenCase.all())
    func golden(_ c: GoldenCase) throws {
        #expect(!c.pipeline.isEmpty, "\(c.name) has no RUN line")
        if let expected = c.expectedError {
            var message = ""
            do {
                var g = try IRParser().parse(c.source)
                try g.verify()
                _ = try PassManager(pipeline: c.pipeline).run(on: &g)
            } catch let e as IRError {
                message = e.description
            } catch let e as PassError {
                message = e.description
            }
            #expect(message.contains(expected), "expected an error containing '\(expected)', got '\(message)'")
            return
        }
        let input = try IRParser().parse(c.source)
        try input.verify()
        var g = input
        _ = try PassManager(pipeline: c.pipeline).run(on: &g)
        let out = g.text
        if let failure = fileCheck(out, c.checks) { Issue.record("\(c.name): \(failure)\n--- output ---\n\(out)") }
        // snapshot of the whole output
        let snapshot = "\(GoldenCase.folder)/\(c.name).expected"
        if Self.regenerate {
            try out.write(toFile: snapshot, atomically: true, encoding: .utf8)
        } else {
            #expect(
                out == (try String(contentsOfFile: snapshot, encoding: .utf8)),
                "\(c.name): output differs from \(c.name).expected")
        }
        // the pipeline keeps the results (normalised max error ≤ 1e-6)
        let x = inputs(for: input, seed: 42)
        let before = try Evaluator(graph: input).run(x)
        let after = try Evaluator(graph: g).run(x)
        for (a, b) in zip(before, after) {
            let (fa, fb) = (a.floatArray(), b.floatArray())
            let scale = max(fa.map(abs).max() ?? 0, 1e-6)
            #expect(zip(fa, fb).map { abs($0 - $1) }.max() ?? 0 <= 1e-6 * scale, "\(c.name): outputs changed")
        }
    }

    @Test func printedOutputParsesBack() throws {
        for c in GoldenCase.all() where c.expectedError == nil {
            var g = try IRParser().parse(c.source)
            _ = try PassManager(pipeline: c.pipeline).run(on: &g)
            #expect(try IRParser().parse(g.text) == g.canonicalized())
        }
    }

    @Test func fileCheckFindsProblems() {
        let out = "a\nb\nc\n"
        #expect(fileCheck(out, [(false, "a"), (false, "c")]) == nil)
        #expect(fileCheck(out, [(false, "c"), (false, "a")]) != nil)
        #expect(fileCheck(out, [(false, "a"), (true, "b"), (false, "c")]) != nil)
        #expect(fileCheck(out, [(true, "z")]) == nil)
    }
}

@Suite struct RegistryTests {
    /// Every `struct …Pass: Pass` in Sources/Passes is listed in `PassRegistry.all`.
    @Test func everyPassFileIsRegistered() throws {
        let dir = Repo.path("Sources/Passes")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter {
            $0.hasSuffix("Pass.swift") && $0 != "Pass.swift"
        }
        #expect(files.count >= 6)
        let registered = Set(PassRegistry.all.map { $0.name })
        for f in files {
            let text = try String(contentsOfFile: "\(dir)/\(f)", encoding: .utf8)
            #expect(text.contains(": Pass {"), "\(f) defines no Pass")
            guard let r = text.range(of: #"static let name = "([a-z-]+)""#, options: .regularExpression) else {
                Issue.record("\(f) has no static name")
                continue
            }
            let name = text[r].split(separator: "\"")[1]
            #expect(registered.contains(String(name)), "\(f): pass '\(name)' is not in PassRegistry.all")
        }
        #expect(registered.count == PassRegistry.all.count, "two passes share a name")
    }

    @Test func pipelinesParse() throws {
        #expect(try PassRegistry.parse("default").map { $0.name } == PassRegistry.defaultPipeline.map { $0.name })
        #expect(try PassRegistry.parse("dce, fold-constants").map { $0.name } == ["dce", "fold-constants"])
        #expect(try PassRegistry.parse("none").isEmpty)
        #expect(throws: PassError.self) { try PassRegistry.parse("dce,nope") }
    }
}
