import GraphIR

/// Rewrites a float32 graph into int8 with the ranges in `context.quantization`: the ops
/// `Int8Support` gives an int8 kernel run in int8; weights become per-output-channel symmetric int8
/// (`perTensorWeights`: one scale per tensor), biases int32 with scale
/// s_in·s_w[c]; activations asymmetric per-tensor int8. Every other op stays float32 between
/// `dequantize` and `quantize` (mixed precision) and is listed in `context.quantization.floatNodes`.
struct QuantizePass: Pass {
    static let name = "quantize"
    static let summary = "Quantize to int8 with the estimated activation ranges (mixed precision where needed)"

    func run(on graph: inout Graph, context: inout PassContext) throws(PassError) {
        let q = context.quantization
        if q.adaround != nil { context.quantization.floatGraph = graph }
        var b = Builder(old: graph, ranges: q.ranges, perTensor: q.perTensorWeights, keepFloat: q.keepFloat)
        try b.build()
        if !q.int8Logits {
            let n = b.g.floatOutputs()
            if n > 0 { context.count("float32 outputs from int32 accumulators", n) }
        }
        graph = b.g
        context.quantization.floatNodes = b.floatNodes
        context.count("int8 nodes", b.int8Count)
        if !b.floatNodes.isEmpty { context.count("float32 nodes", b.floatNodes.count) }
        context.count("quantize/dequantize nodes", b.boundaryCount)
    }

    struct Builder {
        let old: Graph
        let ranges: [String: (Float, Float)]
        let perTensor: Bool
        let keepFloat: [String: String]
        var g: Graph
        var f32: [ValueID: ValueID] = [:]
        var i8: [ValueID: ValueID] = [:]
        var floatNodes: [(node: String, op: String, reason: String)] = []
        var int8Count = 0
        var boundaryCount = 0
        /// Quantized weights by old constant (a weight read by several nodes is stored once).
        var weightCache: [ValueID: (id: ValueID, scales: [Float])] = [:]

        init(old: Graph, ranges: [String: (Float, Float)], perTensor: Bool, keepFloat: [String: String] = [:]) {
            self.old = old
            self.keepFloat = keepFloat
            self.ranges = ranges
            self.perTensor = perTensor
            g = Graph(name: old.name)
        }

        func range(_ v: ValueID) -> (Float, Float)? { ranges[old.values[v].name] }

        func fail(_ node: Node, _ m: String) -> PassError {
            PassError(.failed, pass: QuantizePass.name, at: node.name, m)
        }

        mutating func build() throws(PassError) {
            for id in old.inputs {
                f32[id] = g.addInput(name: old.values[id].name, dtype: .float32, shape: old.values[id].shape)
            }
            for node in old.nodes {
                if try !int8Node(node) { try floatNode(node) }
            }
            g.outputs = old.outputs.map { floatValue($0, for: "output") }
        }

        /// The float version of an old value (copying constants, dequantizing int8 ones).
        mutating func floatValue(_ v: ValueID, for node: String) -> ValueID {
            if let id = f32[v] { return id }
            if let t = old.constants[v] {
                let id = g.addConstant(name: old.values[v].name, t)
                f32[v] = id
                return id
            }
            let q = i8[v]!
            let id = try! g.addNode(
                name: old.values[v].name + ".dequantize", op: .dequantize, inputs: [q],
                outputName: old.values[v].name + ".dq")
            boundaryCount += 1
            f32[v] = id
            return id
        }

        /// The int8 version of an old value, quantizing with its calibrated range if needed.
        mutating func int8Value(_ v: ValueID) -> ValueID? {
            if let id = i8[v] { return id }
            guard old.constants[v] == nil, old.values[v].dtype == .float32, let r = range(v), let src = f32[v] else {
                return nil
            }
            let q = QuantMath.activationParams(min: r.0, max: r.1)
            let out = g.addValue(
                Value(name: old.values[v].name + ".q", dtype: .int8, shape: old.values[v].shape, quant: q))
            g.nodes.append(Node(name: old.values[v].name + ".quantize", op: .quantize, inputs: [src], outputs: [out]))
            boundaryCount += 1
            i8[v] = out
            return out
        }

        mutating func floatNode(_ node: Node) throws(PassError) {
            let ins = node.inputs.map { floatValue($0, for: node.name) }
            let v = old.values[node.outputs[0]]
            let out = g.addValue(Value(name: v.name, dtype: v.dtype, shape: v.shape))
            g.nodes.append(Node(name: node.name, op: node.op, inputs: ins, outputs: [out]))
            f32[node.outputs[0]] = out
            floatNodes.append((node.name, node.op.name, whyFloat32(node)))
        }

        /// Why `node` stays float32, in words: the int8 table's reason, or what it lacked.
        func whyFloat32(_ node: Node) -> String {
            if let why = keepFloat[node.name] { return why }
            switch Int8Support.decide(node, in: old) {
            case .float32(let reason): return reason
            case .int8IfInputIs: return "its input is not int8 (it keeps its input's parameters)"
            case .int8:
                if range(node.outputs[0]) == nil { return "no calibrated range for its output" }
                return "an input is not int8"
            }
        }

