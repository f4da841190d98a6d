import Frontends

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// report.html: report.json drawn for people (the verdict, size, accuracy per class, confusion
/// matrices, per-layer SQNR, activation histograms, provenance), rendered from the JSON alone so
/// that `fkdc report DIR/report.json` gives the same page later. One self-contained file: inline
/// CSS and SVG (`SVG`), no script, no URL, printable.
public enum HTMLReport {
    static let fp32Colour = "#4a6fa5"
    static let int8Colour = "#e07b39"
    static let failColour = "#c0392b"
    static let passColour = "#2e8b57"
    static let partColours = ["#e07b39", "#f2b880", "#9bb7d4", "#4a6fa5", "#6c8e5c", "#b5a642", "#8e6c8a", "#aaaaaa"]

    /// The page for report.json's bytes.
    public static func render(jsonBytes: [UInt8], file: String) throws(DriverError) -> String {
        let parsed = jsonBytes.withUnsafeBytes { b in Result { () throws(FrontendError) in try JSONValue.parse(b) } }
        switch parsed {
        case .success(let json): return try render(json, file: file)
        case .failure(let e): throw DriverError(.badInput, "\(file): not JSON: \(e.message)")
        }
    }

    /// The page for a parsed report.json (`file` names it in errors).
    public static func render(_ r: JSONValue, file: String) throws(DriverError) -> String {
        guard case .object = r, r["gates"] != nil, r["size"] != nil else {
            throw DriverError(.badInput, "\(file): not an fkdc report.json (no gates or size)")
        }
        let source = r["source"]
        let arch = source?["architecture"]?.text ?? "model"
        let target = r["target"]?.text ?? ""
        var body = "<h1>fkdc: \(esc(arch)) for \(esc(target))</h1>\n"
        body += verdict(r)
        body += size(r)
        body += accuracy(r)
        body += layers(r)
        body += provenance(r)
        return """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>fkdc report: \(esc(arch)) for \(esc(target))</title>
            <style>
            \(css)
            </style>
            </head>
            <body>
            \(body)
            </body>
            </html>

            """
    }

    static let css = """
        body { font-family: sans-serif; color: #222; max-width: 980px; margin: 24px auto; padding: 0 16px; }
        h1 { font-size: 22px; } h2 { font-size: 18px; border-bottom: 1px solid #ccc; padding-bottom: 4px; margin-top: 28px; }
        h3 { font-size: 14px; margin: 14px 0 6px; }
        table { border-collapse: collapse; font-size: 13px; margin: 6px 0 10px; }
        td, th { border: 1px solid #ddd; padding: 3px 8px; text-align: left; }
        th { background: #f3f3f3; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
        .verdict { font-size: 20px; font-weight: bold; padding: 10px 14px; border-radius: 4px; color: #fff; }
        .pass { background: #2e8b57; } .fail { background: #c0392b; }
        .ok { color: #2e8b57; font-weight: bold; } .bad { color: #c0392b; font-weight: bold; }
        .row { display: flex; flex-wrap: wrap; gap: 18px; align-items: flex-start; }
        .note { color: #555; font-size: 13px; }
        code { font-size: 12px; word-break: break-all; }
        @media print { body { max-width: none; margin: 0; } section { break-inside: avoid; } .verdict { color: #000; border: 2px solid #000; } }
        """

    static func esc(_ s: String) -> String { SVG.escape(s) }

    /// A number for tables: percent, dB, a ratio or a count.
    static func fmt(_ v: Double?, _ unit: String = "") -> String {
        guard let v, v.isFinite else { return v == nil ? "—" : "exact" }
        switch unit {
        case "%": return SVG.num((v * 1000).rounded() / 10) + " %"
        case "dB": return SVG.num((v * 10).rounded() / 10) + " dB"
        case "pts": return SVG.num((v * 1000).rounded() / 10) + " points"
        default:
            if v == v.rounded() && abs(v) < 1e15 { return String(Int(v)) }
            return SVG.num((v * 10000).rounded() / 10000)
        }
    }

