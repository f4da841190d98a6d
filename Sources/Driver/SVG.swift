/// A small SVG writer for report.html: typed shapes, every text and attribute value escaped,
/// numbers printed with at most two decimals (the same bytes for the same report).
struct SVG {
    let width: Double
    let height: Double
    /// The accessible name of the picture (its <title>).
    let title: String
    private var items: [String] = []

    init(width: Double, height: Double, title: String) {
        self.width = width
        self.height = height
        self.title = title
    }

    /// `&`, `<`, `>`, `"` and `'` as entities (text and attribute values).
    static func escape(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }

    /// A coordinate or length: two decimals at most, no exponent, no "-0".
    static func num(_ v: Double) -> String {
        guard v.isFinite else { return "0" }
        let c = Int(max(min((v * 100).rounded(), 1e15), -1e15))
        let (whole, frac) = (abs(c) / 100, abs(c) % 100)
        var s = (c < 0 ? "-" : "") + String(whole)
        if frac > 0 { s += "." + (frac % 10 == 0 ? String(frac / 10) : (frac < 10 ? "0" : "") + String(frac)) }
        return s
    }

    private static func attributes(_ a: [(String, String)]) -> String {
        a.map { " \($0.0)=\"\(escape($0.1))\"" }.joined()
    }

    private mutating func element(_ name: String, _ a: [(String, String)], tooltip: String?) {
        if let t = tooltip {
            items.append("<\(name)\(Self.attributes(a))><title>\(Self.escape(t))</title></\(name)>")
        } else {
            items.append("<\(name)\(Self.attributes(a))/>")
        }
    }

    mutating func rect(
        x: Double, y: Double, width w: Double, height h: Double, fill: String, stroke: String? = nil,
        tooltip: String? = nil
    ) {
        var a = [
            ("x", Self.num(x)), ("y", Self.num(y)), ("width", Self.num(max(w, 0))), ("height", Self.num(max(h, 0))),
            ("fill", fill),
        ]
        if let stroke { a.append(("stroke", stroke)) }
        element("rect", a, tooltip: tooltip)
    }

    mutating func line(
        x1: Double, y1: Double, x2: Double, y2: Double, stroke: String, width w: Double = 1, dash: String? = nil
    ) {
        var a = [
            ("x1", Self.num(x1)), ("y1", Self.num(y1)), ("x2", Self.num(x2)), ("y2", Self.num(y2)),
            ("stroke", stroke), ("stroke-width", Self.num(w)),
        ]
        if let dash { a.append(("stroke-dasharray", dash)) }
        element("line", a, tooltip: nil)
    }

    mutating func polyline(_ points: [(Double, Double)], stroke: String, width w: Double = 1.5) {
        guard !points.isEmpty else { return }
        let p = points.map { "\(Self.num($0.0)),\(Self.num($0.1))" }.joined(separator: " ")
        element(
            "polyline", [("points", p), ("fill", "none"), ("stroke", stroke), ("stroke-width", Self.num(w))],
            tooltip: nil)
    }

    mutating func circle(cx: Double, cy: Double, r: Double, fill: String, tooltip: String? = nil) {
        element(
            "circle", [("cx", Self.num(cx)), ("cy", Self.num(cy)), ("r", Self.num(r)), ("fill", fill)], tooltip: tooltip
        )
    }

    /// Text at (x, y): `anchor` start, middle or end; `rotate` degrees about (x, y).
    mutating func text(
        _ s: String, x: Double, y: Double, size: Double = 11, anchor: String = "start", fill: String = "#222",
        bold: Bool = false, rotate: Double? = nil
    ) {
        var a = [
            ("x", Self.num(x)), ("y", Self.num(y)), ("font-size", Self.num(size)), ("text-anchor", anchor),
            ("fill", fill),
        ]
        if bold { a.append(("font-weight", "bold")) }
        if let rotate { a.append(("transform", "rotate(\(Self.num(rotate)) \(Self.num(x)) \(Self.num(y)))")) }
        items.append("<text\(Self.attributes(a))>\(Self.escape(s))</text>")
    }

    func render() -> String {
        let (w, h) = (Self.num(width), Self.num(height))
        // inline in HTML: the parser gives <svg> its namespace, so no xmlns (and no URL) is written
        return "<svg viewBox=\"0 0 \(w) \(h)\" width=\"\(w)\" height=\"\(h)\" "
            + "role=\"img\" font-family=\"sans-serif\"><title>\(Self.escape(title))</title>\n"
            + items.joined(separator: "\n") + "\n</svg>"
    }
}
