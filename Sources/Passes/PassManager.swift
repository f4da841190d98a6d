import GraphIR

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What one pass did.
public struct PassRecord: Sendable {
    public var name: String
    public var counts: [(String, Int)]
    public var seconds: Double
    public var nodesBefore: Int
    public var nodesAfter: Int
}

/// Runs a flat list of passes, verifying the graph after each one.
public struct PassManager: Sendable {
    public var passes: [any Pass.Type]
    /// Run the verifier after every pass (on by default; tests always keep it on).
    public var verifyEachPass = true
    /// Pass names after which to print the IR; "all" for every pass.
    public var printIRAfter: Set<String> = []
    /// Receives (pass name, IR text) for `printIRAfter`.
    public var irSink: @Sendable (String, String) -> Void = { _, _ in }
    public var context = PassContext()

    public init(passes: [any Pass.Type]) { self.passes = passes }

    /// A manager for a comma-separated pipeline ("default" expands to the default pipeline).
    public init(pipeline: String) throws(PassError) {
        self.init(passes: try PassRegistry.parse(pipeline))
    }

    public func run(on graph: inout Graph) throws(PassError) -> [PassRecord] {
        var ctx = context
        return try run(on: &graph, context: &ctx)
    }

    /// Runs the passes with `ctx` (which passes read and extend, e.g. batch-norm statistics).
    public func run(on graph: inout Graph, context ctx: inout PassContext) throws(PassError) -> [PassRecord] {
        var records: [PassRecord] = []
        for p in passes {
            let before = graph.nodes.count
            let start = Self.now()
            try p.init().run(on: &graph, context: &ctx)
            let seconds = Self.now() - start
            if verifyEachPass {
                do { try graph.verify() } catch {
                    throw PassError(
                        .verifierFailed, pass: p.name, at: error.location,
                        "the graph is invalid after this pass: \(error.message)")
                }
            }
            records.append(
                PassRecord(
                    name: p.name, counts: ctx.takeCounts(), seconds: seconds, nodesBefore: before,
                    nodesAfter: graph.nodes.count))
            if printIRAfter.contains("all") || printIRAfter.contains(p.name) {
                irSink(p.name, IRPrinter(elideConstantsOver: 16).print(graph))
            }
        }
        return records
    }

    static func now() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }
}
