import Codegen
import Frontends
import GraphIR

/// report.json (README.md documents every field) and the terminal summary.
public enum Report {
    static func json(
        model: LoadedModel, options: CompileOptions, result q: QuantizeResult, sha256: String, parameters: Int,
        binaryBytes: Int, weightBytes: Int, breakdown: [(part: String, bytes: Int)], values: ReportValues,
        gates: [GateResult], files: [String],
        c: CEmitter.Output?,
        cSkipped: String?, cuda: CUDABackend?, preprocessing: String
    ) -> JSON {
        func num(_ d: Double?) -> JSON { d.map { .double($0) } ?? .null }
        var accuracy: [(String, JSON)] = [("measured", .bool(q.accuracy != nil))]
        if let a = q.accuracy {
            accuracy += [
                ("data", .string(options.quantize.val ?? "")), ("samples", .int(a.samples)),
                ("labelled", .bool(a.labelled)), ("fp32_top1", num(a.fp32Top1)), ("int8_top1", num(a.int8Top1)),
                ("top1_agreement", .double(a.agreement)), ("logit_sqnr_db", num(a.logitSQNR)),
                (
                    "per_class",
                    .object(
                        a.perClass.map {
                            (
                                $0.name,
                                .object([
                                    ("samples", .int($0.count)), ("fp32_recall", .double($0.fp32)),
                                    ("int8_recall", .double($0.int8)),
                                ])
                            )
                        })
                ),
            ]
            if let c = a.confusion {
                let m = { (x: [[Int]]) in JSON.array(x.map { JSON.array($0.map { .int($0) }) }) }
                accuracy.append(("confusion", .object([("fp32", m(c.fp32)), ("int8", m(c.int8))])))
            }
            accuracy.append(
                (
                    "histograms",
                    .array(
                        a.histograms.map { h in
                            .object([
                                ("layer", .string(h.layer)), ("clip_lo", .double(h.clipLo)),
                                ("clip_hi", .double(h.clipHi)), ("lo", .double(h.lo)), ("hi", .double(h.hi)),
                                ("counts", .array(h.counts.map { .int($0) })), ("below", .int(h.below)),
                                ("above", .int(h.above)),
                            ])
                        })
                ))
            if let p = a.probabilities {
                accuracy.append(
                    (
                        "probability",
                        .object([
                            ("source", .string(p.fromModel ? "model softmax" : "softmax of the logits")),
                            ("max_delta", .double(p.maxDelta)), ("mean_delta", .double(p.meanDelta)),
                            ("ece_fp32", num(p.eceFP32)), ("ece_int8", num(p.eceInt8)),
                            (
                                "per_class",
                                .object(
                                    p.perClass.map {
                                        (
                                            $0.name,
                                            .object([("max_delta", .double($0.max)), ("mean_delta", .double($0.mean))])
                                        )
                                    })
                            ),
                            (
                                "threshold_flips",
                                .array(
                                    p.flips.map {
                                        .object([
                                            ("threshold", .double($0.threshold)), ("samples", .int($0.samples)),
                                            ("share", .double(Double($0.samples) / Double(max(p.samples, 1)))),
                                        ])
                                    })
                            ),
                        ])
                    ))
            }
        }
        var teacher: JSON = .null
        if let a = q.accuracy, let t = a.teacher {
            teacher = .object([
                ("path", .string(options.quantize.teacher ?? "")), ("architecture", .string(t.name)),
                ("top1", .double(t.top1)), ("retention", num(a.retention)),
            ])
        }
        let sqnr = Dictionary(q.accuracy?.layers.map { ($0.name, $0.sqnr) } ?? [], uniquingKeysWith: { a, _ in a })
        let g = q.int8
        let layers: [JSON] = g.nodes.filter { !$0.op.isQuantization }.map { n in
            let v = g.values[n.outputs[0]]
            return .object([
                ("name", .string(n.name)), ("op", .string(n.op.name)),
                ("precision", .string(Int8Support.runsInInt8(n, in: g) ? "int8" : "float32")),
                ("sqnr_db", num(sqnr[v.name])),
            ])
        }
        let fp32Bytes = parameters * 4
        let mixedPrecision: JSON =
            q.mixedPrecision.map { m in
                .object([
                    ("target_agreement", num(m.target.agreement)), ("target_top1_drop", num(m.target.top1Drop)),
                    ("target_prob_delta", num(m.target.probDelta)),
                    ("met", .bool(m.met)), ("agreement", .double(m.agreement)), ("top1_drop", num(m.top1Drop)),
                    ("prob_delta", .double(m.probDelta)),
                    ("evaluations", .int(m.evaluations)), ("extra_weight_bytes", .int(m.extraBytes)),
                    (
                        "kept_float32",
                        .array(
                            m.kept.map { k in
                                .object([
                                    ("value", .string(k.value)), ("nodes", .array(k.nodes.map { .string($0) })),
                                    ("logit_sqnr_db_alone", num(k.sqnr)),
                                ])
                            })
                    ),
                ])
            } ?? .null
        return .object([
            ("fkdc_version", .string(FkdcVersion.string)),
            ("target", .string(options.target.name)),
            (
                "source",
                .object([
                    ("path", .string(model.path)), ("format", .string(model.format)), ("sha256", .string(sha256)),
                    ("architecture", .string(model.architecture)), ("parameters", .int(parameters)),
                ])
            ),
            (
                "calibration",
                .object([
                    ("description", .string(q.calibration)),
                    ("data", options.quantize.calib.map { .string($0) } ?? .null),
                    ("method", .string(options.quantize.calib == nil ? "data-free" : options.quantize.method.rawValue)),
                    ("mode", .string(options.quantize.sequential ? "sequential" : "standard")),
                    ("weights", .string(options.quantize.perTensor ? "per-tensor" : "per-channel")),
                    ("logits", .string(options.quantize.int8Logits ? "int8" : "float32 from int32 accumulators")),
                    ("bias_corrected_layers", .int(q.biasCorrected)),
                    ("rounding", .string(options.quantize.rounding.rawValue)),
                    (
                        "adaround",
                        q.adaround.isEmpty
                            ? .null
                            : .object([
                                ("iterations", .int(options.quantize.adaroundIterations)),
                                (
                                    "layers",
                                    .array(
                                        q.adaround.map { l in
                                            .object([
                                                ("node", .string(l.node)),
                                                ("nearest_sqnr_db", num(l.nearestSQNR)),
                                                ("adaround_sqnr_db", num(l.adaroundSQNR)),
                                                ("flipped_weights", .int(l.flipped)), ("weights", .int(l.weights)),
                                                ("kept", .bool(l.kept)),
                                            ])
                                        })
                                ),
                            ])
                    ),
                ])
            ),
            (
                "size",
                .object([
                    ("fp32_weight_bytes", .int(fp32Bytes)), ("int8_weight_bytes", .int(weightBytes)),
                    ("binary_bytes", .int(binaryBytes)), ("overhead_bytes", .int(binaryBytes - weightBytes)),
                    ("ratio", .double(values.sizeRatio)), ("file_ratio", num(values.fileRatio)),
                    (
                        "breakdown",
                        .array(breakdown.map { .object([("part", .string($0.part)), ("bytes", .int($0.bytes))]) })
                    ),
                ])
            ),
            ("preprocessing", .string(preprocessing)),
            ("accuracy", .object(accuracy)),
            ("teacher", teacher),
            ("mixed_precision", mixedPrecision),
            (
                "float32_ops",
                .array(
                    q.floatNodes.map {
                        .object([("name", .string($0.node)), ("op", .string($0.op)), ("reason", .string($0.reason))])
                    })
            ),
            (
                "passes",
                .array(
                    q.passes.map { p in
                        .object([
                            ("name", .string(p.name)), ("nodes_before", .int(p.nodesBefore)),
                            ("nodes_after", .int(p.nodesAfter)),
                            ("counts", .object(p.counts.map { ($0.0, .int($0.1)) })),
                        ])
                    })
            ),
            ("layers", .array(layers)),
            (
                "c",
                c.map {
                    .object([
                        ("emitted", .bool(true)), ("prefix", .string(options.name)),
                        ("workspace_bytes", .int($0.workspaceBytes)),
                        ("largest_live_pair_bytes", .int($0.largestLivePair)), ("int8_ops", .int($0.int8Ops)),
                        ("float32_ops", .int($0.float32Ops)),
                        ("weights", .string(options.externalWeights ? "external" : "embedded")),
                        ("packed_weights_bytes", .int($0.packedBytes)),
                    ])
                } ?? .object([("emitted", .bool(false)), ("reason", .string(cSkipped ?? ""))])
            ),
            ("cuda", cuda?.json ?? .object([("emitted", .bool(false)), ("reason", .string("the target has no GPU"))])),
            (
                "gates",
                .array(
                    gates.map {
                        .object([
                            ("name", .string($0.name)), ("limit", .double($0.limit)), ("value", num($0.value)),
                            ("passed", .bool($0.passed)),
                        ])
                    })
            ),
            ("outputs", .array(files.map { .string($0) })),
        ])
    }

