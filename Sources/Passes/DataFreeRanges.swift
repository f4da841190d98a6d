import GraphIR

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Activation ranges without data, from the batch-norm statistics the checkpoint carries
/// (recorded by `fold-batchnorm`): each batch norm's output is N(β, γ²) per channel, as a layer
/// norm's is. Those Gaussians are carried through the rest of the graph analytically — a fused
/// ReLU/clip gives the clipped normal's moments, other pointwise activations (hard-swish,
/// sigmoid, SiLU, GELU) theirs by quadrature, add sums means and variances, mul multiplies
/// moments (a squeeze-excitation gate, a layer scale), a linear layer maps means by its weights
/// and spreads as `linear` says, global pooling keeps them (and its elements' range),
/// and layout ops (transpose, slice, concat, a channel shuffle's reshapes) move each channel's
/// moments with its elements — and a value's range is the union over its channels of
/// mean ± `k`·σ, clamped by its activation. A model whose exporter folded its batch norms has
/// only the input's moments to start from: the estimate is then coarser (README.md says so).
public struct DataFreeRanges: Sendable {
    /// Range = mean ± k·σ per channel (`k`: `withStatistics` or `fromInputAlone`).
    public var k: Float = Self.withStatistics
    /// Where recorded batch-norm (or layer-norm) statistics start the moments. For Gaussian
    /// values 4σ is about the largest of the few thousand a channel takes, but a trained
    /// network's activations are heavy-tailed: the sample student's projections reach 10–16σ
    /// over 120 images (minmax), and ±6σ clipped every projection and residual sum. Of 6, 8…12,
    /// 10 gave the best held-out logit SQNR on two of the three trained models with batch norms
    /// and 0.3 dB below the best on the third (README.md, "Calibration").
    public static let withStatistics: Float = 10
    /// Where an exporter folded the batch norms and the moments come from the input's alone,
    /// through σ = √(Σ w²σ²) at each convolution: of 6, 8 and 10, the sample student folded so
    /// has its best held-out logit SQNR at 6 (29.1 dB; 27.5 at 10), as the random-weight corpus
    /// does.
    public static let fromInputAlone: Float = 6
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

    /// What is known of a value: per-channel moments along `axis` (1 for NCHW maps and [N, C]
    /// features, the last for channel-last tokens) and the range its elements keep to.
    struct Stats {
        var mean: [Float]
        var std: [Float]
        var range: (Float, Float)
        var axis = 1
        /// Past layout ops that split or merge the channel axis (a channel shuffle's reshapes):
        /// each element's channel among the source channels, from which the moments along any
        /// axis follow (exact where each index holds one source channel).
        var origin: Origin? = nil
    }

    struct Origin {
        var mean: [Float]
        var std: [Float]
        /// The source channel of each element, row-major.
        var channel: [Int32]
    }

