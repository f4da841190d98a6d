import GraphIR

/// A local rewrite: looks at the node at an index and either rewrites the graph around it and
/// returns true, or leaves the graph alone and returns false. Rewrites leave replaced nodes
/// dead; the driver removes them.
protocol RewritePattern: Sendable {
    /// `uses` is current when called; a pattern that returns true either keeps it current
    /// (`keepsDefUse`) or leaves it for the driver to recompute.
    func apply(at index: Int, in graph: inout Graph, uses: inout DefUse, context: inout PassContext)
        throws(PassError) -> Bool
    /// Whether a rewrite by this pattern changes the graph only through `uses` (op changes
    /// aside), so the driver need not recompute it.
    var keepsDefUse: Bool { get }
}

extension RewritePattern {
    var keepsDefUse: Bool { false }
}

/// Applies patterns to every node until none matches (a fixed point), then removes dead code.
/// The def-use index is built once a sweep, and again only after a rewrite that did not keep it.
enum PatternDriver {
    static let maxSweeps = 64

    static func run(_ patterns: [any RewritePattern], on graph: inout Graph, context: inout PassContext, pass: String)
        throws(PassError)
    {
        for _ in 0..<maxSweeps {
            var changed = false
            var i = 0
            var uses = DefUse(graph)
            while i < graph.nodes.count {
                var hit = false
                for p in patterns where try p.apply(at: i, in: &graph, uses: &uses, context: &context) {
                    hit = true
                    if !p.keepsDefUse { uses = DefUse(graph) }
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
