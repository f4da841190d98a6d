import COpenBLAS
import GraphIR

/// `--rounding adaround`: after `quantize`, each int8 convolution and linear layer's weights are
/// rounded as `AdaRound` chooses. The layers are taken in graph order. Each is fitted on the
/// calibration samples as the int8 model computes them up to it (fake-quant mode, with the
/// layers before it already re-rounded), against the float model's own values; every fourth
/// sample is held out of the fit to decide which output channels keep it (`AdaRound`).
struct AdaRoundPass: Pass {
    static let name = "adaround"
    static let summary = "Learned rounding: each int8 layer's weights rounded up or down to fit its float output"

    func run(on graph: inout Graph, context: inout PassContext) throws(PassError) {
        let q = context.quantization
        guard let ada = q.adaround else { return }
        guard case .data(let samples, _, _, _)? = q.source, let float = q.floatGraph else {
            throw PassError(.failed, pass: Self.name, "learned rounding needs calibration data (--calib)")
        }
        let progress = q.progress
        var layers: [AdaRound.Layer] = []
        do throws(IRError) {
            var floatRun = try LayerwiseRun(graph: float, samples: samples, fakeQuant: false)
            var quantRun = try LayerwiseRun(graph: graph, samples: samples, fakeQuant: true)
            (floatRun.threads, quantRun.threads) = (ada.threads, ada.threads)
            var floatIDs: [String: ValueID] = [:]
            for (i, v) in float.values.enumerated() { floatIDs[v.name] = i }
            var floatNodes: [String: Node] = [:]
            for n in float.nodes { floatNodes[n.name] = n }
            var producer: [ValueID: Node] = [:]
            for n in graph.nodes { producer[n.outputs[0]] = n }
            let users = graph.users()
            /// The float graph's value an int8-graph value stands for (through quantize/dequantize).
            func floatSource(_ v: ValueID) -> ValueID? {
                if let id = floatIDs[graph.values[v].name], float.values[id].shape == graph.values[v].shape {
                    return id
                }
                guard let p = producer[v], p.op == .quantize || p.op == .dequantize else { return nil }
                return floatSource(p.inputs[0])
            }
            let plans = graph.nodes.indices.compactMap { i in
                Self.plan(graph.nodes[i], in: graph, float: floatNodes, floatGraph: float, users: users)
                    .flatMap { p in floatSource(graph.nodes[i].inputs[0]).map { (i, p, $0) } }
            }
            for (done, (index, plan, floatInput)) in plans.enumerated() {
                while quantRun.next < index { try quantRun.step() }
                guard try floatRun.run(until: floatInput) else { continue }
                let node = graph.nodes[index]
                var problem = plan
                problem.gram = [[Double]](
                    repeating: [Double](repeating: 0, count: (2 * plan.k + 1) * (2 * plan.k + 1)), count: plan.groups)
                if samples.indices.contains(where: { AdaRound.Problem.heldOut($0, of: samples.count) }) {
                    problem.check = problem.gram
                }
                let inShape = graph.values[node.inputs[0]].shape.dims
                let outShape = graph.values[node.outputs[0]].shape.dims
                _ = quantRun.withValues(node.inputs[0]) { xq in
                    floatRun.withValues(floatInput) { xf in
                        for s in xq.indices {
                            if AdaRound.Problem.heldOut(s, of: samples.count) {
                                Self.accumulate(
                                    node, plan, into: &problem.check, input: inShape, output: outShape, xq[s], xf[s])
                            } else {
                                Self.accumulate(
                                    node, plan, into: &problem.gram, input: inShape, output: outShape, xq[s], xf[s])
                            }
                        }
                    }
                }
                let (codes, layer) = ada.solve(problem, name: node.name)
                layers.append(layer)
                let w = node.inputs[1]
                let t = codes.withUnsafeBytes { Tensor(dtype: .int8, shape: graph.values[w].shape, bytes: $0) }
                graph.constants[w] = t
                quantRun.replaceConstant(w, with: t)
                progress?("learned rounding (adaround)", done + 1, plans.count)
            }
        } catch { throw PassError(.failed, pass: Self.name, at: error.location, error.message) }
        context.quantization.adaroundLayers = layers
        let kept = layers.filter(\.kept).count
        context.quantization.calibration +=
            ", adaround on \(kept) of \(layers.count) layers (\(ada.iterations) iterations)"
        context.count("layers re-rounded", kept)
        context.count("weights rounded away from nearest", layers.map(\.flipped).reduce(0, +))
    }

