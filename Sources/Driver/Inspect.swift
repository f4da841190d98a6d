import GraphIR

/// One row of the layer table.
public struct LayerInfo: Sendable, Equatable {
    public var name: String
    public var op: String
    public var outputShape: [Int]
    public var parameters: Int
    public var macs: Int
}

/// What `fkdc inspect` reports about a model.
public struct InspectReport: Sendable {
    public var model: LoadedModel
    public var layers: [LayerInfo]
    public var parameters: Int
    public var macs: Int
    public var weightBytes: Int

    public init(_ m: LoadedModel) {
        model = m
        let g = m.graph
        var seen = Set<ValueID>()
        layers = g.nodes.map { n in
            var p = 0
            for i in n.inputs.indices where g.isParameter(input: i, of: n) {
                let id = n.inputs[i]
                if seen.insert(id).inserted { p += g.values[id].shape.elementCount }
            }
            return LayerInfo(
                name: n.name, op: n.op.name, outputShape: g.values[n.outputs[0]].shape.dims, parameters: p,
                macs: g.macs(of: n))
        }
        parameters = g.parameterCount
        macs = layers.reduce(0) { $0 + $1.macs }
        weightBytes = g.constantBytes
    }

    /// The terminal form: a header, the layer table, totals.
    public func text() -> String {
        let g = model.graph
        var out = "file:         \(model.path)\n"
        out += "format:       \(model.format)" + (model.location.isEmpty ? "" : " (\(model.location))") + "\n"
        out += "architecture: \(model.architecture)\n"
        for id in g.inputs {
            out += "input:        %\(g.values[id].name) \(g.values[id].dtype.rawValue)\(g.values[id].shape)\n"
        }
        for id in g.outputs {
            out += "output:       %\(g.values[id].name) \(g.values[id].dtype.rawValue)\(g.values[id].shape)\n"
        }
        // a .fkdc's metadata: compiler, target, calibration, preprocessing, …
        for (k, v) in model.metadata.sorted(by: { $0.key < $1.key }) { out += "meta \(k): \(v)\n" }
        out += "\n"
        let nameW = max(5, layers.map(\.name.count).max() ?? 0)
        let opW = max(2, layers.map(\.op.count).max() ?? 0)
        let shapeW = max(12, layers.map { Shape($0.outputShape).description.count }.max() ?? 0)
        func row(_ a: String, _ b: String, _ c: String, _ d: String, _ e: String) -> String {
            a.padding(nameW) + "  " + b.padding(opW) + "  " + c.padding(shapeW) + "  " + d.leftPadding(12) + "  "
                + e.leftPadding(15) + "\n"
        }
        out += row("layer", "op", "output shape", "parameters", "MACs")
        for l in layers {
            out += row(
                l.name, l.op, Shape(l.outputShape).description, l.parameters == 0 ? "" : grouped(l.parameters),
                l.macs == 0 ? "" : grouped(l.macs))
        }
        out += "\n"
        out += "parameters:   \(grouped(parameters))\n"
        out += "MACs:         \(grouped(macs))\n"
        out += "weights:      \(grouped(weightBytes)) bytes as stored in the graph (\(g.constants.count) tensors)\n"
        out += "nodes:        \(g.nodes.count)\n"
        if !model.unusedKeys.isEmpty {
            out +=
                "unused:       \(model.unusedKeys.count) tensors in the file are not used by the model: \(model.unusedKeys.prefix(5).joined(separator: ", "))\(model.unusedKeys.count > 5 ? ", …" : "")\n"
        }
        return out
    }

    public func json() -> JSON {
        let g = model.graph
        func value(_ id: ValueID) -> JSON {
            .object([
                ("name", .string(g.values[id].name)), ("dtype", .string(g.values[id].dtype.rawValue)),
                ("shape", .array(g.values[id].shape.dims.map { .int($0) })),
            ])
        }
        return .object([
            ("file", .string(model.path)),
            ("format", .string(model.format)),
            ("location", .string(model.location)),
            ("architecture", .string(model.architecture)),
            ("inputs", .array(g.inputs.map(value))),
            ("outputs", .array(g.outputs.map(value))),
            (
                "layers",
                .array(
                    layers.map { l in
                        .object([
                            ("name", .string(l.name)), ("op", .string(l.op)),
                            ("output_shape", .array(l.outputShape.map { .int($0) })),
                            ("parameters", .int(l.parameters)), ("macs", .int(l.macs)),
                        ])
                    })
            ),
            ("parameters", .int(parameters)),
            ("macs", .int(macs)),
            ("weight_bytes", .int(weightBytes)),
            ("nodes", .int(g.nodes.count)),
            ("unused_keys", .array(model.unusedKeys.map { .string($0) })),
        ])
    }
}

/// 1234567 → "1,234,567".
func grouped(_ n: Int) -> String {
    let s = String(n.magnitude)
    var out = ""
    for (i, c) in s.enumerated() {
        if i > 0 && (s.count - i) % 3 == 0 { out += "," }
        out.append(c)
    }
    return (n < 0 ? "-" : "") + out
}

extension String {
    func padding(_ w: Int) -> String { count >= w ? self : self + String(repeating: " ", count: w - count) }
    func leftPadding(_ w: Int) -> String { count >= w ? self : String(repeating: " ", count: w - count) + self }
}