    static func bytes(_ n: Int) -> String {
        var s = String(n)
        var i = s.count - 3
        while i > 0 {
            s.insert(",", at: s.index(s.startIndex, offsetBy: i))
            i -= 3
        }
        return s + " B"
    }

    static func table(_ head: [String], _ rows: [[String]], numeric: Set<Int> = []) -> String {
        var t = "<table><tr>" + head.map { "<th>\(esc($0))</th>" }.joined() + "</tr>\n"
        for r in rows {
            t +=
                "<tr>"
                + r.enumerated().map { "<td\(numeric.contains($0.offset) ? " class=\"num\"" : "")>\($0.element)</td>" }
                .joined() + "</tr>\n"
        }
        return t + "</table>\n"
    }

    // MARK: sections

    static func verdict(_ r: JSONValue) -> String {
        let gates = r["gates"]?.items ?? []
        let failed = gates.filter { $0["passed"]?.flag != true }
        var s = "<section id=\"verdict\"><h2>Verdict</h2>\n"
        if gates.isEmpty {
            s += "<div class=\"verdict pass\">No gates were set</div>\n"
        } else if failed.isEmpty {
            s +=
                "<div class=\"verdict pass\">PASS: \(gates.count == 1 ? "the gate passes" : "all \(gates.count) gates pass")</div>\n"
        } else {
            s += "<div class=\"verdict fail\">FAIL: \(failed.count) of \(gates.count) gates fail</div>\n"
        }
        let rows = gates.map { g -> [String] in
            let ok = g["passed"]?.flag == true
            return [
                esc(g["name"]?.text ?? ""), fmt(g["limit"]?.number), fmt(g["value"]?.number),
                ok ? "<span class=\"ok\">pass</span>" : "<span class=\"bad\">FAIL</span>",
            ]
        }
        if !rows.isEmpty { s += table(["gate", "limit", "value", "result"], rows, numeric: [1, 2]) }
        return s + "</section>\n"
    }

    static func size(_ r: JSONValue) -> String {
        let z = r["size"]
        let fp32 = Int(z?["fp32_weight_bytes"]?.number ?? 0)
        let int8 = Int(z?["int8_weight_bytes"]?.number ?? 0)
        let binary = Int(z?["binary_bytes"]?.number ?? 0)
        var s = "<section id=\"size\"><h2>Size</h2>\n"
        s += table(
            ["", "bytes", "÷ fp32 weights"],
            [
                ["fp32 weights (the source model)", bytes(fp32), "1"],
                ["int8 weights", bytes(int8), fmt(z?["ratio"]?.number)],
                ["model.fkdc", bytes(binary), fmt(z?["file_ratio"]?.number)],
            ], numeric: [1, 2])
        // fp32 and int8 as bars on one scale, the file split into its parts
        var svg = SVG(width: 900, height: 130, title: "fp32 weight bytes against the int8 file, by part")
        let scale = 700 / Double(max(fp32, binary, 1))
        svg.text("fp32 weights", x: 0, y: 22, size: 12)
        svg.rect(x: 150, y: 8, width: Double(fp32) * scale, height: 20, fill: fp32Colour, tooltip: bytes(fp32))
        svg.text("model.fkdc", x: 0, y: 56, size: 12)
        var x = 150.0
        let parts = (z?["breakdown"]?.items ?? []).map { ($0["part"]?.text ?? "", Int($0["bytes"]?.number ?? 0)) }
        for (i, p) in parts.enumerated() where p.1 > 0 {
            let w = Double(p.1) * scale
            svg.rect(
                x: x, y: 42, width: w, height: 20, fill: partColours[i % partColours.count],
                tooltip: "\(p.0): \(bytes(p.1))")
            x += w
        }
        for (i, p) in parts.enumerated() {
            let col = Double(i % 4), row = Double(i / 4)
            let lx = col * 225
            svg.rect(x: lx, y: 80 + row * 22, width: 12, height: 12, fill: partColours[i % partColours.count])
            svg.text("\(p.0) \(bytes(p.1))", x: lx + 16, y: 90 + row * 22, size: 11)
        }
        s += svg.render() + "\n</section>\n"
        return s
    }

