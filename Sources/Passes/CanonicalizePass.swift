import GraphIR

/// Puts the graph in the forms later passes and emitters rely on:
/// - a linear layer on a 2-D input (possibly through flatten or reshape to `[N, K]`) is
///   `fully_connected`, reading the unflattened tensor directly;
/// - an average pool covering the whole image is `global_avg_pool`;
/// - chains of reshapes/flattens collapse into one reshape, chains of transposes into one, and
///   what becomes a no-op is removed;
/// - hard swish written out as `x * hard_sigmoid(x)` (as exporters and hand-written models
///   spell it) is `hard_swish`, one op the int8 table and the fusion passes know.
struct CanonicalizePass: Pass {
    static let name = "canonicalize"
    static let summary =
        "Canonical forms: fully_connected, global_avg_pool, collapsed reshape/transpose chains, hard_swish from x*hard_sigmoid(x)"

    func run(on graph: inout Graph, context: inout PassContext) throws(PassError) {
        try PatternDriver.run(
            [
                FullyConnected(), GlobalAveragePool(), ReshapeChain(), TransposeChain(), HardSwishForm(),
                EliminateIdentityPass.RemoveNoOp(),
            ],
            on: &graph, context: &context,
            pass: Self.name)
    }

    static func isReshape(_ op: Op) -> Bool {
        switch op {
        case .reshape, .flatten: true
        default: false
        }
    }

    struct FullyConnected: RewritePattern {
        var keepsDefUse: Bool { true }

        func apply(at i: Int, in g: inout Graph, uses: inout DefUse, context: inout PassContext) throws(PassError)
            -> Bool
        {
            guard case .gemm(let act) = g.nodes[i].op else { return false }
            var x = g.nodes[i].inputs[0]
            guard g.values[x].shape.rank == 2 else { return false }
            // read through a flatten/reshape that only merges the non-batch dims
            if let p = uses.producer(of: x), CanonicalizePass.isReshape(g.nodes[p].op) {
                let src = g.nodes[p].inputs[0]
                if g.values[src].shape.rank >= 1, g.values[src].shape[0] == g.values[x].shape[0] { x = src }
            }
            g.nodes[i].op = .fullyConnected(act)
            var ins = g.nodes[i].inputs
            ins[0] = x
            uses.setInputs(ins, of: i, in: &g)
            context.count("linear layers made fully_connected")
            return true
        }
    }

    /// mul(x, hard_sigmoid(x)) (either order) → hard_swish(x): x · clip(x + 3, 0, 6) / 6 either
    /// way; the hard_sigmoid, read by nothing else then, is dead code.
    struct HardSwishForm: RewritePattern {
        var keepsDefUse: Bool { true }

        func apply(at i: Int, in g: inout Graph, uses: inout DefUse, context: inout PassContext) throws(PassError)
            -> Bool
        {
            guard case .mul = g.nodes[i].op, g.nodes[i].inputs.count == 2 else { return false }
            let ins = g.nodes[i].inputs
            for (gate, other) in [(ins[1], ins[0]), (ins[0], ins[1])] {
                guard let p = uses.producer(of: gate), case .hardSigmoid = g.nodes[p].op, g.nodes[p].inputs == [other],
                    g.values[other].shape == g.values[g.nodes[i].outputs[0]].shape
                else { continue }
                g.nodes[i].op = .hardSwish
                uses.setInputs([other], of: i, in: &g)
                context.count("hard swishes recognised")
                return true
            }
            return false
        }
    }

    struct GlobalAveragePool: RewritePattern {
        var keepsDefUse: Bool { true }

        func apply(at i: Int, in g: inout Graph, uses: inout DefUse, context: inout PassContext) throws(PassError)
            -> Bool
        {
            guard case .avgPool(let a) = g.nodes[i].op else { return false }
            let s = g.values[g.nodes[i].inputs[0]].shape
            guard a.kernel == [s[2], s[3]], a.pad == [0, 0, 0, 0] else { return false }
            g.nodes[i].op = .globalAvgPool
            context.count("average pools made global_avg_pool")
            return true
        }
    }

    struct ReshapeChain: RewritePattern {
        var keepsDefUse: Bool { true }

        func apply(at i: Int, in g: inout Graph, uses: inout DefUse, context: inout PassContext) throws(PassError)
            -> Bool
        {
            guard CanonicalizePass.isReshape(g.nodes[i].op), let p = uses.producer(of: g.nodes[i].inputs[0]),
                CanonicalizePass.isReshape(g.nodes[p].op)
            else { return false }
            g.nodes[i].op = .reshape(shape: g.values[g.nodes[i].outputs[0]].shape.dims)
            uses.setInputs([g.nodes[p].inputs[0]], of: i, in: &g)
            context.count("reshape chains collapsed")
            return true
        }
    }

    struct TransposeChain: RewritePattern {
        var keepsDefUse: Bool { true }

        func apply(at i: Int, in g: inout Graph, uses: inout DefUse, context: inout PassContext) throws(PassError)
            -> Bool
        {
            guard case .transpose(let outer) = g.nodes[i].op, let p = uses.producer(of: g.nodes[i].inputs[0]),
                case .transpose(let inner) = g.nodes[p].op
            else { return false }
            // y = transpose(transpose(x, inner), outer): y[d] = x[inner[outer[d]]]
            g.nodes[i].op = .transpose(perm: outer.map { inner[$0] })
            uses.setInputs([g.nodes[p].inputs[0]], of: i, in: &g)
            context.count("transpose chains collapsed")
            return true
        }
    }
}
