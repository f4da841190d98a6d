import Testing

@testable import GraphIR

/// A small deterministic generator for test data.
struct SplitMix {
    var state: UInt64
    mutating func next() -> Float {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return Float(z >> 40) / Float(1 << 24) * 2 - 1
    }
    mutating func tensor(_ dims: [Int]) -> Tensor {
        Tensor(shape: Shape(dims), floats: (0..<dims.reduce(1, *)).map { _ in next() })
    }
}

/// Runs one op on the given inputs (constants after the first) through the evaluator.
func evalOne(_ op: Op, _ x: Tensor, _ rest: [Tensor]) throws -> [Float] {
    var g = Graph(name: "one")
    let xi = g.addInput(name: "x", shape: x.shape)
    let ids = [xi] + rest.enumerated().map { g.addConstant(name: "c\($0.offset)", $0.element) }
    g.outputs = [try g.addNode(name: "op", op: op, inputs: ids)]
    try g.verify()
    return try Evaluator(graph: g).run([x])[0].floatArray()
}

func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count)
    return zip(a, b).map { abs($0 - $1) }.max() ?? 0
}

@Suite struct EvaluatorTests {
    /// The definition of convolution, looped directly.
    func naiveConv(_ x: Tensor, _ w: Tensor, _ b: Tensor?, _ a: Conv2dAttrs) -> [Float] {
        let (xs, ws) = (x.shape.dims, w.shape.dims)
        let (xf, wf, bf) = (x.floatArray(), w.floatArray(), b?.floatArray())
        let ho = (xs[2] + a.pad[0] + a.pad[2] - a.dilation[0] * (ws[2] - 1) - 1) / a.stride[0] + 1
        let wo = (xs[3] + a.pad[1] + a.pad[3] - a.dilation[1] * (ws[3] - 1) - 1) / a.stride[1] + 1
        let cg = ws[1]
        let coutG = ws[0] / a.groups
        var out = [Float](repeating: 0, count: xs[0] * ws[0] * ho * wo)
        for n in 0..<xs[0] {
            for co in 0..<ws[0] {
                let g = co / coutG
                for oy in 0..<ho {
                    for ox in 0..<wo {
                        var s: Float = bf?[co] ?? 0
                        for ci in 0..<cg {
                            for ky in 0..<ws[2] {
                                for kx in 0..<ws[3] {
                                    let iy = oy * a.stride[0] - a.pad[0] + ky * a.dilation[0]
                                    let ix = ox * a.stride[1] - a.pad[1] + kx * a.dilation[1]
                                    if iy < 0 || ix < 0 || iy >= xs[2] || ix >= xs[3] { continue }
                                    let xv = xf[((n * xs[1] + g * cg + ci) * xs[2] + iy) * xs[3] + ix]
                                    s += xv * wf[((co * cg + ci) * ws[2] + ky) * ws[3] + kx]
                                }
                            }
                        }
                        out[((n * ws[0] + co) * ho + oy) * wo + ox] = s
                    }
                }
            }
        }
        return out
    }

    @Test(arguments: [
        // (input dims, weight dims, stride, pad [t,l,b,r], dilation, groups)
        ([1, 3, 9, 9], [4, 3, 3, 3], 2, [1, 1, 1, 1], 1, 1),
        ([2, 6, 7, 7], [6, 1, 3, 3], 1, [1, 1, 1, 1], 1, 6),
        ([1, 6, 8, 8], [6, 1, 3, 3], 2, [1, 1, 1, 1], 1, 6),
        // wide enough for the vectorised 3×3 depthwise rows (8 outputs at a time), both strides
        ([1, 3, 20, 29], [3, 1, 3, 3], 1, [1, 1, 1, 1], 1, 3),
        ([1, 2, 37, 41], [2, 1, 3, 3], 2, [1, 1, 1, 1], 1, 2),
        ([1, 2, 36, 40], [2, 1, 3, 3], 2, [0, 0, 1, 1], 1, 2),
        ([1, 4, 6, 6], [8, 4, 1, 1], 1, [0, 0, 0, 0], 1, 1),
        ([1, 8, 7, 5], [4, 2, 3, 2], 1, [2, 1, 0, 1], 2, 4),
        ([1, 3, 10, 10], [5, 3, 5, 5], 3, [0, 0, 0, 0], 1, 1),
    ])
    func conv2dMatchesTheDefinition(xd: [Int], wd: [Int], stride: Int, pad: [Int], dilation: Int, groups: Int) throws {
        var r = SplitMix(state: UInt64(xd.reduce(7, *) + wd.reduce(3, *)))
        let (x, w, b) = (r.tensor(xd), r.tensor(wd), r.tensor([wd[0]]))
        let a = Conv2dAttrs(stride: [stride, stride], pad: pad, dilation: [dilation, dilation], groups: groups)
        let got = try evalOne(.conv2d(a), x, [w, b])
        #expect(maxAbsDiff(got, naiveConv(x, w, b, a)) < 1e-5)
    }

