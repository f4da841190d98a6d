import Foundation
import Testing

@testable import GraphIR
@testable import Passes

/// Learned rounding: the Gram-matrix error against the error measured by running the layer, the
/// rounding it chooses against nearest, and determinism.
@Suite struct AdaRoundTests {
    typealias Rand = QuantizeTests.Rand

    /// A one-conv graph, its int8 version after `quantize` and `adaround` on `samples`.
    func run(
        _ attrs: Conv2dAttrs, cin: Int, cout: Int, kernel: Int, size: Int, iterations: Int = 300, threads: Int = 1,
        samples count: Int = 3
    ) throws -> (
        float: Graph, int8: Graph, layers: [AdaRound.Layer], samples: [Tensor]
    ) {
        var r = Rand(s: 7)
        var g = Graph(name: "conv")
        let x = g.addInput(name: "x", shape: Shape([1, cin, size, size]))
        let w = g.addConstant(name: "w", r.tensor([cout, cin / attrs.groups, kernel, kernel], scale: 0.4))
        let b = g.addConstant(name: "b", r.tensor([cout], scale: 0.2))
        g.outputs = [try g.addNode(name: "conv", op: .conv2d(attrs), inputs: [x, w, b])]
        let samples = (0..<count).map { _ in r.tensor([1, cin, size, size]) }
        var ctx = PassContext()
        ctx.quantization.source = .data(samples: samples, calibrator: Calibrator(), sequential: false, source: "test")
        var ada = AdaRound(iterations: iterations)
        ada.threads = threads
        ctx.quantization.adaround = ada
        var q = g
        _ = try PassManager(passes: PassRegistry.quantizePipeline).run(on: &q, context: &ctx)
        return (g, q, ctx.quantization.adaroundLayers, samples)
    }

    /// The layer's pre-activation SQNR measured by running it: float conv on x against the conv
    /// with the int8 graph's dequantized weights and bias on the int8 input x̃.
    func measuredSQNR(_ f: Graph, _ q: Graph, _ samples: [Tensor]) throws -> Double {
        let node = try #require(q.nodes.first { $0.op.name == "conv2d" })
        func dequantized(_ id: ValueID) -> Tensor {
            FakeQuantEvaluator.dequantized(q.constants[id]!, q.values[id].quant).tensor()
        }
        var d = f
        let conv = d.nodes[0]
        d.constants[conv.inputs[1]] = dequantized(node.inputs[1])
        d.constants[conv.inputs[2]] = dequantized(node.inputs[2])
        let xq = try #require(q.values[node.inputs[0]].quant)
        var signal = 0.0
        var noise = 0.0
        for s in samples {
            let xt = Tensor(
                shape: s.shape,
                floats: s.floatArray().map {
                    QuantMath.dequantize(
                        QuantMath.quantize($0, scale: xq.scales[0], zeroPoint: xq.zeroPoints[0]), scale: xq.scales[0],
                        zeroPoint: xq.zeroPoints[0])
                })
            let y = try Evaluator(graph: f).run([s])[0].floatArray()
            let yq = try Evaluator(graph: d).run([xt])[0].floatArray()
            for (a, b) in zip(y, yq) {
                signal += Double(a) * Double(a)
                noise += (Double(a) - Double(b)) * (Double(a) - Double(b))
            }
        }
        return 10 * log10(signal / noise)
    }

    @Test(arguments: [
        Conv2dAttrs(stride: [2, 2], pad: [1, 1, 1, 1], groups: 2),
        Conv2dAttrs(pad: [1, 0, 2, 1], dilation: [2, 1]),
        Conv2dAttrs(stride: [1, 1], pad: [1, 1, 1, 1], groups: 4),
    ])
    func gramErrorEqualsTheRunLayersAndBeatsNearest(attrs: Conv2dAttrs) throws {
        let (f, q, layers, samples) = try run(attrs, cin: 4, cout: attrs.groups == 4 ? 4 : 6, kernel: 3, size: 9)
        let layer = try #require(layers.first)
        #expect(layers.count == 1 && layer.node == "conv")
        // the reported figure is what running the layer measures, so the Gram matrices hold
        // the patches as the convolution reads them (stride, padding, dilation, groups)
        let after = try measuredSQNR(f, q, samples)
        #expect(abs(after - layer.adaroundSQNR) < 1e-3, "measured \(after) dB, reported \(layer.adaroundSQNR)")
        var nearest = q
        let wid = q.nodes.first { $0.op.name == "conv2d" }!.inputs[1]
        let (codes, _) = QuantMath.quantizeWeights(f.constants[f.nodes[0].inputs[1]]!, perTensor: false)
        nearest.constants[wid] = codes.withUnsafeBytes { Tensor(dtype: .int8, shape: q.values[wid].shape, bytes: $0) }
        let before = try measuredSQNR(f, nearest, samples)
        #expect(abs(before - layer.nearestSQNR) < 1e-3, "measured \(before) dB, reported \(layer.nearestSQNR)")
        // learned rounding fits the layer better (kept only when it does), one level from nearest
        #expect(layer.kept && layer.adaroundSQNR > layer.nearestSQNR && layer.flipped > 0)
        let learned = q.constants[wid]!.int64ArrayExact()
        #expect(zip(learned, codes).allSatisfy { abs($0 - Int64($1)) <= 1 })
    }

