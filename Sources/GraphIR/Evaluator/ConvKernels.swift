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
    static func depthwise(_ x: FloatBuffer, _ w: FloatBuffer, _ a: Conv2dAttrs, out: FloatBuffer) {
        let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (kh, kw) = (w.shape[2], w.shape[3])
        let (ho, wo) = (out.shape[2], out.shape[3])
        let (sh, sw, ph, pw, dh, dw) = (a.stride[0], a.stride[1], a.pad[0], a.pad[1], a.dilation[0], a.dilation[1])
        for b in 0..<n {
            for ch in 0..<c {
                let xc = x.ptr + (b * c + ch) * h * wd
                let wc = w.ptr + ch * kh * kw
                let oc = out.ptr + (b * c + ch) * ho * wo
                oc.update(repeating: 0, count: ho * wo)
                for ky in 0..<kh {
                    for kx in 0..<kw {
                        let wv = wc[ky * kw + kx]
                        // output columns whose input column lies inside the image
                        let offX = kx * dw - pw
                        let oxLo = offX >= 0 ? 0 : (-offX + sw - 1) / sw
                        let oxHi = min(wo, (wd - 1 - offX) >= 0 ? (wd - 1 - offX) / sw + 1 : 0)
                        if oxLo >= oxHi { continue }
                        for oy in 0..<ho {
                            let iy = oy * sh - ph + ky * dh
                            if iy < 0 || iy >= h { continue }
                            let xr = xc + iy * wd + offX
                            let orow = oc + oy * wo
                            if sw == 1 {
                                for ox in oxLo..<oxHi { orow[ox] += wv * xr[ox] }
                            } else {
                                for ox in oxLo..<oxHi { orow[ox] += wv * xr[ox * sw] }
                            }
                        }
                    }
                }
            }
        }
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
