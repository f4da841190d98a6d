/// Int8 tensors in the quantized evaluator.
final class Int8Storage: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Int8>
    let count: Int
    init(count: Int) {
        pointer = .allocate(capacity: max(count, 1))
        self.count = count
    }
    deinit { pointer.deallocate() }
}

public struct Int8Buffer {
    var shape: [Int]
    let storage: Int8Storage
    init(shape: [Int]) {
        self.shape = shape
        storage = Int8Storage(count: shape.reduce(1, *))
    }
    init(shape: [Int], storage: Int8Storage) {
        self.shape = shape
        self.storage = storage
    }
    var ptr: UnsafeMutablePointer<Int8> { storage.pointer }
    var count: Int { storage.count }

    func tensor() -> Tensor {
        Tensor(dtype: .int8, shape: Shape(shape), bytes: UnsafeRawBufferPointer(start: ptr, count: count))
    }
}

/// The int8 kernels: integer arithmetic only, each output requantized by `QuantMath`.
/// Zero points: an input element contributes (q − zp_in); padding contributes 0, which is the
/// quantized real zero. Int32 accumulators: |q − zp| ≤ 255 and |w| ≤ 127, so a sum of K terms
/// stays below 2^31 for K < 66,000 (MobileNetV2's largest K is 9·960 = 8,640).
public enum Int8Kernels {
    /// conv2d: acc[co] = bias[co] + Σ w[co,ci,ky,kx]·(x − inputOffset); out = requantize(acc,
    /// R[co]) clamped (`WeightedParameters`; padding contributes 0).
    public static func conv2d(
        _ x: Int8Buffer, w: Tensor, _ p: WeightedParameters, _ a: Conv2dAttrs, outShape: [Int]
    ) -> Int8Buffer {
        let out = Int8Buffer(shape: outShape)
        let (n, cin, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let ws = w.shape.dims
        let (cout, cg, kh, kw) = (ws[0], ws[1], ws[2], ws[3])
        let (ho, wo) = (outShape[2], outShape[3])
        let plane = ho * wo
        let coutG = cout / a.groups
        let zx = p.inputOffset
        let wp = w.storage.pointer.assumingMemoryBound(to: Int8.self)
        let (zo, lo, hi) = (p.outputZeroPoint, p.clamp.lo, p.clamp.hi)
        let rows = cg * kh * kw
        // the input less its zero point (in [−255, 255], so Int16), as im2col rows (c, ky, kx) × (oy, ox);
        // each product (q − zp)·w fits Int16 (|·| ≤ 255·127 = 32,385) and is summed in Int32
        var col = [Int16](repeating: 0, count: rows * plane)
        var acc = [Int32](repeating: 0, count: plane)
        let (sh, sw, ph, pw, dh, dw) = (a.stride[0], a.stride[1], a.pad[0], a.pad[1], a.dilation[0], a.dilation[1])
        col.withUnsafeMutableBufferPointer { colp in
            acc.withUnsafeMutableBufferPointer { accp in
                let cbase = colp.baseAddress!
                let abase = accp.baseAddress!
                for b in 0..<n {
                    for g in 0..<a.groups {
                        var r = 0
                        for ci in 0..<cg {
                            let xc = x.ptr + ((b * cin + g * cg + ci) * h * wd)
                            for ky in 0..<kh {
                                for kx in 0..<kw {
                                    let row = cbase + r * plane
                                    for oy in 0..<ho {
                                        let iy = oy * sh - ph + ky * dh
                                        for ox in 0..<wo {
                                            let ix = ox * sw - pw + kx * dw
                                            row[oy * wo + ox] =
                                                (iy >= 0 && iy < h && ix >= 0 && ix < wd)
                                                ? Int16(Int32(xc[iy * wd + ix]) - zx) : 0
                                        }
                                    }
                                    r += 1
                                }
                            }
                        }
                        for oc in 0..<coutG {
                            let co = g * coutG + oc
                            let b0 = p.bias[co]
                            for i in 0..<plane { abase[i] = b0 }
                            let wrow = wp + co * rows
                            for k in 0..<rows {
                                let wv = Int16(wrow[k])
                                if wv == 0 { continue }
                                accumulate(abase, cbase + k * plane, wv, plane)
                            }
                            let dst = out.ptr + (b * cout + co) * plane
                            let q = p.requant[co]
                            for i in 0..<plane {
                                dst[i] = QuantMath.requantize(abase[i], q, zeroPoint: zo, lo: lo, hi: hi)
                            }
                        }
                    }
                }
            }
        }
        return out
    }

    /// acc[p] += Int32(src[p]·w) for p < n: eight Int16 products at a time, widened to Int32.
    @inline(__always)
    static func accumulate(_ acc: UnsafeMutablePointer<Int32>, _ src: UnsafeMutablePointer<Int16>, _ w: Int16, _ n: Int)
    {
        let wv = SIMD8<Int16>(repeating: w)
        var p = 0
        while p &+ 8 <= n {
            let prod = UnsafeRawPointer(src + p).loadUnaligned(as: SIMD8<Int16>.self) &* wv
            let sum =
                UnsafeRawPointer(acc + p).loadUnaligned(as: SIMD8<Int32>.self) &+ SIMD8<Int32>(truncatingIfNeeded: prod)
            UnsafeMutableRawPointer(acc + p).storeBytes(of: sum, as: SIMD8<Int32>.self)
            p &+= 8
        }
        while p < n {
            acc[p] &+= Int32(src[p] &* w)
            p &+= 1
        }
    }

    /// Linear layer on int8: x `[…, K]` (one row per K values), w `[N, K]`:
    /// acc[r, o] = bias[o] + Σ_k w[o, k]·(x[r, k] − inputOffset).
    public static func linear(_ x: Int8Buffer, w: Tensor, _ p: WeightedParameters, outShape: [Int]) -> Int8Buffer {
        let out = Int8Buffer(shape: outShape)
        let (nOut, k) = (w.shape[0], w.shape[1])
        let rows = x.count / max(k, 1)
        let wp = w.storage.pointer.assumingMemoryBound(to: Int8.self)
        let (zo, lo, hi) = (p.outputZeroPoint, p.clamp.lo, p.clamp.hi)
        var xs = [Int32](repeating: 0, count: k)
        for r in 0..<rows {
            for i in 0..<k { xs[i] = Int32(x.ptr[r * k + i]) - p.inputOffset }
            for o in 0..<nOut {
                var acc: Int32 = p.bias[o]
                let wrow = wp + o * k
                for i in 0..<k { acc &+= Int32(wrow[i]) &* xs[i] }
                out.ptr[r * nOut + o] = QuantMath.requantize(acc, p.requant[o], zeroPoint: zo, lo: lo, hi: hi)
            }
        }
        return out
    }

    /// One row's float32 outputs from the int32 accumulators (`FloatOutputParameters`): the
    /// classifier's logits without an int8 output grid.
    static func linearToFloat(_ x: Int8Buffer, w: Tensor, _ p: FloatOutputParameters, outShape: [Int])
        -> FloatBuffer
    {
        let out = FloatBuffer(shape: outShape)
        let nOut = w.shape[0]
        let k = w.elementCount / max(nOut, 1)
        let wp = w.storage.pointer.assumingMemoryBound(to: Int8.self)
        for o in 0..<nOut {
            var acc: Int32 = p.bias[o]
            let wrow = wp + o * k
            for i in 0..<k { acc &+= Int32(wrow[i]) &* Int32(x.ptr[i]) }
            out.ptr[o] = QuantMath.accumulatorToFloat(acc, scale: p.scales[o], lo: p.lo, hi: p.hi)
        }
        return out
    }

    /// Add of two int8 tensors of one shape with their own scales (`AddParameters`).
    public static func add(_ a: Int8Buffer, _ b: Int8Buffer, _ p: AddParameters, outShape: [Int]) -> Int8Buffer {
        let out = Int8Buffer(shape: outShape)
        let shift = AddParameters.shift
        for i in 0..<out.count {
            let va = QuantMath.scale((Int32(a.ptr[i]) - p.aZeroPoint) << shift, p.a)
            let vb = QuantMath.scale((Int32(b.ptr[i]) - p.bZeroPoint) << shift, p.b)
            out.ptr[i] = QuantMath.requantize(
                va &+ vb, p.out, zeroPoint: p.outputZeroPoint, lo: p.clamp.lo, hi: p.clamp.hi)
        }
        return out
    }

    /// mul (`MulParameters`): elementwise, or one operand's value per channel scaling every pixel
    /// of the other's NCHW map.
    public static func mul(_ a: Int8Buffer, _ b: Int8Buffer, _ p: MulParameters, outShape: [Int]) -> Int8Buffer {
        let out = Int8Buffer(shape: outShape)
        var (x, s, zx, zs, plane) = (a, b, p.aZeroPoint, p.bZeroPoint, 1)
        if case .perChannel(let k) = p.form {
            plane = outShape[2] * outShape[3]
            if k == 0 { (x, s, zx, zs) = (b, a, p.bZeroPoint, p.aZeroPoint) }
        }
        for i in 0..<out.count {
            let acc = (Int32(x.ptr[i]) - zx) * (Int32(s.ptr[i / plane]) - zs)
            out.ptr[i] = QuantMath.requantize(acc, p.out, zeroPoint: p.outputZeroPoint, lo: -128, hi: 127)
        }
        return out
    }

    /// A move (transpose, slice, concat): each input's `StridedCopy` (row-major strides), its codes
    /// requantized by its `Rescale` where it has one.
    public static func move(_ xs: [Int8Buffer], _ rescales: [Rescale?], _ copies: [StridedCopy], outShape: [Int])
        -> Int8Buffer
    {
        let out = Int8Buffer(shape: outShape)
        for (i, c) in copies.enumerated() {
            let src = xs[i].ptr
            if let r = rescales[i] {
                c.forEach { s, d in out.ptr[d] = r.apply(src[s]) }
            } else {
                c.forEach { s, d in out.ptr[d] = src[s] }
            }
        }
        return out
    }

    /// Average over each window: acc = Σ (q − zp_in); out = requantize(acc, byCount[count]) + zp_out.
    /// Global pooling is one window over the whole plane.
    public static func averagePool(_ x: Int8Buffer, _ p: AveragePoolParameters, outShape: [Int]) -> Int8Buffer {
        let out = Int8Buffer(shape: outShape)
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (ho, wo) = (outShape[2], outShape[3])
        let a = p.pool
        let zx = p.inputZeroPoint
        for i in 0..<(n * c) {
            let src = x.ptr + i * h * w
            for oy in 0..<ho {
                for ox in 0..<wo {
                    let y0 = oy * a.stride[0] - a.pad[0]
                    let x0 = ox * a.stride[1] - a.pad[1]
                    let y1 = min(y0 + a.kernel[0], h + a.pad[2])
                    let x1 = min(x0 + a.kernel[1], w + a.pad[3])
                    let area = (y1 - y0) * (x1 - x0)
                    let (ys, ye, xs, xe) = (max(y0, 0), min(y1, h), max(x0, 0), min(x1, w))
                    var acc: Int32 = 0
                    for y in ys..<max(ys, ye) { for xx in xs..<max(xs, xe) { acc += Int32(src[y * w + xx]) - zx } }
                    // a window wholly in the padding sums nothing: any divisor gives the zero point
                    let count = min(max(a.countIncludePad ? area : (ye - ys) * (xe - xs), 0), p.byCount.count - 1)
                    out.ptr[i * ho * wo + oy * wo + ox] = QuantMath.requantize(
                        acc, p.byCount[count], zeroPoint: p.outputZeroPoint, lo: -128, hi: 127)
                }
            }
        }
        return out
    }

    /// out[i] = table[x[i] + 128] (`fk_lut`).
    public static func lookup(_ x: Int8Buffer, _ table: [Int8]) -> Int8Buffer {
        let out = Int8Buffer(shape: x.shape)
        let n = x.shape.reduce(1, *)
        table.withUnsafeBufferPointer { t in
            for i in 0..<n { out.ptr[i] = t[Int(x.ptr[i]) + 128] }
        }
        return out
    }

    /// Max over each window (output has the input's quantization; padding is ignored).
    public static func maxPool(_ x: Int8Buffer, _ a: PoolAttrs, outShape: [Int]) -> Int8Buffer {
        let out = Int8Buffer(shape: outShape)
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (ho, wo) = (outShape[2], outShape[3])
        for i in 0..<(n * c) {
            let src = x.ptr + i * h * w
            for oy in 0..<ho {
                for ox in 0..<wo {
                    let (y0, x0) = (oy * a.stride[0] - a.pad[0], ox * a.stride[1] - a.pad[1])
                    var m: Int8 = -128
                    for y in max(y0, 0)..<max(max(y0, 0), min(y0 + a.kernel[0], h)) {
                        for xx in max(x0, 0)..<max(max(x0, 0), min(x0 + a.kernel[1], w)) { m = max(m, src[y * w + xx]) }
                    }
                    out.ptr[i * ho * wo + oy * wo + ox] = m
                }
            }
        }
        return out
    }
}
