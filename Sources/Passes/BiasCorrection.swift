import GraphIR

/// Bias correction (Nagel et al., "Data-Free Quantization", §4.2): rounding a layer's weights
/// to int8 moves its output by (Ŵ − W)·x, whose mean over the data is (Ŵ − W)·E[x]. Subtracting
/// that from the bias removes the systematic part of the error, which otherwise accumulates
/// from layer to layer (depthwise layers, with few weights per output, suffer most).
///
/// E[x] per input channel comes from the batch-norm statistics (analytic, data-free) or from
/// the calibration data (empirical). The float weights are left as they are, so `quantize`
/// rounds them exactly as it did here; only the biases change.
public struct BiasCorrection: Sendable {
    public var perTensorWeights: Bool

    public init(perTensorWeights: Bool = false) { self.perTensorWeights = perTensorWeights }

    /// Corrects the bias of every conv2d and fully_connected whose input has known channel
    /// means (`inputMeans` by value name); returns how many layers changed.
    @discardableResult
    public func apply(to g: inout Graph, inputMeans: [String: [Float]]) -> Int {
        var corrected = 0
        for i in g.nodes.indices {
            let n = g.nodes[i]
            switch n.op {
            case .conv2d, .fullyConnected: break
            default: continue
            }
            guard let w = g.constants[n.inputs[1]], w.dtype == .float32, w.shape.rank >= 2,
                let mean = inputMeans[g.values[n.inputs[0]].name], mean.count == g.values[n.inputs[0]].shape[1]
            else { continue }
            let wf = w.floatArray()
            let cout = w.shape[0]
            let (q, scales) = QuantMath.quantizeWeights(w, perTensor: perTensorWeights)
            let per = wf.count / cout
            let perScale = wf.count / scales.count
            var delta = [Float](repeating: 0, count: wf.count)
            for j in wf.indices { delta[j] = Float(q[j]) * scales[j / perScale] - wf[j] }
            let shift = LinearMoments.map(n, weights: delta, shape: w.shape, perOutput: per, input: mean)
            var bias: [Float]
            if n.inputs.count > 2 {
                guard let b = g.constants[n.inputs[2]], b.dtype == .float32, b.elementCount == cout else { continue }
                bias = b.floatArray()
            } else {
                bias = [Float](repeating: 0, count: cout)
            }
            for o in 0..<cout { bias[o] -= shift[o] }
            let name = g.freshName(n.name + ".bias_corrected")
            let id = g.addConstant(name: name, Tensor(shape: Shape([cout]), floats: bias))
            if n.inputs.count > 2 { g.nodes[i].inputs[2] = id } else { g.nodes[i].inputs.append(id) }
            corrected += 1
        }
        if corrected > 0 { _ = g.removeDeadCode() }
        return corrected
    }
}

/// How a conv2d / fully_connected maps per-channel input moments to per-output ones.
enum LinearMoments {
    /// Σ_j weights[o, j] · input[channel(o, j)] for each output o (`input` per input channel).
    static func map(_ n: Node, weights wf: [Float], shape: Shape, perOutput per: Int, input: [Float]) -> [Float] {
        let cout = shape[0]
        let cin = input.count
        var out = [Float](repeating: 0, count: cout)
        if case .conv2d(let a) = n.op {
            let spatial = shape[2] * shape[3]
            let cg = shape[1]
            let coutG = max(cout / a.groups, 1)
            for o in 0..<cout {
                var s: Float = 0
                for j in 0..<per { s += wf[o * per + j] * input[min((o / coutG) * cg + j / spatial, cin - 1)] }
                out[o] = s
            }
        } else {
            for o in 0..<cout {
                var s: Float = 0
                for j in 0..<per { s += wf[o * per + j] * input[min(j * cin / max(per, 1), cin - 1)] }
                out[o] = s
            }
        }
        return out
    }
}
