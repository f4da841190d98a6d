/// The fake-quant mode: the int8 graph computed in float32 for fast error analysis. Every
/// int8 constant is dequantized once (weights w·s[c], biases b·s_in·s_w[c]); every int8 op
/// runs its float32 kernel on the dequantized values and rounds its output to the int8 grid
/// (quantize, clamp to [−128, 127], dequantize); float32 ops run as they are.
///
/// It differs from the exact evaluator only in how the accumulator is rescaled (float product
/// versus the integer multiplier and shifts), so by at most one int8 step per value; it runs
/// at float32 speed (OpenBLAS) and gives each layer's output as float, which makes it the
/// tool for per-layer error analysis.
public struct FakeQuantEvaluator {
    public let graph: Graph
    private let float: Evaluator
    private let constants: [ValueID: FloatBuffer]
    private let lastUse: [Int]

    public init(graph: Graph) {
        self.graph = graph
        float = Evaluator(graph: graph)
        var c: [ValueID: FloatBuffer] = [:]
        for (id, t) in graph.constants { c[id] = Self.dequantized(t, graph.values[id].quant) }
        constants = c
        lastUse = graph.lastUses()
    }

    /// A constant as the fake-quant mode reads it: int8 and int32 codes with parameters
    /// dequantized (weights w·s[c], biases b·s_in·s_w[c]), anything else as float32.
    static func dequantized(_ t: Tensor, _ q: QuantParams?) -> FloatBuffer {
        guard let q, t.dtype == .int8 || t.dtype == .int32 else { return FloatBuffer(t) }
        let ints = t.int64ArrayExact()
        let per = ints.count / max(q.scales.count, 1)
        let f = ints.indices.map { i in
            let ch = q.scales.count == 1 ? 0 : i / per
            return Float(ints[i] - Int64(q.zeroPoints[ch])) * q.scales[ch]
        }
        return FloatBuffer(Tensor(shape: t.shape, floats: f))
    }

    /// Rounds every element to the int8 grid of `q` (per tensor).
    static func roundToGrid(_ b: FloatBuffer, _ q: QuantParams) {
        let (s, z) = (q.scales[0], q.zeroPoints[0])
        for i in 0..<b.count {
            b.ptr[i] = QuantMath.dequantize(
                QuantMath.quantize(b.ptr[i], scale: s, zeroPoint: z), scale: s, zeroPoint: z)
        }
    }

    /// Runs the graph; `observe` sees every node's output as float32 (int8 values dequantized).
    public func run(_ inputs: [Tensor], observe: ((Node, UnsafeBufferPointer<Float>) -> Void)? = nil) throws(IRError)
        -> [Tensor]
    {
        guard inputs.count == graph.inputs.count else {
            throw IRError(.badInput, at: "", "the model takes \(graph.inputs.count) inputs, got \(inputs.count)")
        }
        var env = [FloatBuffer?](repeating: nil, count: graph.values.count)
        for (id, t) in zip(graph.inputs, inputs) {
            guard t.shape == graph.values[id].shape else {
                throw IRError(
                    .badInput, at: "%\(graph.values[id].name)",
                    "input must be f32\(graph.values[id].shape), got \(t.dtype.rawValue)\(t.shape)")
            }
            env[id] = FloatBuffer(t.toFloat32())
        }
        for (id, b) in constants { env[id] = b }
        for (i, node) in graph.nodes.enumerated() {
            var args: [FloatBuffer] = []
            for id in node.inputs {
                guard let b = env[id] else { throw IRError(.undefinedValue, at: node.name, "input not computed") }
                args.append(b)
            }
            let out = try Self.execute(node, args, output: graph.values[node.outputs[0]], float: float)
            env[node.outputs[0]] = out
            observe?(node, out.buffer)
            for id in node.inputs where lastUse[id] == i && graph.constants[id] == nil { env[id] = nil }
        }
        return graph.outputs.map { env[$0]!.tensor() }
    }

    /// One node in the fake-quant mode: `quantize` rounds to its output's grid, `dequantize`
    /// passes its (already dequantized) input on, every other node runs its float32 kernel and an
    /// int8 output is rounded to its grid.
    static func execute(_ node: Node, _ args: [FloatBuffer], output outV: Value, float: Evaluator) throws(IRError)
        -> FloatBuffer
    {
        let out: FloatBuffer
        switch node.op {
        case .quantize:
            guard let q = outV.quant else {
                throw IRError(.missingQuantParams, at: node.name, "quantize without output parameters")
            }
            out = FloatBuffer(shape: args[0].shape)
            out.ptr.update(from: args[0].ptr, count: out.count)
            Self.roundToGrid(out, q)
        case .dequantize:
            out = args[0]
        default:
            let o = try float.execute(node, args)
            if outV.dtype == .int8 {
                guard let q = outV.quant else {
                    throw IRError(.missingQuantParams, at: node.name, "int8 output without parameters")
                }
                // a view (reshape) must not round its input's storage: copy first
                if o.storage === args.first?.storage {
                    let c = FloatBuffer(shape: o.shape)
                    c.ptr.update(from: o.ptr, count: c.count)
                    Self.roundToGrid(c, q)
                    out = c
                } else {
                    Self.roundToGrid(o, q)
                    out = o
                }
            } else {
                out = o
            }
        }
        return out
    }
}
