import COpenBLAS

/// Float32 kernels of the reference evaluator. Layouts are NCHW (row-major) throughout.
enum Kernels {}

extension Kernels {
    /// C[M,N] = A[M,K] × B[K,N] (+ C when `accumulate`), row-major, through OpenBLAS.
    static func sgemm(
        m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, transA: Bool = false,
        b: UnsafePointer<Float>, ldb: Int, transB: Bool = false, c: UnsafeMutablePointer<Float>, ldc: Int,
        accumulate: Bool = false
    ) {
        cblas_sgemm(
            CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), 1, a, Int32(lda), b, Int32(ldb), accumulate ? 1 : 0, c, Int32(ldc))
    }

    /// Convolution. x `[N,Cin,H,W]`, w `[Cout,Cin/groups,Kh,Kw]`, b `[Cout]`, out `[N,Cout,Ho,Wo]`.
    /// Depthwise (one input and one output channel per group) runs as a direct loop; other
    /// convolutions become GEMMs, 1×1 stride-1 ones without im2col.
    static func conv2d(_ x: FloatBuffer, _ w: FloatBuffer, _ bias: FloatBuffer?, _ a: Conv2dAttrs, outShape: [Int])
        -> FloatBuffer
    {
        let out = FloatBuffer(shape: outShape)
        let (n, cin, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (cout, cg, kh, kw) = (w.shape[0], w.shape[1], w.shape[2], w.shape[3])
        let (ho, wo) = (outShape[2], outShape[3])
        let groups = a.groups
        let coutG = cout / groups
        if cg == 1, coutG == 1 {
            depthwise(x, w, a, out: out)
        } else {
            let pointwise = kh == 1 && kw == 1 && a.stride == [1, 1] && a.pad == [0, 0, 0, 0]
            let colRows = cg * kh * kw
            let col = pointwise ? nil : UnsafeMutablePointer<Float>.allocate(capacity: colRows * ho * wo)
            defer { col?.deallocate() }
            for b in 0..<n {
                for g in 0..<groups {
                    let xg = x.ptr + (b * cin + g * cg) * h * wd
                    var src = UnsafePointer(xg)
                    if let col {
                        im2col(xg, channels: cg, h: h, w: wd, kh: kh, kw: kw, a, ho: ho, wo: wo, col: col)
                        src = UnsafePointer(col)
                    }
                    sgemm(
                        m: coutG, n: ho * wo, k: colRows, a: w.ptr + g * coutG * colRows, lda: colRows,
                        b: src, ldb: ho * wo, c: out.ptr + (b * cout + g * coutG) * ho * wo, ldc: ho * wo)
                }
            }
        }
        if let bias {
            let plane = ho * wo
            for b in 0..<n {
                for c in 0..<cout {
                    let p = out.ptr + (b * cout + c) * plane
                    let v = bias.ptr[c]
                    for i in 0..<plane { p[i] += v }
                }
            }
        }
        return out
    }

    /// Rows (c, ky, kx), columns (oy, ox); padding reads as zero.
    static func im2col(
        _ x: UnsafePointer<Float>, channels: Int, h: Int, w: Int, kh: Int, kw: Int, _ a: Conv2dAttrs, ho: Int,
        wo: Int, col: UnsafeMutablePointer<Float>
    ) {
        let (sh, sw, ph, pw, dh, dw) = (a.stride[0], a.stride[1], a.pad[0], a.pad[1], a.dilation[0], a.dilation[1])
        var row = 0
        for c in 0..<channels {
            let xc = x + c * h * w
            for ky in 0..<kh {
                for kx in 0..<kw {
                    let dst = col + row * ho * wo
                    for oy in 0..<ho {
                        let iy = oy * sh - ph + ky * dh
                        let d = dst + oy * wo
                        if iy < 0 || iy >= h {
                            d.update(repeating: 0, count: wo)
                            continue
                        }
                        let xr = xc + iy * w
                        for ox in 0..<wo {
                            let ix = ox * sw - pw + kx * dw
                            d[ox] = (ix >= 0 && ix < w) ? xr[ix] : 0
                        }
                    }
                    row += 1
                }
            }
        }
    }

    /// Depthwise convolution: channel c of the output reads only channel c of the input.
    /// Works row by row so an output row stays in cache across the kernel taps; 3×3 windows
    /// that lie wholly inside the image take an unrolled path the compiler vectorises.
    static func depthwise(_ x: FloatBuffer, _ w: FloatBuffer, _ a: Conv2dAttrs, out: FloatBuffer) {
        let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (kh, kw) = (w.shape[2], w.shape[3])
        let (ho, wo) = (out.shape[2], out.shape[3])
        let (sh, sw, ph, pw, dh, dw) = (a.stride[0], a.stride[1], a.pad[0], a.pad[1], a.dilation[0], a.dilation[1])
        let geo = DepthwiseGeometry(h: h, w: wd, kh: kh, kw: kw, sh: sh, sw: sw, ph: ph, pw: pw, dh: dh, dw: dw)
        let fast3x3 = kh == 3 && kw == 3 && dh == 1 && dw == 1
        // output columns whose whole 3-wide window lies inside the row
        let innerLo = fast3x3 ? min(wo, (pw + sw - 1) / sw) : 0
        let innerHi = fast3x3 ? max(innerLo, min(wo, wd - 3 + pw >= 0 ? (wd - 3 + pw) / sw + 1 : 0)) : 0
        for b in 0..<n {
            for ch in 0..<c {
                let xc = x.ptr + (b * c + ch) * h * wd
                let wc = w.ptr + ch * kh * kw
                let oc = out.ptr + (b * c + ch) * ho * wo
                for oy in 0..<ho {
                    let orow = oc + oy * wo
                    let iy0 = oy * sh - ph
                    if fast3x3 && iy0 >= 0 && iy0 + 2 < h {
                        let r0 = xc + iy0 * wd - pw
                        let r1 = r0 + wd
                        let r2 = r1 + wd
                        let (w0, w1, w2, w3, w4, w5, w6, w7, w8) = (
                            wc[0], wc[1], wc[2], wc[3], wc[4], wc[5], wc[6], wc[7], wc[8]
                        )
                        let start =
                            sw == 1
                            ? rowVector3x3(r0, r1, r2, wc, orow, innerLo, innerHi)
                            : rowVector3x3s2(r0, r1, r2, wc, orow, innerLo, innerHi, rowEnd: wd + pw)
                        // the rest one at a time (wrapping index arithmetic: the bounds above keep it in range)
                        for ox in start..<max(start, innerHi) {
                            let i = ox &* sw
                            var acc = w0 * r0[i] + w1 * r0[i &+ 1] + w2 * r0[i &+ 2]
                            acc += w3 * r1[i] + w4 * r1[i &+ 1] + w5 * r1[i &+ 2]
                            acc += w6 * r2[i] + w7 * r2[i &+ 1] + w8 * r2[i &+ 2]
                            orow[ox] = acc
                        }
                        for ox in 0..<innerLo { orow[ox] = depthwisePoint(xc, wc, oy, ox, geo) }
                        for ox in innerHi..<wo { orow[ox] = depthwisePoint(xc, wc, oy, ox, geo) }
                    } else {
                        for ox in 0..<wo { orow[ox] = depthwisePoint(xc, wc, oy, ox, geo) }
                    }
                }
            }
        }
    }

    /// 3×3 stride-1 depthwise row, eight outputs at a time; returns where it stopped.
    /// `r0…r2` point at input column -pad of the three rows, so output `ox` reads `r[ox…ox+2]`.
    @inline(__always)
    static func rowVector3x3(
        _ r0: UnsafeMutablePointer<Float>, _ r1: UnsafeMutablePointer<Float>, _ r2: UnsafeMutablePointer<Float>,
        _ w: UnsafeMutablePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ lo: Int, _ hi: Int
    ) -> Int {
        typealias V = SIMD8<Float>
        func ld(_ p: UnsafeMutablePointer<Float>, _ i: Int) -> V { UnsafeRawPointer(p + i).loadUnaligned(as: V.self) }
        var ox = lo
        while ox &+ 8 <= hi {
            var acc = w[0] * ld(r0, ox) + w[1] * ld(r0, ox &+ 1) + w[2] * ld(r0, ox &+ 2)
            acc += w[3] * ld(r1, ox) + w[4] * ld(r1, ox &+ 1) + w[5] * ld(r1, ox &+ 2)
            acc += w[6] * ld(r2, ox) + w[7] * ld(r2, ox &+ 1) + w[8] * ld(r2, ox &+ 2)
            UnsafeMutableRawPointer(out + ox).storeBytes(of: acc, as: V.self)
            ox &+= 8
        }
        return ox
    }

    /// 3×3 stride-2 depthwise row, eight outputs at a time from 16-wide loads split into even and
    /// odd lanes; stops where a load would pass `rowEnd` (the row's length from `r`).
    @inline(__always)
    static func rowVector3x3s2(
        _ r0: UnsafeMutablePointer<Float>, _ r1: UnsafeMutablePointer<Float>, _ r2: UnsafeMutablePointer<Float>,
        _ w: UnsafeMutablePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ lo: Int, _ hi: Int, rowEnd: Int
    ) -> Int {
        typealias V = SIMD16<Float>
        func ld(_ p: UnsafeMutablePointer<Float>, _ i: Int) -> V { UnsafeRawPointer(p + i).loadUnaligned(as: V.self) }
        var ox = lo
        // a block reads r[2·ox … 2·ox + 17]
        while ox &+ 8 <= hi && 2 &* ox &+ 18 <= rowEnd {
            let i = 2 &* ox
            let (a0, a2, b0, b2, c0, c2) = (
                ld(r0, i), ld(r0, i &+ 2), ld(r1, i), ld(r1, i &+ 2), ld(r2, i), ld(r2, i &+ 2)
            )
            var acc = w[0] * a0.evenHalf + w[1] * a0.oddHalf + w[2] * a2.evenHalf
            acc += w[3] * b0.evenHalf + w[4] * b0.oddHalf + w[5] * b2.evenHalf
            acc += w[6] * c0.evenHalf + w[7] * c0.oddHalf + w[8] * c2.evenHalf
            UnsafeMutableRawPointer(out + ox).storeBytes(of: acc, as: SIMD8<Float>.self)
            ox &+= 8
        }
        return ox
    }

    /// Geometry of a depthwise convolution as plain integers (no arrays in the inner loops).
    struct DepthwiseGeometry {
        var h, w, kh, kw, sh, sw, ph, pw, dh, dw: Int
    }

    /// One output element of a depthwise convolution, skipping taps in the padding.
    @inline(__always)
    static func depthwisePoint(
        _ xc: UnsafeMutablePointer<Float>, _ wc: UnsafeMutablePointer<Float>, _ oy: Int, _ ox: Int,
        _ g: DepthwiseGeometry
    ) -> Float {
        var acc: Float = 0
        for ky in 0..<g.kh {
            let iy = oy &* g.sh &- g.ph &+ ky &* g.dh
            if iy < 0 || iy >= g.h { continue }
            for kx in 0..<g.kw {
                let ix = ox &* g.sw &- g.pw &+ kx &* g.dw
                if ix < 0 || ix >= g.w { continue }
                acc += wc[ky &* g.kw &+ kx] * xc[iy &* g.w &+ ix]
            }
        }
        return acc
    }

    /// Linear layer: x `[…,K]`, w `[N,K]`, b `[N]` → `[…,N]`.
    static func gemm(_ x: FloatBuffer, _ w: FloatBuffer, _ bias: FloatBuffer?, outShape: [Int]) -> FloatBuffer {
        let out = FloatBuffer(shape: outShape)
        let k = w.shape[1]
        let nOut = w.shape[0]
        let rows = x.count / max(k, 1)
        if let bias {
            for r in 0..<rows { (out.ptr + r * nOut).update(from: bias.ptr, count: nOut) }
        }
        sgemm(
            m: rows, n: nOut, k: k, a: x.ptr, lda: k, b: w.ptr, ldb: k, transB: true, c: out.ptr, ldc: nOut,
            accumulate: bias != nil)
        return out
    }

    /// Batched matrix product with broadcast leading dimensions.
    static func matMul(_ a: FloatBuffer, _ b: FloatBuffer, outShape: [Int]) -> FloatBuffer {
        let out = FloatBuffer(shape: outShape)
        let (m, k) = (a.shape[a.shape.count - 2], a.shape[a.shape.count - 1])
        let n = b.shape[b.shape.count - 1]
        let lead = Array(outShape.dropLast(2))
        let aIdx = broadcastOffsets(from: Array(a.shape.dropLast(2)), to: lead)
        let bIdx = broadcastOffsets(from: Array(b.shape.dropLast(2)), to: lead)
        for i in 0..<aIdx.count {
            sgemm(
                m: m, n: n, k: k, a: a.ptr + aIdx[i] * m * k, lda: k, b: b.ptr + bIdx[i] * k * n, ldb: n,
                c: out.ptr + i * m * n, ldc: n)
        }
        return out
    }

    /// For each position of `to` (row-major), the flat index in `from` it reads under broadcasting.
    static func broadcastOffsets(from: [Int], to: [Int]) -> [Int] {
        let total = to.reduce(1, *)
        let pad = to.count - from.count
        let f = [Int](repeating: 1, count: pad) + from
        var strides = [Int](repeating: 0, count: to.count)
        var acc = 1
        for i in stride(from: to.count - 1, through: 0, by: -1) {
            strides[i] = f[i] == 1 ? 0 : acc
            acc *= f[i]
        }
        var out = [Int](repeating: 0, count: total)
        var idx = [Int](repeating: 0, count: to.count)
        var off = 0
        for i in 0..<total {
            out[i] = off
            var d = to.count - 1
            while d >= 0 {
                idx[d] += 1
                off += strides[d]
                if idx[d] < to[d] { break }
                off -= strides[d] * idx[d]
                idx[d] = 0
                d -= 1
            }
        }
        return out
    }
}
