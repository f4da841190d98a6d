import GraphIR

/// Puts the graph in the forms later passes and emitters rely on:
/// - a linear layer on a 2-D input (possibly through flatten or reshape to `[N, K]`) is
///   `fully_connected`, reading the unflattened tensor directly;
/// - an average pool covering the whole image is `global_avg_pool`;
/// - chains of reshapes/flattens collapse into one reshape, chains of transposes into one, and
///   what becomes a no-op is removed;
/// - a constant added to or multiplying a linear layer's output, one value or one per output
///   channel (a bias written as its own Add, as Paddle's and MatMul + Add exports do; a
///   hard sigmoid's slope and offset after a convolution) is folded into its bias and weights;
///   a one-value scale before one (an exported inference dropout) goes into its weights, and a
///   per-channel scale after a transpose moves before it (ConvNeXt's layer scale, then folded);
/// - hard swish, hard sigmoid and SiLU written out (`x * hard_sigmoid(x)`, `x * relu6(x + 3) / 6`,
///   `relu6(x + 3) / 6`, `x * sigmoid(x)`, as exporters and hand-written models spell them) are
///   `hard_swish`, `hard_sigmoid` and `silu`: one op each, which the int8 table runs by lookup.
struct CanonicalizePass: Pass {
    static let name = "canonicalize"
    static let summary =
        "Canonical forms: fully_connected, biases and scales folded into linear layers, global_avg_pool, collapsed reshape/transpose chains, hard_swish, hard_sigmoid and silu from their written-out forms"

