import GraphIR

/// Folds inference batch norm into the conv2d (including depthwise), gemm or fully_connected
/// that produces its input; a batch norm with no such producer becomes a per-channel affine map:
/// on an NCHW map a depthwise 1×1 `conv2d` (weights s, bias t: one op, which runs in int8 and
/// takes a following ReLU; DenseNet's batch norms after each concat), elsewhere a `mul` and
/// `add`.
///
/// With s = γ / √(var + ε) per channel c: w'[c,…] = s[c]·w[c,…] and b'[c] = s[c]·(b[c] − mean[c]) + β[c].
/// Only the changed weights are new tensors; everything else keeps its storage.
struct FoldBatchNormPass: Pass {
    static let name = "fold-batchnorm"
    static let summary = "Fold batch_norm into the preceding conv2d or gemm"

    func run(on graph: inout Graph, context: inout PassContext) throws(PassError) {
        try PatternDriver.run([IntoProducer(), ToScaleShift()], on: &graph, context: &context, pass: Self.name)
    }

    /// Per-channel (scale, shift) of a batch norm whose parameters are constants.
    static func scaleShift(_ g: Graph, _ n: Node) -> (scale: [Float], shift: [Float])? {
        guard case .batchNorm(let eps) = n.op, n.inputs.dropFirst().allSatisfy(g.isConstant) else { return nil }
        let p = n.inputs.dropFirst().map { g.constants[$0]!.floatArray() }
        let (gamma, beta, mean, variance) = (p[0], p[1], p[2], p[3])
        let scale = gamma.indices.map { gamma[$0] / (variance[$0] + eps).squareRoot() }
        let shift = gamma.indices.map { beta[$0] - mean[$0] * scale[$0] }
        return (scale, shift)
    }

    /// BN output per channel: mean β, standard deviation |γ| (running statistics normalise the input).
    static func outputStatistics(_ g: Graph, _ n: Node) -> (mean: [Float], std: [Float]) {
        let gamma = g.constants[n.inputs[1]]!.floatArray()
        let beta = g.constants[n.inputs[2]]!.floatArray()
        return (beta, gamma.map(abs))
    }

    struct IntoProducer: RewritePattern {
        var keepsDefUse: Bool { true }

        func apply(at i: Int, in g: inout Graph, uses: inout DefUse, context: inout PassContext) throws(PassError)
            -> Bool
        {
            let bn = g.nodes[i]
            guard case .batchNorm = bn.op, let x = bn.inputs.first, let pi = uses.producer(of: x),
                uses.hasSingleUse(x, in: g)
            else { return false }
            let prod = g.nodes[pi]
            switch prod.op {
            case .conv2d(let a) where a.activation == .none: break
            case .gemm(.none), .fullyConnected(.none):
                guard g.values[x].shape.rank == 2 else { return false }  // channels must be the features
            default: return false
            }
            guard prod.inputs.dropFirst().allSatisfy(g.isConstant),
                let (scale, shift) = FoldBatchNormPass.scaleShift(g, bn)
            else { return false }
            let wID = prod.inputs[1]
            let w = g.constants[wID]!
            let cout = w.shape[0]
            guard scale.count == cout else { return false }
            var wf = w.floatArray()
            let block = wf.count / max(cout, 1)
            for c in 0..<cout { for j in 0..<block { wf[c * block + j] *= scale[c] } }
            let oldBias =
                prod.inputs.count > 2 ? g.constants[prod.inputs[2]]!.floatArray() : [Float](repeating: 0, count: cout)
            let bias = (0..<cout).map { scale[$0] * oldBias[$0] + shift[$0] }
            let nw = g.addConstant(
                name: uses.freshName(g.values[wID].name + ".bn_folded"), Tensor(shape: w.shape, floats: wf))
            let biasName = prod.inputs.count > 2 ? g.values[prod.inputs[2]].name : prod.name + ".bias"
            let nb = g.addConstant(
                name: uses.freshName(biasName + ".bn_folded"), Tensor(shape: Shape([cout]), floats: bias))
            uses.setInputs([prod.inputs[0], nw, nb], of: pi, in: &g)
            uses.replaceAllUses(of: bn.outputs[0], with: x, in: &g)
            context.batchNormStatistics[g.values[x].name] = FoldBatchNormPass.outputStatistics(g, bn)
            context.count("folded batch norms")
            return true
        }
    }

    struct ToScaleShift: RewritePattern {
        func apply(at i: Int, in g: inout Graph, uses: inout DefUse, context: inout PassContext) throws(PassError)
            -> Bool
        {
            let bn = g.nodes[i]
            guard case .batchNorm = bn.op, let (scale, shift) = FoldBatchNormPass.scaleShift(g, bn) else {
                return false
            }
            let x = bn.inputs[0]
            let rank = g.values[x].shape.rank
            let c = scale.count
            if rank == 4, g.values[x].shape[1] == c {
                let w = g.addConstant(
                    name: g.freshName(bn.name + ".scale"), Tensor(shape: Shape([c, 1, 1, 1]), floats: scale))
                let b = g.addConstant(name: g.freshName(bn.name + ".shift"), Tensor(shape: Shape([c]), floats: shift))
                g.nodes[i] = Node(
                    name: bn.name, op: .conv2d(Conv2dAttrs(groups: c)), inputs: [x, w, b], outputs: bn.outputs)
                context.batchNormStatistics[g.values[bn.outputs[0]].name] = FoldBatchNormPass.outputStatistics(g, bn)
                context.count("batch norms lowered to a depthwise 1×1 convolution")
                return true
            }
            let shape = Shape([c] + [Int](repeating: 1, count: max(0, rank - 2)))
            let s = g.addConstant(name: g.freshName(bn.name + ".scale"), Tensor(shape: shape, floats: scale))
            let t = g.addConstant(name: g.freshName(bn.name + ".shift"), Tensor(shape: shape, floats: shift))
            let outType = g.values[bn.outputs[0]]
            let m = g.addValue(
                Value(name: g.freshName(bn.name + ".scaled"), dtype: outType.dtype, shape: outType.shape))
            let a = g.addValue(
                Value(name: g.freshName(bn.name + ".shifted"), dtype: outType.dtype, shape: outType.shape))
            g.nodes[i] = Node(name: bn.name + ".mul", op: .mul, inputs: [x, s], outputs: [m])
            g.nodes.insert(Node(name: bn.name + ".add", op: .add(), inputs: [m, t], outputs: [a]), at: i + 1)
            g.replaceAllUses(of: bn.outputs[0], with: a)
            context.batchNormStatistics[g.values[a].name] = FoldBatchNormPass.outputStatistics(g, bn)
            context.count("batch norms lowered to scale and shift")
            return true
        }
    }
}
