import Codegen
import GraphIR

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// fp32 versus int8 on validation data: top-1 for both and per class (with labels), top-1
/// agreement, logit SQNR, and per-layer SQNR of every int8 layer against its float value.
public struct AccuracyReport: Sendable {
    public var samples: Int
    public var labelled: Bool
    public var classNames: [String]
    public var fp32Top1: Double?
    public var int8Top1: Double?
    /// Per class: (name, samples, fp32 recall, int8 recall).
    public var perClass: [(name: String, count: Int, fp32: Double, int8: Double)] = []
    public var agreement: Double
    public var logitSQNR: Double
    /// Per int8 layer, in graph order: (value name, op, SQNR in dB).
    public var layers: [(name: String, op: String, sqnr: Double)] = []
    /// Confusion matrices with labels: [true class][predicted class] sample counts, fp32 and int8
    /// (predictions beyond the label classes are not counted).
    public var confusion: (fp32: [[Int]], int8: [[Int]])?
    /// The float32 activations of the worst int8 layers (lowest SQNR, at most `histogramLayers`)
    /// against the range their int8 parameters cover.
    public var histograms: [Histogram] = []
    public static let histogramLayers = 4

    /// A layer's float32 values (on the first samples) in `counts.count` equal bins over
    /// [lo, hi], the int8 range [clipLo, clipHi] widened by half its width each side; values
    /// beyond are counted in `below` / `above`.
    public struct Histogram: Sendable {
        public var layer: String
        public var clipLo: Double
        public var clipHi: Double
        public var lo: Double
        public var hi: Double
        public var counts: [Int]
        public var below: Int
        public var above: Int

        init(layer: String, quant q: QuantParams, bins: Int = 64) {
            let s = Double(q.scales.first ?? 1)
            let z = Double(q.zeroPoints.first ?? 0)
            self.layer = layer
            (clipLo, clipHi) = (s * (-128 - z), s * (127 - z))
            let w = clipHi - clipLo
            (lo, hi) = (clipLo - w / 2, clipHi + w / 2)
            counts = [Int](repeating: 0, count: bins)
            (below, above) = (0, 0)
        }

        /// Adds another histogram of the same layer and range.
        mutating func merge(_ o: Histogram) {
            for i in counts.indices where i < o.counts.count { counts[i] += o.counts[i] }
            below += o.below
            above += o.above
        }

        mutating func add(_ values: [Float]) {
            let width = (hi - lo) / Double(counts.count)
            guard width > 0 else { return }
            for v in values {
                let d = Double(v)
                if !(d >= lo) {
                    below += 1
                } else if d > hi {
                    above += 1
                } else {
                    counts[min(Int((d - lo) / width), counts.count - 1)] += 1
                }
            }
        }
    }

    /// The teacher's float32 top-1, when a teacher was given.
    public var teacher: (name: String, top1: Double)?
    /// Probability fidelity: the class probabilities of both (the model's own softmax output, or
    /// a softmax of its logits) compared sample by sample.
    public var probabilities: ProbabilityFidelity?

    public struct ProbabilityFidelity: Sendable {
        /// Whether the model's output already is a softmax (else its logits were softmaxed).
        public var fromModel: Bool
        /// max and mean over samples and classes of |p_int8 − p_fp32|, as probabilities (0…1).
        public var maxDelta: Double
        public var meanDelta: Double
        /// Per output class: (name, max |Δp|, mean |Δp|).
        public var perClass: [(name: String, max: Double, mean: Double)]
        /// Expected calibration error (15 equal-width confidence bins) of each, with labels.
        public var eceFP32: Double?
        public var eceInt8: Double?
        /// Per decision threshold t: the samples for which some class's p > t differs.
        public var flips: [(threshold: Double, samples: Int)]
        public var samples: Int

        /// The largest share of samples, in percent, whose decision flips at any threshold.
        public var worstFlipShare: Double? {
            flips.map { Double($0.samples) / Double(max(samples, 1)) * 100 }.max()
        }
    }

    /// Decision thresholds reported when none are given (`--thresholds`).
    public static let defaultThresholds = [0.5]

