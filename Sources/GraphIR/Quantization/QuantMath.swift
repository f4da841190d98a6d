/// A real multiplier in the form the Arm NEON requantization applies it:
/// real ≈ multiplier · 2^(leftShift − rightShift) / 2^31, multiplier in [2^30, 2^31).
public struct Requantizer: Sendable, Hashable {
    public var multiplier: Int32
    public var leftShift: Int
    public var rightShift: Int

    public init(multiplier: Int32, leftShift: Int, rightShift: Int) {
        self.multiplier = multiplier
        self.leftShift = leftShift
        self.rightShift = rightShift
    }

    /// Decomposes a positive real multiplier (computed once, at compile time). Multipliers so
    /// small that the right shift would pass 31 keep shift 31 and a smaller multiplier; zero and
    /// non-finite inputs give the zero multiplier.
    public init(real: Double) {
        guard real > 0, real.isFinite else {
            self.init(multiplier: 0, leftShift: 0, rightShift: 0)
            return
        }
        // real = q · 2^e with q in [0.5, 1)
        var e = Int(real.exponent) + 1
        var q = Int64((real.significand / 2 * Double(1 << 31)).rounded(.toNearestOrAwayFromZero))
        if q == 1 << 31 {
            q = 1 << 30
            e += 1
        }
        if e > 0 {
            self.init(multiplier: Int32(q), leftShift: min(e, 31), rightShift: 0)
        } else if -e <= 31 {
            self.init(multiplier: Int32(q), leftShift: 0, rightShift: -e)
        } else {
            let extra = -e - 31
            let m = extra >= 63 ? 0 : (q + (1 << (extra - 1))) >> extra
            self.init(multiplier: Int32(m), leftShift: 0, rightShift: 31)
        }
    }

    /// The real value this requantizer stands for.
    public var real: Double { Double(multiplier) * pow2(leftShift - rightShift) / Double(1 << 31) }

    private func pow2(_ n: Int) -> Double { n >= 0 ? Double(1 << n) : 1 / Double(1 << -n) }
}

/// The INT8 arithmetic of DESIGN.md, in one place. Every kernel — this module's evaluator and
/// the generated C — applies exactly these operations, written to match the Arm NEON
/// instructions SQRDMULH, SRSHL (rounding right shift) and SQSHL (saturating left shift).
public enum QuantMath {
    /// SQRDMULH: `clamp_int32((2·a·b + 2^31) >> 32)` in 64-bit arithmetic. The only case that
    /// overflows 64 bits, a = b = −2^31, saturates to 2^31 − 1 as the instruction does.
    @inline(__always)
    public static func sqrdmulh(_ a: Int32, _ b: Int32) -> Int32 {
        if a == .min && b == .min { return .max }
        let p = Int64(a) * Int64(b)
        return Int32(truncatingIfNeeded: (2 * p + (1 << 31)) >> 32)
    }

    /// Rounding right shift: `(x + 2^(n−1)) >> n` (64-bit sum, arithmetic shift) for n > 0,
    /// x for n = 0. Ties round towards +∞.
    @inline(__always)
    public static func rshr(_ x: Int32, _ n: Int) -> Int32 {
        n == 0 ? x : Int32(truncatingIfNeeded: (Int64(x) + (Int64(1) << (n - 1))) >> n)
    }

    /// SQSHL: `clamp_int32(x · 2^l)`.
    @inline(__always)
    public static func sqshl(_ x: Int32, _ l: Int) -> Int32 {
        if l == 0 { return x }
        let v = Int64(x) << l
        return Int32(clamping: v)
    }

    /// `rshr(sqrdmulh(sqshl(acc, l), M), r)`: the accumulator rescaled, before zero point and clamp.
    @inline(__always)
    public static func scale(_ acc: Int32, _ q: Requantizer) -> Int32 {
        rshr(sqrdmulh(sqshl(acc, q.leftShift), q.multiplier), q.rightShift)
    }

    /// `out = clamp(rshr(sqrdmulh(sqshl(acc, l), M), r) + zp_out, lo, hi)`.
    @inline(__always)
    public static func requantize(_ acc: Int32, _ q: Requantizer, zeroPoint: Int32, lo: Int32, hi: Int32) -> Int8 {
        let v = Int64(scale(acc, q)) + Int64(zeroPoint)
        return Int8(truncatingIfNeeded: min(max(v, Int64(lo)), Int64(hi)))
    }

    /// An int32 accumulator as a float32 output (`Int8Support.emitsFloat`): `Float(acc)·scale`,
    /// scale = s_in·s_w[o] in float32, then clamped to [lo, hi] (the fused activation in real
    /// units) by comparisons. One conversion and one product, each rounded to nearest even: C
    /// (`fk_linear_f32`) and CUDA compute the same bits.
    @inline(__always)
    public static func accumulatorToFloat(_ acc: Int32, scale: Float, lo: Float, hi: Float) -> Float {
        let v = Float(acc) * scale
        return v < lo ? lo : (v > hi ? hi : v)
    }

