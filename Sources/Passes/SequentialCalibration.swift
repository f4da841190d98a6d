import GraphIR

/// Error-aware calibration (`--calib-mode sequential`): layers are calibrated in graph order,
/// each on the outputs of the layers before it as the int8 model will compute them — weights
/// quantized, every int8-capable output rounded to its own calibrated grid (fake quantization) —
/// so a layer's range accounts for the error the layers before it already made.
public struct SequentialCalibration: Sendable {
    public var calibrator: Calibrator
    public var perTensorWeights: Bool

    public init(calibrator: Calibrator, perTensorWeights: Bool = false) {
        self.calibrator = calibrator
        self.perTensorWeights = perTensorWeights
    }

    static func fakeQuantize(_ t: Tensor, _ r: (Float, Float)) -> Tensor {
        let q = QuantMath.activationParams(min: r.0, max: r.1)
        let (s, z) = (q.scales[0], q.zeroPoints[0])
        return Tensor(
            shape: t.shape,
            floats: t.floatArray().map {
                QuantMath.dequantize(QuantMath.quantize($0, scale: s, zeroPoint: z), scale: s, zeroPoint: z)
            })
    }

    /// Weights as the int8 model sees them: quantized per output channel (or per tensor), dequantized.
    func fakeQuantizedWeights(_ w: Tensor) -> Tensor {
        let (q, scales) = QuantMath.quantizeWeights(w, perTensor: perTensorWeights)
        let channels = scales.count
        let per = q.count / channels
        return Tensor(shape: w.shape, floats: q.enumerated().map { Float($0.element) * scales[$0.offset / per] })
    }

    public func ranges(of g: Graph, batches: [Tensor], progress: (@Sendable (Int, Int) -> Void)? = nil) throws(IRError)
        -> [String: (Float, Float)]
    {
        try calibrate(g, batches: batches, progress: progress).ranges
    }

    /// Per-channel means (axis 1) over all samples.
    static func channelMeans(_ ts: [Tensor]) -> [Float]? {
        guard let s = ts.first?.shape, s.rank >= 2, s[0] * s[1] > 0 else { return nil }
        let (n, c) = (s[0], s[1])
        let per = s.elementCount / (n * c)
        var sums = [Double](repeating: 0, count: c)
        for t in ts {
            let f = t.floatArray()
            for i in f.indices { sums[(i / per) % c] += Double(f[i]) }
        }
        return sums.map { Float($0 / Double(n * per * ts.count)) }
    }

    /// Ranges, and the per-channel means of every value as the int8 model computes it (for bias correction).
    public func calibrate(_ g: Graph, batches: [Tensor], progress: (@Sendable (Int, Int) -> Void)? = nil)
        throws(IRError) -> (ranges: [String: (Float, Float)], means: [String: [Float]])
    {
        var means: [String: [Float]] = [:]
        var ranges: [String: (Float, Float)] = [:]
        var acts: [ValueID: [Tensor]] = [:]
        let lastUse = g.lastUses()
        for id in g.inputs {
            let r = try chooseRange(g.values[id].name, batches)
            ranges[g.values[id].name] = r
            acts[id] = batches.map { Self.fakeQuantize($0, r) }
            means[g.values[id].name] = Self.channelMeans(acts[id]!)
        }
        var weights: [ValueID: Tensor] = [:]
        // the values the int8 model holds in int8, decided by `Int8Support` as `quantize` does
        var int8Values = Set(g.inputs)
        for (i, n) in g.nodes.enumerated() {
            // int8 ops with their own range round their output to its grid; those that keep their
            // input's parameters (max pooling, reshapes) see values already on the input's grid
            var int8 = false
            var ownGrid = false
            switch Int8Support.decide(n, in: g) {
            case .int8:
                (int8, ownGrid) = (true, true)
                int8Values.formUnion(n.inputs.filter { g.constants[$0] == nil })
            case .int8IfInputIs: int8 = int8Values.contains(n.inputs[0])
            case .float32: break
            }
            if int8 { int8Values.insert(n.outputs[0]) }
            var outs: [Tensor] = []
            for s in 0..<batches.count {
                var one = Graph(name: "step")
                var ids: [ValueID] = []
                for (j, v) in n.inputs.enumerated() {
                    var t: Tensor
                    if let c = g.constants[v] {
                        if int8, j == 1, c.dtype == .float32, c.shape.rank >= 2 {
                            if weights[v] == nil { weights[v] = fakeQuantizedWeights(c) }
                            t = weights[v]!
                        } else {
                            t = c
                        }
                    } else {
                        t = acts[v]![s]
                    }
                    ids.append(one.addConstant(name: "in\(j)", t))
                }
                let o = one.addValue(g.values[n.outputs[0]])
                one.nodes = [Node(name: n.name, op: n.op, inputs: ids, outputs: [o])]
                one.outputs = [o]
                outs.append(try Evaluator(graph: one).run([])[0])
            }
            let name = g.values[n.outputs[0]].name
            let r = try chooseRange(name, outs)
            ranges[name] = r
            acts[n.outputs[0]] = ownGrid ? outs.map { Self.fakeQuantize($0, r) } : outs
            means[name] = Self.channelMeans(acts[n.outputs[0]]!)
            for v in n.inputs where lastUse[v] == i { acts[v] = nil }
            progress?(i + 1, g.nodes.count)
        }
        return (ranges, means)
    }

    /// The calibrator's choice for one tensor's values over all samples.
    func chooseRange(_ name: String, _ values: [Tensor]) throws(IRError) -> (Float, Float) {
        var one = Graph(name: "range")
        let x = one.addInput(name: name, shape: values[0].shape)
        one.outputs = [try one.addNode(name: "id", op: .identity, inputs: [x])]
        return try calibrator.ranges(of: one, batches: values)[name] ?? (0, 0)
    }
}