    /// Whether the model's output is a softmax (its probabilities are then its own).
    static func endsInSoftmax(_ g: Graph) -> Bool {
        let outputOp = g.outputs.first.flatMap { o in g.nodes.last { $0.outputs.contains(o) } }?.op
        if case .softmax? = outputOp { return true }
        return false
    }

    /// Class probabilities from a model output: itself when the model ends in a softmax (each
    /// row summing to one), else a softmax of the logits (in double).
    static func probabilities(_ y: [Float], fromModel: Bool) -> [Double] {
        let v = y.map(Double.init)
        if fromModel { return v }
        let m = v.max() ?? 0
        let e = v.map { exp($0 - m) }
        let z = e.reduce(0, +)
        return e.map { $0 / max(z, .leastNormalMagnitude) }
    }

    /// Expected calibration error over equal-width bins of confidence (the top probability).
    static func ece(_ probs: [[Double]], labels: [Int], bins: Int = 15) -> Double {
        var conf = [Double](repeating: 0, count: bins)
        var hits = [Double](repeating: 0, count: bins)
        var n = [Double](repeating: 0, count: bins)
        for (p, l) in zip(probs, labels) {
            guard let top = p.indices.max(by: { p[$0] < p[$1] }) else { continue }
            let b = min(Int(p[top] * Double(bins)), bins - 1)
            conf[b] += p[top]
            hits[b] += top == l ? 1 : 0
            n[b] += 1
        }
        let total = n.reduce(0, +)
        guard total > 0 else { return 0 }
        return (0..<bins).reduce(0.0) { $0 + (n[$1] > 0 ? abs(hits[$1] - conf[$1]) / total : 0) }
    }

    /// int8 student top-1 ÷ teacher top-1, as the distillation literature reports it.
    public var retention: Double? {
        guard let t = teacher, t.top1 > 0, let s = int8Top1 else { return nil }
        return s / t.top1
    }

    static func sqnr(signal: Double, noise: Double) -> Double {
        noise > 0 ? 10 * log10(signal / noise) : .infinity
    }

    static func argmax(_ t: Tensor) -> Int {
        let f = t.floatArray()
        return f.indices.max { f[$0] < f[$1] || (f[$0] == f[$1] && $0 > $1) } ?? 0
    }