    /// The real-valued clamp of an activation fused into a layer with a float32 output.
    public static func realClamp(_ act: FusedActivation) -> (lo: Float, hi: Float)? {
        switch act {
        case .none: return (-.infinity, .infinity)
        case .relu: return (0, .infinity)
        case .clip(let a, let b): return (a.isNaN ? -.infinity : a, b.isNaN ? .infinity : b)
        case .hardSwish: return nil
        }
    }

    /// float → int8: `clamp(round(x / scale) + zp, −128, 127)`, rounding half away from zero
    /// (the division and rounding in IEEE float32, so C reproduces it exactly).
    @inline(__always)
    public static func quantize(_ x: Float, scale: Float, zeroPoint: Int32) -> Int8 {
        let r = (x / scale).rounded(.toNearestOrAwayFromZero)
        guard r.isFinite else { return r > 0 ? 127 : -128 }
        let v = Int64(max(min(r, 1e9), -1e9)) + Int64(zeroPoint)
        return Int8(min(max(v, -128), 127))
    }

    @inline(__always)
    public static func dequantize(_ q: Int8, scale: Float, zeroPoint: Int32) -> Float {
        scale * Float(Int32(q) - zeroPoint)
    }

    /// The smallest activation or weight scale (2^-40): a range that has decayed below it through
    /// a deep chain is held there, so that input × weight scales (a bias scale) stay normal
    /// floats instead of underflowing to zero.
    public static let minScale: Float = 0x1p-40

    /// Asymmetric per-tensor parameters covering [min, max] (widened to include 0, so zero is exact).
    public static func activationParams(min lo: Float, max hi: Float) -> QuantParams {
        let a = Swift.min(lo.isFinite ? lo : 0, 0)
        let b = Swift.max(hi.isFinite ? hi : 0, 0)
        var scale = (b - a) / 255
        if !(scale > 0) || !scale.isFinite { scale = 1 }
        scale = Swift.max(scale, minScale)
        let zp = (-128 - a / scale).rounded(.toNearestOrAwayFromZero)
        return QuantParams(scale: scale, zeroPoint: Int32(Swift.min(Swift.max(zp, -128), 127)))
    }

    /// Symmetric per-output-channel int8 weights in [−127, 127]: channel c of `w` (the
    /// `w.count / channels` elements starting at c·that) gets scale max|w_c| / 127.
    public static func quantizeWeights(_ w: [Float], channels: Int) -> (q: [Int8], scales: [Float]) {
        let block = w.count / Swift.max(channels, 1)
        var q = [Int8](repeating: 0, count: w.count)
        var scales = [Float](repeating: 1, count: channels)
        for c in 0..<channels {
            let slice = w[(c * block)..<((c + 1) * block)]
            let m = slice.map(abs).max() ?? 0
            let s: Float = m > 0 ? Swift.max(m / 127, minScale) : 1
            scales[c] = s
            for i in (c * block)..<((c + 1) * block) {
                q[i] = Int8(Swift.min(Swift.max((w[i] / s).rounded(.toNearestOrAwayFromZero), -127), 127))
            }
        }
        return (q, scales)
    }

    /// A weight tensor [O, …] quantized as `quantize` does: per output channel, or one scale
    /// for the tensor (`perTensor`, the naive scheme).
    public static func quantizeWeights(_ w: Tensor, perTensor: Bool) -> (q: [Int8], scales: [Float]) {
        quantizeWeights(w.floatArray(), channels: perTensor ? 1 : w.shape[0])
    }

    /// int32 bias with scale input_scale × weight_scale[c], zero point 0.
    public static func quantizeBias(_ b: [Float], inputScale: Float, weightScales: [Float]) -> [Int32] {
        b.indices.map { c in
            let v = (Double(b[c]) / (Double(inputScale) * Double(weightScales[c]))).rounded(.toNearestOrAwayFromZero)
            return Int32(Swift.min(Swift.max(v, Double(Int32.min)), Double(Int32.max)))
        }
    }

    /// A bias's parameters: scale s_in · s_w[c] (float32), zero point 0, per output channel.
    public static func biasParams(input xq: QuantParams, weights wq: QuantParams, channels: Int) -> QuantParams {
        QuantParams(
            scales: wq.channelScales(channels).map { $0 * xq.scales[0] },
            zeroPoints: [Int32](repeating: 0, count: channels), axis: 0)
    }

    /// The int8 clamp an activation fused into a requantized op becomes.
    public static func clampRange(_ act: FusedActivation, _ out: QuantParams) -> (lo: Int32, hi: Int32)? {
        let zp = out.zeroPoints[0]
        let s = out.scales[0]
        func q(_ x: Float) -> Int32 {
            Int32(Swift.min(Swift.max((x / s).rounded(.toNearestOrAwayFromZero) + Float(zp), -128), 127))
        }
        switch act {
        case .none: return (-128, 127)
        case .relu: return (Swift.max(-128, zp), 127)
        case .clip(let a, let b): return (a.isFinite ? q(a) : -128, b.isFinite ? q(b) : 127)
        case .hardSwish: return nil
        }
    }
}