    static func accuracy(_ r: JSONValue) -> String {
        var s = "<section id=\"accuracy\"><h2>Accuracy</h2>\n"
        guard let a = r["accuracy"], a["measured"]?.flag == true else {
            return s
                + "<p class=\"note\">Not measured: compile with <code>--val DIR</code> for accuracy per class.</p></section>\n"
        }
        var rows: [[String]] = [
            ["validation data", esc(a["data"]?.text ?? ""), "\(Int(a["samples"]?.number ?? 0)) samples"]
        ]
        if a["labelled"]?.flag == true {
            rows.append(["top-1", fmt(a["fp32_top1"]?.number, "%"), fmt(a["int8_top1"]?.number, "%")])
        }
        rows.append(["top-1 agreement", "", fmt(a["top1_agreement"]?.number, "%")])
        rows.append(["logit SQNR", "", fmt(a["logit_sqnr_db"]?.number, "dB")])
        if let p = a["probability"] {
            rows.append(["max |Δp| (any class)", "", fmt(p["max_delta"]?.number, "pts")])
            rows.append(["mean |Δp|", "", fmt(p["mean_delta"]?.number, "pts")])
            rows.append([
                "expected calibration error", fmt(p["ece_fp32"]?.number, "pts"), fmt(p["ece_int8"]?.number, "pts"),
            ])
            for f in p["threshold_flips"]?.items ?? [] {
                rows.append([
                    "decisions flipped at p > \(fmt(f["threshold"]?.number))", "", fmt(f["share"]?.number, "%"),
                ])
            }
        }
        if let t = r["teacher"], t["top1"] != nil {
            rows.append(["teacher \(esc(t["architecture"]?.text ?? "")) top-1", fmt(t["top1"]?.number, "%"), ""])
            rows.append(["retention (int8 student ÷ teacher)", "", fmt(t["retention"]?.number, "%")])
        }
        s += table(["", "fp32", "int8"], rows, numeric: [1, 2])
        let classes = a["per_class"]?.members ?? []
        if !classes.isEmpty {
            s += "<h3>Recall per class</h3>\n" + recallBars(classes) + "\n"
            let probs = a["probability"]?["per_class"]
            s += table(
                ["class", "samples", "fp32 recall", "int8 recall", "change", "max |Δp|"],
                classes.map { c in
                    let (f, q) = (c.value["fp32_recall"]?.number, c.value["int8_recall"]?.number)
                    let d = (q ?? 0) - (f ?? 0)
                    return [
                        esc(c.key), fmt(c.value["samples"]?.number), fmt(f, "%"), fmt(q, "%"),
                        d < 0 ? "<span class=\"bad\">−\(fmt(-d, "%"))</span>" : (d > 0 ? "+" + fmt(d, "%") : "0"),
                        fmt(probs?[c.key]?["max_delta"]?.number, "pts"),
                    ]
                }, numeric: [1, 2, 3, 4, 5])
        }
        if let c = a["confusion"], let f = c["fp32"]?.matrix, let q = c["int8"]?.matrix {
            let names = classes.map(\.key)
            s += "<h3>Confusion matrices (rows: true class, columns: predicted)</h3>\n<div class=\"row\">"
            s += confusion(f, names: names, title: "fp32", colour: fp32Colour)
            s += confusion(q, names: names, title: "int8", colour: int8Colour) + "</div>\n"
        }
        return s + "</section>\n"
    }

