import GraphIR

/// `--emit onnx-qdq`: the optimised float graph (batch norms folded, activations fused as fkdc
/// runs it) as an ONNX model (opset 13) with fkdc's quantization as QuantizeLinear /
/// DequantizeLinear pairs: each activation fkdc runs in int8 quantized and dequantized with its
/// scale and zero point (per tensor, int8), each int8 layer's weights stored int8 and
/// dequantized per output channel (axis 0); biases and what fkdc keeps in float32 stay float.
/// onnxruntime and TensorRT's ONNX parser read QDQ models as int8 models. The protobuf is
/// written here field by field (the ModelProto subset it needs).
enum QDQExport {
    static let opset: Int64 = 13

    /// Protobuf wire format: varints, fixed32 floats, length-delimited fields.
    struct Proto {
        var bytes: [UInt8] = []

        mutating func varint(_ v: UInt64) {
            var v = v
            while v >= 0x80 {
                bytes.append(UInt8(v & 0x7f) | 0x80)
                v >>= 7
            }
            bytes.append(UInt8(v))
        }
        mutating func key(_ field: Int, _ wire: Int) { varint(UInt64(field << 3 | wire)) }
        mutating func int(_ field: Int, _ v: Int64) {
            key(field, 0)
            varint(UInt64(bitPattern: v))
        }
        mutating func float(_ field: Int, _ v: Float) {
            key(field, 5)
            withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes += $0 }
        }
        mutating func data(_ field: Int, _ b: [UInt8]) {
            key(field, 2)
            varint(UInt64(b.count))
            bytes += b
        }
        mutating func string(_ field: Int, _ s: String) { data(field, Array(s.utf8)) }
        mutating func message(_ field: Int, _ m: Proto) { data(field, m.bytes) }
    }

    enum DataType: Int64 {
        case float = 1, uint8 = 2, int8 = 3, int64 = 7
    }

    static func tensor(_ name: String, _ type: DataType, dims: [Int], raw: [UInt8]) -> Proto {
        var t = Proto()
        for d in dims { t.int(1, Int64(d)) }
        t.int(2, type.rawValue)
        t.string(8, name)
        t.data(9, raw)
        return t
    }

    static func floats(_ v: [Float]) -> [UInt8] {
        v.flatMap { f in withUnsafeBytes(of: f.bitPattern.littleEndian) { Array($0) } }
    }
    static func int64s(_ v: [Int]) -> [UInt8] {
        v.flatMap { i in withUnsafeBytes(of: Int64(i).littleEndian) { Array($0) } }
    }

    enum Attribute {
        case int(Int)
        case ints([Int])
        case float(Float)
    }

    static func attribute(_ name: String, _ a: Attribute) -> Proto {
        var p = Proto()
        p.string(1, name)
        switch a {
        case .int(let i):
            p.int(3, Int64(i))
            p.int(20, 2)
        case .ints(let v):
            for i in v { p.int(8, Int64(i)) }
            p.int(20, 7)
        case .float(let f):
            p.float(2, f)
            p.int(20, 1)
        }
        return p
    }

    static func valueInfo(_ name: String, dims: [Int]) -> Proto {
        var shape = Proto()
        for d in dims {
            var dim = Proto()
            dim.int(1, Int64(d))
            shape.message(1, dim)
        }
        var tt = Proto()
        tt.int(1, DataType.float.rawValue)
        tt.message(2, shape)
        var type = Proto()
        type.message(1, tt)
        var v = Proto()
        v.string(1, name)
        v.message(2, type)
        return v
    }

    /// The graph being written: nodes, initializers, fresh names.
    struct Writer {
        var nodes: [Proto] = []
        var initializers: [Proto] = []
        var taken: Set<String> = []
        var counter = 0

        mutating func fresh(_ base: String) -> String {
            var n = base
            while taken.contains(n) {
                counter += 1
                n = "\(base)_\(counter)"
            }
            taken.insert(n)
            return n
        }

        mutating func node(_ op: String, _ inputs: [String], _ outputs: [String], _ attrs: [(String, Attribute)] = []) {
            var p = Proto()
            for i in inputs { p.string(1, i) }
            for o in outputs { p.string(2, o) }
            p.string(3, fresh(outputs.first.map { "\(op)_\($0)" } ?? op))
            p.string(4, op)
            for (n, a) in attrs { p.message(5, QDQExport.attribute(n, a)) }
            nodes.append(p)
        }

        mutating func initializer(_ base: String, _ type: DataType, dims: [Int], raw: [UInt8]) -> String {
            let name = fresh(base)
            initializers.append(QDQExport.tensor(name, type, dims: dims, raw: raw))
            return name
        }

        /// x → QuantizeLinear → DequantizeLinear with one int8 scale and zero point; the
        /// dequantized name.
        mutating func qdq(_ x: String, _ q: QuantParams) -> String {
            let s = initializer(x + "_scale", .float, dims: [], raw: QDQExport.floats([q.scales[0]]))
            let z = initializer(x + "_zero_point", .int8, dims: [], raw: [UInt8(bitPattern: Int8(q.zeroPoints[0]))])
            let (qn, dq) = (fresh(x + "_quantized"), fresh(x + "_dequantized"))
            node("QuantizeLinear", [x, s, z], [qn])
            node("DequantizeLinear", [qn, s, z], [dq])
            return dq
        }
    }

    /// The model's bytes: `float` the optimised float graph, `int8` its quantized form (values
    /// and int8 nodes keep the float graph's names).
    static func model(float g: Graph, int8 q: Graph) throws(DriverError) -> [UInt8] {
        var quantOf: [String: QuantParams] = [:]
        for v in q.values where v.dtype == .int8 {
            if let p = v.quant, !p.scales.isEmpty, !p.zeroPoints.isEmpty { quantOf[v.name] = p }
        }
        var int8Node: [String: Node] = [:]
        for n in q.nodes { int8Node[n.name] = n }
        var w = Writer()
        for v in g.values { w.taken.insert(v.name) }
        var read: [ValueID: String] = [:]
        func fail(_ n: Node, _ m: String) -> DriverError {
            DriverError(.badInput, "--emit onnx-qdq: node '\(n.name)' (\(n.op.name)): \(m)")
        }
        // a value as its readers see it: dequantized where fkdc quantizes it
        func define(_ v: ValueID, quantAs: String? = nil) {
            let name = g.values[v].name
            if let p = quantOf[quantAs ?? name] { read[v] = w.qdq(name, p) } else { read[v] = name }
        }
        for id in g.inputs { define(id, quantAs: g.values[id].name + ".q") }
        for n in g.nodes {
            var ins: [String] = []
            let i8 = int8Node[n.name]
            for (k, id) in n.inputs.enumerated() {
                if let t = g.constants[id] {
                    // an int8 layer's weights: int8, dequantized per output channel
                    if k == 1, let i8, i8.inputs.count > 1, let wt = q.constants[i8.inputs[1]], wt.dtype == .int8,
                        let wq = q.values[i8.inputs[1]].quant
                    {
                        let o = wt.shape[0]
                        let raw = wt.int64ArrayExact().map { UInt8(bitPattern: Int8(truncatingIfNeeded: $0)) }
                        let wn = w.initializer(g.values[id].name + "_int8", .int8, dims: wt.shape.dims, raw: raw)
                        let s = w.initializer(wn + "_scale", .float, dims: [o], raw: floats(wq.channelScales(o)))
                        let z = w.initializer(
                            wn + "_zero_point", .int8, dims: [o], raw: [UInt8](repeating: 0, count: o))
                        let dq = w.fresh(g.values[id].name + "_dequantized")
                        w.node("DequantizeLinear", [wn, s, z], [dq], [("axis", .int(0))])
                        ins.append(dq)
                    } else if k == 2, let i8, i8.inputs.count > 2, let b = q.constants[i8.inputs[2]], b.dtype == .int32,
                        let bq = q.values[i8.inputs[2]].quant
                    {
                        // an int8 layer's bias as fkdc runs it: int32 × s_in·s_w[o] (after bias correction)
                        let scales = bq.channelScales(b.elementCount)
                        let real = zip(b.int64ArrayExact(), scales).map { Float(Double($0) * Double($1)) }
                        ins.append(w.initializer(g.values[id].name, .float, dims: b.shape.dims, raw: floats(real)))
                    } else {
                        guard t.dtype == .float32 else { throw fail(n, "a \(t.dtype.rawValue) constant") }
                        ins.append(
                            w.initializer(g.values[id].name, .float, dims: t.shape.dims, raw: floats(t.floatArray())))
                    }
                } else {
                    guard let r = read[id] else { throw fail(n, "reads a value not defined before it") }
                    ins.append(r)
                }
            }
            let out = g.values[n.outputs[0]].name
            try emit(n, ins, out, &w, fail: { m in fail(n, m) })
            define(n.outputs[0])
        }
        var outputs: [(String, [Int])] = []
        for id in g.outputs {
            guard let r = read[id] else { throw DriverError(.badInput, "--emit onnx-qdq: the output is not computed") }
            outputs.append((r, g.values[id].shape.dims))
        }
        return assemble(
            w, name: g.name.isEmpty ? "fkdc" : g.name,
            inputs: g.inputs.map { (g.values[$0].name, g.values[$0].shape.dims) }, outputs: outputs)
    }

    /// A ModelProto (IR version 7, opset 13) around the writer's nodes and initializers.
    static func assemble(_ w: Writer, name: String, inputs: [(String, [Int])], outputs: [(String, [Int])]) -> [UInt8] {
        var graph = Proto()
        for n in w.nodes { graph.message(1, n) }
        graph.string(2, name)
        for i in w.initializers { graph.message(5, i) }
        for (n, d) in inputs { graph.message(11, valueInfo(n, dims: d)) }
        for (n, d) in outputs { graph.message(12, valueInfo(n, dims: d)) }
        var opsetID = Proto()
        opsetID.string(1, "")
        opsetID.int(2, Self.opset)
        var m = Proto()
        m.int(1, 7)  // IR version 7: opset 13's
        m.string(2, "fkdc")
        m.string(3, FkdcVersion.string)
        m.message(7, graph)
        m.message(8, opsetID)
        return m.bytes
    }

    /// The ONNX nodes of one fkdc op, writing `out`.
    static func emit(
        _ n: Node, _ ins: [String], _ out: String, _ w: inout Writer, fail: (String) -> DriverError
    ) throws(DriverError) {
        // a fused activation: the op writes a fresh name, the activation `out`
        func activated(_ act: FusedActivation, _ body: (String) throws(DriverError) -> Void) throws(DriverError) {
            switch act {
            case .none: try body(out)
            case .relu:
                let pre = w.fresh(out + "_preactivation")
                try body(pre)
                w.node("Relu", [pre], [out])
            case .clip(let lo, let hi):
                let pre = w.fresh(out + "_preactivation")
                try body(pre)
                clip(pre, lo, hi, out, &w)
            case .hardSwish:
                let pre = w.fresh(out + "_preactivation")
                try body(pre)
                hardSwish(pre, out, &w)
            }
        }
        switch n.op {
        case .conv2d(let a):
            try activated(a.activation) { (y) throws(DriverError) in
                w.node(
                    "Conv", ins, [y],
                    [
                        ("strides", .ints(a.stride)), ("pads", .ints(a.pad)), ("dilations", .ints(a.dilation)),
                        ("group", .int(a.groups)),
                    ])
            }
        case .fullyConnected(let act):
            try activated(act) { (y) throws(DriverError) in
                let flat = w.fresh(out + "_flat")
                w.node("Flatten", [ins[0]], [flat], [("axis", .int(1))])
                w.node("Gemm", [flat] + ins.dropFirst(), [y], [("transB", .int(1))])
            }
        case .gemm(let act):
            try activated(act) { (y) throws(DriverError) in
                // x · Wᵀ (+ b) over the last axis: Gemm for rows, MatMul with Wᵀ otherwise
                let wt = w.fresh(out + "_weight_t")
                w.node("Transpose", [ins[1]], [wt], [("perm", .ints([1, 0]))])
                if ins.count > 2 {
                    let mm = w.fresh(out + "_matmul")
                    w.node("MatMul", [ins[0], wt], [mm])
                    w.node("Add", [mm, ins[2]], [y])
                } else {
                    w.node("MatMul", [ins[0], wt], [y])
                }
            }
        case .matMul: w.node("MatMul", ins, [out])
        case .add(let act): try activated(act) { (y) throws(DriverError) in w.node("Add", ins, [y]) }
        case .mul: w.node("Mul", ins, [out])
        case .relu: w.node("Relu", ins, [out])
        case .clip(let lo, let hi): clip(ins[0], lo, hi, out, &w)
        case .hardSwish: hardSwish(ins[0], out, &w)
        case .hardSigmoid:
            w.node("HardSigmoid", ins, [out], [("alpha", .float(1.0 / 6)), ("beta", .float(0.5))])
        case .sigmoid: w.node("Sigmoid", ins, [out])
        case .silu:
            let s = w.fresh(out + "_sigmoid")
            w.node("Sigmoid", ins, [s])
            w.node("Mul", [ins[0], s], [out])
        case .gelu:
            // x·(1 + erf(x/√2))·0.5, in the order PyTorch's exporter writes it (Div, Erf, Add, Mul, Mul)
            let c = w.initializer(out + "_sqrt2", .float, dims: [], raw: floats([1.41421356237309505]))
            let one = w.initializer(out + "_one", .float, dims: [], raw: floats([1]))
            let half = w.initializer(out + "_half", .float, dims: [], raw: floats([0.5]))
            let (a, e, p, h) = (w.fresh(out + "_a"), w.fresh(out + "_erf"), w.fresh(out + "_p"), w.fresh(out + "_h"))
            w.node("Div", [ins[0], c], [a])
            w.node("Erf", [a], [e])
            w.node("Add", [e, one], [p])
            w.node("Mul", [ins[0], p], [h])
            w.node("Mul", [h, half], [out])
        case .softmax(let axis): w.node("Softmax", ins, [out], [("axis", .int(axis))])
        case .globalAvgPool: w.node("GlobalAveragePool", ins, [out])
        case .avgPool(let p):
            w.node(
                "AveragePool", ins, [out],
                [
                    ("kernel_shape", .ints(p.kernel)), ("strides", .ints(p.stride)), ("pads", .ints(p.pad)),
                    ("ceil_mode", .int(p.ceilMode ? 1 : 0)), ("count_include_pad", .int(p.countIncludePad ? 1 : 0)),
                ])
        case .maxPool(let p):
            w.node(
                "MaxPool", ins, [out],
                [
                    ("kernel_shape", .ints(p.kernel)), ("strides", .ints(p.stride)), ("pads", .ints(p.pad)),
                    ("ceil_mode", .int(p.ceilMode ? 1 : 0)),
                ])
        case .reshape(let shape):
            let s = w.initializer(out + "_shape", .int64, dims: [shape.count], raw: int64s(shape))
            w.node("Reshape", [ins[0], s], [out])
        case .flatten(let axis): w.node("Flatten", ins, [out], [("axis", .int(axis))])
        case .transpose(let perm): w.node("Transpose", ins, [out], [("perm", .ints(perm))])
        case .concat(let axis): w.node("Concat", ins, [out], [("axis", .int(axis))])
        case .slice(let axis, let start, let end, let step):
            let args = [("starts", start), ("ends", end), ("axes", axis), ("steps", step)].map {
                w.initializer(out + "_" + $0.0, .int64, dims: [1], raw: int64s([$0.1]))
            }
            w.node("Slice", [ins[0]] + args, [out])
        case .identity, .dropout: w.node("Identity", [ins[0]], [out])
        default:
            throw fail("has no opset-13 form in the QDQ export")
        }
    }

    static func clip(_ x: String, _ lo: Float, _ hi: Float, _ out: String, _ w: inout Writer) {
        let a = w.initializer(
            out + "_min", .float, dims: [], raw: floats([lo.isFinite ? lo : -.greatestFiniteMagnitude]))
        let b = w.initializer(
            out + "_max", .float, dims: [], raw: floats([hi.isFinite ? hi : .greatestFiniteMagnitude]))
        w.node("Clip", [x, a, b], [out])
    }

    /// x · hard_sigmoid(x) (HardSwish itself is opset 14).
    static func hardSwish(_ x: String, _ out: String, _ w: inout Writer) {
        let s = w.fresh(out + "_gate")
        w.node("HardSigmoid", [x], [s], [("alpha", .float(1.0 / 6)), ("beta", .float(0.5))])
        w.node("Mul", [x, s], [out])
    }
}