    /// The terminal summary: the same facts as report.json, as a table.
    public static func summary(_ r: CompileResult, target: TargetProfile, output: String) -> String {
        func pct(_ v: Double?) -> String { v.map { String(($0 * 1000).rounded() / 10) + "%" } ?? "not measured" }
        func row(_ k: String, _ v: String) -> String { "  " + k.padding(26) + v + "\n" }
        var out = "\n"
        out += row("target", "\(target.name) (\(target.summary))")
        out += row(
            "size",
            "\(r.int8WeightBytes) int8 weight bytes vs \(r.fp32WeightBytes) fp32: ratio \(GateResult.format(r.values.sizeRatio))"
        )
        out += row(
            "  file",
            "\(r.binaryBytes) bytes (\(r.binaryBytes - r.int8WeightBytes) of graph, scales, metadata): ratio \(GateResult.format(r.values.fileRatio ?? 0))"
        )
        if let a = r.quantized.accuracy {
            out += row("samples", "\(a.samples)\(a.labelled ? "" : " (unlabelled)")")
            if a.labelled { out += row("top-1 fp32 → int8", "\(pct(a.fp32Top1)) → \(pct(a.int8Top1))") }
            for c in a.perClass { out += row("  " + c.name, "\(pct(c.fp32)) → \(pct(c.int8))") }
            out += row("top-1 agreement", pct(a.agreement))
            out += row(
                "logit SQNR", a.logitSQNR.isFinite ? "\((a.logitSQNR * 10).rounded() / 10) dB" : "exact")
            if let t = a.teacher { out += row("teacher top-1", "\(pct(t.top1)), retention \(pct(a.retention))") }
        } else {
            out += row("accuracy", "not measured (no --val data)")
        }
        if let m = r.quantized.mixedPrecision {
            let what =
                m.kept.isEmpty
                ? "plain int8 meets it"
                : "\(m.kept.count) activations kept float32 (\(m.kept.flatMap(\.nodes).count) ops: "
                    + m.kept.map(\.value).joined(separator: ", ") + "), +\(m.extraBytes) weight bytes"
            out += row(
                "accuracy target",
                "\(m.target.text): \(m.met ? "met" : "MISSED") with \(what); \(m.evaluations) int8 evaluations")
        }
        for p in r.quantized.passes where !p.counts.isEmpty {
            out += row("pass " + p.name, p.counts.map { "\($0.0) \($0.1)" }.joined(separator: ", "))
        }
        for g in r.gates { out += row("gate " + g.name, (g.passed ? "pass  " : "FAIL  ") + g.message) }
        if let c = r.c {
            out += row(
                "generated C",
                "workspace \(c.workspaceBytes) bytes (largest live pair \(c.largestLivePair)); "
                    + "\(c.int8Ops) int8 ops, \(c.float32Ops) float32")
        } else if let why = r.cSkipped {
            out += row("generated C", "none: \(why)")
        }
        for (k, v) in r.cuda?.summary ?? [] { out += row(k, v) }
        out += row("wrote", r.files.map { output + "/" + $0 }.joined(separator: ", "))
        return out
    }

