import CKernels
import GraphIR

/// The int8 steps: each a call of its C kernel (Sources/CKernels/include/fk_int8.h) with the
/// lowered parameters, weights in that kernel's layout (`WeightLayout`).
extension Emission {
    mutating func int8Node(_ n: Node, _ s: KernelProgram.Step) throws(CodegenError) {
        let out = n.outputs[0]
        let (ho, wo, _) = hwc(out)
        body.append("    /* \(n.name): \(n.op.name) */")
        let x = n.inputs[0]
        let (h, wd, c) = hwc(x)
        switch (s.kernel, s.parameters) {
        case (.pointwise, .weighted(let p)):
            let w = g.values[p.weights].shape.dims
            let (o, k) = (w[0], w.dropFirst().reduce(1, *))
            // a 1×1 convolution runs over the pixels; a linear layer over its rows (a ViT's tokens)
            let rows = g.values[x].shape.elementCount / max(k, 1)
            guard let t = g.constants[p.weights] else { throw fail(n, "needs constant weights") }
            let choice = PointwiseKernel(weights: t, neon: target.neon)
            let kernel = choice.name
            let wn = try weights(p.weights, choice.layout(o: o, k: k), for: n)
            let (b, r) = (array("int32_t", "b", p.bias), requantizers(p.requant))
            let args =
                ["\(buf(x)) + (size_t)begin * \(k)", "end - begin", "\(k)", wn, b] + r
                + ["\(buf(out)) + (size_t)begin * \(o)", "\(o)", "\(p.outputZeroPoint)"] + clampArgs(p.clamp)
            parallelStep(kernel, items: rows, ["\(kernel)(\(args.joined(separator: ", ")));"])
        case (.linearToFloat, .weightedFloat(let p)):
            let w = g.values[p.weights].shape.dims
            let (o, k) = (w[0], w.dropFirst().reduce(1, *))
            let wn = try weights(p.weights, .identity(count: o * k), for: n)
            let (b, sc) = (array("int32_t", "b", p.bias), floatArray("s", p.scales))
            call(
                "fk_linear_f32",
                [buf(x), "\(k)", wn, b, sc, Self.cFloat(p.lo), Self.cFloat(p.hi), try fbuf(out, for: n), "\(o)"])
        case (.depthwise, .weighted(let p)), (.denseConvolution, .weighted(let p)), (.convolution, .weighted(let p)):
            guard case .conv2d(let a) = n.op else { throw fail(n, "a convolution kernel for a non-convolution") }
            let w = g.values[p.weights].shape.dims
            let (o, cg, kh, kw) = (w[0], w[1], w[2], w[3])
            let layout: WeightLayout
            let kernel: String
            var shape = ["end - begin", "\(wo)"]
            var bias = p.bias
            var tail: [String] = []
            switch s.kernel {
            case .depthwise:
                (layout, kernel) = (.depthwise(channels: o, kk: kh * kw), "fk_depthwise")  // [kh][kw][C]
            case .denseConvolution:
                shape.append("\(o)")
                if let dot = try convDot(p, o: o, cols: cg * kh * kw) {
                    // NEON: windows as rows of bytes times fk_pointwise_dot's rows of kp (fk_conv_dot)
                    (layout, kernel) = (.dotRows(o: o, cg: cg, kk: kh * kw, stride: dot.stride), "fk_conv_dot")
                    bias = dot.bias
                    tail = ["\(dot.stride)"]
                } else {
                    (layout, kernel) = (.dense(o: o, cg: cg, kk: kh * kw), "fk_conv_dense")  // [kh][kw][C][O]
                }
            default:
                (layout, kernel) = (.general(o: o, cg: cg, kk: kh * kw), "fk_conv")  // [O][kh][kw][Cg]
                shape.append("\(o)")
            }
            let wn = try weights(p.weights, layout, for: n)
            let (b, r) = (array("int32_t", "b", bias), requantizers(p.requant))
            // output rows [begin, end): the input from the first row they read (fk_conv_rows)
            let geometry =
                ["\(kh)", "\(kw)", "\(a.stride[0])", "\(a.stride[1])", "ph", "\(a.pad[1])"]
                + ["\(a.dilation[0])", "\(a.dilation[1])"]
            let args =
                ["x", "h", "\(wd)", "\(c)", "\(p.inputOffset)", wn, b] + r
                + ["\(buf(out)) + (size_t)begin * \(wo * o)"] + shape + geometry
                + (s.kernel == .convolution ? ["\(a.groups)"] : []) + tail + ["\(p.outputZeroPoint)"]
                + clampArgs(p.clamp)
            used.insert("fk_conv_rows")
            parallelStep(
                kernel, items: ho,
                [
                    "const int8_t *x = \(buf(x));", "int h, ph;",
                    "fk_conv_rows(begin, \(h), \(wd), \(c), \(a.stride[0]), \(a.pad[0]), &x, &h, &ph);",
                    "\(kernel)(\(args.joined(separator: ", ")));",
                ])
        case (.add, .add(let p)):
            // elements [begin, end)
            let args =
                ["\(buf(x)) + begin", "\(p.aZeroPoint)"] + requantizer(p.a)
                + ["\(buf(n.inputs[1])) + begin", "\(p.bZeroPoint)"] + requantizer(p.b)
                + ["\(buf(out)) + begin", "end - begin", "\(p.outputZeroPoint)"] + requantizer(p.out)
                + clampArgs(p.clamp)
            parallelStep(
                "fk_add", items: g.values[out].shape.elementCount, ["fk_add(\(args.joined(separator: ", ")));"])
        case (.mul, .mul(let p)):
            // a per-channel operand is the second argument: the other is channel-last [pixels][C]
            var (a, b, za, zb, c) = (x, n.inputs[1], p.aZeroPoint, p.bZeroPoint, 1)
            if case .perChannel(let k) = p.form {
                c = g.values[out].shape[1]
                if k == 0 { (a, b, za, zb) = (b, a, zb, za) }
            }
            let pixels = g.values[out].shape.elementCount / max(c, 1)
            call(
                "fk_mul",
                [buf(a), "\(za)", buf(b), "\(zb)", buf(out), "\(pixels)", "\(c)", p.form == .elementwise ? "0" : "1"]
                    + ["\(p.outputZeroPoint)"] + requantizer(p.out))
        case (.move, .move(let rescales)):
            guard let copies = program.copies(n), copies.count == n.inputs.count else {
                throw fail(n, "axis, permutation or step out of range")
            }
            for (i, cp) in copies.enumerated() {
                guard cp.counts.count <= Int(FK_MAX_RANK) else {
                    throw fail(n, "rank \(cp.counts.count) (the C kernels handle up to \(FK_MAX_RANK))")
                }
                let q = rescales[i].map {
                    ["\($0.inputZeroPoint)"] + requantizer($0.requant) + ["\($0.outputZeroPoint)"]
                }
                call(
                    "fk_move",
                    [
                        "\(buf(n.inputs[i])) + \(cp.source)", "\(buf(out)) + \(cp.destination)", "\(cp.counts.count)",
                        Self.ints(cp.counts), Self.ints(cp.sourceStrides), Self.ints(cp.destinationStrides),
                    ] + (q ?? ["0", "0", "0", "0", "0"]))
            }
        case (.averagePool, .averagePool(let p)):
            let a = p.pool
            let window = a.kernel + a.stride + a.pad
            call(
                "fk_avgpool",
                [buf(x), "\(h)", "\(wd)", "\(c)", "\(p.inputZeroPoint)", buf(out), "\(ho)", "\(wo)"]
                    + window.map(String.init)
                    + ["\(a.countIncludePad ? 1 : 0)", "\(p.byCount.count - 1)"] + requantizers(p.byCount)
                    + ["\(p.outputZeroPoint)"])
        case (.maxPool, .maxPool(let a)):
            call(
                "fk_maxpool",
                [buf(x), "\(h)", "\(wd)", "\(c)", buf(out), "\(ho)", "\(wo)"]
                    + (a.kernel + a.stride + a.pad.prefix(2)).map(String.init))
        case (.lookup, .lookup(let t)):
            call("fk_lut", [buf(x), array("int8_t", "lut", t), buf(out), "\(g.values[out].shape.elementCount)"])
        case (.toRowMajor, .reshape):
            // a spatial map flattened: NHWC → the NCHW order the reshape means
            call("fk_to_nchw", [buf(x), "\(h * wd)", "\(c)", buf(out)])
        case (.toChannelLast, .reshape):
            // row-major values read as a spatial map: NCHW → NHWC
            let (oh, ow, oc) = hwc(out)
            call("fk_nchw_to_nhwc", [buf(x), "\(oc)", "\(oh * ow)", buf(out)])
        default:
            throw fail(n, "has no C kernel (\(s.kernel.rawValue))")
        }
    }

