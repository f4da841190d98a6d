import Foundation
import Testing

@testable import Codegen
@testable import GraphIR

/// The SIMD paths of the int8 C kernels called directly, shape by shape, where whole models do
/// not reach: AVX2 (built with -mavx2, and with -march=native for what else the CPU has, such as
/// VNNI) and NEON (aarch64 under
/// qemu) against the exact int8 evaluator and against the portable build of the same program.
/// Shapes take every block and tail: pixels not a multiple of four, sixteen- and eight-channel
/// blocks, channel counts that leave the SIMD path, windows over every edge, strides, dilation,
/// odd input depths, −128 weights (and depthwise without them, and with every input and weight
/// −128); and each call again with left shifts in some channels (the requantization's slow path),
/// compared between builds. The input's quantization (fk_quantize_nchw) runs against QuantMath
/// with NaN, infinities, huge values and both ends of the zero point.
@Suite(.serialized) struct CSIMDKernelTests {
    struct Case {
        let name: String
        let code: String
        let want: [Int8]
    }

    static func list<T>(_ a: [T]) -> String {
        a.isEmpty ? "0" : a.map { "\($0)" }.joined(separator: ",")
    }

    /// The C that declares a call's arrays, calls `call` (with `m`, `l`, `r`, `y` in scope) and
    /// prints `y`; then again with left shifts of 2 in every third channel of the second block of
    /// sixteen (printed as `name+l`).
    static func block(
        _ name: String, arrays: [(type: String, name: String, values: String)], outCount: Int, channels: Int,
        requant r: ChannelRequantizers, call: String
    ) -> String {
        var c = "    {\n"
        for a in arrays { c += "        static const \(a.type) \(a.name)[] = {\(a.values)};\n" }
        c += "        static const int32_t m[] = {\(list(r.multipliers))};\n"
        c += "        static const int8_t r[] = {\(list(r.rightShifts))};\n"
        c += "        static int8_t l[] = {\(list(r.leftShifts))};\n"
        c += "        static int8_t y[\(max(outCount, 1))];\n"
        c += "        int j;\n"
        c += "        \(call);\n        dump(\"\(name)\", y, \(outCount));\n"
        c += "        for (j = 16; j < \(channels) && j < 32; j += 3) l[j] = 2;\n"
        c += "        \(call);\n        dump(\"\(name)+l\", y, \(outCount));\n"
        c += "    }\n"
        return c
    }

