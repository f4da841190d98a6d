import GraphIR

/// A tensor name's meaning during import: a value of the graph being built, or a constant known
/// at import time (initializers, Constant nodes, and everything computed only from them —
/// including shapes, which are static once the batch size is fixed).
enum ONNXRef {
    case value(ValueID)
    case constant(Tensor)
}

/// Builds an IR graph from an ONNX model: nodes sorted topologically, each lowered by the
/// op table (`ONNXOps`), constants folded on the way, exporter patterns (decomposed layer norm,
/// erf GELU) recognised, dead nodes dropped.
struct ONNXImporter {
    var g: Graph
    let model: ONNXModel
    let file: String
    var env: [String: ONNXRef] = [:]
    /// Graph constants already made for a name, so a weight read twice is stored once.
    var materialized: [String: ValueID] = [:]
    var names = NameSet()
    /// Nodes already covered by a recognised pattern.
    var skip = Set<Int>()
    var consumers: [String: [Int]] = [:]
    var producer: [String: Int] = [:]
    var current = 0

    var opset: Int { model.opset }

    static func importModel(path: String, options: ModelOptions, limits: ParsingLimits) throws(FrontendError)
        -> BuiltModel
    {
        let model = try ONNXModel.read(path: path, limits: limits)
        var imp = ONNXImporter(g: Graph(name: model.graphName), model: model, file: path)
        try imp.run(batch: options.batch, shape: options.inputShape, dataShape: options.dataShape)
        var graph = imp.g
        graph.removeDeadCode()
        do { try graph.verify() } catch {
            throw FrontendError(.shapeMismatch, file: path, at: error.location, error.message)
        }
        let sd = StateDict(tensors: model.initializers.map { (key: $0.0, tensor: $0.1) }, file: path, format: "onnx")
        let ops = Set(model.nodes.map(\.opType)).count
        return BuiltModel(
            graph: graph,
            architecture:
                "onnx graph '\(model.graphName)' (opset \(model.opset), \(model.nodes.count) nodes of \(ops) op types)",
            prefix: "", unusedKeys: [], stateDict: sd)
    }

    func fail(_ kind: FrontendError.Kind = .layout, _ m: String, node: ONNXModel.Node? = nil) -> FrontendError {
        let n = node ?? (model.nodes.indices.contains(current) ? model.nodes[current] : nil)
        return FrontendError(kind, file: file, at: n.map { "node '\($0.name)' (\($0.opType))" } ?? "", m)
    }

    /// The most elements an op folded at import (Expand, Range, ConstantOfShape, Concat of
    /// constants) may produce: larger constants are refused before they are allocated.
    static let maxFoldedElements = 1 << 24