    static func recallBars(_ classes: [JSONMember]) -> String {
        let (left, top, plotH) = (40.0, 10.0, 160.0)
        let group = max(60.0, min(160.0, 820.0 / Double(max(classes.count, 1))))
        var svg = SVG(
            width: left + group * Double(classes.count) + 20, height: top + plotH + 70,
            title: "Recall per class, fp32 against int8")
        for t in stride(from: 0.0, through: 1.0, by: 0.25) {
            let y = top + plotH * (1 - t)
            svg.line(x1: left, y1: y, x2: left + group * Double(classes.count), y2: y, stroke: "#ddd")
            svg.text(SVG.num(t * 100) + "%", x: left - 4, y: y + 4, size: 10, anchor: "end")
        }
        for (i, c) in classes.enumerated() {
            let x = left + group * Double(i)
            let bw = group * 0.35
            for (j, key) in ["fp32_recall", "int8_recall"].enumerated() {
                let v = min(max(c.value[key]?.number ?? 0, 0), 1)
                svg.rect(
                    x: x + group * 0.12 + Double(j) * bw, y: top + plotH * (1 - v), width: bw - 2, height: plotH * v,
                    fill: j == 0 ? fp32Colour : int8Colour,
                    tooltip: "\(c.key) \(j == 0 ? "fp32" : "int8"): \(fmt(v, "%"))")
            }
            svg.text(c.key, x: x + group / 2, y: top + plotH + 16, size: 11, anchor: "middle")
        }
        let ly = top + plotH + 40
        svg.rect(x: left, y: ly, width: 12, height: 12, fill: fp32Colour)
        svg.text("fp32", x: left + 16, y: ly + 10)
        svg.rect(x: left + 70, y: ly, width: 12, height: 12, fill: int8Colour)
        svg.text("int8", x: left + 86, y: ly + 10)
        return svg.render()
    }

    static func confusion(_ m: [[Int]], names: [String], title: String, colour: String) -> String {
        let n = m.count
        let cell = max(28.0, min(60.0, 240.0 / Double(max(n, 1))))
        let left = 130.0
        var svg = SVG(
            width: left + cell * Double(n) + 10, height: 40 + cell * Double(n) + 10, title: "\(title) confusion matrix")
        svg.text(title, x: left, y: 14, size: 13, bold: true)
        let top = 30.0
        let peak = Double(max(m.flatMap { $0 }.max() ?? 1, 1))
        for (i, row) in m.enumerated() {
            svg.text(
                i < names.count ? names[i] : "\(i)", x: left - 6, y: top + cell * (Double(i) + 0.6), size: 10,
                anchor: "end")
            for (j, v) in row.enumerated() {
                let shade = Double(v) / peak
                let label = { (k: Int) in k < names.count ? names[k] : "\(k)" }
                svg.rect(
                    x: left + cell * Double(j), y: top + cell * Double(i), width: cell - 1, height: cell - 1,
                    fill: v == 0 ? "#f6f6f6" : tint(colour, 0.25 + 0.75 * shade),
                    tooltip: "true \(label(i)), predicted \(label(j)): \(v)")
                svg.text(
                    "\(v)", x: left + cell * (Double(j) + 0.5), y: top + cell * (Double(i) + 0.6), size: 11,
                    anchor: "middle", fill: shade > 0.6 ? "#fff" : "#222")
            }
        }
        return svg.render()
    }

    /// `#rrggbb` mixed with white: `amount` 1 is the colour, 0 white.
    static func tint(_ hex: String, _ amount: Double) -> String {
        let digits = Array(hex.utf8.dropFirst())
        guard digits.count == 6 else { return hex }
        func channel(_ i: Int) -> Int {
            Int(String(decoding: digits[(2 * i)..<(2 * i + 2)], as: UTF8.self), radix: 16) ?? 0
        }
        let a = min(max(amount, 0), 1)
        let mixed = (0..<3).map { i in Int((255 - Double(255 - channel(i)) * a).rounded()) }
        let hexDigits = Array("0123456789abcdef")
        return "#" + mixed.map { String([hexDigits[$0 / 16], hexDigits[$0 % 16]]) }.joined()
    }