    @Test func channelsKeepLearnedRoundingOnlyWhereHeldOutSamplesFitBetter() throws {
        // 8 samples: 3 and 7 are held out of the fit, and the reported figures are theirs
        let attrs = Conv2dAttrs(pad: [1, 1, 1, 1])
        let (f, q, layers, samples) = try run(attrs, cin: 3, cout: 12, kernel: 3, size: 6, samples: 8)
        let layer = try #require(layers.first)
        let held = [samples[3], samples[7]]
        let after = try measuredSQNR(f, q, held)
        #expect(
            abs(after - layer.adaroundSQNR) < 1e-3,
            "measured \(after) dB on held-out samples, reported \(layer.adaroundSQNR)")
        let wid = q.nodes.first { $0.op.name == "conv2d" }!.inputs[1]
        let (codes, _) = QuantMath.quantizeWeights(f.constants[f.nodes[0].inputs[1]]!, perTensor: false)
        var nearest = q
        nearest.constants[wid] = codes.withUnsafeBytes { Tensor(dtype: .int8, shape: q.values[wid].shape, bytes: $0) }
        let before = try measuredSQNR(f, nearest, held)
        #expect(
            abs(before - layer.nearestSQNR) < 1e-3,
            "measured \(before) dB on held-out samples, reported \(layer.nearestSQNR)")
        #expect(layer.adaroundSQNR >= layer.nearestSQNR)
        // each output channel is all learned or all nearest, decided on its own: swapping any one
        // learned channel back to nearest does not fit the held-out samples better
        let learned = q.constants[wid]!.int64ArrayExact()
        let k = learned.count / 12
        for c in 0..<12 where (0..<k).contains(where: { learned[c * k + $0] != Int64(codes[c * k + $0]) }) {
            var mixed = learned
            for i in 0..<k { mixed[c * k + i] = Int64(codes[c * k + i]) }
            var g = q
            g.constants[wid] = mixed.map { Int8($0) }.withUnsafeBytes {
                Tensor(dtype: .int8, shape: q.values[wid].shape, bytes: $0)
            }
            #expect(try measuredSQNR(f, g, held) <= after + 1e-9, "channel \(c)")
        }
    }

    @Test func sameDataSameRoundingOnAnyThreadCount() throws {
        // 70 output channels: three blocks of rows, each optimised on its own
        let attrs = Conv2dAttrs(pad: [1, 1, 1, 1])
        let a = try run(attrs, cin: 3, cout: 70, kernel: 3, size: 8, iterations: 120, threads: 1)
        let b = try run(attrs, cin: 3, cout: 70, kernel: 3, size: 8, iterations: 120, threads: 3)
        let ids = a.int8.constants.keys.sorted()
        #expect(ids.map { Array(a.int8.constants[$0]!.bytes) } == ids.map { Array(b.int8.constants[$0]!.bytes) })
        #expect(a.layers.map(\.adaroundSQNR) == b.layers.map(\.adaroundSQNR))
    }

    @Test func withoutCalibrationDataItIsAnError() throws {
        var g = Graph(name: "fc")
        let x = g.addInput(name: "x", shape: Shape([1, 4]))
        var r = Rand(s: 1)
        let w = g.addConstant(name: "w", r.tensor([3, 4]))
        g.outputs = [try g.addNode(name: "fc", op: .fullyConnected(), inputs: [x, w])]
        var ctx = PassContext()
        ctx.quantization.ranges = ["x": (-1, 1), g.values[g.outputs[0]].name: (-2, 2)]
        ctx.quantization.adaround = AdaRound(iterations: 10)
        var q = g
        let e = #expect(throws: PassError.self) {
            _ = try PassManager(passes: [QuantizePass.self, AdaRoundPass.self]).run(on: &q, context: &ctx)
        }
        #expect(e?.description.contains("needs calibration data") == true)
    }
}
