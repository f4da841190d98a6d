import GraphIR
import Passes

/// Every pass with its summary, and the default pipeline, for `--help`.
public let passCatalog: String =
    PassRegistry.all.map { "\($0.name) (\($0.summary))" }.joined(separator: "; ") + ". Default pipeline: "
    + PassRegistry.defaultPipeline.map { $0.name }.joined(separator: ",") + "."

/// `fkdc opt`: runs a pass pipeline over a model and reports what each pass did.
public enum Optimizer {
    public struct Result: Sendable {
        public var graph: Graph
        public var records: [PassRecord]
        public var nodesBefore: Int
    }

    /// Runs `pipeline` (comma-separated pass names, "default" for the default pipeline).
    public static func run(
        _ graph: Graph, pipeline: String = "default", printIRAfter: Set<String> = [],
        irSink: @escaping @Sendable (String, String) -> Void = { _, _ in }
    ) throws(DriverError) -> Result {
        var pm: PassManager
        do { pm = try PassManager(pipeline: pipeline) } catch { throw DriverError(.usage, error.description) }
        let unknown = printIRAfter.filter { $0 != "all" && PassRegistry.named($0) == nil }
        guard unknown.isEmpty else {
            throw DriverError(.usage, "--print-ir-after: unknown pass '\(unknown.sorted()[0])'")
        }
        pm.printIRAfter = printIRAfter
        pm.irSink = irSink
        var g = graph
        do {
            let records = try pm.run(on: &g)
            return Result(graph: g, records: records, nodesBefore: graph.nodes.count)
        } catch { throw DriverError(.badInput, error.description) }
    }

    /// The summary table: pass, time (with `times`), node count, what it did.
    public static func summary(_ r: Result, times: Bool) -> String {
        var out = ""
        let w = max(4, r.records.map(\.name.count).max() ?? 0)
        for rec in r.records {
            let did = rec.counts.isEmpty ? "no change" : rec.counts.map { "\($0.0): \($0.1)" }.joined(separator: ", ")
            let t = times ? String(format3(rec.seconds * 1000)).leftPadding(9) + " ms  " : ""
            out += rec.name.padding(w) + "  " + t + "\(rec.nodesBefore) → \(rec.nodesAfter) nodes  " + did + "\n"
        }
        if times {
            let total = r.records.reduce(0) { $0 + $1.seconds }
            out += "total".padding(w) + "  " + format3(total * 1000).leftPadding(9) + " ms\n"
        }
        return out
    }

    static func format3(_ v: Double) -> String { String((v * 1000).rounded() / 1000) }
}
