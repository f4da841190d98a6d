import Foundation
import Testing

@testable import Codegen
@testable import Driver
@testable import Frontends
@testable import GraphIR

/// Generated C for graphs with float32 ops: a quantized ViT (mixed precision: layer norm,
/// softmax, GELU and attention in float32 between int8 linear layers), whole float32 graphs
/// (the student and the teacher, every float kernel against PyTorch's logits), and a small graph
/// that reaches every remaining float kernel. Built with the same strict flags as `CGenTests`.
///
/// Mixed precision is exact: the int8 evaluator runs its float32 ops in the C kernels' order
/// (`OrderedKernels.swift`) and `-std=c99` forbids contraction, so the logits are the same bits.
/// Float32 graphs are compared with the float evaluator (OpenBLAS sums in another order) and with
/// PyTorch: |C − evaluator| ≤ 1e-5 · max(1, |evaluator|); against PyTorch 1e-4 · max(1, max |logit|).
@Suite(.serialized) struct CFloatTests {
    static let flags = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-pthread"]

    /// Writes `model.h`/`model.c` for `graph` into a fresh folder; returns it.
    static func emit(_ graph: Graph, _ tag: String, target: String = "jetson-nano") throws -> (String, CEmitter.Output)
    {
        let dir = NSTemporaryDirectory() + "fkdc-cfloat-\(tag)-\(getpid())"
        try Outputs.makeDirectory(dir)
        let out = try CEmitter(target: TargetProfile.named(target)!).emit(graph)
        try out.header.write(toFile: "\(dir)/model.h", atomically: true, encoding: .utf8)
        try out.source.write(toFile: "\(dir)/model.c", atomically: true, encoding: .utf8)
        return (dir, out)
    }

    /// Builds the integrator example against the C in `dir`; nil (with a message) when `cc` is missing.
    static func build(_ cc: String, _ extra: [String], dir: String, tag: String) throws -> String? {
        guard let compiler = CGenTests.which(cc) else {
            print("skipped: \(cc) not found")
            return nil
        }
        let exe = "\(dir)/classify-\(tag)"
        let r = try CGenTests.sh(
            compiler,
            flags + extra + ["-I", dir, "-o", exe, Repo.path("samples/integrator/main.c"), "\(dir)/model.c", "-lm"])
        #expect(r.code == 0, "\(tag): \(r.out)")
        #expect(r.out.isEmpty, "\(tag) printed warnings: \(r.out)")
        return r.code == 0 ? exe : nil
    }

    /// Runs `exe` on `x` and returns its float32 logits; for the first sample input
    /// `_run_parallel` on three threads must give the same bytes.
    static func run(_ exe: String, _ x: Tensor, dir: String, name: String, runner: String? = nil) throws -> [Float] {
        let npy = "\(dir)/\(name).npy"
        try NPY.write(x, to: npy)
        var outputs: [Data] = []
        for threads in name == "x0" ? [[], ["-t", "3"]] : [[]] {
            let raw = "\(dir)/\(name)-\((exe as NSString).lastPathComponent)\(threads.count).raw"
            let args = threads + [npy, raw]
            let r = try runner.map { try CGenTests.sh($0, [exe] + args) } ?? CGenTests.sh(exe, args)
            #expect(r.code == 0, "\(name) \(threads): \(r.out)")
            outputs.append(try Data(contentsOf: URL(fileURLWithPath: raw)))
        }
        #expect(outputs.allSatisfy { $0 == outputs[0] }, "\(name): _run_parallel on 3 threads differs from _run")
        return outputs[0].withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }

    static func inputs() throws -> [(String, Tensor)] {
        try ["x0", "x1", "x2", "x3"].map { ($0, try NPY.read(path: Repo.path("samples/inputs/\($0).npy"))) }
    }

    static func relativeError(_ got: [Float], _ want: [Float]) -> Float {
        zip(got, want).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? .infinity
    }

    // MARK: - mixed precision

