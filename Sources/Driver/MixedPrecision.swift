import Codegen
import GraphIR
import Passes

/// `--target-agreement` / `--target-top1-drop`: what the int8 model must reach on the
/// validation data.
public struct AccuracyTarget: Sendable, Equatable {
    /// Smallest top-1 agreement with fp32, in percent.
    public var agreement: Double?
    /// Largest top-1 drop from fp32, in percentage points (needs labels).
    public var top1Drop: Double?
    /// Largest |p_int8 − p_fp32| of any class on any sample, in percentage points.
    public var probDelta: Double?

    public init(agreement: Double? = nil, top1Drop: Double? = nil, probDelta: Double? = nil) {
        self.agreement = agreement
        self.top1Drop = top1Drop
        self.probDelta = probDelta
    }

    public var isSet: Bool { agreement != nil || top1Drop != nil || probDelta != nil }

    /// "agreement ≥ 99 %, top-1 drop ≤ 1 point".
    public var text: String {
        var parts: [String] = []
        if let a = agreement { parts.append("agreement ≥ \(a) %") }
        if let d = top1Drop { parts.append("top-1 drop ≤ \(d) points") }
        if let p = probDelta { parts.append("max |Δp| ≤ \(p) points") }
        return parts.joined(separator: ", ")
    }
}

/// Accuracy-targeted mixed precision: the fewest int8 layers kept in float32 for the target to
/// hold on the validation data.
///
/// The unit kept is an activation: the int8 op that produces it and the int8 ops that read it
/// stay float32, so the value itself is never rounded to an int8 grid. Ranking: each unit alone
/// in float32, by how far it lowers the logits' error (fake-quant mode, on up to
/// `rankingSamples` validation samples). Search: the k best units together, k doubled until the
/// exact int8 evaluator meets the target on all validation samples, then bisected to the
/// smallest such k; each candidate quantized with the configured rounding.
enum MixedPrecision {
    static let rankingSamples = 8

    struct Unit {
        var value: String
        var nodes: [String]
        /// Logit SQNR (fake-quant) with this unit alone in float32.
        var sqnr: Double
    }

    struct Outcome {
        var int8: Graph
        var context: PassContext
        var records: [PassRecord]
        /// The units kept in float32, best first; empty when plain int8 met the target.
        var kept: [Unit]
        /// The result's figures; exact int8 evaluations run.
        var score: Score
        var evaluations: Int
        var met: Bool
    }

    /// What the exact int8 model gives on the validation data against fp32.
    struct Score {
        /// Top-1 agreement (fraction), top-1 drop and max |Δp| (points).
        var agreement: Double
        var top1Drop: Double?
        var probDelta: Double
    }

    /// fp32's predictions and probabilities on every sample, the reference of `score`.
    struct Reference {
        var predictions: [Int]
        var probabilities: [[Double]]
        var logits: [[Float]]
        var fromModel: Bool
    }

    static func score(_ q: Graph, _ data: Dataset, _ ref: Reference, threads: Int) throws(DriverError) -> Score {
        let samples = data.samples
        let source = data.source
        let fromModel = ref.fromModel
        let layers = CKernelLayers(graph: q)
        let outputs = try Parallel.map(
            data.count, threads: threads, state: { QuantizedEvaluator(graph: q, layers: layers) }
        ) {
            (e: inout QuantizedEvaluator, i: Int) throws(DriverError) -> Tensor in
            do throws(IRError) { return try e.run([samples[i]])[0] } catch {
                throw DriverError(.badInput, "\(source): \(error.description)")
            }
        }
        var agree = 0
        var (fc, qc) = (0, 0)
        var delta = 0.0
        for (i, y) in outputs.enumerated() {
            let p = AccuracyReport.argmax(y)
            let probs = AccuracyReport.probabilities(y.floatArray(), fromModel: fromModel)
            for (a, b) in zip(probs, ref.probabilities[i]) { delta = max(delta, abs(a - b)) }
            if p == ref.predictions[i] { agree += 1 }
            if let l = data.labels?[i] {
                if ref.predictions[i] == l { fc += 1 }
                if p == l { qc += 1 }
            }
        }
        let n = Double(max(data.count, 1))
        return Score(
            agreement: Double(agree) / n, top1Drop: data.labels == nil ? nil : Double(fc - qc) / n * 100,
            probDelta: delta * 100)
    }

    static func meets(_ target: AccuracyTarget, _ s: Score) -> Bool {
        if let a = target.agreement, s.agreement * 100 < a - 1e-9 { return false }
        if let d = target.top1Drop, (s.top1Drop ?? .infinity) > d + 1e-9 { return false }
        if let p = target.probDelta, s.probDelta > p + 1e-9 { return false }
        return true
    }

    /// Runs `quantize` (and `adaround` when `rounding`) on `pre` with `keep` in float32.
    static func quantize(_ pre: Graph, _ ctx: PassContext, keep: [String: String], rounding: Bool) throws(DriverError)
        -> (Graph, PassContext, [PassRecord])
    {
        var c = ctx
        c.quantization.keepFloat = keep
        if !rounding { c.quantization.adaround = nil }
        var q = pre
        do {
            let r = try PassManager(passes: PassRegistry.roundingPipeline).run(on: &q, context: &c)
            return (q, c, r)
        } catch { throw DriverError(.badInput, error.description) }
    }

