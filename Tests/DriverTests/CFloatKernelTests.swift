import CKernels
import Testing

@testable import Codegen
@testable import GraphIR

/// The float32 kernels of Sources/CKernels (fk_float.h) called directly against the one-op graph
/// the int8 evaluator computes with the same formulas in the same order (`OrderedKernels`), bit
/// for bit; and a roll call: every kernel section of the library has a direct test here or in
/// `CKernelTests` (the image kernels: `PreprocessTests`, against PIL).
@Suite struct CFloatKernelTests {
    static func floats(_ n: Int, seed: UInt64, scale: Float = 2) -> [Float] {
        var rng = CKernelTests.RNG(s: seed)
        return (0..<n).map { _ in Float(rng.int(-100_000...100_000)) / 100_000 * scale }
    }

    /// The evaluator's output of `op` on `x` (an input) and `constants` (later operands).
    static func reference(_ op: Op, _ x: [Float], _ shape: [Int], _ constants: [(values: [Float], shape: [Int])] = [])
        throws -> (values: [Float], shape: [Int])
    {
        var g = Graph(name: "f")
        let input = g.addInput(name: "x", shape: Shape(shape))
        let ins =
            [input]
            + constants.enumerated().map { i, c in
                g.addConstant(name: "c\(i)", Tensor(shape: Shape(c.shape), floats: c.values))
            }
        let out = try g.addNode(name: "op", op: op, inputs: ins)
        g.outputs = [out]
        let t = try QuantizedEvaluator(graph: g).run([Tensor(shape: Shape(shape), floats: x)])[0]
        return (t.floatArray(), t.shape.dims)
    }

