/// Prints a graph in the `.fkir` text form: deterministic (values in definition order,
/// attributes in a fixed order), and read back by `IRParser`.
///
///     graph @student {
///       input %input : f32[1,3,224,224]
///       const %fc.weight : f32[4,1280] = dense<[0.1, …]>
///       %fc : f32[1,4] = gemm(%flatten, %fc.weight, %fc.bias) @"classifier.1"
///       output %fc
///     }
public struct IRPrinter {
    /// Constants with more elements than this print as `elided` (nil: print all data).
    public var elideConstantsOver: Int?
    /// Constants print as `external` and types without quantization parameters: the `.fkdc`
    /// binary's graph section, whose tensors and parameters live in binary sections.
    public var externalData: Bool

    public init(elideConstantsOver: Int? = nil, externalData: Bool = false) {
        self.elideConstantsOver = elideConstantsOver
        self.externalData = externalData
    }

    public func print(_ g: Graph) -> String {
        var out = "graph @\(quoteIfNeeded(g.name)) {\n"
        for id in g.inputs { out += "  input \(ref(g, id)) : \(type(g.values[id]))\n" }
        for id in g.constants.keys.sorted() {
            let t = g.constants[id]!
            out += "  const \(ref(g, id)) : \(type(g.values[id])) = \(data(t))\n"
        }
        for n in g.nodes {
            let outs = n.outputs.map { "\(ref(g, $0)) : \(type(g.values[$0]))" }.joined(separator: ", ")
            let ins = n.inputs.map { ref(g, $0) }.joined(separator: ", ")
            let attrs = Self.attributes(n.op)
            out += "  \(outs) = \(n.op.name)(\(ins))\(attrs.isEmpty ? "" : " {\(attrs)}") @\(quoted(n.name))\n"
        }
        out += "  output " + g.outputs.map { ref(g, $0) }.joined(separator: ", ") + "\n}\n"
        return out
    }

    func ref(_ g: Graph, _ id: ValueID) -> String { "%" + quoteIfNeeded(g.values[id].name) }

    func type(_ v: Value) -> String {
        var s = "\(v.dtype.rawValue)\(v.shape)"
        if let q = v.quant, !externalData {
            s += " quant<"
            if let a = q.axis { s += "axis=\(a), " }
            s += "scales=[\(q.scales.map { "\($0)" }.joined(separator: ", "))], "
            s += "zero_points=[\(q.zeroPoints.map { "\($0)" }.joined(separator: ", "))]>"
        }
        return s
    }

    func data(_ t: Tensor) -> String {
        if externalData { return "external" }
        if let limit = elideConstantsOver, t.elementCount > limit { return "elided" }
        switch t.dtype {
        case .float32:
            return "dense<[" + t.floatArray().map { "\($0)" }.joined(separator: ", ") + "]>"
        case .int64, .int32, .int16, .int8, .uint8, .bool:
            return "dense<[" + t.int64ArrayExact().map { "\($0)" }.joined(separator: ", ") + "]>"
        case .float16, .bfloat16, .float64:
            let hex = t.bytes.map { b -> String in
                let s = String(b, radix: 16)
                return s.count == 1 ? "0" + s : s
            }
            return "dense_hex<\"" + hex.joined() + "\">"
        }
    }

    static func attributes(_ op: Op) -> String {
        func list(_ a: [Int]) -> String { "[" + a.map(String.init).joined(separator: ",") + "]" }
        switch op {
        case .conv2d(let a):
            return "stride=\(list(a.stride)), pad=\(list(a.pad)), dilation=\(list(a.dilation)), groups=\(a.groups)"
                + activation(a.activation, leading: ", ")
        case .gemm(let a), .fullyConnected(let a), .add(let a): return activation(a, leading: "")
        case .batchNorm(let e): return "epsilon=\(e)"
        case .clip(let lo, let hi): return "min=\(lo), max=\(hi)"
        case .layerNorm(let a, let e): return "axis=\(a), epsilon=\(e)"
        case .softmax(let a), .flatten(let a), .concat(let a), .gather(let a): return "axis=\(a)"
        case .avgPool(let p), .maxPool(let p):
            return "kernel=\(list(p.kernel)), stride=\(list(p.stride)), pad=\(list(p.pad)), "
                + "ceil_mode=\(p.ceilMode), count_include_pad=\(p.countIncludePad)"
        case .reshape(let s), .expand(let s): return "shape=\(list(s))"
        case .transpose(let p): return "perm=\(list(p))"
        case .slice(let a, let s, let e, let st): return "axis=\(a), start=\(s), end=\(e), step=\(st)"
        case .dropout(let r): return "ratio=\(r)"
        case .matMul, .mul, .relu, .hardSwish, .hardSigmoid, .gelu, .sigmoid, .silu, .globalAvgPool,
            .identity, .quantize, .dequantize:
            return ""
        }
    }

    /// `activation=relu`, `activation=clip, clip_min=0.0, clip_max=6.0`, … (nothing for none).
    static func activation(_ a: FusedActivation, leading: String) -> String {
        switch a {
        case .none: ""
        case .relu: leading + "activation=relu"
        case .hardSwish: leading + "activation=hard_swish"
        case .clip(let lo, let hi): leading + "activation=clip, clip_min=\(lo), clip_max=\(hi)"
        }
    }

    static func isBareNameCharacter(_ c: Character) -> Bool {
        c.isASCII && (c.isLetter || c.isNumber || "_.-:/".contains(c))
    }

    func quoteIfNeeded(_ s: String) -> String {
        !s.isEmpty && s.allSatisfy(Self.isBareNameCharacter) ? s : quoted(s)
    }

    func quoted(_ s: String) -> String {
        var out = "\""
        for c in s.unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(c)
            }
        }
        return out + "\""
    }
}

extension Tensor {
    /// Integer elements exactly (integer and bool dtypes).
    public func int64ArrayExact() -> [Int64] {
        let p = storage.pointer
        return (0..<elementCount).map { i -> Int64 in
            switch dtype {
            case .int64: p.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self)
            case .int32: Int64(p.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self))
            case .int16: Int64(p.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self))
            case .int8: Int64(p.load(fromByteOffset: i, as: Int8.self))
            case .uint8, .bool: Int64(p.load(fromByteOffset: i, as: UInt8.self))
            default: 0
            }
        }
    }
}

extension Graph {
    /// The text form with every constant's data.
    public var text: String { IRPrinter().print(self) }

    /// The same graph with values renumbered in printing order (inputs, constants, node
    /// outputs) and unreferenced values dropped: what parsing the printed form yields.
    public func canonicalized() -> Graph {
        var order: [ValueID] = inputs + constants.keys.sorted()
        for n in nodes { order += n.outputs }
        var map = [ValueID: ValueID]()
        var g = Graph(name: name)
        for old in order where map[old] == nil {
            map[old] = g.addValue(values[old])
        }
        g.inputs = inputs.map { map[$0]! }
        for (old, t) in constants { g.constants[map[old]!] = t }
        g.nodes = nodes.map {
            Node(
                name: $0.name, op: $0.op, inputs: $0.inputs.map { map[$0] ?? $0 }, outputs: $0.outputs.map { map[$0]! })
        }
        g.outputs = outputs.map { map[$0] ?? $0 }
        return g
    }
}
