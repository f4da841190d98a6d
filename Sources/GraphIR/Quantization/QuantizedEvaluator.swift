/// The exact int8 evaluator: the reference every generated kernel must match bit for bit.
///
/// Float values run through the float32 kernels (mixed precision); int8 values (with their
/// quantization parameters) through `Int8Kernels`, in integer arithmetic only. `quantize` and
/// `dequantize` cross between the two.
public struct QuantizedEvaluator {
    public let graph: Graph
    private let float: Evaluator
    private let lastUse: [Int]

    enum Buffer {
        case f32(FloatBuffer)
        case i8(Int8Buffer)
    }

    public init(graph: Graph) {
        self.graph = graph
        float = Evaluator(graph: graph)
        var last = [Int](repeating: -1, count: graph.values.count)
        for (i, n) in graph.nodes.enumerated() { for v in n.inputs { last[v] = i } }
        for v in graph.outputs { last[v] = Int.max }
        lastUse = last
    }

    /// Runs the graph; `observe` sees every node's output (int8 outputs as int8 tensors).
    public func run(_ inputs: [Tensor], observe: ((Node, Tensor) -> Void)? = nil) throws(IRError) -> [Tensor] {
        guard inputs.count == graph.inputs.count else {
            throw IRError(.badInput, at: "", "the model takes \(graph.inputs.count) inputs, got \(inputs.count)")
        }
        var env = [Buffer?](repeating: nil, count: graph.values.count)
        for (id, t) in zip(graph.inputs, inputs) {
            guard t.shape == graph.values[id].shape, t.dtype == .float32 else {
                throw IRError(
                    .badInput, at: "%\(graph.values[id].name)",
                    "input must be f32\(graph.values[id].shape), got \(t.dtype.rawValue)\(t.shape)")
            }
            env[id] = .f32(FloatBuffer(t))
        }
        // float constants, and integer ones float ops read (a gather's indices); int8 weights and int32
        // biases are read by the int8 kernels themselves
        for (id, t) in graph.constants where graph.values[id].quant == nil { env[id] = .f32(FloatBuffer(t)) }
        for (i, node) in graph.nodes.enumerated() {
            let out = try execute(node, env)
            env[node.outputs[0]] = out
            if let observe {
                switch out {
                case .f32(let b): observe(node, b.tensor())
                case .i8(let b): observe(node, b.tensor())
                }
            }
            for id in node.inputs where lastUse[id] == i && graph.constants[id] == nil { env[id] = nil }
        }
        return graph.outputs.map { id in
            switch env[id]! {
            case .f32(let b): b.tensor()
            case .i8(let b): b.tensor()
            }
        }
    }

