import Frontends

/// `fkdc diff A/report.json B/report.json`: what changed from compile A to compile B (size,
/// accuracy overall and per class, probability change, per-layer SQNR), and the gates given on
/// the command line checked on both, so that CI fails (exit 3) when B fails a gate: "regressed"
/// when A passed it.
public struct ReportDiff: Sendable {
    /// One compared number: its label, A's and B's values (nil: not in that report).
    public struct Row: Sendable {
        public var label: String
        public var a: Double?
        public var b: Double?
        /// How the value prints (`%`, ` dB`, a ratio) and whether larger is better.
        public var unit: String
        public var higherIsBetter: Bool?
    }

    public var rows: [Row] = []
    /// Per class: (name, int8 recall in A, in B).
    public var classes: [(name: String, a: Double?, b: Double?)] = []
    /// Layers in both, with the largest SQNR changes first: (name, A dB, B dB).
    public var layers: [(name: String, a: Double, b: Double)] = []
    /// Layers that run in float32 in one report and int8 in the other.
    public var precisionChanges: [(name: String, a: String, b: String)] = []
    /// Each gate: its result on A and on B.
    public var gates: [(a: GateResult, b: GateResult)] = []

    /// Gates B fails (exit 3), each said as regressed (A passed) or still failing.
    public var failures: [String] {
        gates.filter { !$0.b.passed }.map { ($0.a.passed ? "regressed: " : "still failing: ") + $0.b.message }
    }

    static func parse(_ bytes: UnsafeRawBufferPointer, file: String) throws(DriverError) -> JSONValue {
        do { return try JSONValue.parse(bytes) } catch {
            throw DriverError(.badInput, "\(file): not JSON: \(error.message)")
        }
    }

    /// Compares two report.json documents (`a`, `b`: their bytes; names for errors).
    public static func compare(
        _ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer, files: (String, String), gates: Gates
    ) throws(DriverError) -> ReportDiff {
        let (ja, jb) = (try parse(a, file: files.0), try parse(b, file: files.1))
        let (va, vb) = (try Report.values(fromJSON: a, file: files.0), try Report.values(fromJSON: b, file: files.1))
        var d = ReportDiff()
        func row(_ label: String, _ x: Double?, _ y: Double?, _ unit: String, higher: Bool?) {
            d.rows.append(Row(label: label, a: x, b: y, unit: unit, higherIsBetter: higher))
        }
        func percent(_ v: Double?) -> Double? { v.map { $0 * 100 } }
        row("int8 weights ÷ fp32", va.sizeRatio, vb.sizeRatio, "", higher: false)
        row("binary ÷ fp32", va.fileRatio, vb.fileRatio, "", higher: false)
        row("top-1 fp32", percent(va.fp32Top1), percent(vb.fp32Top1), "%", higher: true)
        row("top-1 int8", percent(va.int8Top1), percent(vb.int8Top1), "%", higher: true)
        row("top-1 agreement", percent(va.agreement), percent(vb.agreement), "%", higher: true)
        row(
            "logit SQNR", ja["accuracy"]?["logit_sqnr_db"]?.number, jb["accuracy"]?["logit_sqnr_db"]?.number, " dB",
            higher: true)
        row("max |Δp|", percent(va.probDelta), percent(vb.probDelta), " points", higher: false)
        row("teacher retention", percent(va.retention), percent(vb.retention), "%", higher: true)
        let names =
            va.perClass.map(\.name) + vb.perClass.map(\.name).filter { n in !va.perClass.contains { $0.name == n } }
        d.classes = names.map { n in
            (n, va.perClass.first { $0.name == n }?.int8, vb.perClass.first { $0.name == n }?.int8)
        }
        // per layer, by node name
        func layers(_ j: JSONValue) -> [(name: String, precision: String, sqnr: Double?)] {
            guard case .array(let ls)? = j["layers"] else { return [] }
            return ls.compactMap { l in
                guard case .string(let n)? = l["name"] else { return nil }
                var p = ""
                if case .string(let s)? = l["precision"] { p = s }
                return (n, p, l["sqnr_db"]?.number)
            }
        }
        let (la, lb) = (layers(ja), layers(jb))
        let byName = Dictionary(la.map { ($0.name, $0) }, uniquingKeysWith: { x, _ in x })
        for l in lb {
            guard let o = byName[l.name] else { continue }
            if o.precision != l.precision { d.precisionChanges.append((l.name, o.precision, l.precision)) }
            if let x = o.sqnr, let y = l.sqnr, x.isFinite, y.isFinite { d.layers.append((l.name, x, y)) }
        }
        d.layers.sort { abs($0.b - $0.a) > abs($1.b - $1.a) }
        d.gates = Array(zip(gates.check(va), gates.check(vb)))
        return d
    }

    public func text(limitLayers: Int = 8) -> String {
        func fmt(_ v: Double?, _ unit: String) -> String {
            guard let v else { return "—" }
            let r = unit.isEmpty ? (v * 10000).rounded() / 10000 : (v * 10).rounded() / 10
            return "\(r)\(unit)"
        }
        func change(_ a: Double?, _ b: Double?, _ unit: String, _ higher: Bool?) -> String {
            guard let a, let b else { return "" }
            let delta = b - a
            let step = unit.isEmpty ? 1e-4 : 0.05
            guard abs(delta) >= step else { return "  (same)" }
            let sign = delta > 0 ? "+" : "−"
            let verdict = higher.map { ($0 == (delta > 0)) ? " better" : " worse" } ?? ""
            return "  (\(sign)\(fmt(abs(delta), unit))\(verdict))"
        }
        var out = ""
        for r in rows where r.a != nil || r.b != nil {
            out +=
                "  \(r.label.padding(22)) \(fmt(r.a, r.unit).leftPadding(12)) → \(fmt(r.b, r.unit).leftPadding(12))"
                + change(r.a, r.b, r.unit, r.higherIsBetter) + "\n"
        }
        if !classes.isEmpty {
            out += "int8 recall per class:\n"
            for c in classes {
                out +=
                    "  \(c.name.padding(22)) \(fmt(c.a.map { $0 * 100 }, "%").leftPadding(12)) → \(fmt(c.b.map { $0 * 100 }, "%").leftPadding(12))"
                    + change(c.a.map { $0 * 100 }, c.b.map { $0 * 100 }, "%", true) + "\n"
            }
        }
        let moved = layers.filter { abs($0.b - $0.a) >= 0.05 }
        if !moved.isEmpty {
            out += "per-layer SQNR, largest changes (\(moved.count) of \(layers.count) layers moved):\n"
            for l in moved.prefix(limitLayers) {
                out +=
                    "  \(l.name.padding(34)) \(fmt(l.a, " dB").leftPadding(10)) → \(fmt(l.b, " dB").leftPadding(10))"
                    + change(l.a, l.b, " dB", true) + "\n"
            }
        } else if !layers.isEmpty {
            out += "per-layer SQNR: no layer moved by 0.05 dB or more (\(layers.count) layers)\n"
        }
        for p in precisionChanges { out += "precision: \(p.name) \(p.a) → \(p.b)\n" }
        for g in gates {
            out +=
                (g.b.passed ? "pass  " : (g.a.passed ? "REGRESSED  " : "FAIL  ")) + g.b.message
                + " (was \(g.a.passed ? "pass" : "fail"))\n"
        }
        return out
    }
}
