import CKernels
import GraphIR

/// The exact int8 evaluator's weighted layers (convolutions, 1×1 and linear layers) through the
/// C kernels generated C calls, in the fastest build the host has (`fk_host.h`: AVX2, and
/// AVX-VNNI for the 1×1 kernel), with the kernel the lowering picks (`Lowering.convolutionKernel`,
/// `PointwiseKernel`) and its weight layout made once: the same bytes as the Swift kernels
/// (`Int8Kernels`), several times faster. Validation and the accuracy-target search run with it:
/// `QuantizedEvaluator(graph:layers:)`. One instance serves any number of threads (it holds only
/// constants).
public final class CKernelLayers: Int8Layers {
    struct Plan: Sendable {
        let kernel: KernelProgram.Kernel
        /// A 1×1 or linear layer's kernel.
        let pointwise: PointwiseKernel
        /// The weights in the kernel's layout (`WeightLayout`).
        let weights: [Int8]
        let p: WeightedParameters
        /// Outputs, and inputs per output (a convolution: C/groups·kh·kw).
        let o: Int
        let k: Int
        let conv: Conv2dAttrs?
        let kh: Int
        let kw: Int
        /// kh, kw, stride, pad (top, left) and dilation as C's ints.
        let geometry: [Int32]
        let xShape: [Int]
        let yShape: [Int]
    }

    let plans: [Plan?]

    /// The SIMD set the layers run on this host: "avx512+vnni", "avx2+vnni", "avx2", "neon" or "portable".
    public static var simd: String { String(cString: fk_host_simd()) }
    static let neon = simd == "neon"

    /// A 1×1 or linear layer through the kernel its plan chose.
    static func pointwise(
        _ kernel: PointwiseKernel, _ x: UnsafePointer<Int8>, _ plane: Int32, _ k: Int32, _ w: [Int8],
        _ p: WeightedParameters, _ y: UnsafeMutablePointer<Int8>, _ o: Int32
    ) {
        let (zo, lo, hi) = (p.outputZeroPoint, p.clamp.lo, p.clamp.hi)
        let (m, l, r) = (p.requant.multipliers, p.requant.leftShifts, p.requant.rightShifts)
        switch kernel {
        case .pairs: fk_host_pointwise(x, plane, k, w, p.bias, m, l, r, y, o, zo, lo, hi)
        case .quads: fk_host_pointwise_quad(x, plane, k, w, p.bias, m, l, r, y, o, zo, lo, hi)
        case .rows: fk_host_pointwise_dot(x, plane, k, w, p.bias, m, l, r, y, o, zo, lo, hi)
        }
    }

    public init(graph g: Graph) {
        plans = g.nodes.map { n in
            guard case .weighted(let p)? = try? KernelParameters.of(n, in: g), let w = g.constants[n.inputs[1]],
                w.dtype == .int8, w.shape.rank >= 2
            else { return nil }
            let dims = w.shape.dims
            let (o, k) = (dims[0], dims.dropFirst().reduce(1, *))
            let xShape = g.values[n.inputs[0]].shape.dims
            let yShape = g.values[n.outputs[0]].shape.dims
            // every count an int of C's, with room for the products the kernels form
            guard o > 0, k > 0, p.bias.count == o, p.requant.multipliers.count == o,
                g.values[n.inputs[0]].shape.elementCount < Int(Int32.max) / 4,
                g.values[n.outputs[0]].shape.elementCount < Int(Int32.max) / 4
            else { return nil }
            let bytes = w.int64ArrayExact().map { Int8($0) }
            let pointwise = PointwiseKernel(weights: w, neon: Self.neon)
            switch n.op {
            case .conv2d(let a):
                guard dims.count == 4, xShape.count == 4, yShape.count == 4, yShape[1] == o,
                    a.stride.count == 2, a.pad.count == 4, a.dilation.count == 2
                else { return nil }
                let (cg, kh, kw) = (dims[1], dims[2], dims[3])
                // every attribute an int of C's (the graph's checks bound them; a trap here is a crash)
                let attributes = [kh, kw, a.stride[0], a.stride[1], a.pad[0], a.pad[1], a.dilation[0], a.dilation[1]]
                let geometry = attributes.compactMap { Int32(exactly: $0) }
                guard geometry.count == attributes.count, Int32(exactly: a.groups) != nil else { return nil }
                let kernel = Lowering.convolutionKernel(a, weights: dims, channels: xShape[1])
                let layout: WeightLayout
                switch kernel {
                case .pointwise: layout = pointwise.layout(o: o, k: k)
                case .depthwise: layout = .depthwise(channels: o, kk: kh * kw)
                case .denseConvolution: layout = .dense(o: o, cg: cg, kk: kh * kw)
                default: layout = .general(o: o, cg: cg, kk: kh * kw)
                }
                return Plan(
                    kernel: kernel, pointwise: pointwise, weights: layout.apply(bytes, zero: 0), p: p, o: o, k: k,
                    conv: a, kh: kh, kw: kw,
                    geometry: geometry, xShape: xShape, yShape: yShape)
            case .fullyConnected, .gemm:
                let count = g.values[n.inputs[0]].shape.elementCount
                guard count % k == 0, yShape.reduce(1, *) == count / k * o else { return nil }
                return Plan(
                    kernel: .pointwise, pointwise: pointwise,
                    weights: pointwise.layout(o: o, k: k).apply(bytes, zero: 0),
                    p: p, o: o,
                    k: k, conv: nil, kh: 1, kw: 1, geometry: [], xShape: xShape, yShape: yShape)
            default:
                return nil
            }
        }
    }

