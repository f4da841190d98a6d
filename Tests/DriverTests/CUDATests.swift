import CKernels
import Foundation
import Testing

@testable import Codegen
@testable import Driver
@testable import GraphIR
@testable import Passes

/// The generated CUDA without a GPU: model_cuda.cu built for the CPU as C++14 (-Wall -Wextra
/// -Werror -pedantic) with Sources/CUDAKernels/fk_cuda_host.h, which runs blocks and threads as
/// loops and coroutines and emulates fp16, linked with the integrator's CUDA example. The int8
/// (dp4a) path must equal the int8 evaluator bit for bit; the fp16 path must agree with the
/// float32 evaluator on top-1 for every sample and within a stated relative logit error. The
/// NVRTC/ptxas build for the Jetson architectures is `scripts/cuda-check.py` (CUDAToolchainTests).
@Suite(.serialized) struct CUDATests {
    static var fp16Tolerance: Float { CUDAEmitter.fp16Tolerance }

    static var cxx: String? { CGenTests.which("c++") ?? CGenTests.which("g++") ?? CGenTests.which("clang++") }

    /// `model_cuda.cu` for `target` from the CGenTests student (its int8 graph), built for the
    /// host with the integrator's example; the executable.
    static func build(_ g: Graph, target: String, in dir: String, tag: String) throws -> (
        exe: String, out: CUDAEmitter.Output
    )? {
        guard let cxx else {
            print("CUDATests: no C++ compiler; skipped")
            return nil
        }
        let out = try CUDAEmitter(target: try #require(TargetProfile.named(target))).emit(g)
        let d = "\(dir)/cuda-\(tag)"
        try Outputs.makeDirectory(d)
        try out.header.write(toFile: "\(d)/model_cuda.h", atomically: true, encoding: .utf8)
        try out.source.write(toFile: "\(d)/model_cuda.cu", atomically: true, encoding: .utf8)
        let exe = "\(d)/classify-cuda"
        let b = try CGenTests.sh(
            cxx,
            [
                "-std=c++14", "-O2", "-Wall", "-Wextra", "-Werror", "-pedantic", "-DFK_CUDA_HOST_EMULATION",
                "-I", d, "-I", Repo.path("Sources/CUDAKernels"), "-I", Repo.path("samples/integrator"), "-x", "c++",
                "\(d)/model_cuda.cu", "-x", "c++", Repo.path("samples/integrator/classify_cuda.cu"), "-o", exe,
            ])
        #expect(b.code == 0 && b.out.isEmpty, "\(tag): \(b.out)")
        return b.code == 0 ? (exe, out) : nil
    }

    /// Runs the example on .npy files: each file's logits as printed (%.9g: every float exactly).
    static func logits(_ exe: String, _ files: [String]) throws -> [[Float]] {
        let r = try CGenTests.sh(exe, files)
        #expect(r.code == 0, "\(r.out)")
        return r.out.split(separator: "\n").filter { $0.hasPrefix("  logits") }.map {
            $0.split(separator: " ").dropFirst().compactMap { Float(String($0)) }
        }
    }

    @Test func int8PathEqualsTheEvaluatorBitForBit() throws {
        let f = try #require(CGenTests.fixture)
        guard
            let (exe, out) = try Self.build(f.result.quantized.int8, target: "jetson-orin-nano", in: f.dir, tag: "int8")
        else { return }
        #expect(out.precision == .int8)
        let got = try Self.logits(exe, f.inputs.map { "\(f.dir)/\($0.0).npy" })
        #expect(got.count == f.inputs.count)
        let evaluator = QuantizedEvaluator(graph: f.result.quantized.int8)
        for ((name, x), g) in zip(f.inputs, got) {
            let want = try evaluator.run([x])[0].floatArray()
            #expect(g.map(\.bitPattern) == want.map(\.bitPattern), "\(name): CUDA int8 \(g) vs evaluator \(want)")
        }
    }

    @Test func fp16PathAgreesWithFloat32OnEverySample() throws {
        let f = try #require(CGenTests.fixture)
        guard let (exe, out) = try Self.build(f.result.quantized.int8, target: "jetson-nano", in: f.dir, tag: "fp16")
        else { return }
        #expect(out.precision == .fp16)
        let samples = f.inputs.filter { $0.0.hasPrefix("x") }
        let got = try Self.logits(exe, samples.map { "\(f.dir)/\($0.0).npy" })
        #expect(got.count == samples.count)
        let float = Evaluator(graph: f.result.quantized.float)
        var worst: Float = 0
        for ((name, x), g) in zip(samples, got) {
            let want = try float.run([x])[0].floatArray()
            let scale = want.map { abs($0) }.max() ?? 1
            let err = zip(g, want).map { abs($0 - $1) }.max() ?? .infinity
            worst = max(worst, err / scale)
            #expect(g.indices.max { g[$0] < g[$1] } == want.indices.max { want[$0] < want[$1] }, "\(name): top-1")
            #expect(err / scale <= Self.fp16Tolerance, "\(name): fp16 \(g) vs float32 \(want)")
        }
        print("CUDATests: fp16 worst relative logit error \(worst) over \(samples.count) samples")
    }

    /// Another architecture: the sample ResNet (max pool, strided 1×1 downsampling, residual adds
    /// after 3×3 convolutions with ReLU), data-free, through both paths.
    @Test func resNetRunsInBothPaths() throws {
        let f = try #require(CGenTests.fixture)
        let m = try ModelLoader.load(path: Repo.path("samples/resnet10_c3_f16.pt"))
        var o = CompileOptions(output: "\(f.dir)/resnet")
        o.target = try #require(TargetProfile.named("jetson-xavier-nx"))
        let q = try Quantizer.run(m, options: o.quantize)
        guard let (e8, _) = try Self.build(q.int8, target: "jetson-xavier-nx", in: f.dir, tag: "resnet-int8"),
            let (e16, _) = try Self.build(q.int8, target: "jetson-nano", in: f.dir, tag: "resnet-fp16")
        else { return }
        let samples = f.inputs.filter { $0.0 == "x0" || $0.0 == "x1" }
        let files = samples.map { "\(f.dir)/\($0.0).npy" }
        let (got8, got16) = (try Self.logits(e8, files), try Self.logits(e16, files))
        for (i, (name, x)) in samples.enumerated() {
            let want8 = try QuantizedEvaluator(graph: q.int8).run([x])[0].floatArray()
            #expect(got8[i].map(\.bitPattern) == want8.map(\.bitPattern), "\(name): \(got8[i]) vs \(want8)")
            let want = try Evaluator(graph: q.float).run([x])[0].floatArray()
            let err = zip(got16[i], want).map { abs($0 - $1) }.max() ?? .infinity
            #expect(
                err / max(want.map { abs($0) }.max() ?? 1, 1e-3) <= Self.fp16Tolerance,
                "\(name): \(got16[i]) vs \(want)")
        }
    }

