#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension FusedActivation {
    /// The activation an elementwise op is (relu, clip, hard_swish), for sharing one kernel.
    init?(_ op: Op) {
        switch op {
        case .relu: self = .relu
        case .clip(let lo, let hi): self = .clip(min: lo, max: hi)
        case .hardSwish: self = .hardSwish
        default: return nil
        }
    }
}

extension Op {
    /// The pointwise function of a unary activation op (hard_swish, hard_sigmoid, sigmoid, silu,
    /// gelu), as the float evaluator applies it; nil for other ops.
    public var pointwiseFunction: ((Float) -> Float)? { Kernels.pointwise(self) }
}

extension Kernels {
    /// The pointwise function of a unary activation op (hard_swish, hard_sigmoid, sigmoid, silu, gelu):
    /// what the float evaluator applies, and what an int8 lookup table tabulates.
    static func pointwise(_ op: Op) -> ((Float) -> Float)? {
        switch op {
        case .hardSwish: { $0 * min(max($0 + 3, 0), 6) / 6 }
        case .hardSigmoid: { min(max($0 + 3, 0), 6) / 6 }
        case .gelu: { 0.5 * $0 * (1 + erff($0 * 0.70710678118654752)) }
        case .sigmoid: { 1 / (1 + expf(-$0)) }
        case .silu: { $0 * (1 / (1 + expf(-$0))) }
        default: nil
        }
    }

    /// Applies an activation in place: the standalone ops and the fused forms share it, so fusing
    /// changes no result.
    static func activate(_ x: FloatBuffer, _ act: FusedActivation) {
        let p = x.ptr
        switch act {
        case .none: return
        case .relu: for i in 0..<x.count { p[i] = max(p[i], 0) }
        case .clip(let lo, let hi): for i in 0..<x.count { p[i] = min(max(p[i], lo), hi) }
        case .hardSwish: for i in 0..<x.count { p[i] = p[i] * min(max(p[i] + 3, 0), 6) / 6 }
        }
    }

    @inline(__always)
    static func unary(_ x: FloatBuffer, _ f: (Float) -> Float) -> FloatBuffer {
        let out = FloatBuffer(shape: x.shape)
        let (src, dst) = (x.ptr, out.ptr)
        for i in 0..<x.count { dst[i] = f(src[i]) }
        return out
    }

    /// Elementwise binary op with NumPy broadcasting; the innermost dimension runs as a loop
    /// with a stride of 0 or 1 per operand.
    @inline(__always)
    static func binary(_ a: FloatBuffer, _ b: FloatBuffer, outShape: [Int], _ f: (Float, Float) -> Float)
        -> FloatBuffer
    {
        let out = FloatBuffer(shape: outShape)
        let (pa, pb, po) = (a.ptr, b.ptr, out.ptr)
        if a.shape == outShape, b.shape == outShape {
            for i in 0..<out.count { po[i] = f(pa[i], pb[i]) }
            return out
        }
        if b.count == 1 {
            let v = pb[0]
            for i in 0..<out.count { po[i] = f(pa[i], v) }
            return out
        }
        let inner = outShape.last ?? 1
        let outerShape = Array(outShape.dropLast())
        let aInner = (a.shape.last ?? 1) == 1 && inner != 1 ? 0 : 1
        let bInner = (b.shape.last ?? 1) == 1 && inner != 1 ? 0 : 1
        let aRows = broadcastOffsets(from: rows(a.shape, rank: outShape.count), to: outerShape)
        let bRows = broadcastOffsets(from: rows(b.shape, rank: outShape.count), to: outerShape)
        let aLen = aInner == 0 ? 1 : inner
        let bLen = bInner == 0 ? 1 : inner
        for r in 0..<max(aRows.count, 1) {
            let ra = pa + (aRows.isEmpty ? 0 : aRows[r]) * aLen
            let rb = pb + (bRows.isEmpty ? 0 : bRows[r]) * bLen
            let ro = po + r * inner
            for i in 0..<inner { ro[i] = f(ra[i * aInner], rb[i * bInner]) }
        }
        return out
    }

    /// The shape of `s` without its last dimension, left-padded to `rank - 1` dims.
    private static func rows(_ s: [Int], rank: Int) -> [Int] {
        let padded = [Int](repeating: 1, count: rank - s.count) + s
        return Array(padded.dropLast())
    }

    static func broadcastCopy(_ x: FloatBuffer, outShape: [Int]) -> FloatBuffer {
        let out = FloatBuffer(shape: outShape)
        let idx = broadcastOffsets(from: x.shape, to: outShape)
        for (i, j) in idx.enumerated() { out.ptr[i] = x.ptr[j] }
        return out
    }

