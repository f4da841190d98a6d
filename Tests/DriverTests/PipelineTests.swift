import Foundation
import Testing

@testable import Driver
@testable import Frontends
@testable import GraphIR
@testable import Passes

@Suite struct PipelineTests {
    static let models: [(String, Int?)] = [
        ("samples/student.pt", nil), ("samples/student.ckpt", nil), ("samples/student.safetensors", nil),
        ("samples/teacher_vit.pt", 4),
    ]

    /// The default pipeline keeps every sample model's outputs within 1e-5 relative
    /// (max |before − after| / max |before|) on every committed input.
    @Test(arguments: models)
    func defaultPipelineKeepsOutputs(model: (String, Int?)) throws {
        var worst: Float = 0
        for input in ["x0", "x1", "x2", "x3", "batch3"] {
            let x = try NPY.read(path: Repo.path("samples/inputs/\(input).npy"))
            let m = try ModelLoader.load(
                path: Repo.path(model.0), options: ModelOptions(heads: model.1, batch: x.shape[0]))
            let opt = try Optimizer.run(m.graph).graph
            let a = try Evaluator(graph: m.graph).run([x])[0].floatArray()
            let b = try Evaluator(graph: opt).run([x])[0].floatArray()
            let rel = zip(a, b).map { abs($0 - $1) }.max()! / a.map(abs).max()!
            worst = max(worst, rel)
        }
        print("\(model.0): worst relative difference after the default pipeline \(worst)")
        #expect(worst <= 1e-5)
    }

    @Test func studentIsFoldedAndFused() throws {
        let m = try ModelLoader.load(path: Repo.path("samples/student.pt"))
        let r = try Optimizer.run(m.graph)
        func count(_ pass: String, _ what: String) -> Int {
            r.records.first { $0.name == pass }?.counts.first { $0.0 == what }?.1 ?? 0
        }
        #expect(count("fold-batchnorm", "folded batch norms") == 52)
        #expect(count("fuse-activation", "fused activations") == 35)
        let ops = Set(r.graph.nodes.map { $0.op.name })
        #expect(ops.isDisjoint(with: ["batch_norm", "dropout", "identity", "clip", "relu", "flatten", "gemm"]))
        let relu6 = r.graph.nodes.filter { $0.op.fusedActivation == .clip(min: 0, max: 6) }
        #expect(relu6.count == 35)
        #expect(r.graph.nodes.count == 64)
        let summary = Optimizer.summary(r, times: false)
        #expect(summary.contains("folded batch norms: 52"))
        #expect(summary.contains("fused activations: 35"))
    }

    /// Weights a pass does not change keep their storage: no copies.
    @Test(arguments: ["samples/student.pt", "samples/teacher_vit.pt"])
    func unchangedWeightsAreNotCopied(file: String) throws {
        let m = try ModelLoader.load(path: Repo.path(file), options: ModelOptions(heads: 4))
        let opt = try Optimizer.run(m.graph).graph
        var before: [String: Tensor] = [:]
        for (id, t) in m.graph.constants { before[m.graph.values[id].name] = t }
        var shared = 0
        for (id, t) in opt.constants {
            guard let old = before[opt.values[id].name] else { continue }
            #expect(old.storage === t.storage, "\(opt.values[id].name) was copied")
            shared += 1
        }
        #expect(shared > 0)
    }

    @Test func badPipelinesAreUsageErrors() throws {
        let m = try ModelLoader.load(path: Repo.path("samples/student.pt"))
        let e = #expect(throws: DriverError.self) { try Optimizer.run(m.graph, pipeline: "dce,fold-everything") }
        #expect(e?.exitCode == 1)
        #expect(e?.message.contains("unknown pass 'fold-everything'") == true)
        let p = #expect(throws: DriverError.self) { try Optimizer.run(m.graph, printIRAfter: ["nope"]) }
        #expect(p?.exitCode == 1)
    }

    @Test func printIRAfterNamesThePass() throws {
        let m = try ModelLoader.load(path: Repo.path("samples/student.pt"))
        final class Sink: @unchecked Sendable { var seen: [String] = [] }
        let sink = Sink()
        _ = try Optimizer.run(m.graph, printIRAfter: ["fold-batchnorm"]) { pass, ir in
            sink.seen.append(pass)
            #expect(!ir.contains("batch_norm("))
        }
        #expect(sink.seen == ["fold-batchnorm"])
    }
}