    /// Every int8 row of `Int8Support` through both CUDA paths on a small graph: int8 equal to
    /// the evaluator, fp16 within the tolerance of float32.
    @Test func everyInt8RowRunsInCUDA() throws {
        guard Self.cxx != nil else { return }
        let dir = NSTemporaryDirectory() + "fkdc-cuda-rows-\(getpid())"
        try Outputs.makeDirectory(dir)
        let x = Int8SupportTests.input([1, 4, 6, 6], seed: 9)
        try NPY.write(x, to: "\(dir)/x.npy")
        for (name, op) in Int8SupportTests.samples.sorted(by: { $0.key < $1.key }) {
            var g = try Int8SupportTests.graph(op)
            if g.values[g.outputs[0]].shape.rank == 4 {  // a flat output, as classifiers end
                g.outputs = [try g.addNode(name: "flat_out", op: .flatten(axis: 1), inputs: g.outputs)]
            }
            var ctx = PassContext()
            ctx.quantization.ranges = try Calibrator().ranges(of: g, batches: [x])
            var q = g
            _ = try PassManager(passes: [QuantizePass.self]).run(on: &q, context: &ctx)
            guard let (e8, _) = try Self.build(q, target: "jetson-xavier-nx", in: dir, tag: "\(name)-int8"),
                let (e16, _) = try Self.build(q, target: "jetson-tx2", in: dir, tag: "\(name)-fp16")
            else { continue }
            let want8 = try QuantizedEvaluator(graph: q).run([x])[0].floatArray()
            let got8 = try Self.logits(e8, ["\(dir)/x.npy"]).first ?? []
            #expect(got8.map(\.bitPattern) == want8.map(\.bitPattern), "\(name) int8: \(got8) vs \(want8)")
            let want = try Evaluator(graph: g).run([x])[0].floatArray()
            let got = try Self.logits(e16, ["\(dir)/x.npy"]).first ?? []
            let scale = max(want.map { abs($0) }.max() ?? 1, 1e-3)
            #expect(got.count == want.count, "\(name) fp16")
            let err = zip(got, want).map { abs($0 - $1) }.max() ?? .infinity
            #expect(err / scale <= Self.fp16Tolerance, "\(name) fp16: \(got) vs float32 \(want)")
        }
    }

