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
        let plane = ho * wo
        if cg == 1, coutG == 1 {
            depthwise(x, w, a, out: out)
            if let bias {
                for b in 0..<n {
                    for c in 0..<cout {
                        let p = out.ptr + (b * cout + c) * plane
                        let v = bias.ptr[c]
                        for i in 0..<plane { p[i] += v }
                    }
                }
            }
        } else {
            // the GEMM accumulates onto the bias, written into the output first
            if let bias {
                for b in 0..<n {
                    for c in 0..<cout {
                        (out.ptr + (b * cout + c) * plane).update(repeating: bias.ptr[c], count: plane)
                    }
                }
            }
            let pointwise = kh == 1 && kw == 1 && a.stride == [1, 1] && a.pad == [0, 0, 0, 0]
            let colRows = cg * kh * kw
            let col = pointwise ? nil : UnsafeMutablePointer<Float>.allocate(capacity: colRows * plane)
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
                        m: coutG, n: plane, k: colRows, a: w.ptr + g * coutG * colRows, lda: colRows,
                        b: src, ldb: plane, c: out.ptr + (b * cout + g * coutG) * plane, ldc: plane,
                        accumulate: bias != nil)
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
    ///
    /// Each input plane is first copied into a zero-padded scratch plane, so every window lies
    /// inside it and the loops need no bounds tests; 3×3 windows (stride 1 or 2) then compute
    /// four outputs at a time with SIMD loads, other shapes run a plain loop.
    static func depthwise(_ x: FloatBuffer, _ w: FloatBuffer, _ a: Conv2dAttrs, out: FloatBuffer) {
        let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (kh, kw) = (w.shape[2], w.shape[3])
        let (ho, wo) = (out.shape[2], out.shape[3])
        let (sh, sw, dh, dw) = (a.stride[0], a.stride[1], a.dilation[0], a.dilation[1])
        let (pt, pl) = (a.pad[0], a.pad[1])
        let hp = h + pt + a.pad[2]
        let wp = wd + pl + a.pad[3]
        // 16 floats of slack: a SIMD load may read a few lanes past the last row
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: hp * wp + 16)
        defer { scratch.deallocate() }
        scratch.update(repeating: 0, count: hp * wp + 16)
        let fast3x3 = kh == 3 && kw == 3 && dh == 1 && dw == 1 && (sw == 1 || sw == 2)
        for b in 0..<n {
            for ch in 0..<c {
                let xc = x.ptr + (b * c + ch) * h * wd
                for y in 0..<h { (scratch + (y + pt) * wp + pl).update(from: xc + y * wd, count: wd) }
                let wc = w.ptr + ch * kh * kw
                let oc = out.ptr + (b * c + ch) * ho * wo
                for oy in 0..<ho {
                    let row = scratch + oy * sh * wp
                    let orow = oc + oy * wo
                    var ox = 0
                    if fast3x3 {
                        ox = sw == 1 ? row3x3(row, wp, wc, orow, wo) : row3x3s2(row, wp, wc, orow, wo)
                    }
                    // remaining outputs one at a time (wrapping arithmetic: indices stay inside scratch)
                    while ox < wo {
                        var acc: Float = 0
                        for ky in 0..<kh {
                            let r = row + (ky &* dh &* wp &+ ox &* sw)
                            for kx in 0..<kw { acc += wc[ky &* kw &+ kx] * r[kx &* dw] }
                        }
                        orow[ox] = acc
                        ox &+= 1
                    }
                }
            }
        }
    }

    /// A 3×3 stride-1 output row, four outputs per step; returns the first output not written.
    @inline(__always)
    static func row3x3(
        _ r0: UnsafeMutablePointer<Float>, _ wp: Int, _ w: UnsafeMutablePointer<Float>,
        _ out: UnsafeMutablePointer<Float>,
        _ wo: Int
    ) -> Int {
        typealias V = SIMD4<Float>
        let (r1, r2) = (r0 + wp, r0 + 2 * wp)
        func ld(_ p: UnsafeMutablePointer<Float>, _ i: Int) -> V { UnsafeRawPointer(p + i).loadUnaligned(as: V.self) }
        let (w0, w1, w2, w3, w4, w5, w6, w7, w8) = (w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7], w[8])
        var ox = 0
        while ox &+ 4 <= wo {
            var acc = w0 * ld(r0, ox) + w1 * ld(r0, ox &+ 1) + w2 * ld(r0, ox &+ 2)
            acc += w3 * ld(r1, ox) + w4 * ld(r1, ox &+ 1) + w5 * ld(r1, ox &+ 2)
            acc += w6 * ld(r2, ox) + w7 * ld(r2, ox &+ 1) + w8 * ld(r2, ox &+ 2)
            UnsafeMutableRawPointer(out + ox).storeBytes(of: acc, as: V.self)
            ox &+= 4
        }
        return ox
    }

    /// A 3×3 stride-2 output row: 8-wide loads split into even and odd lanes, four outputs per step.
    @inline(__always)
    static func row3x3s2(
        _ r0: UnsafeMutablePointer<Float>, _ wp: Int, _ w: UnsafeMutablePointer<Float>,
        _ out: UnsafeMutablePointer<Float>,
        _ wo: Int
    ) -> Int {
        typealias V = SIMD8<Float>
        let (r1, r2) = (r0 + wp, r0 + 2 * wp)
        func ld(_ p: UnsafeMutablePointer<Float>, _ i: Int) -> V { UnsafeRawPointer(p + i).loadUnaligned(as: V.self) }
        let (w0, w1, w2, w3, w4, w5, w6, w7, w8) = (w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7], w[8])
        var ox = 0
        while ox &+ 4 <= wo {
            let i = 2 &* ox
            let (a0, a2, b0, b2, c0, c2) = (
                ld(r0, i), ld(r0, i &+ 2), ld(r1, i), ld(r1, i &+ 2), ld(r2, i), ld(r2, i &+ 2)
            )
            var acc = w0 * a0.evenHalf + w1 * a0.oddHalf + w2 * a2.evenHalf
            acc += w3 * b0.evenHalf + w4 * b0.oddHalf + w5 * b2.evenHalf
            acc += w6 * c0.evenHalf + w7 * c0.oddHalf + w8 * c2.evenHalf
            UnsafeMutableRawPointer(out + ox).storeBytes(of: acc, as: SIMD4<Float>.self)
            ox &+= 4
        }
        return ox
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
