import GraphIR

/// Fuses relu, clip (ReLU6) and hard_swish into the conv2d, gemm, fully_connected or add that
/// produces their input, when that result has no other reader and the target supports it.
struct FuseActivationPass: Pass {
    static let name = "fuse-activation"
    static let summary = "Fuse relu, relu6/clip and hard_swish into conv2d, gemm, fully_connected and add"

    func run(on graph: inout Graph, context: inout PassContext) throws(PassError) {
        try PatternDriver.run([FuseIntoProducer()], on: &graph, context: &context, pass: Self.name)
    }

    struct FuseIntoProducer: RewritePattern {
        var keepsDefUse: Bool { true }

        func apply(at i: Int, in g: inout Graph, uses: inout DefUse, context: inout PassContext) throws(PassError)
            -> Bool
        {
            let n = g.nodes[i]
            let act: FusedActivation
            switch n.op {
            case .relu: act = .relu
            case .clip(let lo, let hi): act = .clip(min: lo, max: hi)
            case .hardSwish: act = .hardSwish
            default: return false
            }
            let x = n.inputs[0]
            guard context.fusableActivations(act), let p = uses.producer(of: x), uses.hasSingleUse(x, in: g),
                g.nodes[p].op.fusedActivation == FusedActivation.none, let fused = g.nodes[p].op.fusing(act)
            else { return false }
            g.nodes[p].op = fused
            uses.replaceAllUses(of: n.outputs[0], with: x, in: &g)
            context.count("fused activations")
            return true
        }
    }
}