    public func run(
        _ index: Int, x: UnsafeBufferPointer<Int8>, xShape: [Int], y: UnsafeMutableBufferPointer<Int8>, yShape: [Int]
    ) -> Bool {
        guard plans.indices.contains(index), let plan = plans[index], xShape == plan.xShape, yShape == plan.yShape,
            let xb = x.baseAddress, let yb = y.baseAddress, x.count == xShape.reduce(1, *),
            y.count == yShape.reduce(1, *)
        else { return false }
        let p = plan.p
        let (zo, lo, hi) = (p.outputZeroPoint, p.clamp.lo, p.clamp.hi)
        let (m, l, r) = (p.requant.multipliers, p.requant.leftShifts, p.requant.rightShifts)
        guard let a = plan.conv else {
            // a linear layer: rows of k in natural order
            Self.pointwise(
                plan.pointwise, xb, Int32(x.count / plan.k), Int32(plan.k), plan.weights, p, yb, Int32(plan.o))
            return true
        }
        let (n, c, h, w) = (xShape[0], xShape[1], xShape[2], xShape[3])
        let (ho, wo) = (yShape[2], yShape[3])
        var xs = [Int8](repeating: 0, count: c * h * w)
        var ys = [Int8](repeating: 0, count: plan.o * ho * wo)
        for b in 0..<n {
            let xin = xb + b * c * h * w
            let yout = yb + b * plan.o * ho * wo
            Self.toChannelLast(xin, c: c, plane: h * w, into: &xs)
            let g = plan.geometry
            switch plan.kernel {
            case .pointwise:
                ys.withUnsafeMutableBufferPointer { yp in
                    xs.withUnsafeBufferPointer { xp in
                        guard let xq = xp.baseAddress, let yq = yp.baseAddress else { return }
                        Self.pointwise(plan.pointwise, xq, Int32(h * w), Int32(c), plan.weights, p, yq, Int32(plan.o))
                    }
                }
            case .depthwise:
                fk_host_depthwise(
                    xs, Int32(h), Int32(w), Int32(c), p.inputOffset, plan.weights, p.bias, m, l, r, &ys, Int32(ho),
                    Int32(wo), g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], zo, lo, hi)
            case .denseConvolution:
                fk_host_conv_dense(
                    xs, Int32(h), Int32(w), Int32(c), p.inputOffset, plan.weights, p.bias, m, l, r, &ys, Int32(ho),
                    Int32(wo), Int32(plan.o), g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], zo, lo, hi)
            default:
                fk_host_conv(
                    xs, Int32(h), Int32(w), Int32(c), p.inputOffset, plan.weights, p.bias, m, l, r, &ys, Int32(ho),
                    Int32(wo), Int32(plan.o), g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], Int32(a.groups), zo, lo,
                    hi)
            }
            Self.toNCHW(ys, c: plan.o, plane: ho * wo, into: yout)
        }
        return true
    }

    /// Pixels per block of the transposes: the block's rows of the channel-last side stay in cache
    /// while every channel passes.
    static let block = 32

    /// [C][plane] → [plane][C].
    static func toChannelLast(_ x: UnsafePointer<Int8>, c: Int, plane: Int, into y: inout [Int8]) {
        y.withUnsafeMutableBufferPointer { yb in
            for p0 in stride(from: 0, to: plane, by: block) {
                let p1 = min(p0 + block, plane)
                for ch in 0..<c {
                    let row = x + ch * plane
                    for i in p0..<p1 { yb[i * c + ch] = row[i] }
                }
            }
        }
    }

    /// [plane][C] → [C][plane].
    static func toNCHW(_ x: [Int8], c: Int, plane: Int, into y: UnsafeMutablePointer<Int8>) {
        x.withUnsafeBufferPointer { xb in
            for p0 in stride(from: 0, to: plane, by: block) {
                let p1 = min(p0 + block, plane)
                for ch in 0..<c {
                    let row = y + ch * plane
                    for i in p0..<p1 { row[i] = xb[i * c + ch] }
                }
            }
        }
    }
}
