import GraphIR

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Activation ranges without data, from the batch-norm statistics the checkpoint carries
/// (recorded by `fold-batchnorm`): each batch norm's output is N(β, γ²) per channel. Those
/// Gaussians are carried through the rest of the graph analytically — a fused ReLU/clip gives
/// the clipped normal's moments, add sums means and variances, a linear layer maps means by its
/// weights and variances by their squares, global pooling keeps them (its own range narrowed by
/// √(H·W)) — and a value's range is the union over its channels of mean ± `k`·σ, clamped by its
/// activation.
public struct DataFreeRanges: Sendable {
    /// Range = mean ± k·σ per channel: 4σ is about the largest of the few thousand values a
    /// channel takes over a calibration set.
    public var k: Float = 6
    /// Per-channel mean and standard deviation of the input (after normalisation).
    public var inputMean: [Float]
    public var inputStd: [Float]
    public var inputRange: (Float, Float)

    /// For images in [0, 1] normalised by (mean, std): uniform pixels' moments and exact bounds.
    public init(normalisationMean mean: [Float], std: [Float]) {
        inputMean = zip(mean, std).map { (0.5 - $0) / $1 }
        inputStd = std.map { Float(1 / 12.0.squareRoot()) / $0 }
        let lo = zip(mean, std).map { (0 - $0) / $1 }.min() ?? -3
        let hi = zip(mean, std).map { (1 - $0) / $1 }.max() ?? 3
        inputRange = (lo, hi)
    }

    struct Stats {
        var mean: [Float]
        var std: [Float]
        var range: (Float, Float)
    }

    public func ranges(of g: Graph, statistics: [String: (mean: [Float], std: [Float])]) throws(PassError) -> [String: (
        Float, Float
    )] {
        try analyse(g, statistics: statistics).ranges
    }

    /// Ranges, and each value's per-channel mean (what analytic bias correction needs).
    public func analyse(_ g: Graph, statistics: [String: (mean: [Float], std: [Float])]) throws(PassError) -> (
        ranges: [String: (Float, Float)], means: [String: [Float]]
    ) {
        var stats: [ValueID: Stats] = [:]
        for id in g.inputs { stats[id] = Stats(mean: inputMean, std: inputStd, range: inputRange) }
        func fail(_ n: Node) -> PassError {
            PassError(
                .failed, pass: "data-free", at: n.name,
                "no batch-norm statistics reach \(n.op.name); data-free calibration needs them, give --calib data")
        }
        for n in g.nodes {
            let out = n.outputs[0]
            let name = g.values[out].name
            var pre: (mean: [Float], std: [Float])
            if let s = statistics[name] {
                pre = s
            } else {
                switch n.op {
                case .conv2d, .fullyConnected, .gemm:
                    guard let x = stats[n.inputs[0]], let w = g.constants[n.inputs[1]] else { throw fail(n) }
                    pre = linear(n, g, x, w)
                case .add:
                    guard let a = stats[n.inputs[0]], let b = stats[n.inputs[1]], a.mean.count == b.mean.count else {
                        throw fail(n)
                    }
                    pre = (zip(a.mean, b.mean).map(+), zip(a.std, b.std).map { ($0 * $0 + $1 * $1).squareRoot() })
                case .globalAvgPool:
                    // a mean over H·W positions: its own range uses the spread of a mean of
                    // independent positions (σ/√(H·W)); what flows on keeps σ, since the features a
                    // classifier sums are correlated and independence would underestimate its spread
                    guard let x = stats[n.inputs[0]] else { throw fail(n) }
                    let s = g.values[n.inputs[0]].shape
                    let shrink = Float(s[2] * s[3]).squareRoot()
                    let lo = zip(x.mean, x.std).map { $0 - k * $1 / shrink }.min() ?? 0
                    let hi = zip(x.mean, x.std).map { $0 + k * $1 / shrink }.max() ?? 0
                    stats[out] = Stats(mean: x.mean, std: x.std, range: (max(lo, x.range.0), min(hi, x.range.1)))
                    continue
                case .avgPool, .maxPool, .reshape, .flatten, .identity, .dropout:
                    guard let x = stats[n.inputs[0]] else { throw fail(n) }
                    stats[out] = x
                    continue
                default:
                    throw fail(n)
                }
            }
            let act = n.op.fusedActivation ?? .none
            let (lo, hi): (Float, Float) =
                switch act {
                case .relu: (0, .infinity)
                case .clip(let a, let b): (a, b)
                default: (-.infinity, .infinity)
                }
            var mean = pre.mean
            var std = pre.std
            if lo > -.infinity || hi < .infinity {
                for c in mean.indices { (mean[c], std[c]) = Self.clippedNormal(pre.mean[c], pre.std[c], lo, hi) }
            }
            let a = zip(pre.mean, pre.std).map { $0 - k * $1 }.min() ?? 0
            let b = zip(pre.mean, pre.std).map { $0 + k * $1 }.max() ?? 0
            stats[out] = Stats(mean: mean, std: std, range: (max(a, lo), min(b, hi)))
        }
        var out: [String: (Float, Float)] = [:]
        var means: [String: [Float]] = [:]
        for (id, s) in stats {
            out[g.values[id].name] = s.range
            means[g.values[id].name] = s.mean
        }
        return (out, means)
    }

