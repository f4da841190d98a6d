/// Float32 products summed in one fixed order: the order generated C sums them in
/// (`fk_matmul_f32`, `fk_gemm_f32`, `fk_conv_f32`), so the float32 ops of a mixed-precision graph
/// give the same bits in `QuantizedEvaluator` and in the C (compiled without floating-point
/// contraction, as `-std=c99` does). The float evaluator keeps OpenBLAS for speed; its results
/// differ from these only in rounding.
extension Kernels {
    /// Batched `a[…,M,K] × b[…,K,N]` (leading dims broadcast): each output row starts at 0 and
    /// adds a[i][p]·b[p][·] for p = 0, 1, … in turn.
    static func matMulOrdered(_ a: FloatBuffer, _ b: FloatBuffer, outShape: [Int]) -> FloatBuffer {
        let out = FloatBuffer(shape: outShape)
        let (m, k) = (a.shape[a.shape.count - 2], a.shape[a.shape.count - 1])
        let n = b.shape[b.shape.count - 1]
        let lead = Array(outShape.dropLast(2))
        let aIdx = broadcastOffsets(from: Array(a.shape.dropLast(2)), to: lead)
        let bIdx = broadcastOffsets(from: Array(b.shape.dropLast(2)), to: lead)
        for t in 0..<aIdx.count {
            let pa = a.ptr + aIdx[t] * m * k
            let pb = b.ptr + bIdx[t] * k * n
            for i in 0..<m {
                let row = out.ptr + (t * m + i) * n
                row.update(repeating: 0, count: n)
                for p in 0..<k {
                    let av = pa[i * k + p]
                    let br = pb + p * n
                    for j in 0..<n {
                        let prod = av * br[j]
                        row[j] += prod
                    }
                }
            }
        }
        return out
    }

    /// Linear layer x `[…,K]` · w `[N,K]`ᵀ: each row starts at the bias (or 0) and adds
    /// x[p]·w[·][p] for p = 0, 1, … in turn.
    static func linearOrdered(_ x: FloatBuffer, _ w: FloatBuffer, _ bias: FloatBuffer?, outShape: [Int]) -> FloatBuffer
    {
        let out = FloatBuffer(shape: outShape)
        let (n, k) = (w.shape[0], w.shape[1])
        let rows = x.count / max(k, 1)
        for r in 0..<rows {
            let row = out.ptr + r * n
            if let bias { row.update(from: bias.ptr, count: n) } else { row.update(repeating: 0, count: n) }
            for p in 0..<k {
                let xv = x.ptr[r * k + p]
                for j in 0..<n {
                    let prod = xv * w.ptr[j * k + p]
                    row[j] += prod
                }
            }
        }
        return out
    }

    /// Direct convolution: each output starts at its bias (or 0) and adds x·w over input
    /// channels, then kernel rows, then kernel columns, skipping padding.
    static func convOrdered(_ x: FloatBuffer, _ w: FloatBuffer, _ bias: FloatBuffer?, _ a: Conv2dAttrs, outShape: [Int])
        -> FloatBuffer
    {
        let out = FloatBuffer(shape: outShape)
        let (nb, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (o, cg, kh, kw) = (w.shape[0], w.shape[1], w.shape[2], w.shape[3])
        let (ho, wo) = (outShape[2], outShape[3])
        let og = o / a.groups
        for bt in 0..<nb {
            for oc in 0..<o {
                let g0 = (oc / og) * cg
                for oy in 0..<ho {
                    for ox in 0..<wo {
                        var acc: Float = bias?.ptr[oc] ?? 0
                        for ci in 0..<cg {
                            let xp = x.ptr + (bt * c + g0 + ci) * h * wd
                            let wp = w.ptr + (oc * cg + ci) * kh * kw
                            for ky in 0..<kh {
                                let iy = oy * a.stride[0] - a.pad[0] + ky * a.dilation[0]
                                if iy < 0 || iy >= h { continue }
                                for kx in 0..<kw {
                                    let ix = ox * a.stride[1] - a.pad[1] + kx * a.dilation[1]
                                    if ix < 0 || ix >= wd { continue }
                                    acc += xp[iy * wd + ix] * wp[ky * kw + kx]
                                }
                            }
                        }
                        out.ptr[((bt * o + oc) * ho + oy) * wo + ox] = acc
                    }
                }
            }
        }
        return out
    }
}

extension Evaluator {
    /// Executes a float32 node as generated C does: products summed in the C kernels' order
    /// (mat_mul, linear layers, convolution); every other op is the float evaluator's own.
    func executeOrdered(_ node: Node, _ a: [FloatBuffer]) throws(IRError) -> FloatBuffer {
        let outShape = graph.values[node.outputs[0]].shape.dims
        let out: FloatBuffer
        switch node.op {
        case .matMul: out = Kernels.matMulOrdered(a[0], a[1], outShape: outShape)
        case .gemm, .fullyConnected:
            out = Kernels.linearOrdered(a[0], a[1], a.count > 2 ? a[2] : nil, outShape: outShape)
        case .conv2d(let attrs):
            out = Kernels.convOrdered(a[0], a[1], a.count > 2 ? a[2] : nil, attrs, outShape: outShape)
        default: return try execute(node, a)
        }
        if let act = node.op.fusedActivation { Kernels.activate(out, act) }
        return out
    }
}