        /// Emits the node in int8 when `Int8Support` gives it a kernel and every range it needs
        /// is known; returns false otherwise.
        mutating func int8Node(_ node: Node) throws(PassError) -> Bool {
            let outOld = node.outputs[0]
            guard old.values[outOld].dtype == .float32, keepFloat[node.name] == nil else { return false }
            switch Int8Support.decide(node, in: old) {
            case .float32: return false
            case .int8IfInputIs:
                // these keep the parameters of an input that already is int8
                guard let x = i8[node.inputs[0]] else { return false }
                emit(node, [x], params: g.values[x].quant!)
                return true
            case .int8(.convolution), .int8(.linear):
                return try weighted(node)
            case .int8:
                guard let r = range(outOld) else { return false }
                var ins: [ValueID] = []
                for v in node.inputs {
                    guard let q = int8Value(v) else { return false }
                    ins.append(q)
                }
                emit(node, ins, params: QuantMath.activationParams(min: r.0, max: r.1))
                return true
            }
        }

        mutating func emit(_ node: Node, _ inputs: [ValueID], params: QuantParams) {
            let v = old.values[node.outputs[0]]
            let out = g.addValue(Value(name: v.name, dtype: .int8, shape: v.shape, quant: params))
            g.nodes.append(Node(name: node.name, op: node.op, inputs: inputs, outputs: [out]))
            i8[node.outputs[0]] = out
            int8Count += 1
        }

        /// Symmetric int8 weights per output channel (or per tensor), made once per constant.
        mutating func quantizedWeights(_ old: ValueID, _ w: Tensor) -> (ValueID, [Float]) {
            if let c = weightCache[old] { return (c.id, c.scales) }
            let (q, scales) = QuantMath.quantizeWeights(w, perTensor: perTensor)
            let wq = QuantParams(
                scales: scales, zeroPoints: [Int32](repeating: 0, count: scales.count), axis: perTensor ? nil : 0)
            let id = g.addConstant(
                name: self.old.values[old].name + ".int8",
                q.withUnsafeBytes { Tensor(dtype: .int8, shape: w.shape, bytes: $0) },
                quant: wq)
            weightCache[old] = (id, scales)
            return (id, scales)
        }

        /// conv2d / fully_connected / gemm with constant float weights.
        mutating func weighted(_ node: Node) throws(PassError) -> Bool {
            guard let w = old.constants[node.inputs[1]], w.dtype == .float32, let r = range(node.outputs[0]),
                let x = int8Value(node.inputs[0])
            else { return false }
            let xq = g.values[x].quant!
            let cout = w.shape[0]
            if node.inputs.count > 2, old.constants[node.inputs[2]] == nil { return false }  // a computed bias
            for v in node.inputs.dropFirst() where old.constants[v]?.floatArray().allSatisfy(\.isFinite) == false {
                throw fail(node, "'\(old.values[v].name)' holds NaN or infinity: the model's weights are damaged")
            }
            let (wID, _) = quantizedWeights(node.inputs[1], w)
            var ins = [x, wID]
            if node.inputs.count > 2 {
                let bf = old.constants[node.inputs[2]]?.floatArray() ?? []
                let wq = g.values[wID].quant!
                let bq = QuantMath.quantizeBias(bf, inputScale: xq.scales[0], weightScales: wq.channelScales(cout))
                let bias = bq.withUnsafeBytes { Tensor(dtype: .int32, shape: Shape([cout]), bytes: $0) }
                let params = QuantMath.biasParams(input: xq, weights: wq, channels: cout)
                ins.append(
                    g.addConstant(name: g.freshName(old.values[node.inputs[2]].name + ".int32"), bias, quant: params))
            }
            emit(node, ins, params: QuantMath.activationParams(min: r.0, max: r.1))
            return true
        }
    }
}

extension Graph {
    /// Where an int8 classifier's output is only dequantized (`Int8Support.emitsFloat`), the
    /// layer gives the float32 values itself, from its accumulators: the value keeps its name and
    /// becomes float32, the dequantize nodes go. Returns how many layers changed.
    mutating func floatOutputs() -> Int {
        let users = users()
        var changed = 0
        for node in nodes {
            let v = node.outputs[0]
            guard values[v].dtype == .int8, !outputs.contains(v), !users[v].isEmpty,
                users[v].allSatisfy({ nodes[$0].op == .dequantize }),
                Int8Support.emitsFloat(node.op, inputs: node.inputs.map { values[$0] })
            else { continue }
            values[v].dtype = .float32
            values[v].quant = nil
            for u in users[v] { replaceAllUses(of: nodes[u].outputs[0], with: v) }
            changed += 1
        }
        if changed > 0 { _ = removeDeadCode() }
        return changed
    }
}
