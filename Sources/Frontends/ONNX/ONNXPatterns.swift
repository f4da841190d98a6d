import GraphIR

/// Recognises what exporters decompose, so the IR gets its own ops back:
/// - erf GELU: `Div(x, √2) → Erf → Add(1) → Mul(x, ·) → Mul(0.5)` (either Mul order) → `gelu(x)`;
/// - layer norm before opset 17: `ReduceMean(x) → Sub(x, mean) → Pow(2) → ReduceMean → Add(ε)
///   → Sqrt → Div(d, ·) → Mul(γ) → Add(β)` → `layer_norm(x, γ, β)`.
enum ONNXPatterns {
    /// Tries the patterns rooted at node `i`; on a match it defines the pattern's final output and
    /// marks the nodes it covers as done.
    static func match(at i: Int, in imp: inout ONNXImporter) throws(FrontendError) -> Bool {
        switch imp.model.nodes[i].opType {
        case "Div", "Mul": return try gelu(at: i, &imp)
        case "ReduceMean": return try layerNorm(at: i, &imp)
        default: return false
        }
    }

    /// The single consumer of `name`, if it has exactly one and it is of type `op`.
    static func only(_ imp: ONNXImporter, _ name: String, _ op: String) -> Int? {
        guard let c = imp.consumers[name], c.count == 1, imp.model.nodes[c[0]].opType == op else { return nil }
        return c[0]
    }

    /// The scalar constant among a binary node's inputs and the other input.
    static func scalarAndOther(_ imp: ONNXImporter, _ n: ONNXModel.Node) -> (Double, String)? {
        guard n.inputs.count == 2 else { return nil }
        if let t = imp.constant(n.inputs[1]), let v = ConstMath.scalar(t) { return (v, n.inputs[0]) }
        if let t = imp.constant(n.inputs[0]), let v = ConstMath.scalar(t) { return (v, n.inputs[1]) }
        return nil
    }

    static func near(_ a: Double, _ b: Double) -> Bool { abs(a - b) <= 1e-4 * max(1, abs(b)) }

    static func gelu(at i: Int, _ imp: inout ONNXImporter) throws(FrontendError) -> Bool {
        let first = imp.model.nodes[i]
        guard let (c, x) = scalarAndOther(imp, first), imp.constant(x) == nil,
            (first.opType == "Div" && near(c, 2.0.squareRoot()) && imp.constant(first.inputs[1]) != nil)
                || (first.opType == "Mul" && near(c, 1 / 2.0.squareRoot())),
            let e = only(imp, first.outputs[0], "Erf"), let a = only(imp, imp.model.nodes[e].outputs[0], "Add"),
            let (one, _) = scalarAndOther(imp, imp.model.nodes[a]), near(one, 1),
            let m1 = only(imp, imp.model.nodes[a].outputs[0], "Mul")
        else { return false }
        // x·(1 + erf)·0.5 with either the x or the 0.5 multiplication first
        let mul1 = imp.model.nodes[m1]
        guard let other = mul1.inputs.first(where: { $0 != imp.model.nodes[a].outputs[0] }) else { return false }
        var last: Int
        if other == x, let m2 = only(imp, mul1.outputs[0], "Mul"),
            let (h, _) = scalarAndOther(imp, imp.model.nodes[m2]), near(h, 0.5)
        {
            last = m2
        } else if let t = imp.constant(other), let h = ConstMath.scalar(t), near(h, 0.5),
            let m2 = only(imp, mul1.outputs[0], "Mul"),
            imp.model.nodes[m2].inputs.contains(x)
        {
            last = m2
        } else {
            return false
        }
        let xv = imp.value(try imp.ref(x), name: x)
        let out = imp.model.nodes[last].outputs[0]
        let y = try imp.emit(.gelu, [xv], output: out, node: imp.model.nodes[last])
        imp.env[out] = .value(y)
        imp.skip.formUnion([e, a, m1, last])
        return true
    }

    static func layerNorm(at i: Int, _ imp: inout ONNXImporter) throws(FrontendError) -> Bool {
        let nodes = imp.model.nodes
        let mean = nodes[i]
        let x = mean.inputs[0]
        guard imp.constant(x) == nil, let axes = reduceAxes(imp, mean),
            let rank = Optional(imp.shape(try imp.ref(x)).count), rank >= 1,
            axes == [rank - 1] || axes == [-1],
            let sub = imp.consumers[mean.outputs[0]]?.first(where: {
                nodes[$0].opType == "Sub" && nodes[$0].inputs == [x, mean.outputs[0]]
            })
        else { return false }
        let d = nodes[sub].outputs[0]
        guard let users = imp.consumers[d], users.count == 2,
            let pow = users.first(where: { nodes[$0].opType == "Pow" }),
            let div = users.first(where: { nodes[$0].opType == "Div" }),
            let (two, _) = scalarAndOther(imp, nodes[pow]), two == 2,
            let var_ = only(imp, nodes[pow].outputs[0], "ReduceMean"), reduceAxes(imp, nodes[var_]) == axes,
            let addEps = only(imp, nodes[var_].outputs[0], "Add"), let (eps, _) = scalarAndOther(imp, nodes[addEps]),
            let sqrt = only(imp, nodes[addEps].outputs[0], "Sqrt"), nodes[div].inputs == [d, nodes[sqrt].outputs[0]],
            let mul = only(imp, nodes[div].outputs[0], "Mul"), let add = only(imp, nodes[mul].outputs[0], "Add"),
            let gamma = nodes[mul].inputs.first(where: { $0 != nodes[div].outputs[0] }), let g = imp.constant(gamma),
            let beta = nodes[add].inputs.first(where: { $0 != nodes[mul].outputs[0] }), let b = imp.constant(beta)
        else { return false }
        let dim = imp.shape(try imp.ref(x))[rank - 1]
        guard g.elementCount == dim, b.elementCount == dim else { return false }
        let xv = imp.value(try imp.ref(x), name: x)
        let gv = imp.value(.constant(g.toFloat32().reshaped(Shape([dim]))), name: gamma)
        let bv = imp.value(.constant(b.toFloat32().reshaped(Shape([dim]))), name: beta)
        let out = nodes[add].outputs[0]
        let y = try imp.emit(.layerNorm(axis: -1, epsilon: Float(eps)), [xv, gv, bv], output: out, node: nodes[add])
        imp.env[out] = .value(y)
        imp.skip.formUnion([sub, pow, div, var_, addEps, sqrt, mul, add])
        return true
    }

    static func reduceAxes(_ imp: ONNXImporter, _ n: ONNXModel.Node) -> [Int]? {
        if let a = n.ints("axes") { return a }
        if n.inputs.count > 1, let t = imp.optionalConstant(n, 1) { return t.int64ArrayExact().map { Int($0) } }
        return nil
    }
}