    static func layers(_ r: JSONValue) -> String {
        var s = "<section id=\"layers\"><h2>Layers</h2>\n"
        let all = r["layers"]?.items ?? []
        let points = all.enumerated().compactMap { i, l -> (Int, String, Double)? in
            guard let v = l["sqnr_db"]?.number else { return nil }
            return (i, l["name"]?.text ?? "", v)
        }
        let floats = all.enumerated().filter { $0.element["precision"]?.text == "float32" }
        s +=
            "<p class=\"note\">\(all.count) layers, \(all.count - floats.count) in int8, \(floats.count) in float32.</p>\n"
        if points.isEmpty {
            s += "<p class=\"note\">Per-layer SQNR needs validation data (<code>--val</code>).</p>\n"
        } else {
            s += sqnrChart(points, floats: floats.map { ($0.offset, $0.element["name"]?.text ?? "") }, count: all.count)
            let worst = points.sorted { ($0.2, $0.0) < ($1.2, $1.0) }.prefix(5)
            s +=
                "<h3>Lowest SQNR</h3>\n"
                + table(
                    ["layer", "op", "SQNR"],
                    worst.map { [esc($0.1), esc(all[$0.0]["op"]?.text ?? ""), fmt($0.2, "dB")] }, numeric: [2])
        }
        let hist = r["accuracy"]?["histograms"]?.items ?? []
        if !hist.isEmpty {
            s += "<h3>Activations of the worst layers against their int8 range</h3>\n<div class=\"row\">"
            for h in hist { s += histogram(h) }
            s += "</div>\n"
        }
        s += rounding(r)
        let f32 = r["float32_ops"]?.items ?? []
        if !f32.isEmpty {
            s +=
                "<h3>Ops left in float32</h3>\n"
                + table(
                    ["node", "op", "why"],
                    f32.prefix(60).map {
                        [esc($0["name"]?.text ?? ""), esc($0["op"]?.text ?? ""), esc($0["reason"]?.text ?? "")]
                    })
            if f32.count > 60 { s += "<p class=\"note\">… and \(f32.count - 60) more (report.json).</p>\n" }
        }
        return s + "</section>\n"
    }

    /// Learned rounding's gain per layer and what the accuracy target kept in float32.
    static func rounding(_ r: JSONValue) -> String {
        var s = ""
        if let m = r["mixed_precision"], case .object = m {
            let kept = m["kept_float32"]?.items ?? []
            var target: [String] = []
            if let a = m["target_agreement"]?.number { target.append("agreement ≥ \(SVG.num(a)) %") }
            if let d = m["target_top1_drop"]?.number { target.append("top-1 drop ≤ \(SVG.num(d)) points") }
            if let p = m["target_prob_delta"]?.number { target.append("max |Δp| ≤ \(SVG.num(p)) points") }
            let met = m["met"]?.flag == true
            s +=
                "<h3>Accuracy target</h3>\n<p>\(esc(target.joined(separator: ", "))): "
                + "<span class=\"\(met ? "ok" : "bad")\">\(met ? "met" : "missed")</span>, agreement "
                + "\(fmt(m["agreement"]?.number, "%")), max |Δp| \(fmt((m["prob_delta"]?.number).map { $0 / 100 }, "pts")), "
                + "\(kept.count) activations kept in float32 (+"
                + "\(bytes(Int(m["extra_weight_bytes"]?.number ?? 0))) of weights), "
                + "\(fmt(m["evaluations"]?.number)) exact int8 evaluations.</p>\n"
            if !kept.isEmpty {
                s += table(
                    ["activation", "ops in float32", "logit SQNR with it alone in float32"],
                    kept.map { k in
                        [
                            esc(k["value"]?.text ?? ""),
                            esc((k["nodes"]?.items ?? []).compactMap(\.text).joined(separator: ", ")),
                            fmt(k["logit_sqnr_db_alone"]?.number, "dB"),
                        ]
                    }, numeric: [2])
            }
        }
        if let a = r["calibration"]?["adaround"], let layers = a["layers"]?.items, !layers.isEmpty {
            let gains = layers.map { l in
                (l["node"]?.text ?? "", l["nearest_sqnr_db"]?.number ?? 0, l["adaround_sqnr_db"]?.number ?? 0)
            }
            let kept = layers.filter { $0["kept"]?.flag == true }.count
            let flipped = layers.reduce(0.0) { $0 + ($1["flipped_weights"]?.number ?? 0) }
            let total = layers.reduce(0.0) { $0 + ($1["weights"]?.number ?? 0) }
            s +=
                "<h3>Learned rounding (AdaRound)</h3>\n<p class=\"note\">\(kept) of \(layers.count) layers re-rounded, "
                + "\(fmt(flipped)) of \(fmt(total)) weights away from nearest, "
                + "\(fmt(a["iterations"]?.number)) iterations per layer. Each layer's output SQNR on the calibration "
                + "data, nearest → learned; the largest gains:</p>\n"
            let best = gains.indices.sorted { (gains[$1].2 - gains[$1].1, $0) < (gains[$0].2 - gains[$0].1, $1) }
            s += table(
                ["layer", "nearest", "learned", "gain"],
                best.prefix(8).map { i in
                    [esc(gains[i].0), fmt(gains[i].1, "dB"), fmt(gains[i].2, "dB"), fmt(gains[i].2 - gains[i].1, "dB")]
                }, numeric: [1, 2, 3])
        }
        return s
    }