    /// A layer's problem without the data (its Gram matrices empty): nil for a node AdaRound leaves
    /// alone (not an int8 convolution or linear layer, weights shared or not per output channel).
    static func plan(_ n: Node, in g: Graph, float: [String: Node], floatGraph fg: Graph, users: [[Int]])
        -> AdaRound.Problem?
    {
        switch n.op {
        case .conv2d, .fullyConnected, .gemm: break
        default: return nil
        }
        guard n.inputs.count >= 2, g.values[n.inputs[0]].dtype == .int8, let wq = g.constants[n.inputs[1]],
            wq.dtype == .int8, let wp = g.values[n.inputs[1]].quant, users[n.inputs[1]].count == 1,
            let fn = float[n.name], fn.op == n.op, fn.inputs.count >= 2, let wf = fg.constants[fn.inputs[1]],
            wf.dtype == .float32, wf.shape == wq.shape, wf.shape.rank >= 2, wf.shape[0] > 0
        else { return nil }
        let rows = wf.shape[0]
        let k = wf.elementCount / rows
        guard k > 0, k <= 4096 else { return nil }
        var groups = 1
        if case .conv2d(let a) = n.op {
            groups = a.groups
            guard groups > 0, rows % groups == 0, wf.shape.rank == 4, g.values[n.inputs[0]].shape.rank == 4,
                g.values[n.inputs[0]].shape[1] == groups * wf.shape[1]
            else { return nil }
        }
        let scales = wp.channelScales(rows)
        guard scales.count == rows else { return nil }
        var bias = [Float](repeating: 0, count: rows)
        if fn.inputs.count > 2 {
            guard let b = fg.constants[fn.inputs[2]], b.elementCount == rows else { return nil }
            bias = b.floatArray()
        }
        var qbias = [Float](repeating: 0, count: rows)
        if n.inputs.count > 2 {
            guard let b = g.constants[n.inputs[2]], b.elementCount == rows, let bp = g.values[n.inputs[2]].quant else {
                return nil
            }
            let s = bp.channelScales(rows)
            let codes = b.int64ArrayExact()
            guard s.count == rows else { return nil }
            qbias = (0..<rows).map { Float(codes[$0]) * s[$0] }
        }
        return AdaRound.Problem(
            rows: rows, k: k, groups: groups, kernel: wf.shape.rank == 4 ? (wf.shape[2], wf.shape[3]) : (1, 1),
            weights: wf.floatArray(), scales: scales, bias: bias, quantizedBias: qbias, gram: [])
    }

    /// Adds one sample's patches to the layer's Gram matrices: per output pixel (or row of a
    /// linear layer) the stacked [x̃; x; 1] of its receptive field, as the weights lay it out.
    static func accumulate(
        _ n: Node, _ p: AdaRound.Problem, into gram: inout [[Double]], input: [Int], output: [Int],
        _ xq: UnsafeBufferPointer<Float>, _ xf: UnsafeBufferPointer<Float>
    ) {
        let k = p.k
        let d = 2 * k + 1
        // in Double: the error is a difference of sums as large as the output's energy, and
        // float32 sums measurably moved a 46 dB layer's error (0.2 %)
        var z: [Double]
        var pixels: Int
        func add(_ group: Int, _ z: [Double], _ pixels: Int) {
            z.withUnsafeBufferPointer { zp in
                gram[group].withUnsafeMutableBufferPointer { o in
                    cblas_dgemm(
                        CblasRowMajor, CblasTrans, CblasNoTrans, Int32(d), Int32(d), Int32(pixels), 1, zp.baseAddress,
                        Int32(d), zp.baseAddress, Int32(d), 1, o.baseAddress, Int32(d))
                }
            }
        }
        guard case .conv2d(let a) = n.op else {
            pixels = xq.count / k
            z = [Double](repeating: 1, count: pixels * d)
            for r in 0..<pixels {
                for j in 0..<k {
                    z[r * d + j] = Double(xq[r * k + j])
                    z[r * d + k + j] = Double(xf[r * k + j])
                }
            }
            add(0, z, pixels)
            return
        }
        let (batch, cin, h, w) = (input[0], input[1], input[2], input[3])
        let (ho, wo) = (output[2], output[3])
        let cg = cin / a.groups
        let (khh, kww) = p.kernel
        pixels = batch * ho * wo
        z = [Double](repeating: 0, count: pixels * d)
        for g in 0..<a.groups {
            var r = 0
            for b in 0..<batch {
                for oy in 0..<ho {
                    for ox in 0..<wo {
                        let base = r * d
                        z[base + 2 * k] = 1
                        for c in 0..<cg {
                            let plane = ((b * cin) + g * cg + c) * h * w
                            for ky in 0..<khh {
                                let iy = oy * a.stride[0] - a.pad[0] + ky * a.dilation[0]
                                for kx in 0..<kww {
                                    let ix = ox * a.stride[1] - a.pad[1] + kx * a.dilation[1]
                                    let j = (c * khh + ky) * kww + kx
                                    if iy >= 0, iy < h, ix >= 0, ix < w {
                                        z[base + j] = Double(xq[plane + iy * w + ix])
                                        z[base + k + j] = Double(xf[plane + iy * w + ix])
                                    } else {
                                        z[base + j] = 0
                                        z[base + k + j] = 0
                                    }
                                }
                            }
                        }
                        r += 1
                    }
                }
            }
            add(g, z, pixels)
        }
    }
}