    static func cases() throws -> [Case] {
        typealias K = CKernelTests
        var out: [Case] = []
        // 1×1: (pixels h×w, k, o): o % 16 == 8 (the AVX2 8-channel tail), o % 8 != 0 (portable),
        // odd k and k % 4 in 1, 2, 3, k past 32 and 64 (the quad kernel's 32-byte steps), pixels % 4 in
        // 1, 2, 3, more than 256 channels (NEON's dot blocks, the quad kernel's 256-channel chunks,
        // one of 8), with each of the three kernels; for AVX-512's blocks of 12 pixels by one or two
        // registers, 8 by three and 6 by four: 14 and 15 pixels of 16 and 24 channels, 9 of 48, 13 of 96
        // (a block of four registers, then two) and 7 of 152 (two of four, then one and a half), and
        // 13 pixels of 1030 inputs (too deep for the 12-pixel rows: blocks of 6), and 1040 channels
        // (AVX-512's chunks of 1024); k % 16 in 9…15 above and below 16 (NEON's eight-column step on
        // rows of k % 16 bytes)
        for (h, w, k, o) in [
            (1, 7, 37, 40), (1, 5, 64, 96), (2, 3, 19, 24), (1, 2, 8, 16), (1, 1, 33, 8), (3, 1, 20, 12),
            (1, 6, 24, 300), (1, 5, 40, 264), (2, 2, 70, 16), (3, 5, 24, 24), (2, 7, 16, 16), (3, 3, 20, 48),
            (1, 13, 64, 96), (1, 13, 1030, 16), (1, 7, 24, 152), (1, 3, 16, 1040), (1, 6, 45, 40), (2, 3, 12, 12),
        ] {
            for kernel in [PointwiseKernel.pairs, .rows, .quads] {
                let t = try K.oneOp(
                    .conv2d(Conv2dAttrs(activation: .relu)), x: [1, k, h, w], weights: [o, k, 1, 1],
                    seed: UInt64(k * 31 + o), noMinus128: kernel != .pairs)
                let p = try K.weighted(t)
                let wt = kernel.layout(o: o, k: k).apply(t.weights, zero: 0)
                let f = kernel.name
                let name = "\(f) \(h * w)x\(k)->\(o)"
                out.append(
                    Case(
                        name: name,
                        code: block(
                            name,
                            arrays: [
                                ("int8_t", "x", list(K.nhwc(t.x[...], t.xShape))), ("int8_t", "w", list(wt)),
                                ("int32_t", "b", list(p.bias)),
                            ], outCount: h * w * o, channels: o, requant: p.requant,
                            call:
                                "\(f)(x, \(h * w), \(k), w, b, m, l, r, y, \(o), \(p.outputZeroPoint), \(p.clamp.lo), \(p.clamp.hi))"
                        ), want: K.nhwc(t.want[...], t.outShape)))
            }
        }
        // windows: (c, o, k, groups, size, stride, pad, dilation): depthwise on 16, 32, 48
        // channels (and 24: portable on AVX2; a 9×9 window, more taps than FK_DW_MAX_TAPS: portable
        // too), odd and even tap counts at the edges and inside (a 2×2 window), the 3-channel dense stem with 16, 32, 48 and 24
        // outputs (24: portable on AVX2, NEON's 8-channel blocks), a stem 36 pixels wide (NEON gathers
        // 15 at a time: two full gathers and a short one), and for AVX-512's rows of windows inside
        // the image, 64 channels at a time, 80, 144 and 96 channels (tails of 16 and 32), a 5×5 window
        // (seven groups of four taps, the last of one) and no padding (every row inside); a stride-2
        // image wide enough for two inside blocks of four in a row (NEON's blocks after a row's first)
        for (c, o, k, groups, size, stride, pad, dilation) in [
            (32, 32, 3, 32, 9, 1, 1, 1), (48, 48, 3, 48, 13, 2, 1, 1), (16, 16, 5, 16, 11, 1, 2, 2),
            (32, 32, 3, 32, 6, 2, 0, 1), (24, 24, 3, 24, 7, 1, 1, 1), (16, 16, 3, 16, 3, 1, 1, 1),
            (16, 16, 9, 16, 10, 1, 4, 1), (32, 32, 2, 32, 10, 1, 0, 1), (16, 16, 3, 16, 12, 1, 1, 1),
            (3, 32, 3, 1, 11, 2, 1, 1), (3, 16, 3, 1, 9, 1, 1, 1), (3, 16, 3, 1, 36, 1, 1, 1),
            (4, 48, 3, 1, 8, 1, 0, 2), (3, 24, 3, 1, 7, 2, 1, 1),
            (5, 16, 1, 1, 5, 1, 0, 1), (80, 80, 3, 80, 8, 1, 1, 1), (144, 144, 3, 144, 9, 2, 1, 1),
            (64, 64, 5, 64, 9, 1, 2, 1), (96, 96, 3, 96, 6, 1, 0, 1), (32, 32, 3, 32, 21, 2, 1, 1),
        ] {
            let a = Conv2dAttrs(
                stride: [stride, stride], pad: [pad, pad, pad, pad], dilation: [dilation, dilation], groups: groups,
                activation: .clip(min: 0, max: 6))
            let depthwise = groups == c
            // depthwise twice: with −128 weights (tap by tap on NEON) and without (NEON's interior
            // windows two taps at a time); on 3×3 images with every input and weight −128, where
            // two taps' products in 16 bits would overflow
            for dot in [false, true] {
                let t = try K.oneOp(
                    .conv2d(a), x: [1, c, size, size], weights: [o, c / groups, k, k], seed: UInt64(c * 7 + o + size),
                    noMinus128: dot, allMinus128: depthwise && !dot && size == 3)
                let p = try K.weighted(t)
                let (ho, wo) = (t.outShape[2], t.outShape[3])
                let geometry = "\(k), \(k), \(stride), \(stride), \(pad), \(pad), \(dilation), \(dilation)"
                let tail = "\(p.outputZeroPoint), \(p.clamp.lo), \(p.clamp.hi)"
                // (kernel, weights, bias, call): dense stems with −128 weights and without (AVX-512's
                // windows as a 1×1 convolution need none), the latter also through fk_conv_dot
                var calls: [(f: String, w: [Int8], bias: [Int32], call: String)] = []
                if depthwise {
                    let f = "fk_depthwise"
                    calls.append(
                        (
                            f, WeightLayout.depthwise(channels: o, kk: k * k).apply(t.weights, zero: 0), p.bias,
                            "\(f)(x, \(size), \(size), \(c), \(p.inputOffset), w, b, m, l, r, y, \(ho), \(wo), \(geometry), \(tail))"
                        ))
                } else {
                    let f = "fk_conv_dense"
                    calls.append(
                        (
                            f, WeightLayout.dense(o: o, cg: c, kk: k * k).apply(t.weights, zero: 0), p.bias,
                            "\(f)(x, \(size), \(size), \(c), \(p.inputOffset), w, b, m, l, r, y, \(ho), \(wo), \(o), \(geometry), \(tail))"
                        ))
                }
                if !depthwise && dot {
                    let f = "fk_conv_dot"
                    let kp = (c * k * k + 15) / 16 * 16
                    let bias = (0..<o).map { oc in
                        p.bias[oc]
                            &- p.inputOffset
                            &* Int32(t.weights[(oc * c * k * k)..<((oc + 1) * c * k * k)].reduce(0) { $0 + Int($1) })
                    }
                    calls.append(
                        (
                            f, WeightLayout.dotRows(o: o, cg: c, kk: k * k, stride: kp).apply(t.weights, zero: 0),
                            bias,
                            "\(f)(x, \(size), \(size), \(c), \(p.inputOffset), w, b, m, l, r, y, \(ho), \(wo), \(o), \(geometry), \(kp), \(tail))"
                        ))
                }
                for (f, w, bias, call) in calls {
                    let name =
                        "\(f) \(c)x\(size)x\(size)->\(o) k\(k) s\(stride) p\(pad) d\(dilation)\(dot && f != "fk_conv_dot" ? " no-128" : "")"
                    out.append(
                        Case(
                            name: name,
                            code: block(
                                name,
                                arrays: [
                                    ("int8_t", "x", list(K.nhwc(t.x[...], t.xShape))), ("int8_t", "w", list(w)),
                                    ("int32_t", "b", list(bias)),
                                ], outCount: ho * wo * o, channels: o, requant: p.requant, call: call),
                            want: K.nhwc(t.want[...], t.outShape)))
                }
            }
        }
        // adds with their own scales: 37 elements (two blocks of sixteen and a tail), zero points and
        // clamps at the ends of int8, right shifts 0 to 31, a multiplier INT32_MIN (fk_add_one
        // throughout); then again with left shifts that saturate (`+l`, compared between builds)
        typealias R = Requantizer
        for (i, (za, zb, zo, ra, rb, rc, clamp)) in [
            (
                -5, 1, 4, R(multiplier: 2_136_810_834, leftShift: 0, rightShift: 1),
                R(multiplier: 1 << 30, leftShift: 0, rightShift: 0),
                R(multiplier: 1_447_726_973, leftShift: 0, rightShift: 19), Clamp(lo: -128, hi: 127)
            ),
            (
                127, -128, -128, R(multiplier: 1_592_533_037, leftShift: 2, rightShift: 3),
                R(multiplier: 1_957_845_713, leftShift: 1, rightShift: 0),
                R(multiplier: 1_605_247_972, leftShift: 1, rightShift: 18), Clamp(lo: -128, hi: 127)
            ),
            (
                -128, 3, 127, R(multiplier: 1_073_741_824, leftShift: 0, rightShift: 31),
                R(multiplier: -1_277_571_226, leftShift: 0, rightShift: 0),
                R(multiplier: 1_865_811_076, leftShift: 0, rightShift: 12), Clamp(lo: -20, hi: 100)
            ),
            (
                0, 0, 0, R(multiplier: Int32.min, leftShift: 0, rightShift: 1),
                R(multiplier: 1 << 30, leftShift: 0, rightShift: 2),
                R(multiplier: 1 << 30, leftShift: 0, rightShift: 20), Clamp(lo: -128, hi: 127)
            ),
            // only the output shifts left (NEON's loop without SQSHL is for none shifting)
            (
                3, -7, 10, R(multiplier: 1_500_000_000, leftShift: 0, rightShift: 4),
                R(multiplier: 1_300_000_000, leftShift: 0, rightShift: 5),
                R(multiplier: 1_200_000_000, leftShift: 2, rightShift: 19), Clamp(lo: -128, hi: 127)
            ),
        ].enumerated() {
            let n = 37
            var rng = CKernelTests.RNG(s: UInt64(100 + i))
            var a = rng.int8s(n), b = rng.int8s(n)
            (a[0], a[1], b[0], b[2]) = (-128, 127, 127, -128)
            let p = AddParameters(
                a: ra, b: rb, out: rc, aZeroPoint: Int32(za), bZeroPoint: Int32(zb), outputZeroPoint: Int32(zo),
                clamp: clamp)
            let (ba, bb) = (Int8Buffer(shape: [n]), Int8Buffer(shape: [n]))
            for j in 0..<n { (ba.ptr[j], bb.ptr[j]) = (a[j], b[j]) }
            let sum = Int8Kernels.add(ba, bb, p, outShape: [n])
            let want = (0..<n).map { sum.ptr[$0] }
            let name = "fk_add \(n) #\(i)"
            func call(_ la: Int, _ lb: Int, _ lc: Int) -> String {
                "fk_add(a, \(za), \(ra.multiplier), \(la), \(ra.rightShift), b, \(zb), \(rb.multiplier), \(lb), "
                    + "\(rb.rightShift), y, \(n), \(zo), \(rc.multiplier), \(lc), \(rc.rightShift), \(clamp.lo), \(clamp.hi))"
            }
            var c = "    {\n        static const int8_t a[] = {\(Self.list(a))};\n"
            c += "        static const int8_t b[] = {\(Self.list(b))};\n        static int8_t y[\(n)];\n"
            c += "        \(call(ra.leftShift, rb.leftShift, rc.leftShift));\n        dump(\"\(name)\", y, \(n));\n"
            c += "        \(call(ra.leftShift + 9, rb.leftShift + 11, rc.leftShift + 3));\n"
            c += "        dump(\"\(name)+l\", y, \(n));\n    }\n"
            out.append(Case(name: name, code: c, want: want))
        }
        // the input's quantization (NCHW float → NHWC int8) of three channels: ties, NaN,
        // infinities, values far outside int8, 8-pixel blocks and a tail; zero points at both ends
        for zp in [-128, 5, 127] as [Int32] {
            let plane = 19
            let s: Float = 0.02
            var rng = CKernelTests.RNG(s: UInt64(zp + 200))
            var x = (0..<(3 * plane)).map { _ in Float(rng.int(-400...400)) * s / 2 }
            let special: [Float] = [.nan, .infinity, -.infinity, 1e12, -1e12, 2.5 * s, -2.5 * s, 0.5 * s, -0.5 * s]
            for (i, v) in special.enumerated() { x[i * 5] = v }
            let text = x.map { v in v.isNaN ? "NAN" : v.isInfinite ? (v > 0 ? "INFINITY" : "-INFINITY") : "\(v)f" }
            let want = (0..<(plane * 3)).map { i in
                QuantMath.quantize(x[(i % 3) * plane + i / 3], scale: s, zeroPoint: zp)
            }
            let name = "fk_quantize_nchw 3x\(plane) zp \(zp)"
            var c = "    {\n        static const float x[] = {\(text.joined(separator: ","))};\n"
            c += "        static int8_t y[\(plane * 3)];\n"
            c += "        fk_quantize_nchw(x, 3, \(plane), \(s)f, \(zp), y);\n"
            c += "        dump(\"\(name)\", y, \(plane * 3));\n        dump(\"\(name)+l\", y, \(plane * 3));\n    }\n"
            out.append(Case(name: name, code: c, want: want))
        }
        return out
    }