    /// `shape` (the user's `--input-shape`) fixes the open dimensions of the one image input;
    /// without it the batch dimension takes `batch` and the others what `dataShape` (the data's
    /// shape) says, if anything.
    mutating func run(batch: Int, shape: [Int]? = nil, dataShape: [Int]? = nil) throws(FrontendError) {
        for n in model.nodes {
            if let m = ONNXArity.problem(n) { throw fail(.layout, m, node: n) }
        }
        for (name, t) in model.initializers { env[name] = .constant(t) }
        current = -1  // a graph input's error names no node
        for v in model.inputs where env[v.name] == nil {
            guard let dtype = ONNXTensorReader.dtype(v.elemType), dtype.isFloatingPoint else {
                throw fail(
                    .unsupportedFormat,
                    "graph input '\(v.name)' has data type \(v.elemType); only float inputs are supported")
            }
            guard v.hasShape else { throw fail(.unsupportedFormat, "graph input '\(v.name)' has no shape") }
            var dims: [Int] = []
            let written = "[" + v.dims.map { $0.map(String.init) ?? "?" }.joined(separator: ",") + "]"
            if let shape {
                let given = shape.map(String.init).joined(separator: "x")
                guard model.inputs.filter({ env[$0.name] == nil }).count == 1 else {
                    throw fail(.shapeMismatch, "the input shape \(given) is for a model with one input")
                }
                guard shape.count == v.dims.count, shape.allSatisfy({ $0 >= 1 }) else {
                    throw fail(
                        .shapeMismatch,
                        "the input shape \(given) does not fit graph input '\(v.name)' \(written): \(v.dims.count) dimensions, each at least 1"
                    )
                }
                for (i, (d, s)) in zip(v.dims, shape).enumerated() where d != nil && d != s {
                    throw fail(
                        .shapeMismatch,
                        "the input shape \(given) gives dimension \(i) of graph input '\(v.name)' \(written) as \(s), but the model fixes it at \(d ?? 0)"
                    )
                }
                dims = shape
            } else {
                let hint = dataShape?.count == v.dims.count ? dataShape : nil
                for (i, d) in v.dims.enumerated() {
                    if let d {
                        dims.append(d)
                    } else if i == 0 {
                        dims.append(batch)
                    } else if let h = hint?[i], h >= 1 {
                        dims.append(h)
                    } else {
                        throw fail(
                            .unsupportedFormat,
                            "dimension \(i) of graph input '\(v.name)' \(written) is dynamic: give the shape, e.g. --input-shape \(([batch] + v.dims.dropFirst().map { $0 ?? 224 }).map(String.init).joined(separator: "x"))"
                        )
                    }
                }
            }
            guard let span = Shape(dims).span, span <= Graph.maxElements else {
                throw fail(
                    .shapeMismatch,
                    "graph input '\(v.name)' has shape \(Shape(dims)): more than the \(Graph.maxElements) elements a value may have"
                )
            }
            let id = g.addInput(name: uniqueName(v.name), dtype: .float32, shape: Shape(dims))
            env[v.name] = .value(id)
        }
        let order = try topologicalOrder()
        for (i, n) in model.nodes.enumerated() {
            for o in n.outputs where !o.isEmpty { producer[o] = i }
            for x in n.inputs where !x.isEmpty { consumers[x, default: []].append(i) }
        }
        // Constant nodes first: they have no inputs, and patterns look at constants ahead of them
        for i in order where model.nodes[i].opType == "Constant" {
            current = i
            let n = model.nodes[i]
            for (name, r) in zip(n.outputs, try ONNXOps.constantNode(&self, n)) { env[name] = r }
            skip.insert(i)
        }
        for i in order where !skip.contains(i) {
            current = i
            let n = model.nodes[i]
            guard n.domain.isEmpty || n.domain == "ai.onnx" else {
                throw fail(.unsupportedFormat, "op domain '\(n.domain)' is not supported (opset \(opset))")
            }
            if n.attributes.values.contains(where: \.hasGraph) {
                throw fail(.unsupportedFormat, "\(n.opType) with subgraphs is not supported (opset \(opset))")
            }
            if try ONNXPatterns.match(at: i, in: &self) { continue }
            guard let lower = ONNXOps.table[n.opType] else {
                throw fail(.unsupportedFormat, "unsupported ONNX op '\(n.opType)' (node '\(n.name)', opset \(opset))")
            }
            let outs = try lower(&self, n)
            for (name, r) in zip(n.outputs, outs) where !name.isEmpty { env[name] = r }
        }
        for o in model.outputs {
            guard let r = env[o.name] else { throw fail(.layout, "graph output '\(o.name)' is never computed") }
            g.outputs.append(value(r, name: o.name))
        }
        guard !g.outputs.isEmpty else { throw fail(.layout, "the graph has no outputs") }
    }

    /// Kahn's algorithm over tensor names; reports undefined inputs and cycles.
    func topologicalOrder() throws(FrontendError) -> [Int] {
        var available = Set(env.keys)
        available.insert("")
        var produced: [String: Int] = [:]
        for (i, n) in model.nodes.enumerated() { for o in n.outputs where !o.isEmpty { produced[o] = i } }
        for (i, n) in model.nodes.enumerated() {
            for x in n.inputs where !available.contains(x) && produced[x] == nil {
                throw fail(
                    .layout, "input '\(x)' is not defined by any node, initializer or graph input", node: model.nodes[i]
                )
            }
        }
        var waiting = model.nodes.map { Set($0.inputs.filter { !available.contains($0) }) }
        var users: [String: [Int]] = [:]
        for (i, w) in waiting.enumerated() { for x in w { users[x, default: []].append(i) } }
        var ready = waiting.indices.filter { waiting[$0].isEmpty }
        var order: [Int] = []
        var head = 0
        while head < ready.count {
            let i = ready[head]
            head += 1
            order.append(i)
            for o in model.nodes[i].outputs where !o.isEmpty {
                for u in users[o] ?? [] where waiting[u].remove(o) != nil && waiting[u].isEmpty { ready.append(u) }
            }
        }
        guard order.count == model.nodes.count else {
            let stuck = model.nodes.indices.first { waiting[$0].isEmpty == false }!
            throw fail(
                .layout, "the graph has a cycle (through '\(waiting[stuck].sorted().first ?? "")')",
                node: model.nodes[stuck])
        }
        return order
    }

