import Testing

@testable import GraphIR
@testable import Passes

/// Data-free ranges through the ops modern CNNs add (README.md, "Calibration"): each channel's
/// moments follow it through layout ops, pointwise activations take the moments of f(X), and
/// layer norm starts fresh ones from its affine parameters.
@Suite struct DataFreeRangesTests {
    static let df = DataFreeRanges(normalisationMean: [0.5, 0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25, 0.25])

    /// x → 1×1 conv "c" (whose output carries recorded batch-norm statistics, one mean per channel).
    func start(_ g: inout Graph, channels: Int = 4) throws -> ValueID {
        let x = g.addInput(name: "x", shape: Shape([1, channels, 2, 2]))
        var eye = [Float](repeating: 0, count: channels * channels)
        for c in 0..<channels { eye[c * channels + c] = 1 }
        let w = g.addConstant(name: "w", Tensor(shape: Shape([channels, channels, 1, 1]), floats: eye))
        return try g.addNode(name: "c", op: .conv2d(Conv2dAttrs()), inputs: [x, w])
    }

    static let statistics: [String: (mean: [Float], std: [Float])] = ["c": ([0, 10, 20, 30], [1, 1, 1, 1])]

    @Test func aChannelShuffleMovesEachChannelsMoments() throws {
        var g = Graph(name: "shuffle")
        let c = try start(&g)
        let r = try g.addNode(name: "r", op: .reshape(shape: [1, 2, 2, 2, 2]), inputs: [c])
        let t = try g.addNode(name: "t", op: .transpose(perm: [0, 2, 1, 3, 4]), inputs: [r])
        let y = try g.addNode(name: "y", op: .reshape(shape: [1, 4, 2, 2]), inputs: [t])
        let s = try g.addNode(name: "s", op: .slice(axis: 1, start: 1, end: 3, step: 1), inputs: [y])
        let cat = try g.addNode(name: "cat", op: .concat(axis: 1), inputs: [s, c])
        g.outputs = [cat]
        let (ranges, means) = try Self.df.analyse(g, statistics: Self.statistics)
        // channel j·2 + i of the shuffle is channel i·2 + j before it
        #expect(means["y"] == [0, 20, 10, 30])
        #expect(means["s"] == [20, 10])
        #expect(means["cat"] == [20, 10, 0, 10, 20, 30])
        // the intermediate 5-d value has no single channel axis, but keeps the range
        let k = Self.df.k
        #expect(ranges["t"]?.0 == -k && ranges["t"]?.1 == 30 + k)
    }

    @Test func pointwiseActivationsTakeTheMomentsOfTheirFunction() throws {
        var g = Graph(name: "act")
        let c = try start(&g)
        let silu = try g.addNode(name: "silu", op: .silu, inputs: [c])
        let hs = try g.addNode(name: "hs", op: .hardSwish, inputs: [c])
        g.outputs = [silu, hs]
        let stats: [String: (mean: [Float], std: [Float])] = ["c": ([0, 0, 0, 0], [1, 1, 1, 1])]
        let (ranges, means) = try Self.df.analyse(g, statistics: stats)
        // E[X·σ(X)] for X ~ N(0, 1) is 0.2066
        #expect(abs((means["silu"]?[0] ?? 0) - 0.2066) < 1e-3)
        // hard-swish on [−k, k]: its minimum −3/8 at x = −1.5, its maximum k
        let r = try #require(ranges["hs"])
        #expect(abs(r.0 + 0.375) < 1e-3 && abs(r.1 - Self.df.k) < 1e-4)
    }

    @Test func squeezeExcitationScalesEachChannel() throws {
        var g = Graph(name: "se")
        let c = try start(&g)
        let p = try g.addNode(name: "gap", op: .globalAvgPool, inputs: [c])
        let gate = try g.addNode(name: "gate", op: .hardSigmoid, inputs: [p])
        let y = try g.addNode(name: "y", op: .mul, inputs: [c, gate])
        let scale = g.addConstant(name: "ls", Tensor(shape: Shape([4, 1, 1]), floats: [1, 2, 3, 4]))
        let z = try g.addNode(name: "z", op: .mul, inputs: [scale, c])
        g.outputs = [y, z]
        let (ranges, means) = try Self.df.analyse(g, statistics: Self.statistics)
        // the pooled means keep the map's spread: its 2×2 positions move together as much as
        // they may (one image's), so the range is the map's mean ± kσ, not ± kσ/2
        let k = Self.df.k
        #expect(ranges["gap"]?.0 == -k && ranges["gap"]?.1 == 30 + k)
        // the gate is in [0, 1]: the product stays within the map's own range, and its channel
        // means below the map's
        let r = try #require(ranges["y"])
        #expect(r.0 >= -k && r.1 <= 30 + k && r.1 > 20)
        let m = try #require(means["y"])
        #expect(zip(m, [0, 10, 20, 30]).allSatisfy { $0 <= $1 + 1e-4 })
        // a layer scale multiplies channel by channel
        #expect(means["z"] == [0, 20, 60, 120])
    }

    @Test func layerNormOnChannelLastTokensStartsFromItsAffineParameters() throws {
        var g = Graph(name: "ln")
        let c = try start(&g)
        let t = try g.addNode(name: "t", op: .transpose(perm: [0, 2, 3, 1]), inputs: [c])
        let gamma = g.addConstant(name: "g", Tensor(shape: Shape([4]), floats: [1, 1, 2, 2]))
        let beta = g.addConstant(name: "b", Tensor(shape: Shape([4]), floats: [0, 1, 2, 3]))
        let ln = try g.addNode(name: "ln", op: .layerNorm(axis: -1, epsilon: 1e-6), inputs: [t, gamma, beta])
        let back = try g.addNode(name: "back", op: .transpose(perm: [0, 3, 1, 2]), inputs: [ln])
        g.outputs = [back]
        let (ranges, means) = try Self.df.analyse(g, statistics: Self.statistics)
        #expect(means["back"] == [0, 1, 2, 3])
        // β ± k·γ over the channels: 2 − 2k to 3 + 2k
        let k = Self.df.k
        #expect(ranges["ln"]?.0 == 2 - 2 * k && ranges["ln"]?.1 == 3 + 2 * k)
        // the token value's channels are on its last axis: no NCHW means are claimed for it
        #expect(means["t"] == nil)
    }

    @Test func exportedWithoutBatchNormTheSpreadStaysBounded() throws {
        // twenty 3×3 convolutions of 16 channels with unit-variance weights/√fan-in and no recorded
        // statistics (an exporter folded them): independent inputs keep σ near the input's
        var g = Graph(name: "deep")
        var v = g.addInput(name: "x", shape: Shape([1, 16, 8, 8]))
        var r = QuantizeTests.Rand(s: 3)
        for i in 0..<20 {
            let w = g.addConstant(name: "w\(i)", r.tensor([16, 16, 3, 3], scale: (3.0 / 144).squareRoot()))
            v = try g.addNode(
                name: "c\(i)", op: .conv2d(Conv2dAttrs(pad: [1, 1, 1, 1])), inputs: [v, w])
        }
        g.outputs = [v]
        let df = DataFreeRanges(
            normalisationMean: Array(repeating: 0.5, count: 16), std: Array(repeating: 1, count: 16))
        let ranges = try df.ranges(of: g, statistics: [:])
        let last = try #require(ranges["c19"])
        #expect(last.1 < 10 && last.0 > -10, "\(last)")
    }
}
