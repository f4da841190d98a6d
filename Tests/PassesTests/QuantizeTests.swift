import Testing

@testable import GraphIR
@testable import Passes

/// Int8 kernels against the fake-quant reference: the same op in float on the dequantized int8
/// inputs, weights and bias, then quantized. Integer requantization may differ from that by at
/// most one step (the rounding of the multiplier); anything more is a kernel bug.
@Suite struct QuantizeTests {
    struct Rand {
        var s: UInt64
        mutating func next() -> Float {
            s = s &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Int64(bitPattern: s >> 11) % 20001) / 10000 - 1
        }
        mutating func tensor(_ d: [Int], scale: Float = 1) -> Tensor {
            Tensor(shape: Shape(d), floats: (0..<d.reduce(1, *)).map { _ in next() * scale })
        }
    }

    /// Quantizes a one-node float graph with ranges observed on `x`, returns both graphs.
    func quantized(_ g: Graph, _ x: Tensor, perTensor: Bool = false) throws -> Graph {
        var ctx = PassContext()
        ctx.quantization.ranges = try Calibrator().ranges(of: g, batches: [x])
        ctx.quantization.perTensorWeights = perTensor
        var q = g
        _ = try PassManager(passes: [QuantizePass.self]).run(on: &q, context: &ctx)
        return q
    }

    /// Checks every int8 node of `q` against float arithmetic on its dequantized operands.
    func checkAgainstFakeQuant(_ q: Graph, _ x: Tensor) throws {
        var seen: [ValueID: Tensor] = [:]
        _ = try QuantizedEvaluator(graph: q).run([x]) { node, out in seen[node.outputs[0]] = out }
        var checked = 0
        for node in q.nodes where q.values[node.outputs[0]].dtype == .int8 && !node.op.isQuantization {
            // the op in float on dequantized operands
            var f = Graph(name: "ref")
            var ids: [ValueID] = []
            for (i, v) in node.inputs.enumerated() {
                let val = q.values[v]
                let t = q.constants[v] ?? seen[v]!
                let qp = val.quant!
                let ints = t.int64ArrayExact()
                let per = ints.count / max(qp.scales.count, 1)
                let deq = ints.enumerated().map { j, iv in
                    qp.scales[qp.scales.count == 1 ? 0 : j / per]
                        * Float(Int32(iv) - (qp.zeroPoints.count == 1 ? qp.zeroPoints[0] : 0))
                }
                let dt = Tensor(shape: val.shape, floats: deq)
                ids.append(i == 0 ? f.addInput(name: "x\(i)", shape: val.shape) : f.addConstant(name: "c\(i)", dt))
                if i == 0 { seen[-1 - i] = dt }
            }
            f.outputs = [try f.addNode(name: "op", op: node.op, inputs: ids)]
            let ref = try Evaluator(graph: f).run([seen[-1]!])[0].floatArray()
            let outQ = q.values[node.outputs[0]].quant!
            let got = seen[node.outputs[0]]!.int64ArrayExact()
            for (r, g) in zip(ref, got) {
                let want = Int64(QuantMath.quantize(r, scale: outQ.scales[0], zeroPoint: outQ.zeroPoints[0]))
                #expect(abs(want - g) <= 1, "\(node.name) (\(node.op.name)): got \(g), fake-quant reference \(want)")
            }
            checked += 1
        }
        #expect(checked > 0)
    }

    /// Pruned weights: an output channel that is all zero (and a whole zero tensor) quantizes to
    /// scale 1 and zero weights, and the channel's output is its bias, per channel and per tensor.
    @Test(arguments: [false, true], [false, true])
    func zeroWeightChannelsQuantizeToTheirBias(perTensor: Bool, wholeTensor: Bool) throws {
        var r = Rand(s: 17)
        var g = Graph(name: "pruned")
        let x = g.addInput(name: "x", shape: Shape([1, 4, 5, 5]))
        var wf = r.tensor([6, 4, 1, 1], scale: 0.5).floatArray()
        for i in 0..<wf.count where wholeTensor || (i / 4 == 2 || i / 4 == 5) { wf[i] = 0 }
        let w = g.addConstant(name: "w", Tensor(shape: Shape([6, 4, 1, 1]), floats: wf))
        let b = g.addConstant(name: "b", Tensor(shape: Shape([6]), floats: [0.1, -0.2, 0.3, 0, 0.25, -0.05]))
        g.outputs = [
            try g.addNode(
                name: "conv", op: .conv2d(Conv2dAttrs(stride: [1, 1], pad: [0, 0, 0, 0])), inputs: [x, w, b])
        ]
        let input = r.tensor([1, 4, 5, 5], scale: 2)
        let q = try quantized(g, input, perTensor: perTensor)
        try checkAgainstFakeQuant(q, input)
        var out: (Tensor, QuantParams)?
        _ = try QuantizedEvaluator(graph: q).run([input]) { node, t in
            if node.name == "conv", let p = q.values[node.outputs[0]].quant { out = (t, p) }
        }
        let (t, oq) = try #require(out)
        let v = t.int64ArrayExact()
        // the channel's output is its bias, held at the bias's resolution (input scale × weight scale
        // 1) and then the output's
        let inScale = try #require(q.values.first { $0.dtype == .int8 && $0.name.hasPrefix("x") }?.quant?.scales[0])
        for c in (wholeTensor ? Array(0..<6) : [2, 5]) {
            let bias = [0.1, -0.2, 0.3, 0, 0.25, -0.05][c] as Float
            let got = v[(c * 25)..<(c * 25 + 25)].map { oq.scales[0] * Float(Int32($0) - oq.zeroPoints[0]) }
            #expect(
                got.allSatisfy { abs($0 - bias) <= inScale / 2 + oq.scales[0] }, "channel \(c): \(got[0]) vs \(bias)")
        }
    }

    /// The calibrator's eight-lane min/max equals the plain loop that skips non-finite values, for
    /// every length around the lane width, with NaN and infinities anywhere, all-non-finite data,
    /// and −0 (reported as +0).
    @Test func finiteRangeEqualsThePlainLoop() {
        for count in [0, 1, 7, 8, 9, 16, 17, 63] {
            for poison in [nil, Float.nan, .infinity, -.infinity] {
                var x = (0..<count).map { i in Float((i * 7919 + count * 31) % 2001 - 1000) / 37 }
                if let poison, count > 0 {
                    x[0] = poison
                    x[count / 2] = poison
                    x[count - 1] = poison
                }
                var (lo, hi) = (Float.infinity, -Float.infinity)
                for v in x where v.isFinite { (lo, hi) = (min(lo, v), max(hi, v)) }
                let got = x.withUnsafeBufferPointer { Calibrator.finiteRange($0) }
                #expect(got.lo == lo + 0 && got.hi == hi + 0, "\(count) \(String(describing: poison))")
            }
        }
        let none = [Float](repeating: .nan, count: 12).withUnsafeBufferPointer { Calibrator.finiteRange($0) }
        #expect(none.lo == .infinity && none.hi == -.infinity)
        let zeros = [Float](repeating: -0.0, count: 9).withUnsafeBufferPointer { Calibrator.finiteRange($0) }
        #expect(zeros.lo.sign == .plus && zeros.hi.sign == .plus && zeros.lo == 0)
    }

    /// Damaged weights (NaN or infinity) are refused with the constant named, not trapped on.
    @Test func nonFiniteWeightsAreRefused() throws {
        for bad in [Float.nan, .infinity] {
            var g = Graph(name: "damaged")
            let x = g.addInput(name: "x", shape: Shape([1, 2, 3, 3]))
            let w = g.addConstant(name: "w", Tensor(shape: Shape([2, 2, 1, 1]), floats: [1, 0.5, -0.5, 0.25]))
            let b = g.addConstant(name: "b.damaged", Tensor(shape: Shape([2]), floats: [0.1, bad]))
            g.outputs = [
                try g.addNode(
                    name: "conv", op: .conv2d(Conv2dAttrs(stride: [1, 1], pad: [0, 0, 0, 0])), inputs: [x, w, b])
            ]
            let input = Tensor(shape: Shape([1, 2, 3, 3]), floats: (0..<18).map { Float($0) / 9 })
            #expect(throws: PassError.self) { try quantized(g, input) }
            do { _ = try quantized(g, input) } catch { #expect("\(error)".contains("b.damaged")) }
        }
    }

    @Test(arguments: [
        (Conv2dAttrs(stride: [1, 1], pad: [1, 1, 1, 1]), [6, 4, 3, 3], false),
        (Conv2dAttrs(stride: [2, 2], pad: [1, 1, 1, 1], groups: 4), [4, 1, 3, 3], false),
        (Conv2dAttrs(stride: [1, 1], pad: [0, 0, 0, 0], activation: .clip(min: 0, max: 6)), [5, 4, 1, 1], false),
        (Conv2dAttrs(stride: [1, 1], pad: [0, 0, 0, 0], activation: .relu), [5, 4, 1, 1], true),
    ])
    func convolution(attrs: Conv2dAttrs, weights: [Int], perTensor: Bool) throws {
        var r = Rand(s: UInt64(weights.reduce(1, *)))
        var g = Graph(name: "conv")
        let x = g.addInput(name: "x", shape: Shape([1, 4, 9, 9]))
        let w = g.addConstant(name: "w", r.tensor(weights, scale: 0.5))
        let b = g.addConstant(name: "b", r.tensor([weights[0]], scale: 0.2))
        g.outputs = [try g.addNode(name: "conv", op: .conv2d(attrs), inputs: [x, w, b])]
        let input = r.tensor([1, 4, 9, 9], scale: 3)
        try checkAgainstFakeQuant(try quantized(g, input, perTensor: perTensor), input)
    }

    @Test func linearAddAndPooling() throws {
        var r = Rand(s: 7)
        var g = Graph(name: "mix")
        let x = g.addInput(name: "x", shape: Shape([1, 3, 4, 4]))
        let w = g.addConstant(name: "w", r.tensor([3, 3, 1, 1]))
        let c = try g.addNode(name: "conv", op: .conv2d(Conv2dAttrs()), inputs: [x, w])
        let s = try g.addNode(name: "sum", op: .add(.relu), inputs: [c, x])
        let a = try g.addNode(
            name: "avg", op: .avgPool(PoolAttrs(kernel: [3, 3], stride: [1, 1], pad: [1, 1, 1, 1])), inputs: [s])
        let p = try g.addNode(name: "gap", op: .globalAvgPool, inputs: [a])
        let fw = g.addConstant(name: "fw", r.tensor([5, 3]))
        let fb = g.addConstant(name: "fb", r.tensor([5]))
        g.outputs = [try g.addNode(name: "fc", op: .fullyConnected(), inputs: [p, fw, fb])]
        let input = r.tensor([1, 3, 4, 4], scale: 2)
        let q = try quantized(g, input)
        // quantize + 4 int8 ops; the classifier runs in int8 too, its logits float32 from the accumulators
        #expect(q.nodes.filter { q.values[$0.outputs[0]].dtype == .int8 }.count == 5)
        #expect(q.nodes.filter { Int8Support.runsInInt8($0, in: q) }.count == 5)
        #expect(q.nodes.last?.op == .fullyConnected() && q.values[q.outputs[0]].dtype == .float32)
        try checkAgainstFakeQuant(q, input)
        // the int8 model's logits stay close to float
        let fo = try Evaluator(graph: g).run([input])[0].floatArray()
        let qo = try QuantizedEvaluator(graph: q).run([input])[0].floatArray()
        let scale = fo.map(abs).max()!
        #expect(zip(fo, qo).map { abs($0 - $1) }.max()! <= 0.05 * scale)
    }

    /// hard_swish, hard_sigmoid and sigmoid by table: every int8 output equals the op's float32
    /// function on the dequantized input code, quantized to the output's parameters (the table
    /// is exact on the int8 grid), and within one step of the fake-quant reference.
    @Test(arguments: [Op.hardSwish, .hardSigmoid, .sigmoid, .gelu])
    func lookupTablesAreExactOnTheGrid(op: Op) throws {
        var r = Rand(s: 29)
        var g = Graph(name: "lut")
        let x = g.addInput(name: "x", shape: Shape([1, 3, 8, 8]))
        let w = g.addConstant(name: "w", r.tensor([3, 3, 1, 1], scale: 2))
        let c = try g.addNode(name: "conv", op: .conv2d(Conv2dAttrs()), inputs: [x, w])
        g.outputs = [try g.addNode(name: "f", op: op, inputs: [c])]
        let input = r.tensor([1, 3, 8, 8], scale: 3)
        let q = try quantized(g, input)
        #expect(
            q.nodes.contains { $0.name == "f" && q.values[$0.outputs[0]].dtype == .int8 }, "\(op.name) stayed float32")
        try checkAgainstFakeQuant(q, input)
        var seen: [String: (Tensor, QuantParams)] = [:]
        _ = try QuantizedEvaluator(graph: q).run([input]) { node, t in
            if let p = q.values[node.outputs[0]].quant { seen[node.name] = (t, p) }
        }
        let (xi, xq) = try #require(seen["conv"])
        let (yi, yq) = try #require(seen["f"])
        let f = try #require(Kernels.pointwise(op))
        for (a, b) in zip(xi.int64ArrayExact(), yi.int64ArrayExact()) {
            let want = QuantMath.quantize(
                f(QuantMath.dequantize(Int8(a), scale: xq.scales[0], zeroPoint: xq.zeroPoints[0])), scale: yq.scales[0],
                zeroPoint: yq.zeroPoints[0])
            #expect(Int64(want) == b)
        }
    }

    @Test func opsWithoutInt8KernelsStayFloat() throws {
        var r = Rand(s: 3)
        var g = Graph(name: "mixed")
        let x = g.addInput(name: "x", shape: Shape([1, 2, 4, 4]))
        let w = g.addConstant(name: "w", r.tensor([2, 2, 1, 1]))
        let c = try g.addNode(name: "conv", op: .conv2d(Conv2dAttrs()), inputs: [x, w])
        let s = try g.addNode(name: "sig", op: .softmax(axis: 1), inputs: [c])
        g.outputs = [try g.addNode(name: "conv2", op: .conv2d(Conv2dAttrs()), inputs: [s, w])]
        var ctx = PassContext()
        ctx.quantization.ranges = try Calibrator().ranges(of: g, batches: [r.tensor([1, 2, 4, 4])])
        var q = g
        _ = try PassManager(passes: [QuantizePass.self]).run(on: &q, context: &ctx)
        #expect(ctx.quantization.floatNodes.map(\.node) == ["sig"])
        #expect(ctx.quantization.floatNodes.first?.reason == "no int8 kernel")
        #expect(
            q.nodes.map(\.op.name) == [
                "quantize", "conv2d", "dequantize", "softmax", "quantize", "conv2d", "dequantize",
            ])
    }

    /// A graph's output with its weights rounded as `quantize` rounds them (dequantized, float bias).
    func withRoundedWeights(_ g: Graph, perTensor: Bool) -> Graph {
        var r = g
        for n in g.nodes {
            guard let w = g.constants[n.inputs[1]] else { continue }
            let channels = perTensor ? 1 : w.shape[0]
            let (q, scales) = QuantMath.quantizeWeights(w.floatArray(), channels: channels)
            let per = q.count / channels
            r.constants[n.inputs[1]] = Tensor(
                shape: w.shape, floats: q.indices.map { Float(q[$0]) * scales[$0 / per] })
        }
        return r
    }

    @Test(arguments: [
        (Op.fullyConnected(), [6, 10], [1, 10], false),
        (Op.conv2d(Conv2dAttrs()), [6, 10, 1, 1], [1, 10, 3, 3], true),
        (Op.conv2d(Conv2dAttrs(groups: 10)), [10, 1, 3, 3], [1, 10, 5, 5], false),
    ])
    func biasCorrectionRemovesTheMeanWeightError(op: Op, weights: [Int], input: [Int], perTensor: Bool) throws {
        var r = Rand(s: UInt64(weights.reduce(3, *)))
        var g = Graph(name: "layer")
        let x = g.addInput(name: "x", shape: Shape(input))
        // weights with a spread that rounds badly at one scale per channel
        let w = g.addConstant(name: "w", r.tensor(weights, scale: 0.37))
        let b = g.addConstant(name: "b", r.tensor([weights[0]], scale: 0.1))
        g.outputs = [try g.addNode(name: "layer", op: op, inputs: [x, w, b])]
        // an input that equals its per-channel mean everywhere: the corrected layer must then
        // give the float output exactly, the uncorrected one does not
        let means = (0..<input[1]).map { Float($0 % 4) * 0.8 + 0.3 }
        let per = input.reduce(1, *) / input[1]
        let constant = Tensor(shape: Shape(input), floats: (0..<input.reduce(1, *)).map { means[$0 / per] })
        var corrected = g
        let n = BiasCorrection(perTensorWeights: perTensor).apply(to: &corrected, inputMeans: ["x": means])
        #expect(n == 1)
        let want = try Evaluator(graph: g).run([constant])[0].floatArray()
        let before = try Evaluator(graph: withRoundedWeights(g, perTensor: perTensor)).run([constant])[0].floatArray()
        let after = try Evaluator(graph: withRoundedWeights(corrected, perTensor: perTensor)).run([constant])[0]
            .floatArray()
        let errBefore = zip(want, before).map { abs($0 - $1) }.max()!
        let errAfter = zip(want, after).map { abs($0 - $1) }.max()!
        #expect(errBefore > 1e-3)
        #expect(errAfter < 1e-5, "before \(errBefore), after \(errAfter)")
        // the float weights are untouched: quantize rounds them as the correction assumed
        #expect(corrected.constants[corrected.nodes[0].inputs[1]] == g.constants[w])
    }

    @Test func calibratorMeasuresChannelMeans() throws {
        var g = Graph(name: "id")
        let x = g.addInput(name: "x", shape: Shape([1, 2, 2, 2]))
        g.outputs = [try g.addNode(name: "r", op: .relu, inputs: [x])]
        let a = Tensor(shape: Shape([1, 2, 2, 2]), floats: [1, 2, 3, 4, -1, -1, -1, -5])
        let b = Tensor(shape: Shape([1, 2, 2, 2]), floats: [0, 0, 0, 0, 2, 2, 2, 2])
        let m = try Calibrator().calibrate(g, batches: [a, b]).means
        #expect(m["x"] == [1.25, 0])
        #expect(m["r"] == [1.25, 1])
    }

    /// Samples run in parallel: every method's ranges and the channel means are the same for 1,
    /// 2 and 5 threads (means summed in sample order, counts and extremes exact in any order),
    /// with batches of one and of two samples and a sample count that is not a multiple of the
    /// histogram groups.
    @Test(arguments: Calibrator.Method.allCases)
    func calibrationIsTheSameOnAnyThreadCount(method: Calibrator.Method) throws {
        var r = Rand(s: 5)
        let weights = r.tensor([4, 3, 3, 3])
        for batch in [1, 2] {
            var g = Graph(name: "cal")
            let x = g.addInput(name: "x", shape: Shape([batch, 3, 5, 5]))
            let w = g.addConstant(name: "w", weights)
            let c = try g.addNode(
                name: "conv", op: .conv2d(Conv2dAttrs(pad: [1, 1, 1, 1], activation: .relu)), inputs: [x, w])
            g.outputs = [try g.addNode(name: "gap", op: .globalAvgPool, inputs: [c])]
            let samples = (0..<19).map { _ in r.tensor([batch, 3, 5, 5], scale: 2) }
            var results: [(ranges: [String: (Float, Float)], means: [String: [Float]])] = []
            for threads in [1, 2, 5] {
                var cal = Calibrator(method: method, bins: 256)
                cal.threads = threads
                results.append(try cal.calibrate(g, batches: samples))
            }
            for k in results.indices.dropFirst() {
                #expect(results[k].means == results[0].means, "\(method) batch \(batch)")
                #expect(results[k].ranges.keys.sorted() == results[0].ranges.keys.sorted())
                for (name, v) in results[0].ranges {
                    #expect(results[k].ranges[name]! == v, "\(method) \(name) batch \(batch)")
                }
            }
            #expect(results[0].ranges.count == 3 && results[0].means["conv"]?.count == 4)
        }
    }

    @Test func fakeQuantModeIsWithinOneStepOfTheExactEvaluator() throws {
        var r = Rand(s: 11)
        var g = Graph(name: "mix")
        let x = g.addInput(name: "x", shape: Shape([1, 3, 6, 6]))
        let w = g.addConstant(name: "w", r.tensor([4, 3, 3, 3]))
        let b = g.addConstant(name: "b", r.tensor([4], scale: 0.3))
        let c = try g.addNode(
            name: "conv", op: .conv2d(Conv2dAttrs(pad: [1, 1, 1, 1], activation: .clip(min: 0, max: 6))),
            inputs: [x, w, b])
        let dw = g.addConstant(name: "dw", r.tensor([4, 1, 3, 3]))
        let d = try g.addNode(name: "dw", op: .conv2d(Conv2dAttrs(pad: [1, 1, 1, 1], groups: 4)), inputs: [c, dw])
        let s = try g.addNode(name: "sum", op: .add(.none), inputs: [c, d])
        let p = try g.addNode(name: "gap", op: .globalAvgPool, inputs: [s])
        let fw = g.addConstant(name: "fw", r.tensor([5, 4]))
        g.outputs = [try g.addNode(name: "fc", op: .fullyConnected(), inputs: [p, fw])]
        let input = r.tensor([1, 3, 6, 6], scale: 2)
        let q = try quantized(g, input)
        var exact: [String: [Float]] = [:]
        _ = try QuantizedEvaluator(graph: q).run([input]) { node, out in
            guard let qp = q.values[node.outputs[0]].quant, out.dtype == .int8 else { return }
            exact[node.name] = out.int64ArrayExact().map {
                QuantMath.dequantize(Int8($0), scale: qp.scales[0], zeroPoint: qp.zeroPoints[0])
            }
        }
        var compared = 0
        _ = try FakeQuantEvaluator(graph: q).run([input]) { node, out in
            guard let e = exact[node.name], let qp = q.values[node.outputs[0]].quant else { return }
            for (a, b) in zip(Array(out), e) {
                #expect(abs(a - b) <= qp.scales[0] * 1.001, "\(node.name): fake-quant \(a), exact \(b)")
            }
            compared += 1
        }
        #expect(compared == 5)  // quantize, conv, dw, sum, gap (fc gives float32 logits, no int8 grid)
    }
}