    // MARK: Helpers for the op table

    mutating func uniqueName(_ base: String) -> String { names.fresh(base) }

    func ref(_ name: String) throws(FrontendError) -> ONNXRef {
        guard let r = env[name] else { throw fail(.layout, "input '\(name)' is not defined") }
        return r
    }

    func constant(_ name: String) -> Tensor? {
        if case .constant(let t)? = env[name] { return t }
        return nil
    }

    /// The constant input `i`, or an error naming it.
    func requireConstant(_ n: ONNXModel.Node, _ i: Int, _ what: String) throws(FrontendError) -> Tensor {
        guard i < n.inputs.count, !n.inputs[i].isEmpty else {
            throw fail(.layout, "missing input \(i) (\(what))", node: n)
        }
        guard let t = constant(n.inputs[i]) else {
            throw fail(.unsupportedFormat, "input '\(n.inputs[i])' (\(what)) must be a constant", node: n)
        }
        return t
    }

    func optionalConstant(_ n: ONNXModel.Node, _ i: Int) -> Tensor? {
        i < n.inputs.count && !n.inputs[i].isEmpty ? constant(n.inputs[i]) : nil
    }

    /// The graph value for a reference, turning constants into graph constants (once per name).
    mutating func value(_ r: ONNXRef, name: String) -> ValueID {
        switch r {
        case .value(let v): return v
        case .constant(let t):
            if let id = materialized[name] { return id }
            let id = g.addConstant(name: uniqueName(name), t.dtype.isFloatingPoint ? t.toFloat32() : t)
            materialized[name] = id
            return id
        }
    }

    mutating func input(_ n: ONNXModel.Node, _ i: Int) throws(FrontendError) -> ValueID {
        guard i < n.inputs.count, !n.inputs[i].isEmpty else { throw fail(.layout, "missing input \(i)", node: n) }
        return value(try ref(n.inputs[i]), name: n.inputs[i])
    }

    func shape(_ r: ONNXRef) -> [Int] {
        switch r {
        case .value(let v): g.values[v].shape.dims
        case .constant(let t): t.shape.dims
        }
    }

    /// Appends an IR node; its output is named after the ONNX output (or `suffix`ed for helpers).
    mutating func emit(_ op: Op, _ inputs: [ValueID], output: String, node n: ONNXModel.Node) throws(FrontendError)
        -> ValueID
    {
        do {
            return try g.addNode(name: n.name, op: op, inputs: inputs, outputName: uniqueName(output))
        } catch {
            throw fail(.shapeMismatch, error.message, node: n)
        }
    }

    /// Evaluates an IR op on constant float inputs (for folding ops the IR has).
    func fold(_ op: Op, _ inputs: [Tensor], node n: ONNXModel.Node) throws(FrontendError) -> Tensor {
        var one = Graph(name: "fold")
        let ids = inputs.enumerated().map {
            one.addConstant(
                name: "c\($0.offset)", $0.element.dtype.isFloatingPoint ? $0.element.toFloat32() : $0.element)
        }
        do {
            let out = try one.addNode(name: "fold", op: op, inputs: ids)
            one.outputs = [out]
            return try Evaluator(graph: one).run([])[0]
        } catch { throw fail(.shapeMismatch, error.message, node: n) }
    }
}

/// Reads `.onnx` models into graphs.
public enum ONNXReader {
    /// Imports the model at `path`; `options.batch` fixes a dynamic batch dimension.
    public static func build(
        path: String, options: ModelOptions = ModelOptions(), limits: ParsingLimits = ParsingLimits()
    )
        throws(FrontendError) -> BuiltModel
    {
        guard options.batch >= 1, options.batch <= 4096 else {
            throw FrontendError(.layout, file: path, "batch size \(options.batch) out of range (1…4096)")
        }
        return try ONNXImporter.importModel(path: path, options: options, limits: limits)
    }
}