    static func same(_ a: [Float], _ b: [Float]) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { $0.bitPattern == $1.bitPattern || ($0.isNaN && $1.isNaN) }
    }

    static func i32(_ a: [Int]) -> [Int32] { a.map { Int32($0) } }

    @Test func minMaxFollowSwift() {
        let v: [Float] = [0, -0.0, 1, -1, .nan, .infinity, -.infinity]
        for a in v {
            for b in v {
                #expect(fk_fmax(a, b).bitPattern == max(a, b).bitPattern || (fk_fmax(a, b).isNaN && max(a, b).isNaN))
                #expect(fk_fmin(a, b).bitPattern == min(a, b).bitPattern || (fk_fmin(a, b).isNaN && min(a, b).isNaN))
            }
        }
    }

    @Test func activationsMatchTheEvaluator() throws {
        let x = Self.floats(257, seed: 1, scale: 8) + [0, -0.0, 3, -3, 6, -6]
        let cases: [(Op, Int32, Float, Float)] = [
            (.relu, FK_ACT_RELU, 0, 0), (.clip(min: -1.5, max: 2.25), FK_ACT_CLIP, -1.5, 2.25),
            (.hardSwish, FK_ACT_HARD_SWISH, 0, 0), (.hardSigmoid, FK_ACT_HARD_SIGMOID, 0, 0),
            (.gelu, FK_ACT_GELU, 0, 0), (.sigmoid, FK_ACT_SIGMOID, 0, 0),
        ]
        for (op, code, lo, hi) in cases {
            let want = try Self.reference(op, x, [1, x.count]).values
            var y = [Float](repeating: 0, count: x.count)
            fk_unary_f32(x, x.count, code, lo, hi, &y)
            #expect(Self.same(y, want), "\(op.name)")
            #expect(Self.same(x.map { fk_act($0, code, lo, hi) }, want), "fk_act \(op.name)")
        }
        #expect(Self.same(x.map { fk_act($0, FK_ACT_NONE, 0, 0) }, x))
    }

    @Test func quantizeKernelsMatchQuantMath() {
        let x = Self.floats(60, seed: 2, scale: 10)
        var q = [Int8](repeating: 0, count: x.count)
        fk_quantize_n(x, x.count, 0.07, -5, &q)
        #expect(q == x.map { QuantMath.quantize($0, scale: 0.07, zeroPoint: -5) })
        var d = [Float](repeating: 0, count: q.count)
        fk_dequantize_n(q, q.count, 0.07, -5, &d)
        #expect(Self.same(d, q.map { QuantMath.dequantize($0, scale: 0.07, zeroPoint: -5) }))
        // NHWC int8 (plane 12, 5 channels) → NCHW float32
        fk_dequantize_nhwc(q, 12, 5, 0.07, -5, &d)
        for ch in 0..<5 {
            for p in 0..<12 {
                #expect(
                    d[ch * 12 + p].bitPattern
                        == QuantMath.dequantize(q[p * 5 + ch], scale: 0.07, zeroPoint: -5).bitPattern)
            }
        }
    }

    @Test func stridedCopyIsTranspose() throws {
        let shape = [2, 3, 4, 5]
        let x = Self.floats(120, seed: 3)
        let perm = [0, 2, 3, 1]
        let want = try Self.reference(.transpose(perm: perm), x, shape)
        let xs = Emission.strides(shape)
        var y = [Float](repeating: 0, count: x.count)
        fk_copy_f32(
            x, &y, 4, Self.i32(want.shape), Self.i32(perm.map { xs[$0] }), Self.i32(Emission.strides(want.shape)))
        #expect(Self.same(y, want.values))
    }

    @Test(arguments: [
        (false, FusedActivation.none), (true, .none), (false, .relu), (false, .clip(min: -0.5, max: 0.5)),
    ])
    func binaryBroadcastsLikeTheEvaluator(mul: Bool, act: FusedActivation) throws {
        let (sa, sb) = ([2, 3, 4], [3, 1])
        let a = Self.floats(24, seed: 4)
        let b = Self.floats(3, seed: 5)
        let want = try Self.reference(mul ? .mul : .add(act), a, sa, [(b, sb)])
        let (code, lo, hi): (Int32, Float, Float) =
            switch act {
            case .relu: (FK_ACT_RELU, 0, 0)
            case .clip(let l, let h): (FK_ACT_CLIP, l, h)
            default: (FK_ACT_NONE, 0, 0)
            }
        var y = [Float](repeating: 0, count: 24)
        fk_binary_f32(
            a, b, &y, 3, Self.i32(want.shape), Self.i32(Emission.broadcastStrides(sa, to: want.shape)),
            Self.i32(Emission.broadcastStrides(sb, to: want.shape)), mul ? 1 : 0, code, lo, hi)
        #expect(Self.same(y, want.values))
    }

    @Test func normalisationsMatchTheEvaluator() throws {
        let x = Self.floats(2 * 6 * 8, seed: 6, scale: 5)
        let scale = Self.floats(8, seed: 7)
        let bias = Self.floats(8, seed: 8)
        let ln = try Self.reference(.layerNorm(axis: -1, epsilon: 1e-6), x, [2, 6, 8], [(scale, [8]), (bias, [8])])
        var y = [Float](repeating: 0, count: x.count)
        fk_layernorm_f32(x, 12, 8, scale, bias, 1e-6, &y)
        #expect(Self.same(y, ln.values))
        let sm = try Self.reference(.softmax(axis: 1), x, [2, 6, 8])
        fk_softmax_f32(x, 2, 6, 8, &y)
        #expect(Self.same(y, sm.values))
        // batch norm over [N=2, C=6, 8]
        let (g, b, m) = (Self.floats(6, seed: 9), Self.floats(6, seed: 10), Self.floats(6, seed: 11))
        let v = Self.floats(6, seed: 12).map { abs($0) + 0.1 }
        let bn = try Self.reference(.batchNorm(epsilon: 1e-5), x, [2, 6, 8], [(g, [6]), (b, [6]), (m, [6]), (v, [6])])
        fk_batchnorm_f32(x, 2, 6, 8, g, b, m, v, 1e-5, &y)
        #expect(Self.same(y, bn.values))
    }

    @Test func matMulAndGemmMatchTheEvaluator() throws {
        let a = Self.floats(2 * 3 * 5, seed: 13)
        let b = Self.floats(2 * 5 * 4, seed: 14)
        let mm = try Self.reference(.matMul, a, [2, 3, 5], [(b, [2, 5, 4])])
        var y = [Float](repeating: 0, count: 24)
        fk_matmul_f32(a, [0, 15], b, [0, 20], 2, 3, 5, 4, &y)
        #expect(Self.same(y, mm.values))
        // gemm: weights [N=7, K=5] transposed to [K][N] as the emitter stores them
        let w = Self.floats(35, seed: 15)
        let bias = Self.floats(7, seed: 16)
        let gm = try Self.reference(.gemm(.relu), a, [6, 5], [(w, [7, 5]), (bias, [7])])
        let wt = WeightLayout.transposed(rows: 7, cols: 5).apply(w, zero: 0)
        var z = [Float](repeating: 0, count: 42)
        fk_gemm_f32(a, 6, 5, wt, bias, 7, FK_ACT_RELU, 0, 0, &z)
        #expect(Self.same(z, gm.values))
    }

    @Test func convolutionMatchesTheEvaluator() throws {
        let a = Conv2dAttrs(
            stride: [2, 1], pad: [1, 2, 1, 2], dilation: [1, 2], groups: 2, activation: .clip(min: -1, max: 1))
        let x = Self.floats(1 * 4 * 7 * 6, seed: 17)
        let w = Self.floats(6 * 2 * 3 * 3, seed: 18)
        let bias = Self.floats(6, seed: 19)
        let want = try Self.reference(.conv2d(a), x, [1, 4, 7, 6], [(w, [6, 2, 3, 3]), (bias, [6])])
        let (ho, wo) = (want.shape[2], want.shape[3])
        var y = [Float](repeating: 0, count: want.values.count)
        fk_conv_f32(x, 1, 4, 7, 6, w, bias, &y, 6, Int32(ho), Int32(wo), 3, 3, 2, 1, 1, 2, 1, 2, 2, FK_ACT_CLIP, -1, 1)
        #expect(Self.same(y, want.values))
    }

    @Test func poolingMatchesTheEvaluator() throws {
        let x = Self.floats(2 * 3 * 9 * 8, seed: 20)
        for (op, isMax) in [
            (Op.avgPool(PoolAttrs(kernel: [3, 3], stride: [2, 2], pad: [1, 1, 1, 1], countIncludePad: false)), 0),
            (.avgPool(PoolAttrs(kernel: [2, 3], stride: [2, 2], pad: [0, 1, 1, 0])), 0),
            (.maxPool(PoolAttrs(kernel: [3, 3], stride: [2, 2], pad: [1, 1, 1, 1])), 1),
        ] {
            let want = try Self.reference(op, x, [2, 3, 9, 8])
            guard case .avgPool(let p) = op else {
                var y = [Float](repeating: 0, count: want.values.count)
                fk_pool_f32(x, 6, 9, 8, &y, Int32(want.shape[2]), Int32(want.shape[3]), 3, 3, 2, 2, 1, 1, 1, 1, 0, 1)
                #expect(Self.same(y, want.values), "max_pool")
                continue
            }
            var y = [Float](repeating: 0, count: want.values.count)
            fk_pool_f32(
                x, 6, 9, 8, &y, Int32(want.shape[2]), Int32(want.shape[3]), Int32(p.kernel[0]), Int32(p.kernel[1]),
                Int32(p.stride[0]), Int32(p.stride[1]), Int32(p.pad[0]), Int32(p.pad[1]), Int32(p.pad[2]),
                Int32(p.pad[3]), p.countIncludePad ? 1 : 0, Int32(isMax))
            #expect(Self.same(y, want.values), "avg_pool \(p)")
        }
        let gap = try Self.reference(.globalAvgPool, x, [2, 3, 9, 8])
        var y = [Float](repeating: 0, count: 6)
        fk_gap_f32(x, 6, 72, &y)
        #expect(Self.same(y, gap.values))
    }

    /// Every kernel in the library has a direct test (this file or CKernelTests); a new kernel
    /// without one fails here.
    @Test func everyKernelHasADirectTest() {
        let tested: Set<String> = [
            // CKernelTests
            "fk_sqrdmulh", "fk_rshr", "fk_sqshl", "fk_scale", "fk_requant", "fk_requant_n", "fk_quantize",
            "fk_dequantize", "fk_quantize_nchw", "fk_nchw_to_nhwc", "fk_to_nchw", "fk_pointwise", "fk_depthwise",
            "fk_lut", "fk_mul", "fk_mul_one", "fk_move", "fk_linear_f32",
            "fk_conv_dense", "fk_conv", "fk_add", "fk_add_one", "fk_avgpool", "fk_maxpool", "fk_pack", "fk_crc32",
            "fk_pointwise_dot", "fk_pointwise_quad", "fk_conv_rows", "fk_conv_dot", "fk_requant_rows", "fk_dw_window",
            // this file
            "fk_fmax", "fk_fmin", "fk_act", "fk_quantize_n", "fk_dequantize_n", "fk_dequantize_nhwc", "fk_copy_f32",
            "fk_binary_f32", "fk_unary_f32", "fk_layernorm_f32", "fk_softmax_f32", "fk_matmul_f32", "fk_gemm_f32",
            "fk_conv_f32", "fk_pool_f32", "fk_batchnorm_f32", "fk_gap_f32",
            // PreprocessTests, against PIL's bytes (the resampler's helpers through fk_resample_u8)
            "fk_filter", "fk_filter_ksize", "fk_resample_coeffs", "fk_clip8", "fk_resample_scratch", "fk_resample_u8",
            "fk_resize_nearest_u8", "fk_crop_normalise", "fk_preprocessing", "fk_resized_size", "fk_crop_offset",
            "fk_preprocess_scratch", "fk_preprocess_u8", "fk_resample_dot", "fk_nearest_index", "fk_normalise",
            "fk_pixel_rgb",
            // PreprocessTests, against torchvision's float32 tensors (through fk_preprocess_u8)
            "fk_filter_f32", "fk_filter_ksize_f32", "fk_resample_coeffs_f32", "fk_resample_f32_scratch",
            "fk_resample_f32", "fk_tensor_nearest_index", "fk_resize_tensor_nearest_u8", "fk_crop_normalise_f32",
            "fk_crop_origin",
        ]
        let kernels = Set(CKernelLibrary.sections.map(\.name)).subtracting([CKernelLibrary.config, "fk_simd"])
        #expect(kernels.subtracting(tested).isEmpty, "untested: \(kernels.subtracting(tested).sorted())")
        #expect(tested.subtracting(kernels).isEmpty, "not kernels: \(tested.subtracting(kernels).sorted())")
    }
}
