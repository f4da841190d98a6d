import CKernels
import GraphIR

/// Generated CUDA for a Jetson GPU (`model_cuda.h` / `model_cuda.cu`) from the lowered program
/// (`Lowering`), as the C emitter prints the same program for the CPU. C++14 and CUDA 10.2: the
/// kernels are `Sources/CUDAKernels/fk_cuda.cuh` (and the requantization of fk_arith.h, which
/// generated C calls too); the names the output may use of CUDA are `CKernelLibrary.cudaAllowed`
/// and the emitter refuses its own output when it names another or a C++17 feature
/// (`violations`). One stream; weights uploaded once (`_cuda_init`), a caller's device workspace
/// of the size the header states; errors returned, never `exit()`.
///
/// Precision from the target profile (`TargetProfile.GPU.precision`): int8 through `__dp4a`,
/// bit for bit the int8 evaluator's results; or fp16, the int8 weights dequantized to half at
/// init. Float32 steps of mixed-precision graphs run in float32 where a kernel exists
/// (`CUDAEmission.hasFloat32Kernel`); a graph with a step that has none gets no CUDA.
public struct CUDAEmitter {
    public let prefix: String
    public var target: TargetProfile
    public var precision: GPUPrecision
    public var generator: String
    /// The model's preprocessing: the CUDA then has `<prefix>_cuda_preprocess` too, the same
    /// floats as `fkdc preprocess` and generated C's `_preprocess`.
    public var preprocess: (parameters: fk_preprocessing, summary: String)?

    public init(
        prefix: String = "model", target: TargetProfile, precision: GPUPrecision? = nil, generator: String = "fkdc"
    ) throws(CodegenError) {
        guard CEmitter.isCIdentifier(prefix) else {
            throw CodegenError("symbol prefix '\(prefix)' must be a C identifier of at most 64 characters")
        }
        guard let gpu = target.gpu else { throw CodegenError("target \(target.name) has no GPU: no CUDA") }
        self.prefix = prefix
        self.target = target
        self.precision = precision ?? gpu.precision
        self.generator = generator
    }

    /// The work of one launch: arithmetic (flops, or int8 ops: a multiply-add is two) and the
    /// bytes it reads and writes in device memory (weights, inputs, output).
    public struct StepCost: Sendable {
        public var kernel: String
        public var node: String
        public var ops: Int
        public var bytes: Int
    }

    /// The fp16 path's stated accuracy: the largest |logit − float32 logit| of a sample over its
    /// largest |float32 logit| (the int8 weights' rounding and half arithmetic together); the
    /// header states it (`_CUDA_FP16_TOLERANCE`), the tests and scripts/gpu-check.sh hold it.
    public static let fp16Tolerance: Float = 0.1

    public struct Output: Sendable {
        public var header: String
        public var source: String
        public var precision: GPUPrecision
        /// The caller's device workspace (activations, and the host entry point's input and output).
        public var workspaceBytes: Int
        /// Device memory `_cuda_init` allocates for the weights (fp16: the half copies too).
        public var weightBytes: Int
        /// One per launch of `_cuda_run`, in order (the int8 ends included).
        public var steps: [StepCost]
        public var kernels: [String]
        public var launches: Int { steps.count }
    }

    public func emit(_ g: Graph) throws(CodegenError) -> Output {
        let program: KernelProgram
        do {
            program = try Lowering.lower(
                g, for: target, int8ElementBytes: precision == .fp16 ? 2 : 1, fusingResidualAdds: true)
        } catch {
            throw CodegenError(error.location.isEmpty ? error.message : "node '\(error.location)': \(error.message)")
        }
        var e = CUDAEmission(program: program, p: prefix, precision: precision)
        let x = g.values[g.inputs[0]].shape.dims
        if let pre = preprocess, x.count == 4, x[1] == 3,
            pre.parameters.out_h == x[2], pre.parameters.out_w == x[3]
        {
            e.preprocess = pre
        }
        try e.run()
        let header = e.header(generator: generator)
        let source = e.source(generator: generator)
        let bad = Self.violations(header + source)
        guard bad.isEmpty else {
            throw CodegenError("generated CUDA names what CUDA 10.2 / C++14 lacks: \(bad.joined(separator: ", "))")
        }
        return Output(
            header: header, source: source, precision: precision, workspaceBytes: e.workspaceBytes,
            weightBytes: e.weightBytes, steps: e.costs, kernels: e.used.sorted())
    }

    /// What CUDA source names outside the allow-list (`__x` and `cudaX` identifiers outside string
    /// literals: node names), and the C++17 features it uses (the grep-level check;
    /// scripts/cuda-check.py runs the same).
    public static func violations(_ text: String) -> [String] {
        var found = Set<String>()
        let chars = Array(text.utf8)
        var i = 0
        func word(_ c: UInt8) -> Bool {
            (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c == 95
        }
        while i < chars.count {
            if chars[i] == 34 {  // a string literal: skipped to its closing quote
                i += 1
                while i < chars.count && chars[i] != 34 && chars[i] != 10 { i += chars[i] == 92 ? 2 : 1 }
                i += 1
                continue
            }
            guard word(chars[i]), i == 0 || !word(chars[i - 1]) else {
                i += 1
                continue
            }
            var j = i
            while j < chars.count && word(chars[j]) { j += 1 }
            let w = String(decoding: chars[i..<j], as: UTF8.self)
            if (w.hasPrefix("__") || w.hasPrefix("cuda")) && !CKernelLibrary.cudaAllowed.contains(w) { found.insert(w) }
            i = j
        }
        // byte search: String.contains over megabytes of source cost a second a compile
        func has(_ feature: String) -> Bool {
            let p = Array(feature.utf8)
            guard let first = p.first, p.count <= chars.count else { return p.isEmpty }
            var k = 0
            while k <= chars.count - p.count {
                if chars[k] == first && chars[k..<(k + p.count)].elementsEqual(p) { return true }
                k += 1
            }
            return false
        }
        for feature in cxx17Features where has(feature) { found.insert("C++17 '\(feature)'") }
        return found.sorted()
    }

    /// Spellings of C++17 (and later) features that CUDA 10.2's C++14 front end rejects
    /// (`@forbid` in fk_cuda.cuh).
    public static var cxx17Features: [String] { CKernelLibrary.cudaForbidden }

    /// The roofline estimate of a program on a GPU: each launch takes the longer of its
    /// arithmetic at the GPU's peak and its bytes at its bandwidth; the sum, and each bound alone
    /// (milliseconds). Launch overhead and cache reuse are left out.
    public static func roofline(_ steps: [StepCost], on gpu: TargetProfile.GPU) -> (
        computeMs: Double, memoryMs: Double, latencyMs: Double
    ) {
        let opsPerMs = gpu.peakGOPS * 1e6
        let bytesPerMs = gpu.bandwidthGBs * 1e6
        var (compute, memory, latency) = (0.0, 0.0, 0.0)
        for s in steps {
            let (c, m) = (Double(s.ops) / opsPerMs, Double(s.bytes) / bytesPerMs)
            compute += c
            memory += m
            latency += max(c, m)
        }
        return (compute, memory, latency)
    }
}
