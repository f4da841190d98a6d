import CKernels
import Codegen
import GraphIR

/// The CUDA side of `compile` for a target with a GPU: model_cuda.h / model_cuda.cu, or why there
/// is none, and the board estimate of report.json (per Jetson target: ops, bytes, launches and
/// the roofline latency beside a published TensorRT figure).
public struct CUDABackend: Sendable {
    public struct Estimate: Sendable {
        public var target: TargetProfile
        public var precision: GPUPrecision
        public var launches: Int
        public var ops: Int
        public var bytes: Int
        public var computeMs: Double
        public var memoryMs: Double
        public var rooflineMs: Double
    }

    public var output: CUDAEmitter.Output?
    public var skipped: String?
    public var estimates: [Estimate] = []

    /// nil for a target without a GPU.
    static func run(
        _ g: Graph, target: TargetProfile, prefix: String, generator: String,
        preprocess: (parameters: fk_preprocessing, summary: String)? = nil
    ) -> CUDABackend? {
        guard target.gpu != nil else { return nil }
        var r = CUDABackend()
        var byPrecision: [GPUPrecision: CUDAEmitter.Output] = [:]
        do {
            var emitter = try CUDAEmitter(prefix: prefix, target: target, generator: generator)
            emitter.preprocess = preprocess
            let out = try emitter.emit(g)
            r.output = out
            byPrecision[out.precision] = out
        } catch {
            r.skipped = error.message
            return r
        }
        for t in TargetProfile.all {
            guard let gpu = t.gpu else { continue }
            if byPrecision[gpu.precision] == nil {
                guard let e = try? CUDAEmitter(prefix: prefix, target: t, generator: generator).emit(g) else {
                    continue
                }
                byPrecision[gpu.precision] = e
            }
            guard let steps = byPrecision[gpu.precision]?.steps else { continue }
            let roof = CUDAEmitter.roofline(steps, on: gpu)
            r.estimates.append(
                Estimate(
                    target: t, precision: gpu.precision, launches: steps.count, ops: steps.reduce(0) { $0 + $1.ops },
                    bytes: steps.reduce(0) { $0 + $1.bytes }, computeMs: roof.computeMs, memoryMs: roof.memoryMs,
                    rooflineMs: roof.latencyMs))
        }
        return r
    }

    var json: JSON {
        guard let o = output else { return .object([("emitted", .bool(false)), ("reason", .string(skipped ?? ""))]) }
        func ms(_ v: Double) -> JSON { .double((v * 1000).rounded() / 1000) }
        return .object([
            ("emitted", .bool(true)), ("precision", .string(o.precision.rawValue)),
            ("launches", .int(o.launches)), ("workspace_bytes", .int(o.workspaceBytes)),
            ("weight_bytes", .int(o.weightBytes)), ("kernels", .array(o.kernels.map { .string($0) })),
            (
                "estimate",
                .array(
                    estimates.map { e in
                        .object([
                            ("target", .string(e.target.name)), ("arch", .string(e.target.gpu?.arch ?? "")),
                            ("precision", .string(e.precision.rawValue)), ("launches", .int(e.launches)),
                            ("ops", .int(e.ops)), ("bytes", .int(e.bytes)), ("compute_ms", ms(e.computeMs)),
                            ("memory_ms", ms(e.memoryMs)), ("roofline_ms", ms(e.rooflineMs)),
                            (
                                "tensorrt_mobilenet_v2_ms",
                                e.target.gpu?.tensorRTMobileNetV2.map { .double($0.ms) } ?? .null
                            ),
                        ])
                    })
            ),
        ])
    }

    /// The summary's lines.
    var summary: [(String, String)] {
        guard let o = output else { return [("generated CUDA", "none: \(skipped ?? "")")] }
        func ms(_ v: Double) -> String { String((v * 100).rounded() / 100) + " ms" }
        var rows = [
            (
                "generated CUDA",
                "\(o.precision.rawValue), \(o.launches) launches, workspace \(o.workspaceBytes) bytes, weights \(o.weightBytes) bytes on the device"
            )
        ]
        for e in estimates {
            let trt =
                e.target.gpu?.tensorRTMobileNetV2.map { "; TensorRT \($0.precision) MobileNetV2 \(ms($0.ms))" } ?? ""
            rows.append(
                (
                    "  est. " + e.target.name,
                    "\(ms(e.rooflineMs)) \(e.precision.rawValue) (\(ms(e.computeMs)) arithmetic, \(ms(e.memoryMs)) memory)\(trt)"
                ))
        }
        return rows
    }
}