    private func execute(_ node: Node, _ env: [Buffer?]) throws(IRError) -> Buffer {
        let outID = node.outputs[0]
        let outV = graph.values[outID]
        let outShape = outV.shape.dims
        func int8(_ i: Int) throws(IRError) -> (Int8Buffer, QuantParams) {
            guard case .i8(let b)? = env[node.inputs[i]], let q = graph.values[node.inputs[i]].quant else {
                throw IRError(.unsupported, at: node.name, "\(node.op.name) expects an int8 input \(i)")
            }
            return (b, q)
        }
        let inputsAreFloat = node.inputs.allSatisfy {
            graph.values[$0].dtype == .float32 || graph.constants[$0] != nil && graph.values[$0].dtype != .int8
        }
        if case .quantize = node.op {
            guard case .f32(let x)? = env[node.inputs[0]], let q = outV.quant else {
                throw IRError(.unsupported, at: node.name, "quantize needs f32 input and output parameters")
            }
            let out = Int8Buffer(shape: outShape)
            let (s, z) = (q.scales[0], q.zeroPoints[0])
            for i in 0..<out.count { out.ptr[i] = QuantMath.quantize(x.ptr[i], scale: s, zeroPoint: z) }
            return .i8(out)
        }
        if case .dequantize = node.op {
            let (x, q) = try int8(0)
            let out = FloatBuffer(shape: outShape)
            let (s, z) = (q.scales[0], q.zeroPoints[0])
            for i in 0..<out.count { out.ptr[i] = QuantMath.dequantize(x.ptr[i], scale: s, zeroPoint: z) }
            return .f32(out)
        }
        if outV.dtype == .float32 && inputsAreFloat {
            var args: [FloatBuffer] = []
            for id in node.inputs {
                guard case .f32(let b)? = env[id] else {
                    throw IRError(.undefinedValue, at: node.name, "input not computed")
                }
                args.append(b)
            }
            // products summed in generated C's order, so mixed-precision C gives these bits
            return .f32(try float.executeOrdered(node, args))
        }
        guard let outQ = outV.quant else {
            throw IRError(.missingQuantParams, at: node.name, "int8 output without parameters")
        }
        func clamp(_ act: FusedActivation?) throws(IRError) -> (Int32, Int32) {
            guard let r = QuantMath.clampRange(act ?? FusedActivation.none, outQ) else {
                throw IRError(.unsupported, at: node.name, "activation cannot be applied as an int8 clamp")
            }
            return r
        }
        func weights() throws(IRError) -> (Tensor, [Float], Tensor?) {
            guard let w = graph.constants[node.inputs[1]], w.dtype == .int8, let wq = graph.values[node.inputs[1]].quant
            else {
                throw IRError(.unsupported, at: node.name, "int8 \(node.op.name) needs int8 constant weights")
            }
            let bias = node.inputs.count > 2 ? graph.constants[node.inputs[2]] : nil
            if let bias, bias.dtype != .int32 {
                throw IRError(.unsupported, at: node.name, "int8 \(node.op.name) needs an int32 bias")
            }
            let scales = wq.scales.count == 1 ? [Float](repeating: wq.scales[0], count: w.shape[0]) : wq.scales
            return (w, scales, bias)
        }
        switch node.op {
        case .conv2d(let a):
            let (x, xq) = try int8(0)
            let (w, ws, b) = try weights()
            let (lo, hi) = try clamp(a.activation)
            return .i8(
                Int8Kernels.conv2d(
                    x, xq: xq, w: w, wScales: ws, bias: b, a, outShape: outShape, outQ: outQ, lo: lo, hi: hi))
        case .fullyConnected(let act), .gemm(let act):
            let (x, xq) = try int8(0)
            let (w, ws, b) = try weights()
            let (lo, hi) = try clamp(act)
            return .i8(
                Int8Kernels.linear(
                    x, xq: xq, w: w, wScales: ws, bias: b, outShape: outShape, outQ: outQ, lo: lo, hi: hi))
        case .add(let act):
            let (a, aq) = try int8(0)
            let (b, bq) = try int8(1)
            let (lo, hi) = try clamp(act)
            return .i8(Int8Kernels.add(a, aq: aq, b, bq: bq, outShape: outShape, outQ: outQ, lo: lo, hi: hi))
        case .globalAvgPool:
            let (x, xq) = try int8(0)
            return .i8(Int8Kernels.averagePool(x, xq: xq, nil, outShape: outShape, outQ: outQ))
        case .avgPool(let p):
            let (x, xq) = try int8(0)
            return .i8(Int8Kernels.averagePool(x, xq: xq, p, outShape: outShape, outQ: outQ))
        case .maxPool(let p):
            let (x, xq) = try int8(0)
            guard xq == outQ else {
                throw IRError(.unsupported, at: node.name, "int8 max_pool keeps its input's parameters")
            }
            return .i8(Int8Kernels.maxPool(x, p, outShape: outShape))
        case .reshape, .flatten, .identity, .dropout:
            let (x, xq) = try int8(0)
            guard xq == outQ else {
                throw IRError(.unsupported, at: node.name, "int8 \(node.op.name) keeps its input's parameters")
            }
            return .i8(Int8Buffer(shape: outShape, storage: x.storage))
        default:
            throw IRError(.unsupported, at: node.name, "\(node.op.name) has no int8 kernel")
        }
    }
}
