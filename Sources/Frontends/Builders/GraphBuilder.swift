import GraphIR

/// Builds a graph from a state dict: fetches weights by key with shape checks, adds nodes
/// (mapping IR errors to frontend errors), and remembers which keys it used.
struct GraphBuilder {
    var graph: Graph
    let sd: StateDict
    private let index: [String: Int]
    private(set) var used = Set<String>()

    init(name: String, stateDict: StateDict) {
        graph = Graph(name: name)
        sd = stateDict
        var idx: [String: Int] = [:]
        for (i, t) in stateDict.tensors.enumerated() where idx[t.key] == nil { idx[t.key] = i }
        index = idx
    }

    func has(_ key: String) -> Bool { index[key] != nil }

    func tensor(_ key: String) -> Tensor? { index[key].map { sd.tensors[$0].tensor } }

    /// The shape of a tensor that must exist.
    func shape(_ key: String) throws(FrontendError) -> [Int] {
        guard let t = tensor(key) else { throw missing(key, nil) }
        return t.shape.dims
    }

    private func missing(_ key: String, _ expected: [Int?]?) -> FrontendError {
        let exp =
            expected.map { " (expected shape [" + $0.map { $0.map(String.init) ?? "?" }.joined(separator: ",") + "])" }
            ?? ""
        let what = sd.nonTensors[key].map { "'\(key)' holds \($0), not a tensor" } ?? "missing tensor '\(key)'\(exp)"
        return FrontendError(.missingKey, file: sd.file, at: sd.strippedPrefix + key, what)
    }

    /// Adds the float32 weight `key` as a constant; `shape` entries that are nil are free.
    mutating func weight(_ key: String, shape expected: [Int?]) throws(FrontendError) -> ValueID {
        guard let t = tensor(key) else { throw missing(key, expected) }
        let dims = t.shape.dims
        let ok = dims.count == expected.count && zip(dims, expected).allSatisfy { $1 == nil || $0 == $1 }
        guard ok else {
            let want =
                "["
                + zip(expected.indices, expected).map { i, e in
                    e.map(String.init) ?? (i < dims.count ? String(dims[i]) : "?")
                }.joined(separator: ",") + "]"
            throw FrontendError(
                .shapeMismatch, file: sd.file, at: sd.strippedPrefix + key,
                "tensor '\(key)' has shape \(Shape(dims)) but the model needs \(want)")
        }
        guard t.dtype.isFloatingPoint else {
            throw FrontendError(
                .malformedTensor, file: sd.file, at: sd.strippedPrefix + key,
                "tensor '\(key)' is \(t.dtype.rawValue), expected a floating-point type")
        }
        used.insert(key)
        return graph.addConstant(name: key, t.toFloat32())
    }

    mutating func constant(_ name: String, _ t: Tensor) -> ValueID { graph.addConstant(name: name, t) }

    mutating func node(_ name: String, _ op: Op, _ inputs: [ValueID]) throws(FrontendError) -> ValueID {
        do {
            return try graph.addNode(name: name, op: op, inputs: inputs)
        } catch {
            throw FrontendError(.shapeMismatch, file: sd.file, at: name, error.message)
        }
    }

    func dims(_ v: ValueID) -> [Int] { graph.values[v].shape.dims }

    // MARK: Common layers

    /// `Conv2d` at `prefix` (weights `prefix.weight`, optional `prefix.bias`), padding (k-1)/2 unless given.
    mutating func conv(
        _ prefix: String, _ x: ValueID, stride: Int = 1, pad: Int? = nil, groups: Int? = nil, bias: Bool? = nil
    )
        throws(FrontendError) -> ValueID
    {
        let cin = dims(x)[1]
        let ws = try shape(prefix + ".weight")
        guard ws.count == 4, ws[1] > 0, cin % ws[1] == 0 else {
            throw FrontendError(
                .shapeMismatch, file: sd.file, at: sd.strippedPrefix + prefix + ".weight",
                "tensor '\(prefix).weight' has shape \(Shape(ws)) but the layer reads \(cin) channels")
        }
        let g = groups ?? cin / ws[1]
        let w = try weight(prefix + ".weight", shape: [nil, cin / g, nil, nil])
        var inputs = [x, w]
        if bias ?? has(prefix + ".bias") { inputs.append(try weight(prefix + ".bias", shape: [ws[0]])) }
        let p = pad ?? (ws[2] - 1) / 2
        let pw = pad ?? (ws[3] - 1) / 2
        return try node(
            prefix, .conv2d(Conv2dAttrs(stride: [stride, stride], pad: [p, pw, p, pw], groups: g)), inputs)
    }

    /// `BatchNorm2d` at `prefix` (weight, bias, running_mean, running_var).
    mutating func batchNorm(_ prefix: String, _ x: ValueID, epsilon: Float = 1e-5) throws(FrontendError) -> ValueID {
        let c = dims(x)[1]
        var ins = [x]
        for k in ["weight", "bias", "running_mean", "running_var"] {
            ins.append(try weight("\(prefix).\(k)", shape: [c]))
        }
        used.insert(prefix + ".num_batches_tracked")
        return try node(prefix, .batchNorm(epsilon: epsilon), ins)
    }

    /// `Linear` at `prefix`: weight `[out, in]`, optional bias.
    mutating func linear(_ prefix: String, _ x: ValueID, outFeatures: Int? = nil) throws(FrontendError) -> ValueID {
        let k = dims(x).last ?? 0
        let w = try weight(prefix + ".weight", shape: [outFeatures, k])
        let n = graph.values[w].shape[0]
        var ins = [x, w]
        if has(prefix + ".bias") { ins.append(try weight(prefix + ".bias", shape: [n])) }
        return try node(prefix, .gemm(), ins)
    }

    /// `LayerNorm` over the last dimension.
    mutating func layerNorm(_ prefix: String, _ x: ValueID, epsilon: Float) throws(FrontendError) -> ValueID {
        let d = dims(x).last ?? 0
        let w = try weight(prefix + ".weight", shape: [d])
        let b = try weight(prefix + ".bias", shape: [d])
        return try node(prefix, .layerNorm(axis: -1, epsilon: epsilon), [x, w, b])
    }

    /// Keys of the state dict the graph does not use (ignoring BN counters).
    var unusedKeys: [String] {
        sd.keys.filter { !used.contains($0) && !$0.hasSuffix("num_batches_tracked") }
    }
}