    static func sqnrChart(_ points: [(Int, String, Double)], floats: [(Int, String)], count: Int) -> String {
        let (left, top, w, h) = (44.0, 12.0, 840.0, 200.0)
        let finite = points.map(\.2).filter(\.isFinite)
        let hi = max(10, ((finite.max() ?? 40) / 10).rounded(.up) * 10)
        let lo = min(0, ((finite.min() ?? 0) / 10).rounded(.down) * 10)
        var svg = SVG(
            width: left + w + 20, height: top + h + 50, title: "Per-layer SQNR along the network, float32 layers marked"
        )
        func x(_ i: Int) -> Double { left + w * Double(i) / Double(max(count - 1, 1)) }
        func y(_ v: Double) -> Double { top + h * (1 - (min(max(v, lo), hi) - lo) / (hi - lo)) }
        for t in stride(from: lo, through: hi, by: 10) {
            svg.line(x1: left, y1: y(t), x2: left + w, y2: y(t), stroke: "#e4e4e4")
            svg.text(SVG.num(t), x: left - 6, y: y(t) + 4, size: 10, anchor: "end")
        }
        svg.text("SQNR (dB)", x: 12, y: top + h / 2, size: 11, anchor: "middle", rotate: -90)
        for (i, name) in floats {
            svg.line(x1: x(i), y1: top, x2: x(i), y2: top + h, stroke: failColour, width: 1, dash: "3,3")
            svg.rect(x: x(i) - 3, y: top + h + 2, width: 6, height: 8, fill: failColour, tooltip: "\(name): float32")
        }
        svg.polyline(points.map { (x($0.0), y($0.2)) }, stroke: int8Colour)
        // the three worst marked, their names stacked below the lowest point
        let worst = Array(points.sorted { ($0.2, $0.0) < ($1.2, $1.0) }.prefix(3))
        let marked = Set(worst.map(\.0))
        for p in points {
            svg.circle(
                cx: x(p.0), cy: y(p.2), r: marked.contains(p.0) ? 4 : 2.2,
                fill: marked.contains(p.0) ? failColour : int8Colour,
                tooltip: "\(p.1): \(fmt(p.2, "dB"))")
        }
        if let first = worst.first {
            let right = x(first.0) > left + w * 0.7
            let below = y(first.2) < top + h * 0.55
            for (k, p) in worst.enumerated() {
                let dy = below ? 16 + 13 * Double(k) : -12 - 13 * Double(worst.count - 1 - k)
                svg.text(
                    "\(k + 1). \(p.1) \(fmt(p.2, "dB"))", x: x(first.0) + (right ? -8 : 8), y: y(first.2) + dy,
                    size: 10, anchor: right ? "end" : "start", fill: failColour)
            }
        }
        svg.text("input → output (\(count) layers)", x: left + w / 2, y: top + h + 26, size: 11, anchor: "middle")
        if !floats.isEmpty {
            svg.rect(x: left, y: top + h + 34, width: 6, height: 8, fill: failColour)
            svg.text("float32 layer", x: left + 10, y: top + h + 42, size: 10)
        }
        return svg.render() + "\n"
    }