    static func batchNorm(
        _ x: FloatBuffer, _ scale: FloatBuffer, _ bias: FloatBuffer, _ mean: FloatBuffer, _ variance: FloatBuffer,
        epsilon: Float
    ) -> FloatBuffer {
        let out = FloatBuffer(shape: x.shape)
        let c = x.shape[1]
        let inner = x.shape[2...].reduce(1, *)
        let n = x.shape[0]
        for b in 0..<n {
            for ch in 0..<c {
                let k = scale.ptr[ch] / (variance.ptr[ch] + epsilon).squareRoot()
                let m = mean.ptr[ch]
                let s = bias.ptr[ch]
                let src = x.ptr + (b * c + ch) * inner
                let dst = out.ptr + (b * c + ch) * inner
                for i in 0..<inner { dst[i] = (src[i] - m) * k + s }
            }
        }
        return out
    }

    /// Normalises over the trailing dims from `axis` (statistics in Double), then scale and shift.
    static func layerNorm(_ x: FloatBuffer, _ scale: FloatBuffer, _ bias: FloatBuffer, axis: Int, epsilon: Float)
        -> FloatBuffer
    {
        let out = FloatBuffer(shape: x.shape)
        let inner = x.shape[axis...].reduce(1, *)
        let outer = x.count / max(inner, 1)
        for o in 0..<outer {
            let src = x.ptr + o * inner
            let dst = out.ptr + o * inner
            var sum = 0.0
            for i in 0..<inner { sum += Double(src[i]) }
            let mean = sum / Double(inner)
            var sq = 0.0
            for i in 0..<inner {
                let d = Double(src[i]) - mean
                sq += d * d
            }
            let inv = Float(1 / (sq / Double(inner) + Double(epsilon)).squareRoot())
            let m = Float(mean)
            for i in 0..<inner { dst[i] = (src[i] - m) * inv * scale.ptr[i] + bias.ptr[i] }
        }
        return out
    }

    static func softmax(_ x: FloatBuffer, axis: Int) -> FloatBuffer {
        let out = FloatBuffer(shape: x.shape)
        let len = x.shape[axis]
        let inner = x.shape[(axis + 1)...].reduce(1, *)
        let outer = x.count / max(len * inner, 1)
        for o in 0..<outer {
            for i in 0..<inner {
                let src = x.ptr + o * len * inner + i
                let dst = out.ptr + o * len * inner + i
                var mx = -Float.infinity
                for j in 0..<len { mx = max(mx, src[j * inner]) }
                var sum: Float = 0
                for j in 0..<len {
                    let e = expf(src[j * inner] - mx)
                    dst[j * inner] = e
                    sum += e
                }
                let inv = 1 / sum
                for j in 0..<len { dst[j * inner] *= inv }
            }
        }
        return out
    }

    static func globalAvgPool(_ x: FloatBuffer) -> FloatBuffer {
        let (n, c) = (x.shape[0], x.shape[1])
        let plane = x.shape[2] * x.shape[3]
        let out = FloatBuffer(shape: [n, c, 1, 1])
        for i in 0..<(n * c) {
            let p = x.ptr + i * plane
            var s: Float = 0
            for j in 0..<plane { s += p[j] }
            out.ptr[i] = s / Float(plane)
        }
        return out
    }

    /// Max or average pooling, PyTorch semantics (padding excluded from max; the average's
    /// divisor follows `countIncludePad`, windows clipped to the padded input).
    static func pool(_ x: FloatBuffer, _ a: PoolAttrs, outShape: [Int], max isMax: Bool) -> FloatBuffer {
        let out = FloatBuffer(shape: outShape)
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (ho, wo) = (outShape[2], outShape[3])
        let (kh, kw, sh, sw, ph, pw) = (a.kernel[0], a.kernel[1], a.stride[0], a.stride[1], a.pad[0], a.pad[1])
        for i in 0..<(n * c) {
            let src = x.ptr + i * h * w
            let dst = out.ptr + i * ho * wo
            for oy in 0..<ho {
                for ox in 0..<wo {
                    let y0 = oy * sh - ph
                    let x0 = ox * sw - pw
                    let y1 = min(y0 + kh, h + a.pad[2])
                    let x1 = min(x0 + kw, w + a.pad[3])
                    let area = (y1 - y0) * (x1 - x0)
                    let (ys, ye, xs, xe) = (Swift.max(y0, 0), min(y1, h), Swift.max(x0, 0), min(x1, w))
                    var acc: Float = isMax ? -.infinity : 0
                    for y in ys..<Swift.max(ys, ye) {
                        for xx in xs..<Swift.max(xs, xe) {
                            let v = src[y * w + xx]
                            acc = isMax ? Swift.max(acc, v) : acc + v
                        }
                    }
                    if !isMax {
                        let count = a.countIncludePad ? area : (ye - ys) * (xe - xs)
                        acc /= Float(Swift.max(count, 1))
                    }
                    dst[oy * wo + ox] = acc
                }
            }
        }
        return out
    }
}