    @Test func gemmAndBatchedMatMul() throws {
        var r = SplitMix(state: 1)
        let (x, w, b) = (r.tensor([2, 3, 5]), r.tensor([4, 5]), r.tensor([4]))
        let got = try evalOne(.gemm(), x, [w, b])
        let (xf, wf, bf) = (x.floatArray(), w.floatArray(), b.floatArray())
        var want: [Float] = []
        for row in 0..<6 {
            for o in 0..<4 { want.append(bf[o] + (0..<5).reduce(0) { $0 + xf[row * 5 + $1] * wf[o * 5 + $1] }) }
        }
        #expect(maxAbsDiff(got, want) < 1e-5)

        let (a, m) = (r.tensor([2, 3, 2, 4]), r.tensor([1, 3, 4, 3]))
        let mm = try evalOne(.matMul, a, [m])
        let (af, mf) = (a.floatArray(), m.floatArray())
        var wantM: [Float] = []
        for bi in 0..<2 {
            for h in 0..<3 {
                for i in 0..<2 {
                    for j in 0..<3 {
                        wantM.append(
                            (0..<4).reduce(0) { $0 + af[((bi * 3 + h) * 2 + i) * 4 + $1] * mf[(h * 4 + $1) * 3 + j] })
                    }
                }
            }
        }
        #expect(maxAbsDiff(mm, wantM) < 1e-5)
    }

    @Test func elementwiseAndBroadcast() throws {
        var r = SplitMix(state: 2)
        let (x, y) = (r.tensor([2, 3, 4]), r.tensor([3, 1]))
        let got = try evalOne(.add(), x, [y])
        let (xf, yf) = (x.floatArray(), y.floatArray())
        #expect(maxAbsDiff(got, (0..<24).map { xf[$0] + yf[($0 / 4) % 3] }) == 0)
        let hs = try evalOne(.hardSwish, x, [])
        #expect(maxAbsDiff(hs, xf.map { $0 * min(max($0 + 3, 0), 6) / 6 }) == 0)
        let ge = try evalOne(.gelu, Tensor(shape: Shape([3]), floats: [-1, 0, 2]), [])
        // torch.nn.functional.gelu([-1, 0, 2]) (erf form)
        #expect(maxAbsDiff(ge, [-0.15865526, 0, 1.9544997]) < 1e-6)
    }

    @Test func normsAndSoftmax() throws {
        var r = SplitMix(state: 3)
        let x = r.tensor([2, 5])
        let ln = try evalOne(
            .layerNorm(axis: -1, epsilon: 1e-6), x,
            [Tensor(shape: Shape([5]), floats: [1, 1, 1, 1, 1]), Tensor(shape: Shape([5]), floats: [0, 0, 0, 0, 0])])
        for row in 0..<2 {
            let v = Array(ln[row * 5..<(row + 1) * 5])
            let mean = v.reduce(0, +) / 5
            let variance = v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 5
            #expect(abs(mean) < 1e-6 && abs(variance - 1) < 1e-4)
        }
        let sm = try evalOne(.softmax(axis: 0), x, [])
        for col in 0..<5 { #expect(abs(sm[col] + sm[5 + col] - 1) < 1e-6) }
        let bn = try evalOne(
            .batchNorm(epsilon: 0), Tensor(shape: Shape([1, 2, 1, 2]), floats: [1, 2, 3, 4]),
            [
                Tensor(shape: Shape([2]), floats: [2, 1]), Tensor(shape: Shape([2]), floats: [0, 1]),
                Tensor(shape: Shape([2]), floats: [1, 3]), Tensor(shape: Shape([2]), floats: [4, 1]),
            ])
        #expect(bn == [0, 1, 1, 2])
    }

    @Test func pooling() throws {
        let x = Tensor(shape: Shape([1, 1, 3, 3]), floats: (1...9).map(Float.init))
        let mp = try evalOne(.maxPool(PoolAttrs(kernel: [2, 2], stride: [2, 2], pad: [1, 1, 1, 1])), x, [])
        #expect(mp == [1, 3, 7, 9])
        // count_include_pad = true divides by 4 at the corner; false by the 1 real element
        let ap = try evalOne(.avgPool(PoolAttrs(kernel: [2, 2], stride: [2, 2], pad: [1, 1, 1, 1])), x, [])
        #expect(ap == [0.25, 1.25, 2.75, 7])
        let ap2 = try evalOne(
            .avgPool(PoolAttrs(kernel: [2, 2], stride: [2, 2], pad: [1, 1, 1, 1], countIncludePad: false)), x, [])
        #expect(ap2 == [1, 2.5, 5.5, 7])
        #expect(try evalOne(.globalAvgPool, x, []) == [5])
    }

    @Test func layoutOps() throws {
        let x = Tensor(shape: Shape([2, 3]), floats: [0, 1, 2, 3, 4, 5])
        #expect(try evalOne(.transpose(perm: [1, 0]), x, []) == [0, 3, 1, 4, 2, 5])
        #expect(try evalOne(.slice(axis: 1, start: 1, end: 100, step: 1), x, []) == [1, 2, 4, 5])
        #expect(try evalOne(.slice(axis: 1, start: 0, end: -1, step: 2), x, []) == [0, 3])
        #expect(try evalOne(.gather(axis: 1), x, [Tensor(shape: Shape([]), int64s: [-1])]) == [2, 5])
        #expect(try evalOne(.concat(axis: 0), x, [x]) == [0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5])
        #expect(try evalOne(.expand(shape: [2, 2, 3]), x, []) == [0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5])
        #expect(try evalOne(.reshape(shape: [3, 2]), x, []) == [0, 1, 2, 3, 4, 5])
    }

    @Test func rejectsAWrongInputShape() throws {
        var g = Graph(name: "g")
        let x = g.addInput(name: "x", shape: Shape([1, 4]))
        g.outputs = [try g.addNode(name: "r", op: .relu, inputs: [x])]
        #expect(throws: IRError.self) {
            try Evaluator(graph: g).run([Tensor(shape: Shape([1, 5]), floats: [1, 2, 3, 4, 5])])
        }
    }
}
