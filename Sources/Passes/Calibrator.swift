import GraphIR

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Chooses activation ranges by running the float32 graph over calibration data.
///
/// - `minmax`: the observed minimum and maximum;
/// - `percentile`: the `percentile` / (100 − `percentile`) quantiles of a `bins`-bin histogram;
/// - `entropy`: the clipping threshold minimising the KL divergence between the histogram and
///   its int8 quantization (TensorRT's calibrator), on |x| (one-sided for non-negative tensors),
///   ignoring the bin of exact zeros;
/// - `mse`: the threshold minimising the expected squared error (clipping plus rounding).
public struct Calibrator: Sendable {
    public enum Method: String, Sendable, CaseIterable {
        case minmax, percentile, entropy, mse
    }

    public var method: Method = .minmax
    public var percentile: Double = 99.99
    public var bins = 2048

    public init(method: Method = .minmax, percentile: Double = 99.99, bins: Int = 2048) {
        self.method = method
        self.percentile = percentile
        self.bins = bins
    }

    /// The accepted settings: `percentile` in 50…100, `bins` in 16…65536.
    public static let percentiles = 50.0...100.0
    public static let binCounts = 16...65536

    /// Why these settings cannot calibrate, or nil (`calibrate` refuses them with this message).
    public var invalidity: String? {
        if !Self.percentiles.contains(percentile) { return "the percentile must be in 50…100, not \(percentile)" }
        if !Self.binCounts.contains(bins) { return "the histogram needs 16…65536 bins, not \(bins)" }
        return nil
    }

    /// Ranges by value name for the graph input and every float node output.
    public func ranges(
        of graph: Graph, batches: [Tensor], progress: (@Sendable (Int, Int) -> Void)? = nil
    ) throws(IRError) -> [String: (Float, Float)] {
        try calibrate(graph, batches: batches, progress: progress).ranges
    }

    /// Ranges, and the per-channel means of every value over the data (axis 1 of NCHW or NC;
    /// what empirical bias correction needs).
    public func calibrate(
        _ graph: Graph, batches: [Tensor], progress: (@Sendable (Int, Int) -> Void)? = nil
    ) throws(IRError) -> (ranges: [String: (Float, Float)], means: [String: [Float]]) {
        if let why = invalidity { throw IRError(.badInput, at: "", "calibration: \(why)") }
        let ev = Evaluator(graph: graph)
        var lo: [String: Float] = [:]
        var hi: [String: Float] = [:]
        var sums: [String: [Double]] = [:]
        var counts: [String: Int] = [:]
        func record(_ name: String, _ p: UnsafeBufferPointer<Float>, _ shape: Shape) {
            var (a, b) = (lo[name] ?? .infinity, hi[name] ?? -.infinity)
            for i in 0..<p.count where p[i].isFinite {
                a = min(a, p[i])
                b = max(b, p[i])
            }
            (lo[name], hi[name]) = (a, b)
            guard shape.rank >= 2, shape[0] > 0, shape[1] > 0, p.count == shape.elementCount else { return }
            let (n, c) = (shape[0], shape[1])
            let per = p.count / (n * c)
            var s = sums[name] ?? [Double](repeating: 0, count: c)
            for b in 0..<n {
                for ch in 0..<c {
                    var acc: Float = 0
                    let base = (b * c + ch) * per
                    for i in 0..<per { acc += p[base + i] }
                    s[ch] += Double(acc)
                }
            }
            sums[name] = s
            counts[name, default: 0] += n * per
        }
        let total = method == .minmax ? batches.count : 2 * batches.count
        func floats(_ t: Tensor) -> UnsafeBufferPointer<Float> {
            UnsafeBufferPointer(start: t.storage.pointer.assumingMemoryBound(to: Float.self), count: t.elementCount)
        }
        for (i, x) in batches.enumerated() {
            let x = x.toFloat32()
            record(graph.values[graph.inputs[0]].name, floats(x), x.shape)
            _ = try ev.run(
                [x],
                observeValues: { node, out in
                    let v = graph.values[node.outputs[0]]
                    record(v.name, out, v.shape)
                })
            progress?(i + 1, total)
        }
        let means = sums.reduce(into: [String: [Float]]()) { m, e in
            let n = Double(max(counts[e.key] ?? 1, 1))
            m[e.key] = e.value.map { Float($0 / n) }
        }
        if method == .minmax { return (lo.reduce(into: [:]) { $0[$1.key] = ($1.value, hi[$1.key]!) }, means) }
        // second pass: histograms of |x| over [0, max |x|]
        var hist: [String: [Double]] = [:]
        let amax = lo.reduce(into: [String: Float]()) { $0[$1.key] = max(abs($1.value), abs(hi[$1.key]!)) }
        func add(_ name: String, _ p: UnsafeBufferPointer<Float>) {
            guard let m = amax[name], m > 0 else { return }
            var h = hist[name] ?? [Double](repeating: 0, count: bins)
            let k = Float(bins) / m
            for i in 0..<p.count where p[i].isFinite { h[min(Int(abs(p[i]) * k), bins - 1)] += 1 }
            hist[name] = h
        }
        for (i, x) in batches.enumerated() {
            let x = x.toFloat32()
            add(graph.values[graph.inputs[0]].name, floats(x))
            _ = try ev.run([x], observeValues: { node, out in add(graph.values[node.outputs[0]].name, out) })
            progress?(batches.count + i + 1, total)
        }
        var out: [String: (Float, Float)] = [:]
        for (name, a) in lo {
            let b = hi[name]!
            guard let h = hist[name], let m = amax[name], m > 0 else {
                out[name] = (a, b)
                continue
            }
            let oneSided = a >= 0
            // the KL search models TensorRT's symmetric int8 (128 levels) even for one-sided
            // tensors: with 256 it clips ReLU6 outputs harder (72.5% vs 82.5% agreement on the
            // sample student)
            let t = Float(threshold(h, levels: oneSided && method != .entropy ? 255 : 127)) * m / Float(bins)
            out[name] = (max(a, oneSided ? 0 : -t), min(b, t))
        }
        return (out, means)
    }