    func run(on graph: inout Graph, context: inout PassContext) throws(PassError) {
        try PatternDriver.run(
            [
                FullyConnected(), AffineIntoLinear(), ScaleIntoNextLinear(), ScaleBeforeTranspose(),
                GlobalAveragePool(), ReshapeChain(),
                TransposeChain(), GatedForm(),
                ClipForms(),
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

    /// add(linear(x), c) → linear(x) with bias b + c; mul(linear(x), c) → weights and bias scaled
    /// by c, output channel by output channel. The linear layer (conv2d, gemm, fully_connected)
    /// has no activation and no other reader; c is float32, one value or one per output channel
    /// (axis 1, or the last for a gemm). The add's activation moves onto the layer.
    struct AffineIntoLinear: RewritePattern {
        func apply(at i: Int, in g: inout Graph, uses: inout DefUse, context: inout PassContext) throws(PassError)
            -> Bool
        {
            let n = g.nodes[i]
            var act = FusedActivation.none
            var isMul = false
            switch n.op {
            case .add(let a): act = a
            case .mul: isMul = true
            default: return false
            }
            guard n.inputs.count == 2 else { return false }
            let out = g.values[n.outputs[0]].shape.dims
            for (v, k) in [(n.inputs[0], n.inputs[1]), (n.inputs[1], n.inputs[0])] {
                guard let c = g.constants[k], c.dtype == .float32, g.constants[v] == nil,
                    g.values[v].shape.dims == out, let p = uses.producer(of: v), uses.hasSingleUse(v, in: g)
                else { continue }
                let lin = g.nodes[p]
                let axis: Int
                switch lin.op {
                case .conv2d(let a) where a.activation == .none: axis = 1
                case .fullyConnected(.none): axis = 1
                case .gemm(.none): axis = out.count - 1
                default: continue
                }
                guard lin.inputs.count >= 2, let w = g.constants[lin.inputs[1]], w.dtype == .float32,
                    w.shape.rank >= 2, axis >= 0, axis < out.count, out[axis] == w.shape[0],
                    let per = c.perIndex(alongAxis: axis, rank: out.count, count: w.shape[0])
                else { continue }
                let cout = w.shape[0]
                var bias = [Float](repeating: 0, count: cout)
                if lin.inputs.count > 2 {
                    guard let b = g.constants[lin.inputs[2]], b.dtype == .float32, b.elementCount == cout else {
                        continue
                    }
                    bias = b.floatArray()
                }
                var inputs = [lin.inputs[0], lin.inputs[1]]
                if isMul {
                    var wf = w.floatArray()
                    let row = wf.count / cout
                    for o in 0..<cout {
                        for j in 0..<row { wf[o * row + j] *= per[o] }
                        bias[o] *= per[o]
                    }
                    inputs[1] = g.addConstant(
                        name: uses.freshName(lin.name + ".scaled"), Tensor(shape: w.shape, floats: wf))
                } else {
                    for o in 0..<cout { bias[o] += per[o] }
                }
                inputs.append(
                    g.addConstant(name: uses.freshName(lin.name + ".bias"), Tensor(shape: Shape([cout]), floats: bias)))
                var op = lin.op
                switch op {
                case .conv2d(var a):
                    a.activation = act
                    op = .conv2d(a)
                case .fullyConnected: op = .fullyConnected(act)
                case .gemm: op = .gemm(act)
                default: continue
                }
                g.nodes[i].op = op
                g.nodes[i].inputs = inputs
                g.nodes[i].name = lin.name
                context.count(isMul ? "scales folded into linear layers" : "biases folded into linear layers")
                return true
            }
            return false
        }
    }

    /// linear(mul(x, k)) → linear(x) with weights W·k, k a one-value float32 constant and the mul
    /// read by nothing else (Paddle's inference dropout, x · (1 − p)).
    struct ScaleIntoNextLinear: RewritePattern {
        func apply(at i: Int, in g: inout Graph, uses: inout DefUse, context: inout PassContext) throws(PassError)
            -> Bool
        {
            switch g.nodes[i].op {
            case .conv2d, .fullyConnected, .gemm: break
            default: return false
            }
            let lin = g.nodes[i]
            guard lin.inputs.count >= 2, let m = uses.producer(of: lin.inputs[0]), case .mul = g.nodes[m].op,
                uses.hasSingleUse(lin.inputs[0], in: g), let w = g.constants[lin.inputs[1]], w.dtype == .float32
            else { return false }
            let mi = g.nodes[m].inputs
            guard mi.count == 2 else { return false }
            for (x, k) in [(mi[0], mi[1]), (mi[1], mi[0])] {
                guard g.constants[x] == nil, g.values[x].shape == g.values[lin.inputs[0]].shape,
                    let s = CanonicalizePass.scalar(k, g)
                else { continue }
                let scaled = g.addConstant(
                    name: uses.freshName(g.values[lin.inputs[1]].name + ".scaled"),
                    Tensor(shape: w.shape, floats: w.floatArray().map { $0 * s }))
                var ins = lin.inputs
                (ins[0], ins[1]) = (x, scaled)
                g.nodes[i].inputs = ins
                context.count("scales folded into linear layers")
                return true
            }
            return false
        }
    }

    /// mul(transpose(v), c) → transpose(mul(v, c')), c one value per index of one axis of the
    /// output and c' the same values along the axis the transpose takes it from; the transpose
    /// read by nothing else. Done only where a linear layer without activation produces v, so
    /// that `AffineIntoLinear` then folds the scale into it (ConvNeXt's layer scale after its
    /// second linear layer and the transpose back to NCHW).
    struct ScaleBeforeTranspose: RewritePattern {
        func apply(at i: Int, in g: inout Graph, uses: inout DefUse, context: inout PassContext) throws(PassError)
            -> Bool
        {
            guard case .mul = g.nodes[i].op, g.nodes[i].inputs.count == 2 else { return false }
            let ins = g.nodes[i].inputs
            for (y, k) in [(ins[0], ins[1]), (ins[1], ins[0])] {
                guard let c = g.constants[k], c.dtype == .float32, c.elementCount > 1, let t = uses.producer(of: y),
                    case .transpose(let perm) = g.nodes[t].op, uses.hasSingleUse(y, in: g)
                else { continue }
                let v = g.nodes[t].inputs[0]
                guard let lin = uses.producer(of: v), uses.hasSingleUse(v, in: g) else { continue }
                switch g.nodes[lin].op {
                case .conv2d(let a) where a.activation == .none: break
                case .gemm(.none), .fullyConnected(.none): break
                default: continue
                }
                let out = g.values[g.nodes[i].outputs[0]].shape.dims
                let vd = g.values[v].shape.dims
                guard g.values[y].shape.dims == out, perm.count == out.count, vd.count == out.count,
                    let a = (0..<out.count).first(where: {
                        c.perIndex(alongAxis: $0, rank: out.count, count: out[$0]) != nil && out[$0] > 1
                    }),
                    let values = c.perIndex(alongAxis: a, rank: out.count, count: out[a])
                else { continue }
                var cd = [Int](repeating: 1, count: vd.count)
                cd[perm[a]] = out[a]
                let moved = g.addConstant(
                    name: uses.freshName(g.values[k].name + ".moved"), Tensor(shape: Shape(cd), floats: values))
                // the transpose's node now scales v (its output takes v's shape); the mul's transposes
                g.nodes[t].op = .mul
                g.nodes[t].inputs = [v, moved]
                g.values[y].shape = g.values[v].shape
                g.nodes[i].op = .transpose(perm: perm)
                g.nodes[i].inputs = [y]
                context.count("scales moved before transposes")
                return true
            }
            return false
        }
    }

    /// mul(x, gate(x)) (either order) → the gated op: hard_sigmoid → hard_swish (x · clip(x + 3,
    /// 0, 6) / 6 either way), sigmoid → silu (x · sigmoid(x), the same float32 products); the
    /// gate, read by nothing else then, is dead code.
    struct GatedForm: RewritePattern {
        var keepsDefUse: Bool { true }

        func apply(at i: Int, in g: inout Graph, uses: inout DefUse, context: inout PassContext) throws(PassError)
            -> Bool
        {
            guard case .mul = g.nodes[i].op, g.nodes[i].inputs.count == 2 else { return false }
            let ins = g.nodes[i].inputs
            for (gate, other) in [(ins[1], ins[0]), (ins[0], ins[1])] {
                guard let p = uses.producer(of: gate), g.nodes[p].inputs == [other],
                    g.values[other].shape == g.values[g.nodes[i].outputs[0]].shape
                else { continue }
                switch g.nodes[p].op {
                case .hardSigmoid:
                    g.nodes[i].op = .hardSwish
                    context.count("hard swishes recognised")
                case .sigmoid:
                    g.nodes[i].op = .silu
                    context.count("SiLUs recognised")
                default: continue
                }
                uses.setInputs([other], of: i, in: &g)
                return true
            }
            return false
        }
    }

    /// The input `x` when `v` is clip(add(x, 3), 0, 6) (relu6(x + 3), either add order).
    static func reluSixOfXPlus3(_ v: ValueID, _ g: Graph, _ uses: DefUse) -> ValueID? {
        guard let c = uses.producer(of: v), case .clip(0, 6) = g.nodes[c].op,
            let a = uses.producer(of: g.nodes[c].inputs[0]), case .add(.none) = g.nodes[a].op
        else { return nil }
        let ins = g.nodes[a].inputs
        for (k, x) in [(ins[1], ins[0]), (ins[0], ins[1])] where scalar(k, g) == 3 && g.constants[x] == nil {
            return x
        }
        return nil
    }

    /// The value of a one-element float constant.
    static func scalar(_ v: ValueID, _ g: Graph) -> Float? {
        guard let t = g.constants[v], t.elementCount == 1, t.dtype == .float32 else { return nil }
        return t.floatArray()[0]
    }

    /// Exporters' hard sigmoid and hard swish spelt with clip: relu6(x + 3) · (1/6) (a Div by 6
    /// imports as a Mul by its reciprocal) → hard_sigmoid(x), and (x · relu6(x + 3)) · (1/6) →
    /// hard_swish(x). Within a float32 rounding of the written form.
    struct ClipForms: RewritePattern {
        var keepsDefUse: Bool { true }

        func apply(at i: Int, in g: inout Graph, uses: inout DefUse, context: inout PassContext) throws(PassError)
            -> Bool
        {
            guard case .mul = g.nodes[i].op, g.nodes[i].inputs.count == 2 else { return false }
            let ins = g.nodes[i].inputs
            let out = g.values[g.nodes[i].outputs[0]].shape
            for (k, v) in [(ins[1], ins[0]), (ins[0], ins[1])] {
                guard let s = CanonicalizePass.scalar(k, g), abs(s - 1 / 6) <= 1e-6, g.values[v].shape == out else {
                    continue
                }
                if let x = CanonicalizePass.reluSixOfXPlus3(v, g, uses), g.values[x].shape == out {
                    g.nodes[i].op = .hardSigmoid
                    uses.setInputs([x], of: i, in: &g)
                    context.count("hard sigmoids recognised")
                    return true
                }
                guard let m = uses.producer(of: v), case .mul = g.nodes[m].op else { continue }
                let mi = g.nodes[m].inputs
                for (r, x) in [(mi[1], mi[0]), (mi[0], mi[1])]
                where CanonicalizePass.reluSixOfXPlus3(r, g, uses) == x && g.values[x].shape == out {
                    g.nodes[i].op = .hardSwish
                    uses.setInputs([x], of: i, in: &g)
                    context.count("hard swishes recognised")
                    return true
                }
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
