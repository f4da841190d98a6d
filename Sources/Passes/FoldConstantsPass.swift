import GraphIR

/// Evaluates every node whose inputs are all constants and replaces it by its result.
struct FoldConstantsPass: Pass {
    static let name = "fold-constants"
    static let summary = "Evaluate nodes whose inputs are all constants"

    func run(on graph: inout Graph, context: inout PassContext) throws(PassError) {
        try PatternDriver.run([FoldNode()], on: &graph, context: &context, pass: Self.name)
    }

    struct FoldNode: RewritePattern {
        var keepsDefUse: Bool { true }

        func apply(at i: Int, in g: inout Graph, uses: inout DefUse, context: inout PassContext) throws(PassError)
            -> Bool
        {
            let n = g.nodes[i]
            guard !n.inputs.isEmpty, n.inputs.allSatisfy(g.isConstant), !n.op.isQuantization, let out = n.outputs.first,
                g.values[out].shape.elementCount <= context.maxFoldedElements, g.values[out].dtype == .float32,
                !uses.readers(of: out).isEmpty || g.outputs.contains(out)
            else { return false }
            // evaluate the node alone, its constant inputs becoming the one-node graph's constants
            var one = Graph(name: n.name)
            var ids: [ValueID] = []
            for v in n.inputs { ids.append(one.addConstant(name: g.values[v].name, g.constants[v]!)) }
            let o = one.addValue(g.values[out])
            one.nodes = [Node(name: n.name, op: n.op, inputs: ids, outputs: [o])]
            one.outputs = [o]
            let result: Tensor
            do { result = try Evaluator(graph: one).run([])[0] } catch {
                throw PassError(.failed, pass: FoldConstantsPass.name, at: n.name, error.message)
            }
            let c = g.addConstant(name: uses.freshName(g.values[out].name + ".folded"), result)
            uses.replaceAllUses(of: out, with: c, in: &g)
            context.count("folded constant nodes")
            return true
        }
    }
}