    static func search(
        float g: Graph, prequantized pre: Graph, context ctx: PassContext, plain: Graph, plainRecords: [PassRecord],
        plainContext: PassContext, data: Dataset, target: AccuracyTarget, progress: ProgressBar?, threads: Int
    ) throws(DriverError) -> Outcome {
        let samples = data.samples
        let source = data.source
        let fromModel = AccuracyReport.endsInSoftmax(g)
        let floats = try Parallel.map(data.count, threads: threads, state: { Evaluator(graph: g) }) {
            (e: inout Evaluator, i: Int) throws(DriverError) -> [Float] in
            do throws(IRError) { return try e.run([samples[i]])[0].floatArray() } catch {
                throw DriverError(.badInput, "\(source): \(error.description)")
            }
        }
        let ref = Reference(
            predictions: floats.map { AccuracyReport.argmax(Tensor(shape: Shape([$0.count]), floats: $0)) },
            probabilities: floats.map { AccuracyReport.probabilities($0, fromModel: fromModel) }, logits: floats,
            fromModel: fromModel)
        var evaluations = 1
        let s0 = try score(plain, data, ref, threads: threads)
        if meets(target, s0) {
            return Outcome(
                int8: plain, context: plainContext, records: plainRecords, kept: [], score: s0,
                evaluations: evaluations, met: true)
        }
        // units: every op of the plain int8 graph with its own int8 kernel, with the int8 ops reading
        // its output, through those that keep their input's grid (pooling, reshapes)
        let users = plain.users()
        func readers(_ v: ValueID) -> [String] {
            users[v].map { plain.nodes[$0] }.filter { Int8Support.runsInInt8($0, in: plain) }.flatMap { u -> [String] in
                if case .int8IfInputIs = Int8Support.decide(u, in: plain) { return [u.name] + readers(u.outputs[0]) }
                return [u.name]
            }
        }
        let units: [(value: String, nodes: [String])] = plain.nodes.compactMap { n in
            guard Int8Support.runsInInt8(n, in: plain), case .int8 = Int8Support.decide(n, in: plain) else {
                return nil
            }
            return (plain.values[n.outputs[0]].name, [n.name] + readers(n.outputs[0]))
        }
        let reason = "kept float32 for the accuracy target (\(target.text))"
        let rank = Array(data.samples.prefix(rankingSamples))
        let logits = ref.logits
        let bar = progress
        bar?.start("ranking layers for the accuracy target", total: units.count)
        let sqnrs = try Parallel.map(units.count, threads: threads, state: {}, done: { bar?.update($0) }) {
            (_: inout Void, i: Int) throws(DriverError) -> Double in
            let keep = Dictionary(units[i].nodes.map { ($0, reason) }, uniquingKeysWith: { a, _ in a })
            let (q, _, _) = try quantize(pre, ctx, keep: keep, rounding: false)
            let fq = FakeQuantEvaluator(graph: q)
            var (sig, noise) = (0.0, 0.0)
            for (j, x) in rank.enumerated() {
                do throws(IRError) {
                    let y = try fq.run([x])[0].floatArray()
                    for (a, b) in zip(logits[j], y) {
                        sig += Double(a) * Double(a)
                        noise += (Double(a) - Double(b)) * (Double(a) - Double(b))
                    }
                } catch { throw DriverError(.badInput, "\(source): \(error.description)") }
            }
            return AccuracyReport.sqnr(signal: sig, noise: noise)
        }
        let ranked = units.indices.map { Unit(value: units[$0].value, nodes: units[$0].nodes, sqnr: sqnrs[$0]) }
        progress?.finish()
        // most improving first; ties in graph order
        let order = ranked.indices.sorted { (-ranked[$0].sqnr, $0) < (-ranked[$1].sqnr, $1) }.map { ranked[$0] }
        func keepSet(_ k: Int) -> [String: String] {
            Dictionary(order.prefix(k).flatMap(\.nodes).map { ($0, reason) }, uniquingKeysWith: { a, _ in a })
        }
        // with learned rounding every trial is re-rounded: it moves the figures by points (README's
        // rounding ablation), so a count found with nearest rounding is not the count it needs
        let rounding = ctx.quantization.adaround != nil
        var results: [Int: Score] = [:]
        // the smallest count that met the target so far, as built
        var hit: (k: Int, model: (Graph, PassContext, [PassRecord]))?
        func trial(_ k: Int) throws(DriverError) -> Bool {
            let model = try quantize(pre, ctx, keep: keepSet(k), rounding: rounding)
            let s = try score(model.0, data, ref, threads: threads)
            evaluations += 1
            results[k] = s
            let ok = meets(target, s)
            if ok, hit.map({ k < $0.k }) ?? true { hit = (k, model) }
            return ok
        }
        // doubling, then bisection between the last miss and the first hit
        var lo = 0
        var hi = 1
        while hi < order.count, try !trial(hi) {
            lo = hi
            hi = min(hi * 2, order.count)
        }
        if hi >= order.count, results[order.count] == nil { _ = try trial(order.count) }
        if let r = results[hi], meets(target, r) {
            while hi - lo > 1 {
                let mid = (lo + hi) / 2
                if try trial(mid) { hi = mid } else { lo = mid }
            }
        }
        // the final model (the trials' rounding, so its figures are the trial's)
        var k = hi
        while true {
            let built: (Graph, PassContext, [PassRecord])
            if let h = hit, h.k == k {
                built = h.model
            } else {
                built = try quantize(pre, ctx, keep: keepSet(k), rounding: true)
            }
            let (q, c, rec) = built
            var s = results[k]
            if s == nil {
                s = try score(q, data, ref, threads: threads)
                evaluations += 1
            }
            let final = s ?? s0
            let ok = meets(target, final)
            if ok || k >= order.count {
                return Outcome(
                    int8: q, context: c, records: rec, kept: Array(order.prefix(k)), score: final,
                    evaluations: evaluations, met: ok)
            }
            k += 1
        }
    }
}