    static func measure(
        float: Graph, int8: Graph, data: Dataset, progress: ProgressBar?, layerSamples: Int = 16,
        thresholds: [Double] = defaultThresholds, threads: Int = 1
    ) throws(DriverError) -> AccuracyReport {
        let fromModel = endsInSoftmax(float)
        var fProbs: [[Double]] = []
        var qProbs: [[Double]] = []
        var agree = 0
        var (sig, noise) = (0.0, 0.0)
        var fCorrect = 0
        var qCorrect = 0
        let classes = data.classNames.count
        var counts = [Int](repeating: 0, count: classes)
        var fHits = [Int](repeating: 0, count: classes)
        var qHits = [Int](repeating: 0, count: classes)
        var layerSig: [String: Double] = [:]
        var layerNoise: [String: Double] = [:]
        var layerOrder: [(String, String)] = []
        var histograms: [String: Histogram] = [:]
        var fConfusion = [[Int]](repeating: [Int](repeating: 0, count: classes), count: classes)
        var qConfusion = fConfusion
        // every sample on its own thread, reduced below in sample order (the same sums for any
        // thread count)
        struct PerSample: Sendable {
            var fo: Tensor
            var qo: Tensor
            var layers: [(name: String, op: String, signal: Double, noise: Double)] = []
            var histograms: [String: Histogram] = [:]
        }
        let samples = data.samples
        let bar = progress
        bar?.start("validating", total: data.count)
        let source = data.source
        // the exact int8 model's layers through the C kernels (the same bytes as the Swift ones)
        let layers = CKernelLayers(graph: int8)
        let perSample = try Parallel.map(
            data.count, threads: threads,
            state: {
                (
                    Evaluator(graph: float), QuantizedEvaluator(graph: int8, layers: layers),
                    FakeQuantEvaluator(graph: int8)
                )
            },
            done: { bar?.update($0) }
        ) { (e: inout (Evaluator, QuantizedEvaluator, FakeQuantEvaluator), i: Int) throws(DriverError) -> PerSample in
            let x = samples[i]
            var floatValues: [String: [Float]] = [:]
            do throws(IRError) {
                let fo = try e.0.run([x]) { node, out in
                    if i < layerSamples { floatValues[float.values[node.outputs[0]].name] = out.floatArray() }
                }[0]
                var r = PerSample(fo: fo, qo: try e.1.run([x])[0])
                // per-layer SQNR from the fake-quant mode (float32 speed; within one int8 step of exact)
                if i < layerSamples {
                    _ = try e.2.run([x]) { node, out in
                        guard Int8Support.runsInInt8(node, in: int8),
                            let ref = floatValues[int8.values[node.outputs[0]].name], ref.count == out.count
                        else { return }
                        let name = int8.values[node.outputs[0]].name
                        var (s, n) = (0.0, 0.0)
                        for j in 0..<ref.count {
                            let d = Double(out[j])
                            s += Double(ref[j]) * Double(ref[j])
                            n += (Double(ref[j]) - d) * (Double(ref[j]) - d)
                        }
                        r.layers.append((name, node.op.name, s, n))
                        if let q = int8.values[node.outputs[0]].quant, int8.values[node.outputs[0]].dtype == .int8 {
                            r.histograms[name, default: Histogram(layer: name, quant: q)].add(ref)
                        }
                    }
                }
                return r
            } catch { throw DriverError(.badInput, "\(source): \(error.description)") }
        }
        for (i, one) in perSample.enumerated() {
            let (fo, qo) = (one.fo, one.qo)
            for l in one.layers {
                if layerSig[l.name] == nil { layerOrder.append((l.name, l.op)) }
                layerSig[l.name, default: 0] += l.signal
                layerNoise[l.name, default: 0] += l.noise
            }
            for (name, h) in one.histograms {
                if var all = histograms[name] {
                    all.merge(h)
                    histograms[name] = all
                } else {
                    histograms[name] = h
                }
            }
            let (ff, qf) = (fo.floatArray(), qo.floatArray())
            for j in ff.indices {
                sig += Double(ff[j]) * Double(ff[j])
                noise += Double(ff[j] - qf[j]) * Double(ff[j] - qf[j])
            }
            fProbs.append(probabilities(ff, fromModel: fromModel))
            qProbs.append(probabilities(qf, fromModel: fromModel))
            let (fa, qa) = (argmax(fo), argmax(qo))
            if fa == qa { agree += 1 }
            if let labels = data.labels, i < labels.count {
                let l = labels[i]
                if l < classes {
                    if fa < classes { fConfusion[l][fa] += 1 }
                    if qa < classes { qConfusion[l][qa] += 1 }
                    counts[l] += 1
                    if fa == l { fHits[l] += 1 }
                    if qa == l { qHits[l] += 1 }
                }
                if fa == l { fCorrect += 1 }
                if qa == l { qCorrect += 1 }
            }
        }
        bar?.finish()
        let n = Double(data.count)
        var r = AccuracyReport(
            samples: data.count, labelled: data.labels != nil, classNames: data.classNames,
            fp32Top1: data.labels != nil ? Double(fCorrect) / n : nil,
            int8Top1: data.labels != nil ? Double(qCorrect) / n : nil,
            agreement: Double(agree) / n, logitSQNR: sqnr(signal: sig, noise: noise))
        if data.labels != nil {
            r.perClass = (0..<classes).map { c in
                (
                    data.classNames[c], counts[c], counts[c] > 0 ? Double(fHits[c]) / Double(counts[c]) : 0,
                    counts[c] > 0 ? Double(qHits[c]) / Double(counts[c]) : 0
                )
            }
        }
        if data.labels != nil { r.confusion = (fConfusion, qConfusion) }
        r.layers = layerOrder.map { ($0.0, $0.1, sqnr(signal: layerSig[$0.0]!, noise: layerNoise[$0.0]!)) }
        // the worst layers first (ties in graph order)
        let worst = r.layers.indices.filter { histograms[r.layers[$0].name] != nil }
            .sorted { (r.layers[$0].sqnr, $0) < (r.layers[$1].sqnr, $1) }
        r.histograms = worst.prefix(histogramLayers).compactMap { histograms[r.layers[$0].name] }
        r.probabilities = fidelity(
            fProbs, qProbs, fromModel: fromModel, names: data.classNames, labels: data.labels, thresholds: thresholds)
        return r
    }