    /// Output moments of a conv/linear layer from its input's: mean_o = b_o + Σ w·mean_i and
    /// σ_o = Σ |w|·σ_i, the spread if the inputs move together (independent inputs would give
    /// √(Σ w²σ_i²), which clips a classifier's winning logit: its features are correlated).
    func linear(_ n: Node, _ g: Graph, _ x: Stats, _ w: Tensor) -> (mean: [Float], std: [Float]) {
        let wf = w.floatArray()
        let per = wf.count / w.shape[0]
        var mean = LinearMoments.map(n, weights: wf, shape: w.shape, perOutput: per, input: x.mean)
        if n.inputs.count > 2, let bias = g.constants[n.inputs[2]]?.floatArray(), bias.count == mean.count {
            for o in mean.indices { mean[o] += bias[o] }
        }
        let std = LinearMoments.map(n, weights: wf.map(abs), shape: w.shape, perOutput: per, input: x.std)
        return (mean, std)
    }

    /// Mean and standard deviation of clamp(X, lo, hi) for X ~ N(m, s²).
    static func clippedNormal(_ m: Float, _ s: Float, _ lo: Float, _ hi: Float) -> (Float, Float) {
        guard s > 0 else { return (min(max(m, lo), hi), 0) }
        let (mu, sd) = (Double(m), Double(s))
        func phi(_ z: Double) -> Double { exp(-z * z / 2) / (2 * Double.pi).squareRoot() }
        func cdf(_ z: Double) -> Double { 0.5 * (1 + erf(z / 2.0.squareRoot())) }
        let a = lo.isFinite ? (Double(lo) - mu) / sd : -40
        let b = hi.isFinite ? (Double(hi) - mu) / sd : 40
        let (pa, pb) = (cdf(a), cdf(b))
        let mid = pb - pa
        // E[X; a<Z<b] and E[X²; a<Z<b] for the unclipped part
        let e1 = mu * mid + sd * (phi(a) - phi(b))
        let e2 = (mu * mu + sd * sd) * mid + 2 * mu * sd * (phi(a) - phi(b)) + sd * sd * (a * phi(a) - b * phi(b))
        let l = lo.isFinite ? Double(lo) : 0
        let h = hi.isFinite ? Double(hi) : 0
        let mean = e1 + l * pa + h * (1 - pb)
        let second = e2 + l * l * pa + h * h * (1 - pb)
        return (Float(mean), Float(max(0, second - mean * mean).squareRoot()))
    }
}
