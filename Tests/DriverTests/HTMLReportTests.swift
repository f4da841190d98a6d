import CImageDecode
import Foundation
import FoundationXML
import Testing

@testable import Driver
@testable import GraphIR

/// report.html: drawn from report.json alone (compile and `fkdc report` write the same page),
/// self-contained, every picture well-formed SVG, the page rendered by headless Chromium.
@Suite(.serialized) struct HTMLReportTests {
    /// The sample student compiled with a few calibration and validation images (one class
    /// folder each of samples/fundus/val holds 10; the limit keeps 8 of all), with learned
    /// rounding and an accuracy target plain int8 meets.
    static let compiled: (dir: String, page: String, json: [UInt8])? = {
        let dir = NSTemporaryDirectory() + "fkdc-html-\(getpid())"
        do {
            let m = try ModelLoader.load(path: Repo.path("samples/student.ckpt"))
            var o = CompileOptions(output: dir)
            o.target = TargetProfile.named("jetson-nano")!
            o.quantize.calib = Repo.path("samples/fundus/calib")
            o.quantize.val = Repo.path("samples/fundus/val")
            o.quantize.limit = 12
            o.quantize.rounding = .adaround
            o.quantize.adaroundIterations = 20
            o.quantize.target = AccuracyTarget(agreement: 90)
            o.gates.minAgreement = 90
            _ = try Compiler.run(m, options: o)
            let page = try String(contentsOfFile: dir + "/report.html", encoding: .utf8)
            let json = Array(try Data(contentsOf: URL(fileURLWithPath: dir + "/report.json")))
            return (dir, page, json)
        } catch {
            print("HTMLReportTests fixture failed: \(error)")
            return nil
        }
    }()

    static func svgs(_ page: String) -> [String] {
        var out: [String] = []
        var rest = Substring(page)
        while let start = rest.range(of: "<svg "),
            let end = rest.range(of: "</svg>", range: start.upperBound..<rest.endIndex)
        {
            out.append(String(rest[start.lowerBound..<end.upperBound]))
            rest = rest[end.upperBound...]
        }
        return out
    }

    @Test func compileAndFkdcReportDrawTheSameSelfContainedPage() throws {
        let c = try #require(Self.compiled)
        #expect(try HTMLReport.render(jsonBytes: c.json, file: "report.json") == c.page)
        #expect(c.page.utf8.count < 1 << 20)
        for banned in ["http", "src=", "<script", "url(", "@import", "<link"] {
            #expect(!c.page.contains(banned), "report.html holds \(banned)")
        }
        for id in ["verdict", "size", "accuracy", "layers", "provenance"] {
            #expect(c.page.contains("<section id=\"\(id)\">"), "no \(id) section")
        }
        for s in [
            "PASS", "size_ratio", "agreement", "0_normal", "1_diabetic_retinopathy", "2_glaucoma", "3_cataract",
            "Confusion matrices", "int8 weights", "SHA-256", "features.", "jetson-nano",
            "Learned rounding (AdaRound)", "53 of 53 layers re-rounded", "Accuracy target", "agreement ≥ 90 %",
        ] {
            #expect(c.page.contains(s), "report.html lacks \(s)")
        }
    }

    /// `fkdc report DIR` (and `-o`) draws the page compile wrote; a file that is not a report is
    /// exit 2 with nothing written.
    @Test func fkdcReportRedrawsFromTheJSON() throws {
        guard CLI.binary != nil else {
            print("skipped: build fkdc first")
            return
        }
        let c = try #require(Self.compiled)
        let copy = c.dir + "/again"
        try FileManager.default.createDirectory(atPath: copy, withIntermediateDirectories: true)
        try Data(c.json).write(to: URL(fileURLWithPath: copy + "/report.json"))
        let r = try CLI.run(["report", copy])
        #expect(r.code == 0, "\(r.err)")
        #expect(try String(contentsOfFile: copy + "/report.html", encoding: .utf8) == c.page)
        let o = try CLI.run(["report", copy + "/report.json", "-o", copy + "/other.html"])
        #expect(o.code == 0 && (try? String(contentsOfFile: copy + "/other.html", encoding: .utf8)) == c.page)
        try Data("{\"gates\": []}".utf8).write(to: URL(fileURLWithPath: copy + "/bad.json"))
        let bad = try CLI.run(["report", copy + "/bad.json", "-o", copy + "/bad.html"])
        #expect(bad.code == 2 && bad.err.contains("bad.json") && bad.err.contains("not an fkdc report.json"))
        #expect(!FileManager.default.fileExists(atPath: copy + "/bad.html"))
    }