    @Test func simdKernelsEqualTheEvaluatorAndThePortableBuild() throws {
        let cases = try Self.cases()
        var c = "#include <stdio.h>\n#include \"fk_int8.h\"\n"
        c += "static void dump(const char *name, const int8_t *y, int n)\n{\n    int i;\n"
        c += "    printf(\"%s:\", name);\n    for (i = 0; i < n; i++) printf(\" %d\", y[i]);\n    printf(\"\\n\");\n}\n"
        c += "int main(void)\n{\n" + cases.map(\.code).joined() + "    return 0;\n}\n"
        let dir = NSTemporaryDirectory() + "fkdc-simd-kernels-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let src = "\(dir)/kernels.c"
        try c.write(toFile: src, atomically: true, encoding: .utf8)
        let include = Repo.path("Sources/CKernels/include")
        let avx2 = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?.contains(" avx2") ?? false
        var builds: [(tag: String, cc: String, flags: [String], runner: String?)] = [("portable", "gcc", ["-O2"], nil)]
        if avx2 {
            // AVX2 alone, and whatever else the CPU has (AVX-VNNI, AVX-512 VNNI: fk_pointwise_quad's VPDPBUSD)
            builds.append(("avx2", "gcc", ["-O2", "-mavx2"], nil))
            builds.append(("native", "gcc", ["-O2", "-march=native"], nil))
        } else {
            print("skipped: the AVX2 build (this CPU has no AVX2)")
        }
        builds.append(("neon", "aarch64-linux-gnu-gcc", ["-O2", "-mcpu=cortex-a57", "-static"], "qemu-aarch64"))
        var outputs: [String: [String: [Int8]]] = [:]
        for b in builds {
            guard let cc = CGenTests.which(b.cc), b.runner.map({ CGenTests.which($0) != nil }) ?? true else {
                print("skipped: the \(b.tag) build (\(b.cc) \(b.runner ?? "") not found)")
                continue
            }
            let exe = "\(dir)/kernels-\(b.tag)"
            let built = try CGenTests.sh(
                cc,
                ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"] + b.flags + [
                    "-I", include, "-o", exe, src, "-lm",
                ])
            #expect(built.code == 0, "\(b.tag): \(built.out)")
            guard built.code == 0 else { continue }
            let run =
                try b.runner.map { try CGenTests.sh(try #require(CGenTests.which($0)), [exe]) } ?? CGenTests.sh(exe, [])
            #expect(run.code == 0, "\(b.tag): \(run.out.prefix(500))")
            var got: [String: [Int8]] = [:]
            for line in run.out.split(separator: "\n") {
                guard let colon = line.firstIndex(of: ":") else { continue }
                got[String(line[..<colon])] = line[line.index(after: colon)...].split(separator: " ").compactMap {
                    Int8($0)
                }
            }
            outputs[b.tag] = got
            for t in cases {
                let y = got[t.name]
                #expect(y == t.want, "\(b.tag) \(t.name): differs from the evaluator")
            }
        }
        // the left-shift variants: every build as the portable one
        let portable = try #require(outputs["portable"])
        #expect(portable.count == 2 * cases.count)
        for (tag, got) in outputs where tag != "portable" {
            for t in cases {
                #expect(got["\(t.name)+l"] == portable["\(t.name)+l"], "\(tag) \(t.name) with left shifts")
            }
        }
    }
}
