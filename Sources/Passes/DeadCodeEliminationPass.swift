import GraphIR

/// Removes nodes whose results nothing reads and constants no node reads.
struct DeadCodeEliminationPass: Pass {
    static let name = "dce"
    static let summary = "Remove nodes and constants that do not contribute to the outputs"

    func run(on graph: inout Graph, context: inout PassContext) throws(PassError) {
        let constants = graph.constants.count
        let removed = graph.removeDeadCode()
        if removed > 0 { context.count("removed dead nodes", removed) }
        if constants - graph.constants.count > 0 {
            context.count("removed unused constants", constants - graph.constants.count)
        }
    }
}