    /// Every picture parses as XML, holds shapes, and names itself.
    @Test func everySVGParses() throws {
        let c = try #require(Self.compiled)
        let pictures = Self.svgs(c.page)
        // size, recall, two confusion matrices, per-layer SQNR, four histograms
        #expect(pictures.count >= 9, "\(pictures.count) pictures")
        final class Counter: NSObject, XMLParserDelegate {
            var elements: [String: Int] = [:]
            func parser(
                _ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]
            ) { elements[name, default: 0] += 1 }
        }
        for svg in pictures {
            let counter = Counter()
            let p = XMLParser(data: Data(svg.utf8))
            p.delegate = counter
            #expect(p.parse(), "not well-formed: \(p.parserError.map { "\($0)" } ?? "") in \(svg.prefix(200))")
            #expect(counter.elements["svg"] == 1 && (counter.elements["title"] ?? 0) >= 1)
            #expect((counter.elements["rect"] ?? 0) + (counter.elements["polyline"] ?? 0) > 0)
        }
    }

    /// Names from the model and the data are text, never markup; a JSON that is not a report is
    /// refused with the file named.
    @Test func textFromTheReportIsEscaped() throws {
        let evil = "<script>alert(1)</script>\" onload=\"x"
        let json = """
            {"gates": [{"name": "size_ratio", "limit": 0.3, "value": 0.25, "passed": true}],
             "size": {"fp32_weight_bytes": 400, "int8_weight_bytes": 100, "binary_bytes": 180,
                      "breakdown": [{"part": "int8 weights", "bytes": 100}]},
             "source": {"architecture": "\(evil.replacingOccurrences(of: "\"", with: "\\\""))"},
             "accuracy": {"measured": true, "samples": 2, "labelled": true,
               "per_class": {"\(evil.replacingOccurrences(of: "\"", with: "\\\""))": {"samples": 2, "fp32_recall": 1, "int8_recall": 0.5}},
               "confusion": {"fp32": [[2]], "int8": [[1]]}},
             "layers": [{"name": "a&b", "op": "conv2d", "precision": "int8", "sqnr_db": 20}]}
            """
        let page = try HTMLReport.render(jsonBytes: Array(json.utf8), file: "r.json")
        #expect(!page.contains("<script") && page.contains("&lt;script&gt;") && page.contains("a&amp;b"))
        for svg in Self.svgs(page) { #expect(XMLParser(data: Data(svg.utf8)).parse()) }
        #expect(SVG.num(-0.001) == "0" && SVG.num(12.5) == "12.5" && SVG.num(-3.14159) == "-3.14" && SVG.num(7) == "7")
        let e = #expect(throws: DriverError.self) {
            try HTMLReport.render(jsonBytes: Array("[1, 2]".utf8), file: "x.json")
        }
        #expect(e?.exitCode == 2 && e?.message.hasPrefix("x.json: ") == true)
        #expect(throws: DriverError.self) {
            try HTMLReport.render(jsonBytes: Array("{\"gates\": ".utf8), file: "y.json")
        }
    }

    /// Headless Chromium (Debian's `chromium`, which CI installs) renders the page: its DOM text
    /// holds the gate values and the class names, and the screenshot is not blank.
    @Test func chromiumRendersThePage() throws {
        guard let chromium = CGenTests.which("chromium") ?? CGenTests.which("chromium-browser") else {
            print("skipped: chromium not found (apt-get install chromium)")
            return
        }
        let c = try #require(Self.compiled)
        let url = "file://\(c.dir)/report.html"
        let flags = [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
            "--user-data-dir=\(c.dir)/chromium",
        ]
        let dom = try CGenTests.sh(chromium, flags + ["--dump-dom", url])
        #expect(dom.code == 0, "\(dom.out.suffix(400))")
        let report = try JSONSerialization.jsonObject(with: Data(c.json)) as? [String: Any]
        let gates = report?["gates"] as? [[String: Any]] ?? []
        #expect(!gates.isEmpty)
        for g in gates {
            let value = HTMLReport.fmt(g["value"] as? Double)
            #expect(
                dom.out.contains(g["name"] as? String ?? "?") && dom.out.contains(value), "gate \(g) not on the page")
        }
        for name in ["0_normal", "1_diabetic_retinopathy", "2_glaucoma", "3_cataract"] {
            #expect(dom.out.contains(name), "\(name) not on the page")
        }
        let png = "\(c.dir)/report.png"
        let shot = try CGenTests.sh(chromium, flags + ["--window-size=1000,3200", "--screenshot=\(png)", url])
        #expect(shot.code == 0, "\(shot.out.suffix(400))")
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: png)))
        var (w, h): (Int32, Int32) = (0, 0)
        var pixels: UnsafeMutablePointer<UInt8>?
        var err = [CChar](repeating: 0, count: 256)
        #expect(fkdc_decode_image(bytes, bytes.count, 1 << 24, &w, &h, &pixels, &err, err.count) == 0)
        guard let px = pixels else { return }
        defer { fkdc_image_free(px) }
        #expect(w == 1000 && h == 3200)
        // not blank: many colours, and the verdict's green, fp32's blue and int8's orange all drawn
        var colours = Set<Int>()
        for i in stride(from: 0, to: Int(w) * Int(h), by: 7) {
            colours.insert(Int(px[3 * i]) << 16 | Int(px[3 * i + 1]) << 8 | Int(px[3 * i + 2]))
        }
        #expect(colours.count > 50, "\(colours.count) colours: blank?")
        for hex in [0x2e8b57, 0x4a6fa5, 0xe07b39] { #expect(colours.contains(hex), "no #\(String(hex, radix: 16))") }
    }
}
