import Codegen
import Frontends
import GraphIR

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `fkdc run`: evaluates a model on a float32 NCHW batch.
public enum Runner {
    public struct Result: Sendable {
        /// Logits `[N, classes]`.
        public var logits: Tensor
        /// Per sample: (class, logit, probability), best first.
        public var top: [[(index: Int, logit: Float, probability: Float)]]
        /// Wall-clock seconds of each evaluation (one unless `repeat` was given).
        public var seconds: [Double]

        /// Median of `seconds`.
        public var medianSeconds: Double {
            let s = seconds.sorted()
            return s.isEmpty ? 0 : (s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2)
        }
    }

    /// Loads `modelPath` for the batch size of `input` and runs it in float32, after the pass
    /// `pipeline` when one is given.
    public static func run(
        modelPath: String, input: Tensor, inputPath: String, topK: Int, options: ModelOptions = ModelOptions(),
        repeat count: Int = 1, pipeline: String? = nil, fakeQuant: Bool = false
    )
        throws(DriverError) -> Result
    {
        guard input.shape.rank >= 1, input.shape[0] >= 1 else {
            throw DriverError(
                .badInput,
                "\(inputPath): expected a float32 array with a batch dimension (NCHW for images), got shape \(input.shape)"
            )
        }
        guard input.dtype == .float32 || input.dtype == .float64 else {
            throw DriverError(.badInput, "\(inputPath): expected float32 data, got \(input.dtype.rawValue)")
        }
        var opts = options
        opts.batch = input.shape[0]
        opts.dataShape = input.shape.dims  // what an ONNX input leaves open
        let model = try ModelLoader.load(path: modelPath, options: opts)
        var g = model.graph
        if let pipeline { g = try Optimizer.run(g, pipeline: pipeline).graph }
        guard g.inputs.count == 1 else {
            throw DriverError(.badInput, "\(modelPath): the model takes \(g.inputs.count) inputs")
        }
        let want = g.values[g.inputs[0]].shape
        guard want.rank == input.shape.rank, Array(want.dims.dropFirst()) == Array(input.shape.dims.dropFirst()) else {
            throw DriverError(
                .badInput,
                "\(inputPath): shape \(input.shape) does not match the model input [N,\(want.dims.dropFirst().map(String.init).joined(separator: ","))]"
            )
        }
        let x = input.toFloat32()
        // a graph with a fixed batch (.fkir, .fkdc, an ONNX exported with a static batch) runs the
        // input in slices of its batch: every sample gets exactly the logits a run of it alone
        // would give
        let fixed = want[0]
        guard fixed >= 1, x.shape[0] % fixed == 0 else {
            throw DriverError(
                .badInput,
                "\(inputPath): batch \(x.shape[0]) is not a multiple of the model's fixed batch \(fixed) (\(modelPath) was built for batch \(fixed))"
            )
        }
        let batches: [Tensor]
        if fixed == x.shape[0] {
            batches = [x.reshaped(want)]
        } else {
            let f = x.floatArray()
            let per = f.count / x.shape[0] * fixed
            batches = (0..<(x.shape[0] / fixed)).map {
                Tensor(shape: want, floats: Array(f[($0 * per)..<(($0 + 1) * per)]))
            }
        }
        var out = x
        var seconds: [Double] = []
        // an int8 graph runs on the exact int8 evaluator
        let int8 = g.values.contains { $0.dtype == .int8 }
        let float = Evaluator(graph: g)
        let quantized = QuantizedEvaluator(graph: g, layers: CKernelLayers(graph: g))
        let fake = FakeQuantEvaluator(graph: g)
        if fakeQuant && !int8 {
            throw DriverError(.usage, "--fake-quant needs an int8 model (a .fkdc file or compile's --emit-ir output)")
        }
        for _ in 0..<max(1, count) {
            let start = now()
            var logits: [Float] = []
            var shape: [Int] = []
            do {
                for b in batches {
                    let o =
                        fakeQuant
                        ? try fake.run([b])[0] : int8 ? try quantized.run([b])[0] : try float.run([b])[0]
                    logits += o.floatArray()
                    shape = o.shape.dims
                }
            } catch { throw DriverError.from(error, file: modelPath) }
            if batches.count > 1, !shape.isEmpty { shape[0] *= batches.count }
            out = Tensor(shape: Shape(shape), floats: logits)
            seconds.append(now() - start)
        }
        return Result(logits: out, top: Self.topK(out, k: topK), seconds: seconds)
    }

    static func now() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }

    static func topK(_ logits: Tensor, k: Int) -> [[(index: Int, logit: Float, probability: Float)]] {
        let f = logits.floatArray()
        let n = logits.shape[0]
        let c = logits.elementCount / max(n, 1)
        return (0..<n).map { i in
            let row = Array(f[i * c..<(i + 1) * c])
            let m = row.max() ?? 0
            let e = row.map { expf($0 - m) }
            let s = e.reduce(0, +)
            let order = row.indices.sorted { row[$0] != row[$1] ? row[$0] > row[$1] : $0 < $1 }
            return order.prefix(max(1, k)).map { (index: $0, logit: row[$0], probability: e[$0] / s) }
        }
    }

    public static func text(_ r: Result) -> String {
        var out = ""
        for (i, t) in r.top.enumerated() {
            out += "sample \(i):"
            for e in t { out += "  class \(e.index) logit \(fmt(e.logit)) p=\(fmt(e.probability))" }
            out += "\n"
        }
        return out
    }

    static func fmt(_ v: Float) -> String {
        let r = (Double(v) * 10000).rounded() / 10000
        return String(r)
    }
}