    /// fk_conv_dot's row length and bias (b − zx·Σw) for a dense convolution, or nil where it does
    /// not apply: not NEON, a −128 weight (fk_pointwise_dot's bound), a window over
    /// `FK_DOT_MAX_COLS` once padded, or a bias outside int32.
    func convDot(_ p: WeightedParameters, o: Int, cols: Int) throws(CodegenError) -> (stride: Int, bias: [Int32])? {
        let stride = (cols + 15) / 16 * 16
        guard target.neon, stride <= Int(FK_DOT_MAX_COLS), let w = g.constants[p.weights], w.dtype == .int8,
            !w.bytes.contains(0x80), w.elementCount == o * cols, p.bias.count == o
        else { return nil }
        var bias: [Int32] = []
        for c in 0..<o {
            var sum = 0
            for i in 0..<cols { sum += Int(Int8(bitPattern: w.bytes[c * cols + i])) }
            guard let v = Int32(exactly: Int(p.bias[c]) - Int(p.inputOffset) * sum) else { return nil }
            bias.append(v)
        }
        return (stride, bias)
    }

    func requantizer(_ r: Requantizer) -> [String] { ["\(r.multiplier)", "\(r.leftShift)", "\(r.rightShift)"] }

    func clampArgs(_ c: Clamp) -> [String] { ["\(c.lo)", "\(c.hi)"] }
}
