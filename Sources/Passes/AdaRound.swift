import COpenBLAS
import GraphIR

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Learned rounding (Nagel et al., "Up or Down? Adaptive Rounding for Post-Training
/// Quantization", ICML 2020). The layer's weight scales are kept. Each weight is rounded down or
/// up, whichever the layer's output error on the calibration data prefers, instead of to the
/// nearest level.
///
/// For a layer with float weights W and bias b, float input x, quantized weights W̃ = s·(⌊W/s⌋ + h),
/// int8 bias b̃ and the input x̃ that the int8 model gives it, the reconstruction error is
/// Σ_p ‖W̃x̃_p + b̃ − Wx_p − b‖² over the calibration samples' pixels p. It is a quadratic form
/// in W̃. One Gram matrix of the stacked patch [x̃; x; 1] per group of output channels holds
/// the whole data set: iterations cost a K×K product per output channel, whatever the number of
/// samples, and the gradient is exact (full batch, no sampling, so no seed is needed).
///
/// h = clamp(σ(V)·(ζ − γ) + γ, 0, 1) per weight (the rectified sigmoid), V starts at the
/// fractional part of W/s. Adam minimises error/P + λ·Σ(1 − |2h − 1|^β), with β annealed from 20
/// to 2 after a warm-up of 20 % of the iterations without the regulariser. The result is then
/// rounded hard, up where V ≥ 0.
///
/// The fit can overfit: a layer's one-bit choices per weight outnumber the calibration pixels of
/// a late layer (the trained text-line classifier lost 2.1 dB of logit SQNR on its validation
/// lines while gaining 2.2 on its calibration lines). So every fourth calibration sample is held
/// out of the fit (with four samples or more), and each output channel keeps its learned rounding
/// only where that reconstructs the held-out samples better than nearest rounding; the error is
/// separable by output channel, so each is decided on its own. The reported SQNRs are the
/// held-out samples' (all samples' with fewer than four).
public struct AdaRound: Sendable {
    public var iterations: Int
    /// λ, the regulariser's weight.
    public var regularization: Float = 0.01
    public var learningRate: Float = 0.01
    /// Threads the layer's independent blocks of rows are spread over (the result does not depend on it).
    public var threads = 1

    static let zeta: Float = 1.1
    static let gamma: Float = -0.1
    static let betaStart: Float = 20
    static let betaEnd: Float = 2
    static let warmup = 0.2
    /// The weight levels (symmetric int8, as `QuantMath.quantizeWeights` uses).
    static let levels: ClosedRange<Float> = -127...127

    public static let defaultIterations = 1000

    public init(iterations: Int = AdaRound.defaultIterations) { self.iterations = iterations }

    /// One layer's result.
    public struct Layer: Sendable {
        public var node: String
        /// Reconstruction SQNR of the layer's pre-activation output (dB): ‖Wx + b‖² over the
        /// error, with nearest rounding and with the rounding chosen.
        public var nearestSQNR: Double
        public var adaroundSQNR: Double
        /// Weights rounded the other way from nearest, and all weights.
        public var flipped: Int
        public var weights: Int
        /// Whether the learned rounding was kept for any output channel (false: it reconstructed
        /// the held-out samples worse than nearest in every one).
        public var kept: Bool
    }

    /// A layer's problem: `rows` output channels of `k` weights each, in `groups` groups of
    /// rows sharing one Gram matrix, each (2k+1)² over the stacked patch [x̃; x; 1].
    struct Problem {
        var rows: Int
        var k: Int
        var groups: Int
        /// A convolution's kernel height and width ((1, 1) for a linear layer).
        var kernel: (Int, Int)
        /// Float weights, rows × k.
        var weights: [Float]
        /// Weight scale per row.
        var scales: [Float]
        /// Float bias per row, and the int8 model's bias dequantized.
        var bias: [Float]
        var quantizedBias: [Float]
        /// Per group, the Gram matrix of [x̃; x; 1] over the fitted samples' pixels, row-major
        /// (2k+1)², and over the held-out samples' (`check`; empty: none held out, the fit's).
        var gram: [[Double]]
        var check: [[Double]] = []

        /// Whether calibration sample `s` of `count` is held out of the fit.
        static func heldOut(_ s: Int, of count: Int) -> Bool { count >= 4 && s % 4 == 3 }
    }

    /// Rows optimised together (a fixed block, so the arithmetic is the same for any thread count).
    static let rowBlock = 32

    /// Solves one layer: the int8 codes (rows × k) and the layer's figures. Groups and blocks of
    /// rows are independent problems, spread over `threads`.
    func solve(_ p: Problem, name: String) -> (codes: [Int8], layer: Layer) {
        let k = p.k
        let per = p.rows / p.groups
        let forms = Parallel.map(p.groups, threads: threads, state: {}) { (_: inout Void, g: Int) in
            QuadraticForm(p, group: g, gram: p.gram[g])
        }
        let checks =
            p.check.isEmpty
            ? forms
            : Parallel.map(p.groups, threads: threads, state: {}) { (_: inout Void, g: Int) in
                QuadraticForm(p, group: g, gram: p.check[g])
            }
        let floor = (0..<(p.rows * k)).map { i in (p.weights[i] / p.scales[i / k]).rounded(.down) }
        let nearest = (0..<(p.rows * k)).map { i in
            min(
                max((p.weights[i] / p.scales[i / k]).rounded(.toNearestOrAwayFromZero), Self.levels.lowerBound),
                Self.levels.upperBound)
        }
        let blocks: [(group: Int, first: Int, rows: Int)] = (0..<p.groups).flatMap { g in
            stride(from: 0, to: per, by: Self.rowBlock).map { (g, $0, min(Self.rowBlock, per - $0)) }
        }
        let me = self
        let ups = Parallel.map(blocks.count, threads: threads, state: {}) { (_: inout Void, b: Int) -> [Bool] in
            let (g, first, rows) = blocks[b]
            let lo = (g * per + first) * k
            let hi = lo + rows * k
            let scales = Array(p.scales[(g * per + first)..<(g * per + first + rows)])
            return me.optimise(forms[g], first: first, floor: Array(floor[lo..<hi]), scales: scales, rows: rows)
        }
        var up = [Bool](repeating: false, count: p.rows * k)
        for (b, block) in blocks.enumerated() {
            let lo = (block.group * per + block.first) * k
            for (i, u) in ups[b].enumerated() { up[lo + i] = u }
        }
        var codes = [Int8](repeating: 0, count: p.rows * k)
        var nearestLoss = 0.0
        var chosenLoss = 0.0
        var signal = 0.0
        var flipped = 0
        for g in 0..<p.groups {
            let span = (g * per * k)..<((g + 1) * per * k)
            let scales = Array(p.scales[(g * per)..<((g + 1) * per)])
            let near = Array(nearest[span])
            let learned = span.map { i in
                min(max(floor[i] + (up[i] ? 1 : 0), Self.levels.lowerBound), Self.levels.upperBound)
            }
            let ln = checks[g].rowLosses(near, scales: scales)
            let ll = checks[g].rowLosses(learned, scales: scales)
            signal += checks[g].signal
            for r in 0..<per {
                nearestLoss += ln[r]
                let keep = ll[r] < ln[r]
                chosenLoss += keep ? ll[r] : ln[r]
                for i in (r * k)..<((r + 1) * k) {
                    let pick = keep ? learned[i] : near[i]
                    codes[span.lowerBound + i] = Int8(pick)
                    if pick != near[i] { flipped += 1 }
                }
            }
        }
        func db(_ e: Double) -> Double { e > 0 ? 10 * log10(max(signal, .leastNormalMagnitude) / e) : 200 }
        let layer = Layer(
            node: name, nearestSQNR: db(nearestLoss), adaroundSQNR: db(chosenLoss), flipped: flipped,
            weights: p.rows * k, kept: chosenLoss < nearestLoss)
        return (codes, layer)
    }

    /// Adam on the rounding variables of `rows` rows of one group from its row `first`; returns,
    /// per weight, whether it rounds up.
    func optimise(_ form: QuadraticForm, first: Int, floor: [Float], scales: [Float], rows: Int) -> [Bool] {
        let k = form.k
        let n = rows * k
        let (zeta, gamma) = (Self.zeta, Self.gamma)
        var v = [Float](repeating: 0, count: n)
        for i in 0..<n {
            let w = form.weights[first * k + i] / scales[i / k]
            let frac = min(max(w - floor[i], 0), 1)
            let sig = min(max((frac - gamma) / (zeta - gamma), 1e-6), 1 - 1e-6)
            v[i] = log(sig / (1 - sig))
        }
        var m = [Float](repeating: 0, count: n)
        var s2 = [Float](repeating: 0, count: n)
        var wq = [Float](repeating: 0, count: n)
        var prod = [Float](repeating: 0, count: n)
        var sig = [Float](repeating: 0, count: n)
        var h = [Float](repeating: 0, count: n)
        let (b1, b2, eps) = (Float(0.9), Float(0.999), Float(1e-8))
        var b1t: Float = 1
        var b2t: Float = 1
        let warm = Int(Double(iterations) * Self.warmup)
        let scale = 2 / Float(max(form.pixels, 1))
        for t in 0..<iterations {
            for i in 0..<n {
                sig[i] = 1 / (1 + exp(-v[i]))
                h[i] = min(max(sig[i] * (zeta - gamma) + gamma, 0), 1)
                wq[i] = scales[i / k] * min(max(floor[i] + h[i], Self.levels.lowerBound), Self.levels.upperBound)
            }
            form.multiply(wq, rows: rows, into: &prod)
            let target = first * k
            let regOn = t >= warm
            var beta = Self.betaStart
            if regOn {
                let rel = Float(t - warm) / Float(max(iterations - warm, 1))
                beta = Self.betaEnd + (Self.betaStart - Self.betaEnd) * max(0, 1 - rel)
            }
            b1t *= b1
            b2t *= b2
            for i in 0..<n {
                let r = i / k
                let inside = floor[i] + h[i] > Self.levels.lowerBound && floor[i] + h[i] < Self.levels.upperBound
                var gh = inside ? scale * (prod[i] - form.target[target + i]) * scales[r] : 0
                if regOn {
                    let u = 2 * h[i] - 1
                    let au = abs(u)
                    if au > 0 { gh -= regularization * beta * pow(au, beta - 1) * (u > 0 ? 2 : -2) }
                }
                let hv = sig[i] * (zeta - gamma) + gamma
                let dv = hv > 0 && hv < 1 ? gh * sig[i] * (1 - sig[i]) * (zeta - gamma) : 0
                m[i] = b1 * m[i] + (1 - b1) * dv
                s2[i] = b2 * s2[i] + (1 - b2) * dv * dv
                let mh = m[i] / (1 - b1t)
                let sh = s2[i] / (1 - b2t)
                v[i] -= learningRate * mh / (sh.squareRoot() + eps)
            }
        }
        return v.map { $0 >= 0 }
    }
}

/// One group's reconstruction error as a quadratic form in its rows' quantized weights w̃:
/// ‖w̃X̃ + b̃ − wX − b‖² = w̃G̃w̃ᵀ − 2w̃·c + const per row, with G̃ = Σx̃x̃ᵀ and
/// c = Σx̃(wx + b − b̃) from the stacked Gram matrix.
struct QuadraticForm {
    let k: Int
    let pixels: Int
    /// G̃ as Float, k × k, for the iterations; and as Double for the final losses.
    let gq: [Float]
    let gqd: [Double]
    /// c per row (rows × k), as Float and as Double.
    let target: [Float]
    let targetd: [Double]
    /// Per row, the error's constant term Σ(wx + b − b̃)².
    let constant: [Double]
    /// Σ‖wx + b‖² over the group's rows (the output's energy).
    let signal: Double
    /// The group's float weights, rows × k.
    let weights: [Float]

    /// Group `g` of `p` over the pixels `gram` sums (the fitted or the held-out samples').
    init(_ p: AdaRound.Problem, group g: Int, gram: [Double]) {
        let k = p.k
        let d = 2 * k + 1
        let per = p.rows / p.groups
        self.k = k
        // the blocks of the stacked Gram matrix: G̃ = Σx̃x̃ᵀ, M = Σx̃xᵀ, G = Σxxᵀ, Σx̃, Σx, N
        var gqd = [Double](repeating: 0, count: k * k)
        var m = [Double](repeating: 0, count: k * k)
        var gf = [Double](repeating: 0, count: k * k)
        for i in 0..<k {
            for j in 0..<k {
                gqd[i * k + j] = gram[i * d + j]
                m[i * k + j] = gram[i * d + k + j]
                gf[i * k + j] = gram[(k + i) * d + k + j]
            }
        }
        let sumQ = (0..<k).map { gram[$0 * d + 2 * k] }
        let sumF = (0..<k).map { gram[(k + $0) * d + 2 * k] }
        let n = gram[2 * k * d + 2 * k]
        let weights = Array(p.weights[(g * per * k)..<((g + 1) * per * k)])
        let w = weights.map(Double.init)
        // c = W·Mᵀ + (b − b̃)·Σx̃ per row
        var target = Self.dgemm(w, rows: per, m, k: k, transposed: true)
        // Σ(wx + δ)² = wGwᵀ + 2δ·w·Σx + Nδ²; the signal uses b in place of δ
        let wg = Self.dgemm(w, rows: per, gf, k: k, transposed: false)
        var constant = [Double](repeating: 0, count: per)
        var signal = 0.0
        for r in 0..<per {
            let row = g * per + r
            let delta = Double(p.bias[row]) - Double(p.quantizedBias[row])
            var wgw = 0.0
            var ws = 0.0
            for i in 0..<k {
                target[r * k + i] += delta * sumQ[i]
                wgw += w[r * k + i] * wg[r * k + i]
                ws += w[r * k + i] * sumF[i]
            }
            constant[r] = wgw + 2 * delta * ws + n * delta * delta
            let b = Double(p.bias[row])
            signal += wgw + 2 * b * ws + n * b * b
        }
        self.pixels = Int(n.rounded())
        self.gqd = gqd
        gq = gqd.map { Float($0) }
        self.targetd = target
        self.target = target.map { Float($0) }
        self.constant = constant
        self.signal = signal
        self.weights = weights
    }

    /// a (rows × k) · b (k × k), or · bᵀ, in Double.
    static func dgemm(_ a: [Double], rows: Int, _ b: [Double], k: Int, transposed: Bool) -> [Double] {
        var c = [Double](repeating: 0, count: rows * k)
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                c.withUnsafeMutableBufferPointer { cp in
                    cblas_dgemm(
                        CblasRowMajor, CblasNoTrans, transposed ? CblasTrans : CblasNoTrans, Int32(rows), Int32(k),
                        Int32(k), 1, ap.baseAddress, Int32(k), bp.baseAddress, Int32(k), 0, cp.baseAddress, Int32(k))
                }
            }
        }
        return c
    }

    /// prod = W̃·G̃ (rows × k).
    func multiply(_ wq: [Float], rows: Int, into prod: inout [Float]) {
        if rows * k * k >= 4096 {
            wq.withUnsafeBufferPointer { a in
                gq.withUnsafeBufferPointer { b in
                    prod.withUnsafeMutableBufferPointer { c in
                        cblas_sgemm(
                            CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(rows), Int32(k), Int32(k), 1,
                            a.baseAddress, Int32(k), b.baseAddress, Int32(k), 0, c.baseAddress, Int32(k))
                    }
                }
            }
            return
        }
        for r in 0..<rows {
            for j in 0..<k {
                var s: Float = 0
                for i in 0..<k { s += wq[r * k + i] * gq[i * k + j] }
                prod[r * k + j] = s
            }
        }
    }

    /// The error of each row for integer codes (rows × k) with per-row scales, in Double.
    func rowLosses(_ codes: [Float], scales: [Float]) -> [Double] {
        let rows = constant.count
        let w = codes.indices.map { Double(codes[$0]) * Double(scales[$0 / k]) }
        let wg = Self.dgemm(w, rows: rows, gqd, k: k, transposed: false)
        return (0..<rows).map { r in
            var e = constant[r]
            for i in 0..<k { e += w[r * k + i] * (wg[r * k + i] - 2 * targetd[r * k + i]) }
            return max(e, 0)
        }
    }
}