    /// The clipping threshold, in bins, by the chosen method.
    func threshold(_ h: [Double], levels: Int) -> Double {
        let total = h.reduce(0, +)
        guard total > 0 else { return Double(h.count) }
        switch method {
        case .minmax:
            return Double(h.count)
        case .percentile:
            var acc = 0.0
            for (i, c) in h.enumerated() {
                acc += c
                if acc >= total * percentile / 100 { return Double(i + 1) }
            }
            return Double(h.count)
        case .mse:
            var best = (Double.infinity, h.count)
            for t in stride(from: max(levels / 2, 1), through: h.count, by: max(1, h.count / 256)) {
                let delta = Double(t) / Double(levels)
                var err = 0.0
                for (i, c) in h.enumerated() where c > 0 {
                    let center = Double(i) + 0.5
                    err += center > Double(t) ? c * (center - Double(t)) * (center - Double(t)) : c * delta * delta / 12
                }
                if err < best.0 { best = (err, t) }
            }
            return Double(best.1)
        case .entropy:
            return entropyThreshold(h, levels: levels + 1)
        }
    }

    /// TensorRT's KL-divergence search: for each candidate i, P = h[0..<i] with the clipped tail
    /// added to its last bin, Q = P merged into `levels` groups and spread back over each group's
    /// non-empty bins; the i minimising KL(P‖Q) wins.
    func entropyThreshold(_ hist: [Double], levels: Int) -> Double {
        // The first bin holds the exact zeros a ReLU produces: zero is exactly representable, and
        // its spike would otherwise make the shortest candidate look best.
        var h = hist
        h[0] = 0
        var best = (Double.infinity, h.count)
        let step = max(1, (h.count - levels) / 256)
        for i in stride(from: levels, through: h.count, by: step) {
            var p = Array(h[0..<i])
            p[i - 1] += h[i...].reduce(0, +)
            var q = [Double](repeating: 0, count: i)
            let groupSize = Double(i) / Double(levels)
            for g in 0..<levels {
                let start = Int(Double(g) * groupSize)
                let end = g == levels - 1 ? i : Int(Double(g + 1) * groupSize)
                guard end > start else { continue }
                let sum = h[start..<end].reduce(0, +)
                let nonzero = h[start..<end].filter { $0 > 0 }.count
                guard nonzero > 0 else { continue }
                for j in start..<end where h[j] > 0 { q[j] = sum / Double(nonzero) }
            }
            let ps = p.reduce(0, +)
            let qs = q.reduce(0, +)
            guard ps > 0, qs > 0 else { continue }
            var kl = 0.0
            for j in 0..<i where p[j] > 0 {
                let pj = p[j] / ps
                let qj = max(q[j] / qs, 1e-12)
                kl += pj * log(pj / qj)
            }
            if kl < best.0 { best = (kl, i) }
        }
        return Double(best.1) + 0.5
    }
}