    static func histogram(_ h: JSONValue) -> String {
        let counts = (h["counts"]?.items ?? []).map { $0.number ?? 0 }
        let (lo, hi) = (h["lo"]?.number ?? 0, h["hi"]?.number ?? 1)
        let (clo, chi) = (h["clip_lo"]?.number ?? 0, h["clip_hi"]?.number ?? 1)
        let name = h["layer"]?.text ?? ""
        let (left, top, w, ht) = (8.0, 22.0, 280.0, 90.0)
        var svg = SVG(width: left + w + 8, height: top + ht + 34, title: "\(name): activation histogram and int8 range")
        svg.text(name, x: left, y: 14, size: 11, bold: true)
        let peak = log1p(counts.max() ?? 1)
        let bw = w / Double(max(counts.count, 1))
        for (i, c) in counts.enumerated() where c > 0 {
            let bh = ht * log1p(c) / max(peak, 1e-9)
            svg.rect(
                x: left + bw * Double(i), y: top + ht - bh, width: bw, height: bh, fill: fp32Colour,
                tooltip: "\(Int(c))")
        }
        func x(_ v: Double) -> Double { left + w * (v - lo) / max(hi - lo, 1e-30) }
        svg.line(x1: x(clo), y1: top, x2: x(clo), y2: top + ht, stroke: int8Colour, width: 2)
        svg.line(x1: x(chi), y1: top, x2: x(chi), y2: top + ht, stroke: int8Colour, width: 2)
        svg.text("int8 range \(fmt(clo)) … \(fmt(chi))", x: left, y: top + ht + 14, size: 10, fill: int8Colour)
        let out = Int(h["below"]?.number ?? 0) + Int(h["above"]?.number ?? 0)
        svg.text("log counts; \(out) values beyond the plot", x: left, y: top + ht + 28, size: 10, fill: "#555")
        return svg.render()
    }

    static func provenance(_ r: JSONValue) -> String {
        let src = r["source"]
        let cal = r["calibration"]
        var rows: [[String]] = [
            ["source file", esc(src?["path"]?.text ?? "")],
            ["format", esc(src?["format"]?.text ?? "")],
            ["SHA-256", "<code>\(esc(src?["sha256"]?.text ?? ""))</code>"],
            [
                "architecture",
                esc(src?["architecture"]?.text ?? "") + " (\(fmt(src?["parameters"]?.number)) parameters)",
            ],
            ["fkdc version", esc(r["fkdc_version"]?.text ?? "")],
            ["target", esc(r["target"]?.text ?? "")],
            ["calibration", esc(cal?["description"]?.text ?? "")],
            ["calibration method", esc(cal?["method"]?.text ?? "") + ", " + esc(cal?["mode"]?.text ?? "")],
            ["calibration data", esc(cal?["data"]?.text ?? "none (data-free)")],
            ["weights", esc(cal?["weights"]?.text ?? "")],
            ["logits", esc(cal?["logits"]?.text ?? "")],
            ["preprocessing", esc(r["preprocessing"]?.text ?? "")],
        ]
        if let c = r["c"], c["emitted"]?.flag == true {
            rows.append([
                "generated C",
                "workspace \(bytes(Int(c["workspace_bytes"]?.number ?? 0))), \(fmt(c["int8_ops"]?.number)) int8 ops, \(fmt(c["float32_ops"]?.number)) float32",
            ])
        }
        if let c = r["cuda"], c["emitted"]?.flag == true {
            rows.append(["generated CUDA", esc(c["precision"]?.text ?? "")])
        }
        return "<section id=\"provenance\"><h2>Provenance</h2>\n" + table(["", ""], rows) + "</section>\n"
    }
}

extension JSONValue {
    var text: String? {
        if case .string(let s) = self { return s }
        return nil
    }
    var flag: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }
    var items: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }
    var members: [JSONMember]? {
        if case .object(let m) = self { return m }
        return nil
    }
    /// A square matrix of counts.
    var matrix: [[Int]]? {
        guard let rows = items?.map({ $0.items?.compactMap { $0.number.map { Int($0) } } ?? [] }) else { return nil }
        return rows.allSatisfy { $0.count == rows.count } ? rows : nil
    }
}