    /// The most elements a value's channel map is built for (a 224² ShuffleNet's largest is 0.3 M);
    /// larger values fall back to pooling their channels' moments.
    static let maxTracked = 1 << 22

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
        func dims(_ id: ValueID) -> [Int] { g.values[id].shape.dims }
        /// The input's moments along `axis` of its dims, or nil when they are unknown.
        func input(_ n: Node, _ i: Int, axis: Int? = nil) -> Stats? {
            guard i < n.inputs.count, let s = stats[n.inputs[i]] else { return nil }
            let d = dims(n.inputs[i])
            return align(s, dims: d, axis: axis ?? s.axis)
        }
        for n in g.nodes {
            let out = n.outputs[0]
            let name = g.values[out].name
            let outDims = dims(out)
            var pre: (mean: [Float], std: [Float])
            var axis = 1
            if let s = statistics[name] {
                pre = s
            } else {
                switch n.op {
                case .conv2d, .fullyConnected:
                    guard let x = input(n, 0, axis: 1), let w = g.constants[n.inputs[1]] else { throw fail(n) }
                    pre = linear(n, g, x, w)
                case .gemm:
                    let last = max(dims(n.inputs[0]).count - 1, 0)
                    guard let x = input(n, 0, axis: last), let w = g.constants[n.inputs[1]] else { throw fail(n) }
                    pre = linear(n, g, x, w)
                    axis = max(outDims.count - 1, 0)
                case .add, .mul:
                    guard let r = binary(n, g, stats, outDims) else { throw fail(n) }
                    if case .mul = n.op {
                        stats[out] = r
                        continue
                    }
                    (pre, axis) = ((r.mean, r.std), r.axis)
                case .globalAvgPool:
                    // a mean over H·W positions stays within what each position stays within
                    // (mean ± kσ): the positions of one image are correlated (one bright image
                    // moves them all), so a mean of independent positions (σ/√(H·W)) clipped the
                    // sample student's pooled features at 0.99 where they reach 2.2
                    guard let x = input(n, 0, axis: 1) else { throw fail(n) }
                    let lo = zip(x.mean, x.std).map { $0 - k * $1 }.min() ?? 0
                    let hi = zip(x.mean, x.std).map { $0 + k * $1 }.max() ?? 0
                    stats[out] = Stats(mean: x.mean, std: x.std, range: (max(lo, x.range.0), min(hi, x.range.1)))
                    continue
                case .avgPool, .maxPool, .identity, .dropout:
                    guard let x = input(n, 0) else { throw fail(n) }
                    stats[out] = x
                    continue
                case .reshape, .flatten, .transpose, .slice, .concat:
                    guard let x = moved(n, g, stats) else { throw fail(n) }
                    stats[out] = x
                    continue
                case .relu, .clip, .hardSwish, .hardSigmoid, .sigmoid, .silu, .gelu:
                    guard let x = input(n, 0) else { throw fail(n) }
                    stats[out] = pointwise(x, n.op)
                    continue
                case .layerNorm(let a, _):
                    // normalised over the channels at each position, then scaled and shifted:
                    // channel c is about N(β_c, γ_c²), as after a batch norm
                    let r = outDims.count
                    guard ShapeInference.axis(a, rank: r) == r - 1, stats[n.inputs[0]] != nil,
                        let gamma = g.constants[n.inputs[1]]?.floatArray(),
                        let beta = g.constants[n.inputs[2]]?.floatArray(), gamma.count == outDims[r - 1],
                        beta.count == gamma.count
                    else { throw fail(n) }
                    (pre, axis) = ((beta, gamma.map(abs)), r - 1)
                case .softmax:
                    let c = max(outDims.count > 1 ? outDims[1] : 1, 1)
                    let p = [Float](repeating: 1 / Float(c), count: c)
                    stats[out] = Stats(mean: p, std: p, range: (0, 1))
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
            var s = Stats(mean: mean, std: std, range: (max(a, lo), min(b, hi)), axis: axis)
            if case .hardSwish = act { s = pointwise(s, .hardSwish) }
            stats[out] = s
        }
        for n in g.nodes {
            guard let s = stats[n.outputs[0]] else { continue }
            guard s.range.0.isFinite, s.range.1.isFinite, !s.mean.contains(where: { !$0.isFinite }),
                !s.std.contains(where: { !$0.isFinite })
            else {
                throw PassError(
                    .failed, pass: "data-free", at: n.name,
                    "the moments carried to \(n.op.name) overflow float32; data-free calibration cannot range it, give --calib data"
                )
            }
        }
        var out: [String: (Float, Float)] = [:]
        var means: [String: [Float]] = [:]
        for (id, s) in stats {
            out[g.values[id].name] = s.range
            if s.axis == 1 { means[g.values[id].name] = s.mean }
        }
        return (out, means)
    }

    // MARK: elementwise

    /// add and mul: of two known values (broadcast channel by channel, independent), or of a
    /// value and a constant (a bias, a layer scale, the 1/6 of a hard-swish written out).
    func binary(_ n: Node, _ g: Graph, _ stats: [ValueID: Stats], _ outDims: [Int]) -> Stats? {
        let isMul: Bool
        if case .mul = n.op { isMul = true } else { isMul = false }
        let (ia, ib) = (n.inputs[0], n.inputs[1])
        let rank = outDims.count
        if let sa = stats[ia], let sb = stats[ib] {
            // the operand with more channels sets the axis (in the output's dims, broadcasting
            // right-aligned); the other follows it, broadcasts one value, or pools its channels
            var (a, da, b, db) = (sa, g.values[ia].shape.dims, sb, g.values[ib].shape.dims)
            if a.mean.count < b.mean.count { (a, da, b, db) = (b, db, a, da) }
            let axis = a.axis + rank - da.count
            let bAxis = axis - (rank - db.count)
            let count = a.mean.count
            if bAxis >= 0, bAxis < db.count, db[bAxis] == count, let aligned = align(b, dims: db, axis: bAxis),
                aligned.mean.count == count
            {
                b = aligned
            } else if b.mean.count == 1 || Shape(db).elementCount == 1 {
                let (m, sd) = (b.mean.first ?? 0, b.std.first ?? 0)
                b = Stats(
                    mean: Array(repeating: m, count: count), std: Array(repeating: sd, count: count), range: b.range)
            } else {
                guard let p = Self.pooled(b, count: count) else { return nil }
                b = p
            }
            a.axis = axis
            return combine(a, b, isMul)
        }
        // one operand is a constant
        let (xid, cid) = stats[ia] != nil ? (ia, ib) : (ib, ia)
        guard let s = stats[xid], let t = g.constants[cid] else { return nil }
        let c = t.floatArray()
        guard !c.isEmpty else { return nil }
        let x = s
        let axis = x.axis + rank - g.values[xid].shape.dims.count
        // per channel (the constant varies along the channel axis only), else its mean and
        // mean square over the positions each channel meets it at
        let channels = x.mean.count
        let perChannel = t.perIndex(alongAxis: axis, rank: rank, count: channels)
        let (c1, c2) = (c.reduce(0, +) / Float(c.count), c.map { $0 * $0 }.reduce(0, +) / Float(c.count))
        let (cl, ch) = (c.min() ?? 0, c.max() ?? 0)
        var mean = x.mean
        var std = x.std
        var lo = Float.infinity
        var hi = -Float.infinity
        for i in 0..<channels {
            let (m, v) = (x.mean[i], x.std[i] * x.std[i])
            let (e1, e2, l, h) = perChannel.map { ($0[i], $0[i] * $0[i], $0[i], $0[i]) } ?? (c1, c2, cl, ch)
            let (xl, xh) = (max(m - k * x.std[i], x.range.0), min(m + k * x.std[i], x.range.1))
            if isMul {
                mean[i] = m * e1
                std[i] = max(0, (v + m * m) * e2 - mean[i] * mean[i]).squareRoot()
                (lo, hi) = (min(lo, xl * l, xl * h, xh * l, xh * h), max(hi, xl * l, xl * h, xh * l, xh * h))
            } else {
                mean[i] = m + e1
                std[i] = max(0, v + e2 - e1 * e1).squareRoot()
                (lo, hi) = (min(lo, xl + l), max(hi, xh + h))
            }
        }
        if channels == 0 { (lo, hi) = (0, 0) }
        return Stats(mean: mean, std: std, range: (lo, hi), axis: axis)
    }

    /// Two independent per-channel operands, summed or multiplied.
    func combine(_ a: Stats, _ b: Stats, _ isMul: Bool) -> Stats {
        var mean = a.mean
        var std = a.std
        var lo = Float.infinity
        var hi = -Float.infinity
        for i in a.mean.indices {
            let (ma, mb, sa, sb) = (a.mean[i], b.mean[i], a.std[i], b.std[i])
            if isMul {
                mean[i] = ma * mb
                std[i] = max(0, (sa * sa + ma * ma) * (sb * sb + mb * mb) - ma * ma * mb * mb).squareRoot()
                // within both operands' bounds, and within k σ of the product's moments
                let (al, ah) = (max(ma - k * sa, a.range.0), min(ma + k * sa, a.range.1))
                let (bl, bh) = (max(mb - k * sb, b.range.0), min(mb + k * sb, b.range.1))
                let (pl, ph) = (min(al * bl, al * bh, ah * bl, ah * bh), max(al * bl, al * bh, ah * bl, ah * bh))
                lo = min(lo, max(pl, mean[i] - k * std[i]))
                hi = max(hi, min(ph, mean[i] + k * std[i]))
            } else {
                mean[i] = ma + mb
                std[i] = (sa * sa + sb * sb).squareRoot()
            }
        }
        if a.mean.isEmpty { (lo, hi) = (0, 0) }
        return Stats(mean: mean, std: std, range: isMul ? (lo, hi) : (-.infinity, .infinity), axis: a.axis)
    }

    /// Moments of f(X) per channel for X ~ N(m, σ²) kept to the input's range (quadrature on a
    /// grid of ±8σ), and the range f takes on each channel's m ± kσ.
    func pointwise(_ x: Stats, _ op: Op) -> Stats {
        let f: (Float) -> Float
        switch op {
        case .relu: f = { max($0, 0) }
        case .clip(let lo, let hi): f = { min(max($0, lo), hi) }
        default: f = op.pointwiseFunction ?? { $0 }
        }
        var mean = x.mean
        var std = x.std
        var lo = Float.infinity
        var hi = -Float.infinity
        let (xl, xh) = x.range
        for i in x.mean.indices {
            let (m, s) = (x.mean[i], x.std[i])
            var (e1, e2, wsum): (Double, Double, Double) = (0, 0, 0)
            for j in 0...160 {
                let z = Double(j - 80) / 10
                let w = exp(-z * z / 2)
                let v = Double(f(min(max(m + s * Float(z), xl), xh)))
                (e1, e2, wsum) = (e1 + w * v, e2 + w * v * v, wsum + w)
            }
            mean[i] = Float(e1 / wsum)
            std[i] = Float(max(0, e2 / wsum - (e1 / wsum) * (e1 / wsum)).squareRoot())
            let (a, b) = (max(m - k * s, xl), min(m + k * s, xh))
            for j in 0...64 {
                let v = f(a + (b - a) * Float(j) / 64)
                (lo, hi) = (min(lo, v), max(hi, v))
            }
        }
        if x.mean.isEmpty { (lo, hi) = (0, 0) }
        return Stats(mean: mean, std: std, range: (lo, hi), axis: x.axis)
    }

    // MARK: layout

    /// The layout ops (reshape, flatten, transpose, slice, concat) move elements, not values:
    /// each element keeps its source channel's moments, followed through the op's copies.
    func moved(_ n: Node, _ g: Graph, _ stats: [ValueID: Stats]) -> Stats? {
        var ins: [Stats] = []
        for id in n.inputs {
            guard let s = stats[id] else { return nil }
            ins.append(s)
        }
        guard let x = ins.first else { return nil }
        let inDims = n.inputs.map { g.values[$0].shape.dims }
        let outDims = g.values[n.outputs[0]].shape.dims
        let range = (ins.map(\.range.0).min() ?? 0, ins.map(\.range.1).max() ?? 0)
        // without a channel map: the channel axis moves, or the op leaves it whole
        if ins.count == 1, x.origin == nil, x.axis < inDims[0].count {
            let d = inDims[0]
            switch n.op {
            case .transpose(let perm):
                if let a = perm.firstIndex(of: x.axis) { return Stats(mean: x.mean, std: x.std, range: range, axis: a) }
            case .reshape, .flatten:
                let before = d[..<x.axis].reduce(1, *)
                var p = 1
                for (a, o) in outDims.enumerated() {
                    if p == before && o == d[x.axis] { return Stats(mean: x.mean, std: x.std, range: range, axis: a) }
                    p *= o
                }
                // flattened features keep their channels' moments (a linear layer reads them by channel)
                if outDims.count == 2, outDims[0] == d[0], x.axis == 1 { return x }
            case .slice(let a, _, _, _):
                if ShapeInference.axis(a, rank: d.count) != x.axis { return x }
            default: break
            }
        }
        var mean: [Float] = []
        var std: [Float] = []
        var channels: [[Int32]] = []
        for (s, d) in zip(ins, inDims) {
            guard let o = origin(s, dims: d) else { return Self.pooled(x, count: outDims.count > 1 ? outDims[1] : 1) }
            let offset = Int32(mean.count)
            channels.append(offset == 0 ? o.channel : o.channel.map { $0 + offset })
            mean += o.mean
            std += o.std
        }
        let total = Shape(outDims).elementCount
        guard total <= Self.maxTracked else { return Self.pooled(x, count: outDims.count > 1 ? outDims[1] : 1) }
        var map: [Int32]
        switch n.op {
        case .reshape, .flatten:
            map = channels[0]
        default:
            guard
                let copies = StridedCopy.of(
                    n.op, inputs: inDims, output: outDims, strides: { _, d in Shape(d).strides }),
                copies.count == channels.count
            else { return nil }
            map = [Int32](repeating: 0, count: total)
            for (c, src) in zip(copies, channels) { c.forEach { x, y in map[y] = src[x] } }
        }
        guard map.count == total else { return nil }
        let o = Origin(mean: mean, std: std, channel: map)
        // the channel axis is where each index holds one source channel (axis 1, or the last)
        let r = outDims.count
        for a in [1, r - 1] where a >= 0 && a < r {
            if let s = Self.settle(o, dims: outDims, axis: a, range: range), s.origin == nil { return s }
        }
        return Self.settle(o, dims: outDims, axis: r > 1 ? 1 : 0, range: range)
    }

    /// `s` as per-channel moments along `axis` of a value of `dims`.
    func align(_ s: Stats, dims: [Int], axis: Int) -> Stats? {
        if s.axis == axis { return s }
        guard axis < dims.count else { return nil }
        guard let o = origin(s, dims: dims) else { return Self.pooled(s, count: dims[axis], axis: axis) }
        return Self.settle(o, dims: dims, axis: axis, range: s.range)
    }

    /// Each element's channel, for a value of `dims` whose moments are per channel along s.axis.
    func origin(_ s: Stats, dims: [Int]) -> Origin? {
        if let o = s.origin { return o }
        guard s.axis < dims.count, dims[s.axis] == s.mean.count else { return nil }
        let n = Shape(dims).elementCount
        guard n <= Self.maxTracked else { return nil }
        let stride = Shape(dims).strides[s.axis]
        let c = dims[s.axis]
        return Origin(mean: s.mean, std: s.std, channel: (0..<n).map { Int32(($0 / stride) % c) })
    }

    /// Moments per index of `axis` from a channel map: the mixture of the source channels each
    /// index holds; the map is kept when some index holds more than one.
    static func settle(_ o: Origin, dims: [Int], axis: Int, range: (Float, Float)) -> Stats? {
        guard axis < dims.count, o.channel.count == Shape(dims).elementCount else { return nil }
        let d = dims[axis]
        let stride = Shape(dims).strides[axis]
        var first = [Int32](repeating: -1, count: d)
        var pure = true
        var s1 = [Double](repeating: 0, count: d)
        var s2 = [Double](repeating: 0, count: d)
        var n = [Double](repeating: 0, count: d)
        for (e, src) in o.channel.enumerated() {
            let i = (e / stride) % d
            let c = Int(src)
            guard c >= 0, c < o.mean.count else { return nil }
            if first[i] < 0 { first[i] = src } else if first[i] != src { pure = false }
            let (m, s) = (Double(o.mean[c]), Double(o.std[c]))
            s1[i] += m
            s2[i] += s * s + m * m
            n[i] += 1
        }
        var mean = [Float](repeating: 0, count: d)
        var std = [Float](repeating: 0, count: d)
        for i in 0..<d where n[i] > 0 {
            let m = s1[i] / n[i]
            mean[i] = Float(m)
            std[i] = Float(max(0, s2[i] / n[i] - m * m).squareRoot())
        }
        return Stats(mean: mean, std: std, range: range, axis: axis, origin: pure ? nil : o)
    }

    /// All of a value's channels as one mixture, repeated `count` times: what is known when the
    /// channels cannot be followed.
    static func pooled(_ s: Stats, count: Int, axis: Int = 1) -> Stats? {
        let src = s.origin.map { ($0.mean, $0.std) } ?? (s.mean, s.std)
        guard !src.0.isEmpty, count > 0 else { return nil }
        let m = src.0.reduce(0, +) / Float(src.0.count)
        let m2 = zip(src.0, src.1).map { $0 * $0 + $1 * $1 }.reduce(0, +) / Float(src.0.count)
        let sd = max(0, m2 - m * m).squareRoot()
        return Stats(
            mean: Array(repeating: m, count: count), std: Array(repeating: sd, count: count), range: s.range, axis: axis
        )
    }

    /// Output moments of a conv/linear layer from its input's: mean_o = b_o + Σ w·mean_i; a
    /// convolution's σ_o = √(Σ w²σ_i²), its inputs independent, and a classifier's (fully
    /// connected, gemm) σ_o = Σ |w|·σ_i, the spread if its inputs move together (its pooled
    /// features are correlated: independence clips the winning logit). Where batch norms follow
    /// the convolutions their statistics replace this estimate; where an exporter folded them
    /// (torch.onnx's default), convolutions chain on it, and the correlated form would grow by
    /// about √(fan-in) a layer: MobileNetV2 exported so reached ranges of 10⁹.
    func linear(_ n: Node, _ g: Graph, _ x: Stats, _ w: Tensor) -> (mean: [Float], std: [Float]) {
        let wf = w.floatArray()
        let per = wf.count / w.shape[0]
        var mean = LinearMoments.map(n, weights: wf, shape: w.shape, perOutput: per, input: x.mean)
        if n.inputs.count > 2, let bias = g.constants[n.inputs[2]]?.floatArray(), bias.count == mean.count {
            for o in mean.indices { mean[o] += bias[o] }
        }
        let std: [Float]
        if case .conv2d = n.op {
            let w2 = wf.map { $0 * $0 }
            let v = LinearMoments.map(n, weights: w2, shape: w.shape, perOutput: per, input: x.std.map { $0 * $0 })
            std = v.map { $0.squareRoot() }
        } else {
            std = LinearMoments.map(n, weights: wf.map(abs), shape: w.shape, perOutput: per, input: x.std)
        }
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
