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
    /// Samples run on this many threads; the ranges and means are the same for any count.
    public var threads = 1

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

    /// The smallest and largest finite value (±infinity where there is none; a zero as +0, so
    /// the answer does not depend on which of two equal zeros came first): eight lanes at a time,
    /// `x − x` (NaN exactly where x is not finite) summed to tell whether the exact loop that skips
    /// such values must run instead.
    static func finiteRange(_ p: UnsafeBufferPointer<Float>) -> (lo: Float, hi: Float) {
        var lo8 = SIMD8<Float>(repeating: .infinity)
        var hi8 = SIMD8<Float>(repeating: -.infinity)
        var bad = SIMD8<Float>(repeating: 0)
        var i = 0
        if let base = p.baseAddress {
            let raw = UnsafeRawPointer(base)
            while i + 8 <= p.count {
                let x = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                lo8.replace(with: x, where: x .< lo8)
                hi8.replace(with: x, where: x .> hi8)
                bad += x - x
                i += 8
            }
        }
        var (lo, hi) = (lo8.min(), hi8.max())
        var finite = bad.sum() == 0
        for k in i..<p.count {
            if p[k].isFinite {
                (lo, hi) = (min(lo, p[k]), max(hi, p[k]))
            } else {
                finite = false
            }
        }
        if !finite {
            (lo, hi) = (.infinity, -.infinity)
            for k in 0..<p.count where p[k].isFinite { (lo, hi) = (min(lo, p[k]), max(hi, p[k])) }
        }
        return (lo + 0, hi + 0)
    }

    /// Ranges, and the per-channel means of every value over the data (axis 1 of NCHW or NC;
    /// what empirical bias correction needs).
    public func calibrate(
        _ graph: Graph, batches: [Tensor], progress: (@Sendable (Int, Int) -> Void)? = nil
    ) throws(IRError) -> (ranges: [String: (Float, Float)], means: [String: [Float]]) {
        if let why = invalidity { throw IRError(.badInput, at: "", "calibration: \(why)") }
        let total = method == .minmax ? batches.count : 2 * batches.count
        let inputName = graph.values[graph.inputs[0]].name
        @Sendable func floats(_ t: Tensor) -> UnsafeBufferPointer<Float> {
            UnsafeBufferPointer(start: t.storage.pointer.assumingMemoryBound(to: Float.self), count: t.elementCount)
        }
        // first pass, samples in parallel: each value's minimum, maximum and sum per (row, channel)
        // of each sample, reduced below in sample order, so the means are summed in the order a
        // single thread would sum them (min and max are exact in any order)
        struct Seen: Sendable {
            var lo: Float
            var hi: Float
            var channels = 0
            var sums: [Double] = []
            var elements = 0
        }
        @Sendable func seen(_ p: UnsafeBufferPointer<Float>, _ shape: Shape) -> Seen {
            let range = Calibrator.finiteRange(p)
            var v = Seen(lo: range.lo, hi: range.hi)
            guard shape.rank >= 2, shape[0] > 0, shape[1] > 0, p.count == shape.elementCount else { return v }
            let (n, c) = (shape[0], shape[1])
            let per = p.count / (n * c)
            v.channels = c
            v.sums.reserveCapacity(n * c)
            // each channel summed in element order, as one loop per channel would, eight
            // channels' chains interleaved (a Float add's latency, not its rate, bounds one chain)
            for b in 0..<n {
                var ch = 0
                while ch + 8 <= c {
                    var acc = SIMD8<Float>(repeating: 0)
                    let base = (b * c + ch) * per
                    for i in 0..<per {
                        for j in 0..<8 { acc[j] += p[base + j * per + i] }
                    }
                    for j in 0..<8 { v.sums.append(Double(acc[j])) }
                    ch += 8
                }
                for ch in ch..<c {
                    var acc: Float = 0
                    let base = (b * c + ch) * per
                    for i in 0..<per { acc += p[base + i] }
                    v.sums.append(Double(acc))
                }
            }
            v.elements = n * per
            return v
        }
        let firstPass = try Parallel.map(
            batches.count, threads: threads, state: { Evaluator(graph: graph) }, done: { progress?($0, total) }
        ) { (ev: inout Evaluator, i: Int) throws(IRError) -> [String: Seen] in
            let x = batches[i].toFloat32()
            var out = [inputName: seen(floats(x), x.shape)]
            _ = try ev.run(
                [x],
                observeValues: { node, values in
                    let v = graph.values[node.outputs[0]]
                    out[v.name] = seen(values, v.shape)
                })
            return out
        }
        var lo: [String: Float] = [:]
        var hi: [String: Float] = [:]
        var sums: [String: [Double]] = [:]
        var counts: [String: Int] = [:]
        for sample in firstPass {
            for (name, v) in sample {
                (lo[name], hi[name]) = (min(lo[name] ?? .infinity, v.lo), max(hi[name] ?? -.infinity, v.hi))
                guard v.channels > 0 else { continue }
                var s = sums[name] ?? [Double](repeating: 0, count: v.channels)
                guard s.count == v.channels else { continue }
                for (k, x) in v.sums.enumerated() { s[k % v.channels] += x }
                sums[name] = s
                counts[name, default: 0] += v.elements
            }
        }
        let means = sums.reduce(into: [String: [Float]]()) { m, e in
            let n = Double(max(counts[e.key] ?? 1, 1))
            m[e.key] = e.value.map { Float($0 / n) }
        }
        if method == .minmax { return (lo.reduce(into: [:]) { $0[$1.key] = ($1.value, hi[$1.key]!) }, means) }
        // second pass: histograms of |x| over [0, max |x|], counted over groups of samples in
        // parallel and added up (counts: exact in any order)
        let amax = lo.reduce(into: [String: Float]()) { $0[$1.key] = max(abs($1.value), abs(hi[$1.key]!)) }
        let bins = bins
        @Sendable func add(_ name: String, _ p: UnsafeBufferPointer<Float>, to hist: inout [String: [Double]]) {
            guard let m = amax[name], m > 0 else { return }
            var h = hist[name] ?? [Double](repeating: 0, count: bins)
            let k = Float(bins) / m
            for i in 0..<p.count where p[i].isFinite { h[min(Int(abs(p[i]) * k), bins - 1)] += 1 }
            hist[name] = h
        }
        let group = 8
        let n = batches.count
        let groups = try Parallel.map(
            (n + group - 1) / group, threads: threads, state: { Evaluator(graph: graph) },
            done: { progress?(n + min($0 * group, n), total) }
        ) { (ev: inout Evaluator, g: Int) throws(IRError) -> [String: [Double]] in
            var hist: [String: [Double]] = [:]
            for i in (g * group)..<min((g + 1) * group, n) {
                let x = batches[i].toFloat32()
                add(inputName, floats(x), to: &hist)
                _ = try ev.run(
                    [x], observeValues: { node, out in add(graph.values[node.outputs[0]].name, out, to: &hist) })
            }
            return hist
        }
        var hist: [String: [Double]] = [:]
        for h in groups {
            for (name, counts) in h {
                var t = hist[name] ?? [Double](repeating: 0, count: bins)
                for (k, c) in counts.enumerated() { t[k] += c }
                hist[name] = t
            }
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
