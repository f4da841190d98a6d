import GraphIR

/// A local rewrite: looks at the node at an index and either rewrites the graph around it and
/// returns true, or leaves the graph alone and returns false. Rewrites leave replaced nodes
/// dead; the driver removes them.
protocol RewritePattern: Sendable {
    func apply(at index: Int, in graph: inout Graph, context: inout PassContext) throws(PassError) -> Bool
}

/// Applies patterns to every node until none matches (a fixed point), then removes dead code.
enum PatternDriver {
    static let maxSweeps = 64

    static func run(_ patterns: [any RewritePattern], on graph: inout Graph, context: inout PassContext, pass: String)
        throws(PassError)
    {
        for _ in 0..<maxSweeps {
            var changed = false
            var i = 0
            while i < graph.nodes.count {
                var hit = false
                for p in patterns where try p.apply(at: i, in: &graph, context: &context) {
                    hit = true
                    break
                }
                changed = changed || hit
                i += 1
            }
            graph.removeDeadCode()
            if !changed { return }
        }
        throw PassError(.failed, pass: pass, "no fixed point after \(maxSweeps) sweeps")
    }
}