    /// NVRTC and ptxas (PyPI's CUDA 12.9 wheels) on the student's CUDA and a mixed-precision
    /// graph's, for both precisions and
    /// every Jetson architecture: no warning, zero spills, shared memory within 48 KB, dp4a and
    /// half2 instructions where due. Skips with a message without the wheels (CI installs them).
    @Test func nvrtcAndPtxasBuildItForEveryJetson() throws {
        let f = try #require(CGenTests.fixture)
        guard let python = CGenTests.which("python3") else {
            print("CUDATests: no python3; NVRTC check skipped")
            return
        }
        var dirs: [String] = []
        let se = try Self.mixed("squeeze-excitation").1  // the int8 mul
        let fp = try Self.mixed("broadcast add").1  // the float32 kernels too
        let ln = try Self.mixed("layer norm tokens").1  // float32 layer norm and moves, row-major tokens
        for (t, g) in [
            ("jetson-nano", f.result.quantized.int8), ("jetson-orin-nano", f.result.quantized.int8),
            ("jetson-nano", se), ("jetson-orin-nano", se), ("jetson-nano", fp), ("jetson-orin-nano", fp),
            ("jetson-nano", ln), ("jetson-orin-nano", ln),
        ] {
            var emitter = try CUDAEmitter(target: try #require(TargetProfile.named(t)))
            var pre = Preprocessing()  // the student's with _cuda_preprocess
            (pre.height, pre.width) = (224, 224)
            emitter.preprocess = (pre.kernelParameters, pre.summary)
            let out = try emitter.emit(g)
            let d = "\(f.dir)/nvrtc-\(t)-\(dirs.count)"
            try Outputs.makeDirectory(d)
            try out.header.write(toFile: "\(d)/model_cuda.h", atomically: true, encoding: .utf8)
            try out.source.write(toFile: "\(d)/model_cuda.cu", atomically: true, encoding: .utf8)
            dirs.append(d)
        }
        let r = try CGenTests.sh(python, [Repo.path("scripts/cuda-check.py")] + dirs)
        if r.code == 2 {
            print("CUDATests: \(r.out.trimmingCharacters(in: .whitespacesAndNewlines)); skipped")
            return
        }
        #expect(r.code == 0, "\(r.out)")
        #expect(r.out.components(separatedBy: ": ok:").count - 1 == 4 * dirs.count, "\(r.out)")  // four Jetson archs
        print(r.out)
    }

    /// A small mixed-precision graph (float, quantized) and its input: `what` stays float32, or
    /// (sigmoid, hard_swish by table, an unfused add) runs in int8 beside float32 steps.
    static func mixed(_ what: String) throws -> (Graph, Graph, Tensor) {
        var g: Graph
        switch what {
        case "sigmoid": g = try Int8SupportTests.graph(.sigmoid)
        case "hard_swish": g = try Int8SupportTests.graph(.hardSwish)
        case "relu": g = try Int8SupportTests.graph(.relu)  // unfused: a float32 op of its own
        case "constant add": g = try Int8SupportTests.graph(.add(.none), constantOperand: true)
        case "broadcast add": g = try Int8SupportTests.graph(.add(.none), broadcast: true)
        case "relu head":  // a float32 map flattened and quantized (row-major) for an int8 classifier
            g = try Int8SupportTests.graph(.relu)
            let f = try g.addNode(name: "flat", op: .flatten(axis: 1), inputs: g.outputs)
            let w = g.addConstant(name: "fc.w", Int8SupportTests.input([3, 144], seed: 12))
            g.outputs = [try g.addNode(name: "fc", op: .fullyConnected(.none), inputs: [f, w])]
        case "unfused add":  // an int8 add after a 3×3 convolution: its own kernel
            g = Graph(name: "add")
            let x = g.addInput(name: "x", shape: Shape([1, 4, 6, 6]))
            let w1 = g.addConstant(name: "w1", Int8SupportTests.input([4, 4, 1, 1], seed: 1))
            let w3 = g.addConstant(name: "w3", Int8SupportTests.input([4, 4, 3, 3], seed: 2))
            let b = try g.addNode(name: "b", op: .conv2d(Conv2dAttrs()), inputs: [x, w1])
            let a = try g.addNode(name: "a", op: .conv2d(Conv2dAttrs(pad: [1, 1, 1, 1])), inputs: [x, w3])
            g.outputs = [try g.addNode(name: "op", op: .add(.relu), inputs: [a, b])]
        case "layer norm tokens":  // ConvNeXt's block: int8 linear layers over row-major tokens, float32 layer norms
            g = Graph(name: "tokens")
            let x = g.addInput(name: "x", shape: Shape([1, 4, 6, 6]))
            let w = g.addConstant(name: "w", Int8SupportTests.input([4, 4, 1, 1], seed: 1))
            let c = try g.addNode(name: "conv", op: .conv2d(Conv2dAttrs()), inputs: [x, w])
            let t = try g.addNode(name: "t", op: .transpose(perm: [0, 2, 3, 1]), inputs: [c])
            let gamma = g.addConstant(name: "gamma", Int8SupportTests.input([4], seed: 3))
            let beta = g.addConstant(name: "beta", Int8SupportTests.input([4], seed: 4))
            let ln = try g.addNode(name: "op", op: .layerNorm(axis: -1, epsilon: 1e-6), inputs: [t, gamma, beta])
            let w1 = g.addConstant(name: "w1", Int8SupportTests.input([8, 4], seed: 5))
            let l1 = try g.addNode(name: "l1", op: .gemm(.none), inputs: [ln, w1])
            let act = try g.addNode(name: "gelu", op: .gelu, inputs: [l1])
            let w2 = g.addConstant(name: "w2", Int8SupportTests.input([4, 8], seed: 6))
            let l2 = try g.addNode(name: "l2", op: .gemm(.none), inputs: [act, w2])
            let back = try g.addNode(name: "back", op: .transpose(perm: [0, 3, 1, 2]), inputs: [l2])
            let sum = try g.addNode(name: "sum", op: .add(.none), inputs: [back, c])
            let t2 = try g.addNode(name: "t2", op: .transpose(perm: [0, 2, 3, 1]), inputs: [sum])
            let ln2 = try g.addNode(name: "ln2", op: .layerNorm(axis: -1, epsilon: 1e-6), inputs: [t2, gamma, beta])
            let t3 = try g.addNode(name: "t3", op: .transpose(perm: [0, 3, 1, 2]), inputs: [ln2])
            let w3 = g.addConstant(name: "w3", Int8SupportTests.input([4, 4, 2, 2], seed: 7))
            g.outputs = [try g.addNode(name: "down", op: .conv2d(Conv2dAttrs(stride: [2, 2])), inputs: [t3, w3])]
        default:
            g = Graph(name: "se")
            let x = g.addInput(name: "x", shape: Shape([1, 4, 6, 6]))
            let w = g.addConstant(name: "w", Int8SupportTests.input([4, 4, 1, 1], seed: 1))
            let c = try g.addNode(name: "conv", op: .conv2d(Conv2dAttrs(activation: .relu)), inputs: [x, w])
            let p = try g.addNode(name: "pool", op: .globalAvgPool, inputs: [c])
            let s = try g.addNode(name: "gate", op: .sigmoid, inputs: [p])
            g.outputs = [try g.addNode(name: "op", op: .mul, inputs: [c, s])]
        }
        g.outputs = [try g.addNode(name: "flat_out", op: .flatten(axis: 1), inputs: g.outputs)]
        let x = Int8SupportTests.input([1, 4, 6, 6], seed: 9)
        var ctx = PassContext()
        ctx.quantization.ranges = try Calibrator().ranges(of: g, batches: [x])
        var q = g
        _ = try PassManager(passes: [QuantizePass.self]).run(on: &q, context: &ctx)
        return (g, q, x)
    }

    /// Mixed precision: the float32 steps the quantizer leaves (an unfused ReLU, an add with a
    /// constant or broadcast operand, a float32 map flattened into an int8 classifier) run in
    /// float32 between quantize and dequantize kernels, in both precisions; sigmoid and hard_swish
    /// run by table (int8: bit-exact; fp16: the function on half values), a squeeze-excitation's
    /// per-channel multiply by `fk_cu_mul`, an int8 add no 1×1 convolution takes on its own, and
    /// ConvNeXt's block: float32 layer norms and transposes (`fk_cu_layernorm_f32`, `fk_cu_move_copy<float>`)
    /// around int8 linear layers over row-major tokens.
    @Test(arguments: [
        "sigmoid", "hard_swish", "relu", "squeeze-excitation", "constant add", "broadcast add", "relu head",
        "unfused add", "layer norm tokens",
    ])
    func float32StepsRunInCUDA(_ what: String) throws {
        guard Self.cxx != nil else { return }
        let (g, q, x) = try Self.mixed(what)
        let dir = NSTemporaryDirectory() + "fkdc-cuda-float-\(getpid())"
        try Outputs.makeDirectory(dir)
        try NPY.write(x, to: "\(dir)/x.npy")
        let float32 = q.nodes.contains { $0.name == "op" && q.values[$0.outputs[0]].dtype == .float32 }
        let staysFloat32 = ["relu", "constant add", "broadcast add", "relu head", "layer norm tokens"]
        #expect(float32 == staysFloat32.contains(what), "\(what)")
        let tag = what.replacingOccurrences(of: " ", with: "-")
        guard let (e8, _) = try Self.build(q, target: "jetson-orin-nano", in: dir, tag: "\(tag)-int8"),
            let (e16, _) = try Self.build(q, target: "jetson-nano", in: dir, tag: "\(tag)-fp16")
        else { return }
        let want8 = try QuantizedEvaluator(graph: q).run([x])[0].floatArray()
        let got8 = try Self.logits(e8, ["\(dir)/x.npy"]).first ?? []
        #expect(got8.map(\.bitPattern) == want8.map(\.bitPattern), "\(what) int8: \(got8) vs \(want8)")
        let want = try Evaluator(graph: g).run([x])[0].floatArray()
        let got = try Self.logits(e16, ["\(dir)/x.npy"]).first ?? []
        let scale = max(want.map { abs($0) }.max() ?? 1, 1e-3)
        let err = zip(got, want).map { abs($0 - $1) }.max() ?? .infinity
        #expect(got.count == want.count && err / scale <= Self.fp16Tolerance, "\(what) fp16: \(got) vs \(want)")
    }

    /// Every CUDA kernel section is launched by a program these tests run (the helpers they use
    /// aside): a new kernel without a test fails here.
    @Test func everyCUDAKernelIsExercised() throws {
        let f = try #require(CGenTests.fixture)
        var graphs = [f.result.quantized.int8]
        for (_, op) in Int8SupportTests.samples {
            let x = Int8SupportTests.input([1, 4, 6, 6], seed: 9)
            var g = try Int8SupportTests.graph(op)
            if g.values[g.outputs[0]].shape.rank == 4 {
                g.outputs = [try g.addNode(name: "flat_out", op: .flatten(axis: 1), inputs: g.outputs)]
            }
            var ctx = PassContext()
            ctx.quantization.ranges = try Calibrator().ranges(of: g, batches: [x])
            _ = try PassManager(passes: [QuantizePass.self]).run(on: &g, context: &ctx)
            graphs.append(g)
        }
        for what in [
            "sigmoid", "relu", "squeeze-excitation", "broadcast add", "relu head", "unfused add", "layer norm tokens",
        ] {
            graphs.append(try Self.mixed(what).1)
        }
        var launched = Set(f.result.cuda?.output?.kernels ?? [])  // compile's: with _cuda_preprocess
        #expect(CUDAEmission.preprocessKernels.isSubset(of: launched))
        for g in graphs {
            for t in ["jetson-nano", "jetson-orin-nano"] {
                launched.formUnion(try CUDAEmitter(target: try #require(TargetProfile.named(t))).emit(g).kernels)
            }
        }
        let helpers: Set = [
            "fk_cu_base", "fk_cu_dot4", "fk_cu_clamp", "fk_cu_pool_window", "fk_cu_add_params", "fk_cu_conv_sum",
            "fk_cu_crop_source",
        ]
        let all = Set(CKernelLibrary.cudaSections.map(\.name))
        #expect(
            all.subtracting(helpers).subtracting(launched).isEmpty, "\(all.subtracting(helpers).subtracting(launched))")
        #expect(helpers.isSubset(of: all))
    }

    /// `_cuda_preprocess` equals the C kernel (`fk_preprocess_u8`, which `fkdc preprocess` and
    /// model.c run) bit for bit: a 451 × 300 photograph in every pixel format, through the
    /// torchvision eval transform with bicubic and BGR, a bilinear squeeze to the model size,
    /// nearest, a text-line letterbox (height fixed, padded on the right), and the tensor
    /// pipeline's float32 resampling and nearest rule.
    @Test(arguments: [
        "shorter-bicubic-bgr", "exact-bilinear", "nearest", "text-line", "tensor-bicubic", "tensor-nearest",
    ])
    func cudaPreprocessEqualsFkdcPreprocess(_ what: String) throws {
        guard let cxx = Self.cxx else { return }
        var pre = Preprocessing()
        switch what {
        case "shorter-bicubic-bgr":
            pre.resize = .shorterSide(256)
            pre.crop = Preprocessing.Size(224, 224)
            pre.interpolation = .bicubic
            pre.channels = .bgr
        case "exact-bilinear": pre.resize = .model
        case "text-line": (pre.resize, pre.padValue, pre.pipeline) = (.height, 127.5, .hf)
        case "tensor-bicubic": (pre.resize, pre.interpolation, pre.pipeline) = (.evalTransform, .bicubic, .tensor)
        case "tensor-nearest":
            (pre.resize, pre.interpolation, pre.pipeline, pre.padValue) = (.fit, .nearest, .tensor, 114)
        default:
            pre.resize = .model
            pre.interpolation = .nearest
        }
        (pre.height, pre.width) = (224, 224)
        // a small model of the student's input: 1×1 convolution, pool, flatten
        var g = Graph(name: "pre")
        let x = g.addInput(name: "x", shape: Shape([1, 3, 224, 224]))
        let w = g.addConstant(name: "w", Int8SupportTests.input([4, 3, 1, 1], seed: 1))
        let c = try g.addNode(name: "conv", op: .conv2d(Conv2dAttrs()), inputs: [x, w])
        let pool = try g.addNode(name: "pool", op: .globalAvgPool, inputs: [c])
        g.outputs = [try g.addNode(name: "flat", op: .flatten(axis: 1), inputs: [pool])]
        var ctx = PassContext()
        ctx.quantization.ranges = try Calibrator().ranges(
            of: g, batches: [Int8SupportTests.input([1, 3, 224, 224], seed: 3)])
        _ = try PassManager(passes: [QuantizePass.self]).run(on: &g, context: &ctx)
        var emitter = try CUDAEmitter(target: try #require(TargetProfile.named("jetson-orin-nano")))
        emitter.preprocess = (pre.kernelParameters, pre.summary)
        let out = try emitter.emit(g)
        #expect(out.header.contains("int model_cuda_preprocess("))
        let dir = NSTemporaryDirectory() + "fkdc-cuda-pre-\(getpid())/\(what)"
        try Outputs.makeDirectory(dir)
        try out.header.write(toFile: "\(dir)/model_cuda.h", atomically: true, encoding: .utf8)
        try out.source.write(toFile: "\(dir)/model_cuda.cu", atomically: true, encoding: .utf8)
        let harness = """
            #include "fk_cuda_host.h"
            #include "model_cuda.h"
            /* frame file: "w h stride format\\n" then the bytes; writes the model input's floats */
            int main(int argc, char **argv)
            {
                int w, h, stride, format;
                FILE *in = fopen(argv[1], "rb"), *out = fopen(argv[2], "wb");
                static unsigned char px[1 << 22];
                static float x[3 * 224 * 224];
                void *dpx, *dx, *scratch;
                model_cuda_context ctx;
                size_t n;
                (void)argc;
                if (in == NULL || out == NULL || fscanf(in, "%d %d %d %d\\n", &w, &h, &stride, &format) != 4) return 2;
                n = fread(px, 1, sizeof px, in);
                if (model_cuda_init(&ctx, NULL) != 0 || cudaMalloc(&dpx, n) != 0 || cudaMalloc(&dx, sizeof x) != 0 ||
                    cudaMalloc(&scratch, model_cuda_preprocess_scratch_bytes(w, h)) != 0)
                    return 3;
                cudaMemcpyAsync(dpx, px, n, cudaMemcpyHostToDevice, NULL);
                if (model_cuda_preprocess(&ctx, (const unsigned char *)dpx, w, h, stride, format, (float *)dx, scratch) != 0)
                    return 4;
                cudaMemcpyAsync(x, dx, sizeof x, cudaMemcpyDeviceToHost, NULL);
                fwrite(x, sizeof x, 1, out);
                return 0;
            }

            """
        try harness.write(toFile: "\(dir)/harness.cpp", atomically: true, encoding: .utf8)
        let exe = "\(dir)/harness"
        let b = try CGenTests.sh(
            cxx,
            [
                "-std=c++14", "-O2", "-Wall", "-Wextra", "-Werror", "-DFK_CUDA_HOST_EMULATION", "-I", dir, "-I",
                Repo.path("Sources/CUDAKernels"), "-x", "c++", "\(dir)/model_cuda.cu", "\(dir)/harness.cpp", "-o", exe,
            ])
        #expect(b.code == 0 && b.out.isEmpty, "\(b.out)")
        guard b.code == 0 else { return }
        let photo = Repo.path("Tests/Fixtures/preprocess/chelsea.png")
        let px = try PreprocessTests.pixels(photo)
        let (h, wd) = (px.shape[2], px.shape[3])
        var p = pre.kernelParameters
        for format in [FK_FORMAT_RGB, FK_FORMAT_BGR, FK_FORMAT_RGBA, FK_FORMAT_NV12] {
            let fr = CGenTests.frame(px, format)
            let input = "\(dir)/frame-\(format).bin"
            try (Data("\(wd) \(h) \(fr.stride) \(format)\n".utf8) + Data(fr.bytes)).write(
                to: URL(fileURLWithPath: input))
            let raw = "\(dir)/out-\(format).raw"
            let run = try CGenTests.sh(exe, [input, raw])
            #expect(run.code == 0, "format \(format): \(run.out)")
            var want = [Float](repeating: 0, count: 3 * 224 * 224)
            let scratch = UnsafeMutableRawPointer.allocate(
                byteCount: fk_preprocess_scratch(&p, Int32(wd), Int32(h)), alignment: 64)
            defer { scratch.deallocate() }
            #expect(fk_preprocess_u8(fr.bytes, Int32(wd), Int32(h), fr.stride, format, &p, &want, scratch) == 0)
            if format == FK_FORMAT_RGB {  // and that is fkdc preprocess
                #expect(try DatasetLoader.image(photo, pre).floatArray() == want)
            }
            let got = try Data(contentsOf: URL(fileURLWithPath: raw))
            #expect(got == want.withUnsafeBytes { Data($0) }, "\(what) format \(format)")
        }
    }

    @Test func generatedCUDANamesOnlyWhatCUDA10Has() throws {
        let f = try #require(CGenTests.fixture)
        for t in ["jetson-nano", "jetson-orin-nano"] {
            let out = try CUDAEmitter(target: try #require(TargetProfile.named(t))).emit(f.result.quantized.int8)
            #expect(CUDAEmitter.violations(out.header + out.source).isEmpty)
            #expect(out.source.contains("FK_LAUNCH"))
            #expect(!out.source.contains("<<<") || out.source.contains("#define FK_LAUNCH"))
        }
        // the check bites: names missing from CUDA 10.2, and C++17
        #expect(CUDAEmitter.violations("y = __hmax2(a, b);") == ["__hmax2"])
        #expect(CUDAEmitter.violations("if constexpr (N > 1) {}") == ["C++17 'if constexpr'"])
        #expect(CUDAEmitter.violations("cudaMallocManaged(&p, n);") == ["cudaMallocManaged"])
        #expect(CUDAEmitter.violations("__hfma2(a, b, c); cudaMalloc(&p, n);").isEmpty)
        // node names in the profiling marks are string literals, not code
        #expect(CUDAEmitter.violations("FK_CUDA_MARK(3, \"fk_cu_add\", \"cuda_block.__x\");").isEmpty)
    }

    @Test func aFloat32OpWithoutAKernelMeansNoCUDAAndTheNodeIsNamed() throws {
        let x = Int8SupportTests.input([1, 4, 6, 6], seed: 9)
        let g = try Int8SupportTests.graph(.softmax(axis: 1))
        var ctx = PassContext()
        ctx.quantization.ranges = try Calibrator().ranges(of: g, batches: [x])
        var q = g
        _ = try PassManager(passes: [QuantizePass.self]).run(on: &q, context: &ctx)
        #expect(q.values[q.nodes.first { $0.name == "op" }!.outputs[0]].dtype == .float32)
        let e = #expect(throws: CodegenError.self) { _ = try CUDAEmitter(target: .named("jetson-nano")!).emit(q) }
        let m = e?.message ?? ""
        #expect(m.contains("'op'") && m.contains("no CUDA"), "\(m)")
        #expect(throws: CodegenError.self) { _ = try CUDAEmitter(target: .named("x86-64")!) }
    }

    /// compile writes the CUDA and report.json's estimate for a Jetson target, and none for the host.
    @Test func compileWritesCUDAAndTheBoardEstimate() throws {
        let f = try #require(CGenTests.fixture)
        let r = f.result
        #expect(r.files.contains("model_cuda.cu") && r.files.contains("model_cuda.h"))
        #expect(FileManager.default.fileExists(atPath: "\(f.dir)/model_cuda.cu"))
        let cuda = try #require(r.cuda)
        #expect(cuda.output?.precision == .fp16)
        // MobileNetV2's ten residual adds ride in the 1×1 epilogues; the steps (the input's quantize
        // among them, the classifier's float32 logits last) and the copy of the logits out
        let program = try Lowering.lower(r.quantized.int8, for: .named("jetson-nano")!, fusingResidualAdds: true)
        #expect(program.residualFusions.count == 10 && cuda.output?.launches == program.steps.count + 1 - 10)
        #expect(try Lowering.lower(r.quantized.int8, for: .named("jetson-nano")!).residualFusions.isEmpty)
        let nano = try #require(cuda.estimates.first { $0.target.name == "jetson-nano" })
        #expect(nano.launches == cuda.output?.launches && nano.ops > 500_000_000 && nano.rooflineMs > 0)
        #expect(
            cuda.estimates.map(\.target.name).sorted()
                == TargetProfile.all.filter { $0.gpu != nil }.map(\.name).sorted())
        let report = try String(contentsOfFile: "\(f.dir)/report.json", encoding: .utf8)
        #expect(report.contains("\"roofline_ms\"") && report.contains("\"tensorrt_mobilenet_v2_ms\": 17.65"))
    }
}