    /// The gate inputs recorded in a report.json.
    public static func values(fromJSON bytes: UnsafeRawBufferPointer, file: String) throws(DriverError) -> ReportValues
    {
        let j: JSONValue
        do { j = try JSONValue.parse(bytes) } catch {
            throw DriverError(.badInput, "\(file): not JSON: \(error.message)")
        }
        guard let ratio = j["size"]?["ratio"]?.number else {
            throw DriverError(.badInput, "\(file): not an fkdc report (no size.ratio)")
        }
        var v = ReportValues(sizeRatio: ratio)
        v.fileRatio = j["size"]?["file_ratio"]?.number
        if let a = j["accuracy"], case .bool(true)? = a["measured"] {
            v.fp32Top1 = a["fp32_top1"]?.number
            v.int8Top1 = a["int8_top1"]?.number
            v.agreement = a["top1_agreement"]?.number
            if case .object(let classes)? = a["per_class"] {
                for c in classes {
                    guard let f = c.value["fp32_recall"]?.number, let q = c.value["int8_recall"]?.number else {
                        throw DriverError(.badInput, "\(file): per_class.\(c.key) lacks fp32_recall/int8_recall")
                    }
                    v.perClass.append((c.key, f, q))
                }
            }
        }
        if let p = j["accuracy"]?["probability"] {
            v.probDelta = p["max_delta"]?.number
            if case .array(let flips)? = p["threshold_flips"] {
                v.thresholdFlipShare = flips.compactMap { $0["share"]?.number }.max().map { $0 * 100 }
            }
        }
        v.retention = j["teacher"]?["retention"]?.number
        return v
    }
}
