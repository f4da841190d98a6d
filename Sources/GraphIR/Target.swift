/// A deployment target as data (DESIGN.md, "Targets"): what its CPU and GPU can do and what
/// `compile` emits for it. Emitters read these fields; nothing branches on a target's name.
public struct TargetProfile: Sendable, Hashable {
    public struct GPU: Sendable, Hashable {
        /// CUDA architecture, e.g. "sm_53".
        public var arch: String
        public var cuda: String
        /// Native fp16 arithmetic.
        public var fp16: Bool
        /// The DP4A int8 dot-product instruction (sm_61 and later).
        public var dp4a: Bool
        /// What generated CUDA computes in on this GPU.
        public var precision: GPUPrecision
        /// CUDA cores and their clock (MHz), and the memory bandwidth the GPU shares (GB/s):
        /// the roofline of the report's estimate.
        public var cores: Int
        public var clockMHz: Double
        public var bandwidthGBs: Double
        /// A published TensorRT batch-1 latency of MobileNetV2 224 on this GPU, where one is known.
        public var tensorRTMobileNetV2: PublishedLatency?

        public struct PublishedLatency: Sendable, Hashable {
            public var ms: Double
            public var precision: String
        }

        /// Peak arithmetic in `precision` (GFLOP/s, or int8 GOP/s): half2 fma is four flops a core
        /// a cycle, dp4a eight ops (four multiply-adds).
        public var peakGOPS: Double {
            Double(cores) * clockMHz / 1000 * (precision == .int8 ? 8 : 4)
        }
    }

    public var name: String
    public var summary: String
    public var cpu: String
    /// The SIMD paths generated C carries for this CPU (besides the portable C every target
    /// gets): each kernel's `@simd` blocks of these extensions, and no others.
    public var simd: [SIMDExtension]
    /// Armv8.2 dot-product instructions (SDOT/UDOT).
    public var dotProduct: Bool
    public var gpu: GPU?
    /// Precisions the target computes in, best first.
    public var precisions: [String]
    /// What `compile` writes for it, besides model.fkdc and report.json.
    public var emits: [String]

    public static let all: [TargetProfile] = [
        TargetProfile(
            name: "jetson-nano", summary: "NVIDIA Jetson Nano (JetPack 4.6)",
            cpu: "4× Cortex-A57, Armv8.0-A: NEON, no dot-product instructions", simd: [.neon], dotProduct: false,
            gpu: GPU(
                arch: "sm_53", cuda: "10.2", fp16: true, dp4a: false, precision: .fp16, cores: 128, clockMHz: 921.6,
                bandwidthGBs: 25.6, tensorRTMobileNetV2: GPU.PublishedLatency(ms: 17.65, precision: "fp16")),
            precisions: ["int8 (CPU)", "fp16 (GPU)"],
            emits: ["int8 C with a NEON path", "CUDA fp16 (int8 weights dequantized at init)"]),
        TargetProfile(
            name: "jetson-tx2", summary: "NVIDIA Jetson TX2",
            cpu: "4× Cortex-A57 + 2× Denver 2, Armv8.0-A: NEON, no dot-product instructions", simd: [.neon],
            dotProduct: false,
            gpu: GPU(
                arch: "sm_62", cuda: "10.2", fp16: true, dp4a: true, precision: .fp16, cores: 256, clockMHz: 1300,
                bandwidthGBs: 59.7, tensorRTMobileNetV2: nil),
            precisions: ["int8 (CPU)", "fp16 (GPU; dp4a exists, no fast int8)"],
            emits: ["int8 C with a NEON path", "CUDA fp16 (int8 weights dequantized at init)"]),
        TargetProfile(
            name: "jetson-xavier-nx", summary: "NVIDIA Jetson Xavier NX",
            cpu: "6× Carmel, Armv8.2-A: NEON, dot-product", simd: [.neon], dotProduct: true,
            gpu: GPU(
                arch: "sm_72", cuda: "11.4", fp16: true, dp4a: true, precision: .int8, cores: 384, clockMHz: 1100,
                bandwidthGBs: 51.2, tensorRTMobileNetV2: nil),
            precisions: ["int8 (CPU, GPU dp4a)", "fp16 (GPU)"], emits: ["int8 C with a NEON path", "CUDA int8 (dp4a)"]),
        TargetProfile(
            name: "jetson-orin-nano", summary: "NVIDIA Jetson Orin Nano",
            cpu: "6× Cortex-A78AE, Armv8.2-A: NEON, dot-product", simd: [.neon], dotProduct: true,
            gpu: GPU(
                arch: "sm_87", cuda: "12.2", fp16: true, dp4a: true, precision: .int8, cores: 1024, clockMHz: 625,
                bandwidthGBs: 68, tensorRTMobileNetV2: nil),
            precisions: ["int8 (CPU, GPU dp4a)", "fp16 (GPU)"], emits: ["int8 C with a NEON path", "CUDA int8 (dp4a)"]),
        TargetProfile(
            name: "x86-64", summary: "the host (x86-64)", cpu: "x86-64; AVX2 path when built with -mavx2",
            simd: [.avx2], dotProduct: false, gpu: nil,
            precisions: ["int8 (CPU)"], emits: ["int8 C with an AVX2 path"]),
        TargetProfile(
            name: "generic-c", summary: "any C99 compiler", cpu: "any", simd: [], dotProduct: false, gpu: nil,
            precisions: ["int8 (CPU)"], emits: ["portable int8 C"]),
    ]

    /// Whether generated C carries NEON paths.
    public var neon: Bool { simd.contains(.neon) }

    public static func named(_ name: String) -> TargetProfile? { all.first { $0.name == name } }
}

/// A SIMD instruction set whose kernel paths generated C can carry; the raw value is the tag of
/// the kernels' `#if … /* @simd TAG */` blocks (Sources/CKernels).
public enum SIMDExtension: String, Sendable, Hashable, CaseIterable {
    /// x86-64 AVX2 (taken when the C is compiled with `-mavx2` or `-march=native` on such a CPU).
    case avx2
    /// Armv8 NEON (Advanced SIMD), aarch64.
    case neon
}

/// The precision of generated CUDA: int8 through `__dp4a` with the evaluator's requantization,
/// or the int8 weights dequantized to fp16 and half arithmetic.
public enum GPUPrecision: String, Sendable, Hashable {
    case int8, fp16
}