    /// The teacher ViT quantized (int8 linear layers and GELU by table, float32 attention and layer norm): gcc,
    /// clang, the sanitizers and aarch64 under qemu (the NEON int8 path) all give the int8 evaluator's
    /// logits, bit for bit.
    @Test func quantizedViTMatchesTheEvaluator() throws {
        let dir = NSTemporaryDirectory() + "fkdc-cfloat-vit-\(getpid())"
        let m = try ModelLoader.load(path: Repo.path("samples/teacher_vit.pt"), options: ModelOptions(heads: 4))
        var o = CompileOptions(output: dir)
        o.target = TargetProfile.named("jetson-nano")!
        o.quantize.calib = Repo.path("samples/fundus/calib")
        o.quantize.limit = 8
        let r = try Compiler.run(m, options: o)
        let c = try #require(r.c, "no C: \(r.cSkipped ?? "")")
        // layer norm, softmax and attention's mat_mul stay float32; the reshapes, transposes and
        // slices between int8 linear layers now move int8 codes
        #expect(c.float32Ops > 0 && c.int8Ops > 10)
        #expect(c.workspaceBytes <= 2 * c.largestLivePair)
        let h = try String(contentsOfFile: "\(dir)/model.h", encoding: .utf8)
        // the head gives float32 logits from its int32 accumulators: no int8 output, no int8 entry point
        #expect(!h.contains("int model_run_int8("))
        let report = try JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(fileURLWithPath: "\(dir)/report.json")))
        let cj = (report as? [String: Any])?["c"] as? [String: Any]
        #expect(cj?["emitted"] as? Bool == true)
        #expect(cj?["float32_ops"] as? Int == c.float32Ops && cj?["int8_ops"] as? Int == c.int8Ops)
        #expect(cj?["workspace_bytes"] as? Int == c.workspaceBytes)
        let src = try String(contentsOfFile: "\(dir)/model.c", encoding: .utf8)
        for k in [
            "fk_layernorm_f32(", "fk_softmax_f32(", "fk_matmul_f32(", "fk_lut(", "fk_copy_f32(", "fk_linear_f32(",
        ] {
            #expect(src.contains(k), "model.c lacks \(k)")
        }
        let g = r.quantized.int8
        let evaluator = QuantizedEvaluator(graph: g)
        var s: UInt64 = 7
        let random = Tensor(
            shape: Shape([1, 3, 224, 224]),
            floats: (0..<(3 * 224 * 224)).map { _ in
                s = s &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return Float(Int64(bitPattern: s >> 11) % 20001) / 10000 * 3 - 1.5
            })
        let xs = try Self.inputs() + [("random", random)]
        var builds: [(String, String?)] = []
        if let e = try Self.build("gcc", ["-O2"], dir: dir, tag: "gcc") { builds.append((e, nil)) }
        if let e = try Self.build(
            CGenTests.which("clang-19") != nil ? "clang-19" : "clang", ["-O2"], dir: dir, tag: "clang")
        {
            builds.append((e, nil))
        }
        if let e = try Self.build(
            "gcc", ["-O1", "-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=all"], dir: dir, tag: "asan")
        {
            builds.append((e, nil))
        }
        if let qemu = CGenTests.which("qemu-aarch64"),
            let e = try Self.build(
                "aarch64-linux-gnu-gcc", ["-O2", "-mcpu=cortex-a57", "-static"], dir: dir, tag: "a64")
        {
            builds.append((e, qemu))
        } else {
            print("skipped: aarch64-linux-gnu-gcc or qemu-aarch64 not found")
        }
        var exact = 0
        var total = 0
        for (name, x) in xs {
            let want = try evaluator.run([x])[0].floatArray()
            for (exe, runner) in builds {
                let got = try Self.run(exe, x, dir: dir, name: name, runner: runner)
                #expect(got.count == want.count)
                #expect(got == want, "\(name) \(exe): \(got) vs \(want)")
                exact += zip(got, want).filter { $0 == $1 }.count
                total += want.count
            }
        }
        print("quantized ViT C vs int8 evaluator: \(exact) of \(total) logits equal")

        // float32 activations need a 4-byte aligned workspace: anything else, or a NULL, is refused
        let refusal = """
            #include <stdio.h>
            #include <stdlib.h>
            #include "model.h"
            int main(void)
            {
                static float input[MODEL_INPUT_SIZE], logits[MODEL_OUTPUT_SIZE];
                unsigned char *ws = malloc(MODEL_WORKSPACE_BYTES + 16);
                if (ws == NULL) return 1;
                printf("%d %d %d %d\\n", model_run(input, logits, ws + 1), model_run(NULL, logits, ws),
                       model_run(input, logits, NULL), model_run(input, logits, ws));
                free(ws);
                return 0;
            }
            """
        try refusal.write(toFile: "\(dir)/refusal.c", atomically: true, encoding: .utf8)
        if let gcc = CGenTests.which("gcc") {
            let b = try CGenTests.sh(
                gcc,
                Self.flags + ["-O2", "-I", dir, "-o", "\(dir)/refusal", "\(dir)/refusal.c", "\(dir)/model.c", "-lm"])
            #expect(b.code == 0 && b.out.isEmpty, "\(b.out)")
            let r = try CGenTests.sh("\(dir)/refusal", [])
            #expect(r.out == "-1 -1 -1 0\n", "\(r.out)")
        }

        // external weights (the position embedding too): the same logits as the embedded C
        o.output = dir + "-external"
        o.externalWeights = true
        let rx = try Compiler.run(m, options: o)
        #expect((rx.c?.packedBytes ?? 0) > 500_000)
        let gx = rx.quantized.int8
        let ex = QuantizedEvaluator(graph: gx)
        if let exe = try Self.build("gcc", ["-O2"], dir: o.output, tag: "gcc-external") {
            for (name, x) in xs {
                let npy = "\(o.output)/\(name).npy"
                try NPY.write(x, to: npy)
                let res = try CGenTests.sh(exe, ["\(o.output)/model.fkdc", npy, "\(o.output)/\(name).raw"])
                #expect(res.code == 0, "\(res.out)")
                let got = try Data(contentsOf: URL(fileURLWithPath: "\(o.output)/\(name).raw"))
                    .withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
                let want = try ex.run([x])[0].floatArray()
                #expect(got == want, "\(name): \(got) vs \(want)")
            }
        }
    }

    /// What the emitter cannot express is a clear error naming the node, not wrong C.
    @Test func unsupportedGraphsAreRefusedWithTheReason() throws {
        let twoOutputs = try IRParser().parse(
            """
            graph @two {
              input %input : f32[1,2,2,2]
              %a : f32[1,2,2,2] = relu(%input) @"a"
              %b : f32[1,2,2,2] = sigmoid(%input) @"b"
              output %a, %b
            }
            """)
        #expect(throws: CodegenError.self) { try CEmitter(target: TargetProfile.named("generic-c")!).emit(twoOutputs) }
        let deep = try IRParser().parse(
            """
            graph @deep {
              input %input : f32[1,2,2,2]
              %r : f32[1,1,1,1,1,1,1,1,2,2,2] = reshape(%input) {shape=[1,1,1,1,1,1,1,1,2,2,2]} @"r"
              %t : f32[1,1,1,1,1,1,1,1,2,2,2] = transpose(%r) {perm=[0,1,2,3,4,5,6,7,8,10,9]} @"t"
              %y : f32[1,8] = reshape(%t) {shape=[1,8]} @"y"
              output %y
            }
            """)
        do {
            _ = try CEmitter(target: TargetProfile.named("generic-c")!).emit(deep)
            Issue.record("a rank-11 transpose was emitted")
        } catch {
            #expect(error.message.contains("node 't' (transpose)"), "\(error.message)")
        }
    }

    // MARK: - float32 graphs

    /// The student and the teacher as float32 graphs (after the default passes): C against the
    /// float evaluator and against PyTorch's logits.
    @Test(arguments: [("samples/student.pt", "student", 0), ("samples/teacher_vit.pt", "teacher", 4)])
    func float32GraphMatchesEvaluatorAndPyTorch(path: String, golden: String, heads: Int) throws {
        let m = try ModelLoader.load(
            path: Repo.path(path), options: heads > 0 ? ModelOptions(heads: heads) : ModelOptions())
        let g = try Optimizer.run(m.graph).graph
        let (dir, out) = try Self.emit(g, golden)
        #expect(out.int8Ops == 0 && out.float32Ops > 0)
        let h = try String(contentsOfFile: "\(dir)/model.h", encoding: .utf8)
        #expect(!h.contains("run_int8"), "a float32 graph has no int8 entry point")
        guard let exe = try Self.build("gcc", ["-O2"], dir: dir, tag: "gcc") else { return }
        let evaluator = Evaluator(graph: g)
        let ordered = QuantizedEvaluator(graph: g)
        for (name, x) in try Self.inputs() {
            let got = try Self.run(exe, x, dir: dir, name: name)
            let want = try evaluator.run([x])[0].floatArray()
            let torch = try NPY.read(path: Repo.path("samples/golden/\(golden)_\(name).npy")).floatArray()
            #expect(Self.relativeError(got, want) <= 1e-5, "\(golden) \(name): \(got) vs evaluator \(want)")
            #expect(got == (try ordered.run([x])[0].floatArray()), "\(golden) \(name): not the int8 evaluator's bits")
            let scale = max(1, torch.map(abs).max() ?? 1)
            let vsTorch = zip(got, torch).map { abs($0 - $1) }.max()! / scale
            #expect(vsTorch <= 1e-4, "\(golden) \(name): \(got) vs PyTorch \(torch)")
            print("\(golden) float32 C \(name): vs evaluator \(Self.relativeError(got, want)), vs PyTorch \(vsTorch)")
        }
        // a GNU language mode on FMA hardware: gcc would fuse multiply-adds but for model.c's pragma
        let fma = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?.contains(" fma") ?? false
        guard fma, let gnu = try Self.build("gcc", ["-std=gnu99", "-O3", "-march=native"], dir: dir, tag: "gnu")
        else {
            print("skipped: no FMA (the contraction check)")
            return
        }
        for (name, x) in try Self.inputs() {
            let got = try Self.run(gnu, x, dir: dir, name: name)
            #expect(
                got == (try ordered.run([x])[0].floatArray()), "\(golden) \(name) gnu99 FMA: not the evaluator's bits")
        }
    }

    /// A graph reaching every float kernel the models above do not (pooling with padding, batch
    /// norm, grouped dilated convolution with hard swish, broadcast mul/add with a fused clip,
    /// sigmoid, hard sigmoid, expand, strided slice, gather with a negative index, concat,
    /// batched mat_mul, softmax over an inner axis), sanitizers on, against the float evaluator.
    @Test func everyFloatKernelMatchesTheEvaluator() throws {
        var s: UInt64 = 99
        func values(_ n: Int, _ scale: Float = 1, _ offset: Float = 0) -> String {
            (0..<n).map { _ -> String in
                s = s &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return "\(Float(Int64(bitPattern: s >> 11) % 2001) / 1000 * scale + offset)"
            }.joined(separator: ", ")
        }
        let text = """
            graph @kernels {
              input %input : f32[1,4,6,6]
              const %bn.w : f32[4] = dense<[\(values(4, 0.5, 1))]>
              const %bn.b : f32[4] = dense<[\(values(4, 0.1))]>
              const %bn.m : f32[4] = dense<[\(values(4, 0.2))]>
              const %bn.v : f32[4] = dense<[\(values(4, 0.3, 1))]>
              const %cw : f32[6,2,3,3] = dense<[\(values(108, 0.4))]>
              const %cb : f32[6] = dense<[\(values(6, 0.1))]>
              const %scale : f32[1,4,1,1] = dense<[\(values(4))]>
              const %idx : i64[2] = dense<[0, -1]>
              const %lnw : f32[8] = dense<[\(values(8, 0.2, 1))]>
              const %lnb : f32[8] = dense<[\(values(8, 0.1))]>
              const %mw : f32[8,5] = dense<[\(values(40, 0.5))]>
              const %eb : f32[1,1,5] = dense<[\(values(5))]>
              const %eb2 : f32[5] = dense<[\(values(5))]>
              const %fw : f32[3,30] = dense<[\(values(90, 0.3))]>
              const %fb : f32[3] = dense<[\(values(3))]>
              %bn : f32[1,4,6,6] = batch_norm(%input, %bn.w, %bn.b, %bn.m, %bn.v) {epsilon=1e-05} @"bn"
              %a : f32[1,4,3,3] = max_pool(%bn) {kernel=[3,3], stride=[2,2], pad=[1,1,1,1], ceil_mode=false, count_include_pad=true} @"maxpool"
              %b : f32[1,4,3,3] = avg_pool(%input) {kernel=[3,3], stride=[2,2], pad=[1,1,1,1], ceil_mode=false, count_include_pad=false} @"avgpool"
              %b2 : f32[1,4,3,3] = avg_pool(%input) {kernel=[3,3], stride=[2,2], pad=[1,1,1,1], ceil_mode=false, count_include_pad=true} @"avgpool_pad"
              %c : f32[1,4,3,3] = mul(%a, %scale) @"mul"
              %d : f32[1,4,3,3] = add(%c, %b) {activation=clip, clip_min=-0.5, clip_max=0.8} @"add_clip"
              %e : f32[1,4,3,3] = hard_swish(%d) @"hswish"
              %f : f32[1,4,3,3] = sigmoid(%e) @"sigmoid"
              %g : f32[1,4,3,3] = hard_sigmoid(%b2) @"hsigmoid"
              %cat : f32[1,8,3,3] = concat(%f, %g) {axis=1} @"concat"
              %t : f32[1,3,3,8] = transpose(%cat) {perm=[0,2,3,1]} @"transpose"
              %r : f32[1,9,8] = reshape(%t) {shape=[1,9,8]} @"reshape"
              %sl : f32[1,4,8] = slice(%r) {axis=1, start=1, end=9, step=2} @"slice"
              %gt : f32[1,2,8] = gather(%r, %idx) {axis=1} @"gather"
              %cat2 : f32[1,6,8] = concat(%sl, %gt) {axis=1} @"concat2"
              %ln : f32[1,6,8] = layer_norm(%cat2, %lnw, %lnb) {axis=-1, epsilon=1e-05} @"ln"
              %mm : f32[1,6,5] = mat_mul(%ln, %mw) @"matmul"
              %gl : f32[1,6,5] = gelu(%mm) @"gelu"
              %sm : f32[1,6,5] = softmax(%gl) {axis=1} @"softmax"
              %ex : f32[1,6,5] = expand(%eb) {shape=[1,6,5]} @"expand"
              %ebr : f32[1,1,5] = reshape(%eb2) {shape=[1,1,5]} @"const_reshape"
              %sum0 : f32[1,6,5] = add(%sm, %ex) @"add"
              %sum : f32[1,6,5] = add(%sum0, %ebr) @"add_reshaped_const"
              %fl : f32[1,30] = flatten(%sum) {axis=1} @"flatten"
              %fc : f32[1,3] = gemm(%fl, %fw, %fb) {activation=relu} @"fc"
              %q : f32[1,2,3,8] = reshape(%ln) {shape=[1,2,3,8]} @"split"
              %kt : f32[1,2,8,3] = transpose(%q) {perm=[0,1,3,2]} @"kt"
              %att : f32[1,2,3,3] = mat_mul(%q, %kt) @"attention"
              %attf : f32[1,18] = flatten(%att) {axis=1} @"attf"
              %rl : f32[1,4,6,6] = relu(%bn) @"relu"
              %cv : f32[1,6,4,4] = conv2d(%rl, %cw, %cb) {stride=[1,1], pad=[1,1,1,1], dilation=[2,2], groups=2, activation=hard_swish} @"conv"
              %gap : f32[1,6,1,1] = global_avg_pool(%cv) @"gap"
              %gf : f32[1,6] = flatten(%gap) {axis=1} @"gapf"
              %y : f32[1,27] = concat(%fc, %attf, %gf) {axis=1} @"out"
              output %y
            }
            """
        let g = try IRParser().parse(text)
        let (dir, out) = try Self.emit(g, "kernels", target: "generic-c")
        #expect(out.float32Ops == g.nodes.count - 5, "reshapes and flattens alias their input (not a constant's)")
        guard
            let exe = try Self.build(
                "gcc", ["-O1", "-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=all"], dir: dir,
                tag: "asan")
        else { return }
        let evaluator = Evaluator(graph: g)
        let ordered = QuantizedEvaluator(graph: g)  // float32 ops in the C kernels' order
        for k in 0..<3 {
            let x = Tensor(
                shape: Shape([1, 4, 6, 6]),
                floats: (0..<144).map { _ in
                    s = s &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                    return Float(Int64(bitPattern: s >> 11) % 2001) / 1000 * Float(k + 1)
                })
            let got = try Self.run(exe, x, dir: dir, name: "x\(k)")
            let want = try evaluator.run([x])[0].floatArray()
            #expect(Self.relativeError(got, want) <= 1e-5, "x\(k): \(got) vs \(want)")
            #expect(got == (try ordered.run([x])[0].floatArray()), "x\(k): not the int8 evaluator's bits")
            print("float kernels C x\(k): vs evaluator \(Self.relativeError(got, want))")
        }
    }
}