    /// |Δp| per class, calibration errors and threshold flips of two sets of probabilities.
    static func fidelity(
        _ f: [[Double]], _ q: [[Double]], fromModel: Bool, names: [String], labels: [Int]?, thresholds: [Double]
    ) -> ProbabilityFidelity? {
        guard let k = f.first?.count, k > 0, f.count == q.count, f.allSatisfy({ $0.count == k }),
            q.allSatisfy({ $0.count == k })
        else { return nil }
        var maxD = [Double](repeating: 0, count: k)
        var sumD = [Double](repeating: 0, count: k)
        for (a, b) in zip(f, q) {
            for c in 0..<k {
                let d = abs(a[c] - b[c])
                maxD[c] = max(maxD[c], d)
                sumD[c] += d
            }
        }
        let n = Double(f.count)
        let classNames = names.count == k ? names : (0..<k).map { "class \($0)" }
        let flips = thresholds.map { t in
            (t, zip(f, q).filter { a, b in (0..<k).contains { (a[$0] > t) != (b[$0] > t) } }.count)
        }
        var ece: (Double, Double)?
        if let labels, labels.count >= f.count {
            let l = Array(labels.prefix(f.count))
            ece = (Self.ece(f, labels: l), Self.ece(q, labels: l))
        }
        return ProbabilityFidelity(
            fromModel: fromModel, maxDelta: maxD.max() ?? 0, meanDelta: sumD.reduce(0, +) / (n * Double(k)),
            perClass: (0..<k).map { (classNames[$0], maxD[$0], sumD[$0] / n) }, eceFP32: ece?.0, eceInt8: ece?.1,
            flips: flips, samples: f.count)
    }

    /// The per-layer SQNR table.
    public func layerTable() -> String {
        layers.map {
            "  \($0.name.padding(28)) \($0.op.padding(16)) \($0.sqnr.isFinite ? String(($0.sqnr * 10).rounded() / 10) + " dB" : "exact")"
        }
        .joined(separator: "\n") + "\n"
    }

    public func text() -> String {
        func pct(_ v: Double?) -> String { v.map { String((($0 * 1000).rounded()) / 10) + "%" } ?? "—" }
        func db(_ v: Double) -> String { v.isFinite ? String((v * 10).rounded() / 10) + " dB" : "exact" }
        var out = "validation: \(samples) samples\(labelled ? "" : " (unlabelled: agreement and SQNR only)")\n"
        if labelled {
            out += "top-1: fp32 \(pct(fp32Top1)), int8 \(pct(int8Top1))\n"
            for c in perClass {
                out +=
                    "  \(c.name.padding(22)) n=\(String(c.count).leftPadding(4))  recall fp32 \(pct(c.fp32).leftPadding(6))  int8 \(pct(c.int8).leftPadding(6))\n"
            }
        }
        out += "top-1 agreement: \(pct(agreement)), logit SQNR \(db(logitSQNR))\n"
        if let t = teacher, let r = retention {
            out += "teacher: top-1 \(pct(t.top1)) (\(t.name)); int8 student retains \(pct(r)) of it\n"
        }
        if let p = probabilities {
            func points(_ v: Double) -> String { String((v * 1000).rounded() / 10) }
            out +=
                "probabilities\(p.fromModel ? "" : " (softmax of the logits)"): max |Δp| \(points(p.maxDelta)) points, mean \(points(p.meanDelta))"
            if let a = p.eceFP32, let b = p.eceInt8 { out += "; ECE fp32 \(points(a)), int8 \(points(b)) points" }
            out += "\n"
            if !p.flips.isEmpty {
                out +=
                    "decision flips: "
                    + p.flips.map { "p > \($0.threshold): \($0.samples) of \(p.samples)" }.joined(separator: ", ")
                    + "\n"
            }
        }
        if let worst = layers.min(by: { $0.sqnr < $1.sqnr }) {
            out +=
                "per-layer SQNR: lowest \(db(worst.sqnr)) at \(worst.name) (\(worst.op)), \(layers.count) int8 layers\n"
        }
        return out
    }
}
