import CKernels
import Testing

@testable import Codegen
@testable import GraphIR

/// Each C kernel of Sources/CKernels called directly (the portable path SwiftPM builds) against
/// its Swift counterpart on random and extreme inputs, with the parameters the lowering computes
/// (`KernelParameters`), bit for bit. The SIMD paths are compared kernel by kernel in
/// CSIMDKernelTests and through whole models in CGenTests (AVX2 natively, NEON under qemu).
@Suite struct CKernelTests {
    /// A deterministic generator (PCG-style LCG).
    struct RNG {
        var s: UInt64
        mutating func next() -> UInt64 {
            s = s &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return s >> 11
        }
        mutating func int(_ r: ClosedRange<Int>) -> Int { r.lowerBound + Int(next() % UInt64(r.count)) }
        mutating func int8s(_ n: Int, _ r: ClosedRange<Int> = -128...127) -> [Int8] {
            (0..<n).map { _ in Int8(int(r)) }
        }
        mutating func int32() -> Int32 { Int32(truncatingIfNeeded: next()) }
    }

    static let extremes: [Int32] = [.min, .min + 1, -(1 << 30), -65536, -12345, -1, 0, 1, 12345, 65536, 1 << 30, .max]

    // MARK: - arithmetic

    @Test func arithmeticMatchesQuantMath() {
        var rng = RNG(s: 1)
        let values = Self.extremes + (0..<200).map { _ in rng.int32() }
        let multipliers: [Int32] = [.min, -1, 0, 1, 1 << 30, 1_518_500_250, .max] + (0..<20).map { _ in rng.int32() }
        for a in values {
            for b in multipliers {
                #expect(fk_sqrdmulh(a, b) == QuantMath.sqrdmulh(a, b), "sqrdmulh(\(a), \(b))")
            }
            for n in [0, 1, 2, 7, 15, 30, 31] {
                #expect(fk_rshr(a, Int32(n)) == QuantMath.rshr(a, n), "rshr(\(a), \(n))")
                #expect(fk_sqshl(a, Int32(n)) == QuantMath.sqshl(a, n), "sqshl(\(a), \(n))")
            }
        }
        for a in values {
            for m in [Int32(1 << 30), .max, 1_518_500_250, 1] {
                for (l, r) in [(0, 0), (0, 1), (0, 31), (3, 0), (8, 15), (31, 31)] {
                    let q = Requantizer(multiplier: m, leftShift: l, rightShift: r)
                    #expect(fk_scale(a, m, Int32(l), Int32(r)) == QuantMath.scale(a, q))
                    for (zp, lo, hi) in [
                        (Int32(0), Int32(-128), Int32(127)), (-128, -128, 127), (127, 0, 127), (-5, -5, 40),
                    ] {
                        #expect(
                            fk_requant(a, m, Int32(l), Int32(r), zp, lo, hi)
                                == QuantMath.requantize(a, q, zeroPoint: zp, lo: lo, hi: hi))
                    }
                }
            }
        }
    }

    /// Per-channel requantization of n accumulators (tails of every length).
    @Test func requantizeManyMatchesQuantMath() {
        var rng = RNG(s: 2)
        for n in [1, 3, 4, 7, 8, 9, 31, 64] {
            let acc = (0..<n).map { i in i < Self.extremes.count ? Self.extremes[i] : rng.int32() }
            let q = (0..<n).map { _ in
                Requantizer(real: Double(rng.int(1...1_000_000)) / Double(rng.int(1...100_000_000)))
            }
            let r = ChannelRequantizers(q)
            var out = [Int8](repeating: 0, count: n)
            fk_requant_n(acc, r.multipliers, r.leftShifts, r.rightShifts, Int32(n), 3, -100, 120, &out)
            let want = (0..<n).map { QuantMath.requantize(acc[$0], q[$0], zeroPoint: 3, lo: -100, hi: 120) }
            #expect(out == want)
            // fk_requant_rows: three rows of the same channels, accumulators and outputs strided
            // (its NEON path is CSIMDKernelTests', through the depthwise and 1×1 kernels)
            let (sa, so) = (n + 5, n + 2)
            var rows = [Int32](repeating: 0, count: 3 * sa)
            for row in 0..<3 { for j in 0..<n { rows[row * sa + j] = acc[(j + row) % n] } }
            var outs = [Int8](repeating: 0, count: 3 * so)
            fk_requant_rows(rows, sa, 3, r.multipliers, r.leftShifts, r.rightShifts, Int32(n), 3, -100, 120, &outs, so)
            for row in 0..<3 {
                let got = Array(outs[(row * so)..<(row * so + n)])
                let expected = (0..<n).map {
                    QuantMath.requantize(rows[row * sa + $0], q[$0], zeroPoint: 3, lo: -100, hi: 120)
                }
                #expect(got == expected, "row \(row) of \(n)")
            }
        }
    }

    /// A depthwise window's taps inside the image and the pixels of its block (fk_dw_window): at a
    /// corner, inside, dilated, strided at the right edge.
    @Test func depthwiseWindowListsTheTapsInside() {
        var off = [Int](repeating: -1, count: 9)
        var woff = [Int](repeating: -1, count: 9)
        var np: Int32 = 0
        // 5×5 image, 2 channels, 3×3 window, padding 1: output (0, 0) reads rows and columns 0, 1;
        // its window crosses the left edge, so its block is one pixel
        var nt = fk_dw_window(0, 0, 5, 5, 5, 2, 3, 3, 1, 1, 1, 1, 1, 1, &off, &woff, &np)
        #expect(nt == 4 && Array(off[..<4]) == [0, 2, 10, 12] && Array(woff[..<4]) == [8, 10, 14, 16] && np == 1)
        // output (2, 2): the whole window, taps in order; pixels 2..5 do not exist (wo 5)
        nt = fk_dw_window(2, 2, 5, 5, 5, 2, 3, 3, 1, 1, 1, 1, 1, 1, &off, &woff, &np)
        #expect(nt == 9 && off[0] == (1 * 5 + 1) * 2 && off[8] == (3 * 5 + 3) * 2 && woff == (0..<9).map { $0 * 2 })
        #expect(np == 1)
        // a 9-wide output row: pixels 1..4 stay inside, 5..8 reach the right padding
        _ = fk_dw_window(0, 1, 9, 9, 9, 1, 3, 3, 1, 1, 1, 1, 1, 1, &off, &woff, &np)
        #expect(np == 4)
        _ = fk_dw_window(0, 5, 9, 9, 9, 1, 3, 3, 1, 1, 1, 1, 1, 1, &off, &woff, &np)
        #expect(np == 1)
        // dilation 2 from output (0, 0) with padding 2: rows and columns 0 and 2 of the taps' 0, 2, 4
        nt = fk_dw_window(0, 0, 5, 5, 5, 1, 3, 3, 1, 1, 2, 2, 2, 2, &off, &woff, &np)
        #expect(nt == 4 && Array(off[..<4]) == [0, 2, 10, 12] && Array(woff[..<4]) == [4, 5, 7, 8])
        // stride 2 at output column 3 of a 7-wide image (wo 4): columns 5, 6 inside, 7 in the padding
        nt = fk_dw_window(0, 3, 4, 7, 7, 1, 3, 3, 2, 2, 1, 1, 1, 1, &off, &woff, &np)
        #expect(nt == 4 && Array(off[..<4]) == [5, 6, 12, 13] && np == 1)
    }

    @Test func quantizeAndDequantizeMatchQuantMath() {
        let xs: [Float] = [
            0, -0.0, 0.5, -0.5, 1.5, -1.5, 2.5, 126.5, 127.49, 1e9, -1e9, 3e38, .infinity, -.infinity, .nan,
            .leastNonzeroMagnitude, 0.049999, 0.15,
        ]
        for s: Float in [1, 0.1, 0.003921, 1e-6, 0x1p-40] {
            for zp: Int32 in [0, -128, 127, 17] {
                for x in xs {
                    #expect(fk_quantize(x, s, zp) == QuantMath.quantize(x, scale: s, zeroPoint: zp), "\(x) \(s) \(zp)")
                }
                for q in Int8.min...Int8.max {
                    let (c, sw) = (fk_dequantize(q, s, zp), QuantMath.dequantize(q, scale: s, zeroPoint: zp))
                    #expect(c.bitPattern == sw.bitPattern)
                }
            }
        }
    }

    // MARK: - layout

    /// NCHW ⇄ NHWC: the layout kernels against the definition.
    @Test func layoutKernelsTranspose() {
        var rng = RNG(s: 3)
        let (c, plane) = (5, 7)
        let x = rng.int8s(c * plane)
        var nhwc = [Int8](repeating: 0, count: x.count)
        fk_nchw_to_nhwc(x, Int32(c), Int32(plane), &nhwc)
        for ch in 0..<c { for p in 0..<plane { #expect(nhwc[p * c + ch] == x[ch * plane + p]) } }
        var back = [Int8](repeating: 0, count: x.count)
        fk_to_nchw(nhwc, Int32(plane), Int32(c), &back)
        #expect(back == x)
        let f = x.map { Float($0) * 0.37 }
        var q = [Int8](repeating: 0, count: x.count)
        fk_quantize_nchw(f, Int32(c), Int32(plane), 0.5, -3, &q)
        for ch in 0..<c {
            for p in 0..<plane {
                #expect(q[p * c + ch] == QuantMath.quantize(f[ch * plane + p], scale: 0.5, zeroPoint: -3))
            }
        }
    }

    // MARK: - int8 kernels against Int8Kernels

    /// A one-op int8 graph (input quantized, the op, int8 output), its quantized input, and the
    /// evaluator's output (NCHW).
    struct OneOp {
        var graph: Graph
        var node: Node
        var x: [Int8]
        var want: [Int8]
        var xShape: [Int]
        var outShape: [Int]
        var params: KernelParameters
        var weights: [Int8] = []
    }

    static func oneOp(
        _ op: Op, x xShape: [Int], weights: [Int]? = nil, bias: Bool = true, second: Bool = false,
        secondShape: [Int]? = nil, seed: UInt64, keepsParameters: Bool = false, noMinus128: Bool = false,
        allMinus128: Bool = false
    ) throws -> OneOp {
        var rng = RNG(s: seed)
        var g = Graph(name: "one")
        let xq = QuantParams(scale: 0.05, zeroPoint: Int32(rng.int(-20...20)))
        let input = g.addInput(name: "x", shape: Shape(xShape))
        let count = xShape.reduce(1, *)
        // values over the whole int8 range (and beyond, which the quantizer clamps)
        // allMinus128: every input and weight −128 (the largest products, the same in every tap)
        let xf = (0..<count).map { _ in
            Float(allMinus128 ? -128 - xq.zeroPoints[0] : Int32(rng.int(-140...140))) * xq.scales[0]
        }
        let q = try g.addNode(name: "q", op: .quantize, inputs: [input])
        g.values[q].dtype = .int8
        g.values[q].quant = xq
        var ins = [q]
        var wq: [Int8] = []
        if let w = weights {
            let n = w.reduce(1, *)
            wq = rng.int8s(n)
            for i in 0..<min(4, n) { wq[i] = [-128, 127, -127, 0][i] }
            // fkdc's own weights never hold -128 (the NEON dot kernels rely on it)
            if noMinus128 { wq = wq.map { max($0, -127) } }
            if allMinus128 { wq = wq.map { _ in -128 } }
            let scales = (0..<w[0]).map { _ in Float(rng.int(1...1000)) * 1e-5 }
            ins.append(
                g.addConstant(
                    name: "w", wq.withUnsafeBytes { Tensor(dtype: .int8, shape: Shape(w), bytes: $0) },
                    quant: QuantParams(scales: scales, zeroPoints: [Int32](repeating: 0, count: w[0]), axis: 0)))
            if bias {
                let b = (0..<w[0]).map { i in
                    i == 0 ? Int32.max - 5 : i == 1 ? Int32.min + 5 : Int32(rng.int(-50000...50000))
                }
                ins.append(
                    g.addConstant(
                        name: "b", b.withUnsafeBytes { Tensor(dtype: .int32, shape: Shape([w[0]]), bytes: $0) },
                        quant: QuantParams(
                            scales: scales.map { $0 * xq.scales[0] }, zeroPoints: [Int32](repeating: 0, count: w[0]),
                            axis: 0)))
            }
        }
        if second {
            let y = g.addInput(name: "y", shape: Shape(secondShape ?? xShape))
            let qy = try g.addNode(name: "qy", op: .quantize, inputs: [y])
            g.values[qy].dtype = .int8
            g.values[qy].quant = QuantParams(scale: 0.031, zeroPoint: 9)
            ins.append(qy)
        }
        let out = try g.addNode(name: "op", op: op, inputs: ins)
        g.values[out].dtype = .int8
        g.values[out].quant = keepsParameters ? xq : QuantParams(scale: 0.07, zeroPoint: Int32(rng.int(-30...30)))
        g.outputs = [out]
        try g.verify()
        var inputs = [Tensor(shape: Shape(xShape), floats: xf)]
        if second {
            let ys = secondShape ?? xShape
            inputs.append(
                Tensor(shape: Shape(ys), floats: (0..<ys.reduce(1, *)).map { _ in Float(rng.int(-140...140)) * 0.025 }))
        }
        var seen: [String: [Int8]] = [:]
        let want = try QuantizedEvaluator(graph: g).run(inputs) { n, t in
            seen[n.name] = t.int64ArrayExact().map { Int8($0) }
        }[0]
        let node = g.nodes.last!
        var x = seen["q"]!
        if second { x += seen["qy"]! }
        return OneOp(
            graph: g, node: node, x: x, want: want.int64ArrayExact().map { Int8($0) }, xShape: xShape,
            outShape: g.values[out].shape.dims, params: try KernelParameters.of(node, in: g), weights: wq)
    }

    /// NCHW → NHWC of a batch-1 map.
    static func nhwc(_ x: ArraySlice<Int8>, _ s: [Int]) -> [Int8] {
        let (c, plane) = (s[1], s[2] * s[3])
        let b = x.startIndex
        return (0..<plane).flatMap { p in (0..<c).map { x[b + $0 * plane + p] } }
    }

    /// The kernel the lowering picks for the op (its graph ended by a dequantize, as the C API needs).
    static func kernel(_ o: OneOp) throws -> KernelProgram.Kernel {
        var g = o.graph
        let dq = try g.addNode(name: "dq", op: .dequantize, inputs: g.outputs)
        g.values[dq].dtype = .float32
        g.outputs = [dq]
        let program = try Lowering.lower(g, for: .named("generic-c")!)
        return try #require(program.steps.first { g.nodes[$0.node].name == "op" }).kernel
    }

    static func weighted(_ o: OneOp) throws -> WeightedParameters {
        guard case .weighted(let p) = o.params else { throw CodegenError("not a weighted op") }
        return p
    }

    @Test(arguments: [
        (1, 3, 37, 40, FusedActivation.none), (1, 1, 64, 96, .relu), (2, 5, 19, 33, .clip(min: 0, max: 6)),
    ])
    func pointwiseMatchesConvAndLinear(h: Int, w: Int, k: Int, o: Int, act: FusedActivation) throws {
        // a 1×1 convolution over the pixels
        let conv = try Self.oneOp(
            .conv2d(Conv2dAttrs(activation: act)), x: [1, k, h, w], weights: [o, k, 1, 1], seed: UInt64(k))
        let p = try Self.weighted(conv)
        #expect(p.inputOffset == 0, "the zero point is folded into the bias")
        #expect(try Self.kernel(conv) == .pointwise)
        let wPairs = WeightLayout.pairs(rows: o, cols: k).apply(conv.weights, zero: 0)
        let r = p.requant
        var y = [Int8](repeating: 0, count: h * w * o)
        fk_pointwise(
            Self.nhwc(conv.x[...], conv.xShape), Int32(h * w), Int32(k), wPairs, p.bias, r.multipliers, r.leftShifts,
            r.rightShifts, &y, Int32(o), p.outputZeroPoint, p.clamp.lo, p.clamp.hi)
        #expect(y == Self.nhwc(conv.want[...], conv.outShape))
        // a linear layer over rows
        let rows = h * w
        let fc = try Self.oneOp(.fullyConnected(act), x: [rows, k], weights: [o, k], seed: UInt64(o))
        let q = try Self.weighted(fc)
        var z = [Int8](repeating: 0, count: rows * o)
        fk_pointwise(
            fc.x, Int32(rows), Int32(k), WeightLayout.pairs(rows: o, cols: k).apply(fc.weights, zero: 0), q.bias,
            q.requant.multipliers, q.requant.leftShifts, q.requant.rightShifts, &z, Int32(o), q.outputZeroPoint,
            q.clamp.lo, q.clamp.hi)
        #expect(z == fc.want)
    }

    /// The NEON 1×1 kernel (weights as rows of K, each four rows interleaved by 16 columns:
    /// `dotRows`; K with and without a 16- and 8-wide tail, O not a multiple of 4, pixels not a
    /// multiple of 4, more than 256 channels) and the quad
    /// kernel (weights [K/4][O][4]) against the evaluator. This build runs their portable paths,
    /// fk_host_pointwise_quad the host's SIMD one; CSIMDKernelTests runs every SIMD path.
    @Test(arguments: [(1, 3, 37, 40), (1, 1, 64, 96), (2, 5, 19, 33), (3, 3, 24, 300), (1, 2, 8, 4), (2, 3, 70, 264)])
    func pointwiseDotMatchesTheEvaluator(h: Int, w: Int, k: Int, o: Int) throws {
        let conv = try Self.oneOp(
            .conv2d(Conv2dAttrs(activation: .relu)), x: [1, k, h, w], weights: [o, k, 1, 1], seed: UInt64(k + o),
            noMinus128: true)
        let p = try Self.weighted(conv)
        let r = p.requant
        var y = [Int8](repeating: 0, count: h * w * o)
        let x = Self.nhwc(conv.x[...], conv.xShape)
        fk_pointwise_dot(
            x, Int32(h * w), Int32(k), PointwiseKernel.rows.layout(o: o, k: k).apply(conv.weights, zero: 0), p.bias,
            r.multipliers, r.leftShifts, r.rightShifts, &y, Int32(o),
            p.outputZeroPoint, p.clamp.lo, p.clamp.hi)
        #expect(y == Self.nhwc(conv.want[...], conv.outShape))
        // the quad kernel in the portable build and in the host's fastest (AVX2, VNNI where present)
        let quads = WeightLayout.quads(rows: o, cols: k).apply(conv.weights, zero: 0)
        for f in [fk_pointwise_quad, fk_host_pointwise_quad] {
            var z = [Int8](repeating: 0, count: h * w * o)
            f(
                x, Int32(h * w), Int32(k), quads, p.bias, r.multipliers, r.leftShifts, r.rightShifts, &z, Int32(o),
                p.outputZeroPoint, p.clamp.lo, p.clamp.hi)
            #expect(z == Self.nhwc(conv.want[...], conv.outShape), "\(CKernelLayers.simd)")
        }
    }

    /// Depthwise (more channels than one block of 64), dense (the stem) and general (grouped, and
    /// a window too large to gather) convolutions, with strides, padding and dilation.
    @Test(arguments: [
        (70, 70, 3, 70, 7, 2, 1, 1, KernelProgram.Kernel.depthwise),
        (16, 16, 5, 16, 9, 1, 2, 2, .depthwise),
        (3, 36, 3, 1, 11, 2, 1, 1, .denseConvolution),
        (8, 6, 3, 2, 6, 1, 1, 1, .convolution),
        (120, 8, 3, 1, 5, 1, 1, 1, .convolution),
    ])
    func convolutionsMatchTheEvaluator(
        c: Int, o: Int, k: Int, groups: Int, size: Int, stride: Int, pad: Int, dilation: Int,
        kernel: KernelProgram.Kernel
    ) throws {
        let a = Conv2dAttrs(
            stride: [stride, stride], pad: [pad, pad, pad, pad], dilation: [dilation, dilation], groups: groups,
            activation: .relu)
        let t = try Self.oneOp(
            .conv2d(a), x: [1, c, size, size], weights: [o, c / groups, k, k], seed: UInt64(c + o), noMinus128: true)
        #expect(try Self.kernel(t) == kernel)
        let p = try Self.weighted(t)
        let r = p.requant
        let (ho, wo) = (t.outShape[2], t.outShape[3])
        var y = [Int8](repeating: 0, count: ho * wo * o)
        let x = Self.nhwc(t.x[...], t.xShape)
        let cg = c / groups
        let (n, s, d) = (Int32(size), Int32(stride), Int32(dilation))
        let want = Self.nhwc(t.want[...], t.outShape)
        // output rows [begin, end) run alone, as generated C's parallel steps run them
        // (fk_conv_rows), then the whole map: the same bytes
        let splits = [[0, 1, 3, ho], [0, ho]].map { $0.filter { $0 <= ho } }
        for cuts in splits {
            y = [Int8](repeating: 0, count: ho * wo * o)
            for (begin, end) in zip(cuts, cuts.dropFirst()) where begin < end {
                let bytes = x.count
                try x.withUnsafeBufferPointer { xb in
                    var xp: UnsafePointer<Int8>? = xb.baseAddress
                    var (rows, pd) = (Int32(0), Int32(0))
                    fk_conv_rows(Int32(begin), n, n, Int32(c), s, Int32(pad), &xp, &rows, &pd)
                    let skipped = try #require(xp) - xb.baseAddress!
                    #expect(skipped >= 0 && skipped <= bytes && skipped % (size * c) == 0)
                    try y.withUnsafeMutableBufferPointer { yb in
                        let yp = yb.baseAddress! + begin * wo * o
                        let (h, pdx, rowsOut) = (rows, Int32(pad), Int32(end - begin))
                        let (px, b, mm, ll, rr) = (try #require(xp), p.bias, r.multipliers, r.leftShifts, r.rightShifts)
                        switch kernel {
                        case .depthwise:
                            let w = WeightLayout.depthwise(channels: o, kk: k * k).apply(t.weights, zero: 0)
                            fk_depthwise(
                                px, h, n, Int32(c), p.inputOffset, w, b, mm, ll, rr, yp, rowsOut, Int32(wo), Int32(k),
                                Int32(k), s, s, pd, pdx, d, d, p.outputZeroPoint, p.clamp.lo, p.clamp.hi)
                        case .denseConvolution:
                            let w = WeightLayout.dense(o: o, cg: cg, kk: k * k).apply(t.weights, zero: 0)
                            fk_conv_dense(
                                px, h, n, Int32(c), p.inputOffset, w, b, mm, ll, rr, yp, rowsOut, Int32(wo), Int32(o),
                                Int32(k), Int32(k), s, s, pd, pdx, d, d, p.outputZeroPoint, p.clamp.lo, p.clamp.hi)
                            // the NEON stem: windows as rows of bytes, padding read as zx, the bias less zx·Σw
                            let kp = (cg * k * k + 15) / 16 * 16
                            let wr = WeightLayout.dotRows(o: o, cg: cg, kk: k * k, stride: kp)
                                .apply(t.weights, zero: 0)
                            let folded = (0..<o).map { oc in
                                b[oc] &- p.inputOffset
                                    &* Int32(
                                        t.weights[(oc * cg * k * k)..<((oc + 1) * cg * k * k)].reduce(0) {
                                            $0 + Int($1)
                                        })
                            }
                            var z = [Int8](repeating: 0, count: (end - begin) * wo * o)
                            fk_conv_dot(
                                px, h, n, Int32(c), p.inputOffset, wr, folded, mm, ll, rr, &z, rowsOut, Int32(wo),
                                Int32(o), Int32(k), Int32(k), s, s, pd, pdx, d, d, Int32(kp), p.outputZeroPoint,
                                p.clamp.lo, p.clamp.hi)
                            #expect(
                                z == Array(yb[(begin * wo * o)..<(end * wo * o)]), "fk_conv_dot rows \(begin)..<\(end)")
                        default:
                            let w = WeightLayout.general(o: o, cg: cg, kk: k * k).apply(t.weights, zero: 0)
                            fk_conv(
                                px, h, n, Int32(c), p.inputOffset, w, b, mm, ll, rr, yp, rowsOut, Int32(wo), Int32(o),
                                Int32(k), Int32(k), s, s, pd, pdx, d, d, Int32(groups), p.outputZeroPoint,
                                p.clamp.lo, p.clamp.hi)
                        }
                    }
                }
            }
            #expect(y == want, "rows split at \(cuts)")
        }
    }

    @Test func addMatchesTheEvaluator() throws {
        for act in [FusedActivation.none, .relu, .clip(min: -1, max: 2)] {
            let t = try Self.oneOp(.add(act), x: [1, 6, 4, 5], second: true, seed: 11)
            guard case .add(let p) = t.params else { throw CodegenError("not an add") }
            let n = t.want.count
            var y = [Int8](repeating: 0, count: n)
            // the same elementwise order in either layout
            fk_add(
                Array(t.x[0..<n]), p.aZeroPoint, p.a.multiplier, Int32(p.a.leftShift), Int32(p.a.rightShift),
                Array(t.x[n...]), p.bZeroPoint, p.b.multiplier, Int32(p.b.leftShift), Int32(p.b.rightShift), &y,
                Int32(n), p.outputZeroPoint, p.out.multiplier, Int32(p.out.leftShift), Int32(p.out.rightShift),
                p.clamp.lo, p.clamp.hi)
            #expect(y == t.want)
            // one element at a time (generated CUDA's add and fused residuals call it)
            let one = (0..<n).map { i in
                fk_add_one(
                    Int32(t.x[i]), p.aZeroPoint, p.a.multiplier, Int32(p.a.leftShift), Int32(p.a.rightShift),
                    Int32(t.x[n + i]), p.bZeroPoint, p.b.multiplier, Int32(p.b.leftShift), Int32(p.b.rightShift),
                    p.outputZeroPoint, p.out.multiplier, Int32(p.out.leftShift), Int32(p.out.rightShift), p.clamp.lo,
                    p.clamp.hi)
            }
            #expect(one == t.want)
        }
        #expect(AddParameters.shift == Int(FK_ADD_SHIFT))
    }

    @Test(arguments: [
        (PoolAttrs(kernel: [3, 3], stride: [2, 2], pad: [1, 1, 1, 1], countIncludePad: true), false),
        (PoolAttrs(kernel: [3, 3], stride: [2, 2], pad: [1, 1, 1, 1], countIncludePad: false), false),
        (PoolAttrs(kernel: [2, 3], stride: [1, 2], pad: [0, 1, 1, 0], countIncludePad: false), false),
        (PoolAttrs(kernel: [9, 9], stride: [1, 1]), true),
    ])
    func averagePoolMatchesTheEvaluator(pool: PoolAttrs, global: Bool) throws {
        let t = try Self.oneOp(global ? .globalAvgPool : .avgPool(pool), x: [1, 13, 9, 9], seed: 5)
        guard case .averagePool(let p) = t.params else { throw CodegenError("not a pool") }
        let a = p.pool
        let (ho, wo) = (t.outShape[2], t.outShape[3])
        var y = [Int8](repeating: 0, count: ho * wo * 13)
        let r = p.byCount
        fk_avgpool(
            Self.nhwc(t.x[...], t.xShape), 9, 9, 13, p.inputZeroPoint, &y, Int32(ho), Int32(wo), Int32(a.kernel[0]),
            Int32(a.kernel[1]), Int32(a.stride[0]), Int32(a.stride[1]), Int32(a.pad[0]), Int32(a.pad[1]),
            Int32(a.pad[2]), Int32(a.pad[3]), a.countIncludePad ? 1 : 0, Int32(r.count - 1), r.multipliers,
            r.leftShifts, r.rightShifts, p.outputZeroPoint)
        #expect(y == Self.nhwc(t.want[...], t.outShape))
    }

    /// fk_linear_f32 (float32 logits from int32 accumulators) against the evaluator's kernel, bit
    /// for bit, with no clamp, ReLU's and a clip's, on accumulators far from zero.
    @Test(arguments: [FusedActivation.none, .relu, .clip(min: -0.25, max: 0.5)])
    func linearToFloatMatchesTheEvaluator(act: FusedActivation) throws {
        let (k, o) = (301, 37)
        var r: UInt64 = 99
        func next() -> Int {
            r = r &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(r >> 33)
        }
        let x = (0..<k).map { _ in Int8(truncatingIfNeeded: next() % 256 - 128) }
        let w = (0..<(o * k)).map { _ in Int8(next() % 255 - 127) }
        let b = (0..<o).map { _ in Int32(next() % 200_001 - 100_000) }
        let s = (0..<o).map { _ in Float(next() % 1000 + 1) * 2e-9 }
        let clamp = try #require(QuantMath.realClamp(act))
        let p = FloatOutputParameters(weights: 0, bias: b, scales: s, lo: clamp.lo, hi: clamp.hi)
        let xb = Int8Buffer(shape: [1, k])
        for i in 0..<k { xb.ptr[i] = x[i] }
        let wt = w.withUnsafeBytes { Tensor(dtype: .int8, shape: Shape([o, k]), bytes: $0) }
        let want = Int8Kernels.linearToFloat(xb, w: wt, p, outShape: [1, o]).tensor().floatArray()
        var y = [Float](repeating: .nan, count: o)
        fk_linear_f32(x, Int32(k), w, b, s, clamp.lo, clamp.hi, &y, Int32(o))
        #expect(y.map(\.bitPattern) == want.map(\.bitPattern))
        #expect(Set(y).count > o / 4, "the outputs should not collapse onto a clamp")
    }

    @Test func maxPoolMatchesTheEvaluator() throws {
        let a = PoolAttrs(kernel: [3, 3], stride: [2, 2], pad: [1, 1, 1, 1])
        let t = try Self.oneOp(.maxPool(a), x: [1, 10, 8, 7], seed: 8, keepsParameters: true)
        let (ho, wo) = (t.outShape[2], t.outShape[3])
        var y = [Int8](repeating: 0, count: ho * wo * 10)
        fk_maxpool(Self.nhwc(t.x[...], t.xShape), 8, 7, 10, &y, Int32(ho), Int32(wo), 3, 3, 2, 2, 1, 1)
        #expect(y == Self.nhwc(t.want[...], t.outShape))
    }

    /// fk_mul (and fk_mul_one) on a channel-last map: elementwise, and with either operand one value
    /// per channel (a squeeze-and-excitation scale, which the emitter passes second).
    @Test(arguments: [nil, 0, 1] as [Int?])
    func mulMatchesTheEvaluator(perChannel: Int?) throws {
        let (full, scale) = ([1, 6, 4, 5], [1, 6, 1, 1])
        let t = try Self.oneOp(
            .mul, x: perChannel == 0 ? scale : full, second: true, secondShape: perChannel == 1 ? scale : full, seed: 13
        )
        guard case .mul(let p) = t.params else { throw CodegenError("not a mul") }
        #expect(p.form == (perChannel.map { .perChannel(operand: $0) } ?? .elementwise))
        let xCount = t.xShape.reduce(1, *)
        var (a, b) = (Self.nhwc(t.x[..<xCount], t.xShape), Array(t.x[xCount...]))
        var (za, zb) = (p.aZeroPoint, p.bZeroPoint)
        if perChannel == nil { b = Self.nhwc(t.x[xCount...], full) }
        if perChannel == 0 { (a, b, za, zb) = (Self.nhwc(t.x[xCount...], full), Array(t.x[..<xCount]), zb, za) }
        var y = [Int8](repeating: 0, count: 120)
        let r = p.out
        fk_mul(
            a, za, b, zb, &y, perChannel == nil ? 120 : 20, perChannel == nil ? 1 : 6, perChannel == nil ? 0 : 1,
            p.outputZeroPoint, r.multiplier, Int32(r.leftShift), Int32(r.rightShift))
        #expect(y == Self.nhwc(t.want[...], t.outShape))
        let one = (0..<120).map { i in
            fk_mul_one(
                Int32(a[i]), za, Int32(b[perChannel == nil ? i : i % 6]), zb, p.outputZeroPoint, r.multiplier,
                Int32(r.leftShift), Int32(r.rightShift))
        }
        #expect(one == y)
    }

    /// fk_move with the copies the lowering makes (`KernelProgram.copies`, channel-last maps):
    /// a concat whose second input has other parameters (requantized), a transpose, a strided slice.
    @Test(arguments: ["concat", "transpose", "slice"])
    func moveMatchesTheEvaluator(_ what: String) throws {
        let x = [1, 6, 4, 5]
        let t: OneOp
        switch what {
        case "concat": t = try Self.oneOp(.concat(axis: 1), x: x, second: true, secondShape: [1, 3, 4, 5], seed: 14)
        case "transpose": t = try Self.oneOp(.transpose(perm: [0, 1, 3, 2]), x: x, seed: 15, keepsParameters: true)
        default: t = try Self.oneOp(.slice(axis: 1, start: 1, end: 6, step: 2), x: x, seed: 16, keepsParameters: true)
        }
        guard case .move(let rescales) = t.params else { throw CodegenError("not a move") }
        #expect(rescales.count == t.node.inputs.count)
        if what == "concat" { #expect(rescales[0] != nil && rescales[1] != nil) } else { #expect(rescales == [nil]) }
        // the layouts the lowering gives int8 maps (the two-input graph has no C entry to lower)
        let g = t.graph
        let layouts = g.values.map { v in
            v.dtype == .int8 && v.shape.rank == 4 ? KernelProgram.Layout.channelLast : .rowMajor
        }
        let program = KernelProgram(
            graph: g, target: .named("generic-c")!, steps: [], layouts: layouts, int8Ends: nil, inCaller: [],
            offsets: [:], workspaceBytes: 0, largestLivePair: 0)
        let copies = try #require(program.copies(t.node))
        let xCount = x.reduce(1, *)
        let sources =
            [Self.nhwc(t.x[..<xCount], x)] + (what == "concat" ? [Self.nhwc(t.x[xCount...], [1, 3, 4, 5])] : [])
        var y = [Int8](repeating: 0, count: t.want.count)
        for (i, c) in copies.enumerated() {
            let r = rescales[i]
            sources[i].withUnsafeBufferPointer { src in
                y.withUnsafeMutableBufferPointer { dst in
                    fk_move(
                        src.baseAddress! + c.source, dst.baseAddress! + c.destination, Int32(c.counts.count),
                        c.counts.map { Int32($0) }, c.sourceStrides.map { Int32($0) },
                        c.destinationStrides.map { Int32($0) }, r?.inputZeroPoint ?? 0, r?.requant.multiplier ?? 0,
                        Int32(r?.requant.leftShift ?? 0), Int32(r?.requant.rightShift ?? 0), r?.outputZeroPoint ?? 0)
                }
            }
        }
        #expect(y == Self.nhwc(t.want[...], t.outShape))
    }

    /// fk_lut with the table KernelParameters builds, over every input code (the int8
    /// evaluator's lookup).
    @Test(arguments: [Op.hardSwish, .hardSigmoid, .sigmoid, .silu, .gelu])
    func lookupMatchesTheEvaluator(op: Op) throws {
        let t = try Self.oneOp(op, x: [1, 4, 9, 8], seed: 12)
        guard case .lookup(let table) = t.params else {
            Issue.record("\(op.name): not a lookup")
            return
        }
        #expect(table.count == 256)
        var y = [Int8](repeating: 0, count: t.x.count)
        fk_lut(t.x, table, &y, t.x.count)
        #expect(y == t.want)
    }

    // MARK: - external weights

    /// fk_crc32 is the `.fkdc` checksum (the CRC field read as zeros); fk_pack is `WeightLayout`.
    @Test func weightsKernelsMatchTheirSwiftCounterparts() throws {
        let g = try #require(try? Self.oneOp(.fullyConnected(.none), x: [2, 9], weights: [5, 9], seed: 4).graph)
        let bytes = FkdcFile.layout(g, metadata: [:]).bytes
        let stored = bytes[FkdcFile.crcOffset..<(FkdcFile.crcOffset + 4)].reversed().reduce(UInt32(0)) {
            $0 << 8 | UInt32($1)
        }
        #expect(UInt32(fk_crc32(bytes, bytes.count)) == stored)
        var rng = RNG(s: 9)
        for layout in [
            WeightLayout.pairs(rows: 5, cols: 9), .depthwise(channels: 6, kk: 9), .dense(o: 4, cg: 3, kk: 4),
            .general(o: 4, cg: 3, kk: 4), .transposed(rows: 3, cols: 7),
        ] {
            let src = rng.int8s(
                layout.copies.map { c in c.src + zip(c.dims, c.ss).map { ($0 - 1) * $1 }.reduce(0, +) + 1 }.max() ?? 0)
            var dst = [Int8](repeating: 0, count: layout.count)
            for c in layout.copies {
                let srcBytes = src.map { UInt8(bitPattern: $0) }
                dst.withUnsafeMutableBytes { d in
                    fk_pack(
                        Array(srcBytes[c.src...]), d.baseAddress!.assumingMemoryBound(to: UInt8.self) + c.dst, 1,
                        Int32(c.dims.count), c.dims.map { Int32($0) }, c.ss.map { Int32($0) }, c.ds.map { Int32($0) })
                }
            }
            #expect(dst == layout.apply(src, zero: 0))
        }
    }
}
