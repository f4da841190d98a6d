import GraphIR

/// Removes ops that compute nothing at inference: identity, dropout, and reshapes, flattens,
/// transposes, slices and expands that leave their input as it is.
struct EliminateIdentityPass: Pass {
    static let name = "eliminate-identity"
    static let summary = "Remove identity, dropout and no-op reshape/transpose/slice/expand"

    func run(on graph: inout Graph, context: inout PassContext) throws(PassError) {
        try PatternDriver.run([RemoveNoOp()], on: &graph, context: &context, pass: Self.name)
    }

    struct RemoveNoOp: RewritePattern {
        var keepsDefUse: Bool { true }

        func apply(at i: Int, in g: inout Graph, uses: inout DefUse, context: inout PassContext) throws(PassError)
            -> Bool
        {
            let n = g.nodes[i]
            guard let x = n.inputs.first, let y = n.outputs.first, g.values[x].dtype == g.values[y].dtype else {
                return false
            }
            let same = g.values[x].shape == g.values[y].shape
            let what: String
            switch n.op {
            case .identity: what = "identity"
            case .dropout: what = "dropout"
            case .reshape, .flatten, .expand: what = "no-op reshape"
            case .transpose(let perm): what = perm == Array(perm.indices) ? "no-op transpose" : ""
            case .slice(_, _, _, let step): what = step == 1 ? "no-op slice" : ""
            default: what = ""
            }
            guard !what.isEmpty, same, !uses.readers(of: y).isEmpty || g.outputs.contains(y)
            else {
                return false
            }
            // a graph input cannot become a graph output through this rewrite without a node
            if g.outputs.contains(y) && (g.inputs.contains(x) || g.outputs.contains(x)) { return false }
            uses.replaceAllUses(of: y, with: x, in: &g)
            context.count("removed \(what) ops")
            return true
        }
    }
}
