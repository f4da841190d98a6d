import CKernels
import Foundation
import Testing

@testable import Driver
@testable import GraphIR

/// Preprocessing against what PIL and torchvision's eval transform make of real photographs and
/// a high-frequency pattern (Tests/Fixtures/preprocess, scripts/make_preprocess_fixtures.py):
/// every resized and cropped pixel equal (PIL's 8-bit path), the normalised tensor equal to
/// torchvision's float32 one.
@Suite struct PreprocessTests {
    static let dir = Repo.path("Tests/Fixtures/preprocess")

    struct Case {
        var image: String
        var expected: String
        var filter: String
        var resize: String
        var crop: String?
    }

    static let cases: [Case] = {
        guard let data = FileManager.default.contents(atPath: dir + "/cases.json"),
            let list = try? JSONSerialization.jsonObject(with: data) as? [[String: Any]]
        else { return [] }
        return list.map {
            Case(
                image: $0["image"] as? String ?? "", expected: $0["expected"] as? String ?? "",
                filter: $0["filter"] as? String ?? "", resize: $0["resize"] as? String ?? "",
                crop: $0["crop"] as? String)
        }
    }()

    /// The pixels of an 8-bit image as fkdc reads them, as integers in NCHW order.
    static func pixels(_ file: String) throws -> (values: [Int], shape: [Int]) {
        var raw = Preprocessing()
        raw.resize = .none
        (raw.mean, raw.std) = ([0, 0, 0], [1, 1, 1])
        // the model size is the image's own: read it from the PNG header (width, height at 16)
        let d = try #require(FileManager.default.contents(atPath: file))
        let be = { (o: Int) in d[o..<(o + 4)].reduce(0) { $0 << 8 | Int($1) } }
        (raw.width, raw.height) = (be(16), be(20))
        let t = try DatasetLoader.image(file, raw)
        return (t.floatArray().map { Int(($0 * 255).rounded()) }, t.shape.dims)
    }

    static func preprocessing(_ c: Case, outputShape s: [Int]) throws -> Preprocessing {
        var p = Preprocessing()
        (p.height, p.width) = (s[2], s[3])
        p.interpolation = try #require(Preprocessing.Interpolation(rawValue: c.filter))
        let size = try #require(Preprocessing.Size(parsing: c.resize))
        p.resize = c.resize.contains("x") ? .exact(size) : .shorterSide(size.height)
        p.crop = try c.crop.map { try #require(Preprocessing.Size(parsing: $0)) }
        (p.mean, p.std) = ([0, 0, 0], [1, 1, 1])
        return p
    }

    @Test func fixturesArePresent() {
        #expect(Self.cases.count == 18, "Tests/Fixtures/preprocess/cases.json")
        #expect(Self.formats.count == 6, "Tests/Fixtures/preprocess/formats.json")
    }

    /// PIL's bilinear, bicubic and nearest resize (down and up, shorter side or HxW) and
    /// torchvision's centre crop (with padding when the crop is larger), pixel for pixel.
    @Test(arguments: cases.map(\.expected))
    func matchesPIL(_ expected: String) throws {
        let c = try #require(Self.cases.first { $0.expected == expected })
        let want = try Self.pixels(Self.dir + "/" + c.expected)
        let p = try Self.preprocessing(c, outputShape: want.shape)
        let got = try DatasetLoader.image(Self.dir + "/" + c.image, p)
        #expect(got.shape.dims == want.shape)
        let g = got.floatArray().map { Int(($0 * 255).rounded()) }
        let diff = zip(g, want.values).map { abs($0 - $1) }
        #expect(
            diff.max() == 0, "\(expected): max difference \(diff.max() ?? -1), \(diff.filter { $0 > 0 }.count) values")
    }

    /// The image kernels called directly (fk_resample_u8, fk_resize_nearest_u8, fk_crop_normalise
    /// and what they use): an 8-bit resize to PIL's bytes, rows with padding (a stride larger than
    /// the row), and the crop's zero padding.
    @Test func imageKernelsMatchPILDirectly() throws {
        let src = try Self.pixels(Self.dir + "/stripes.png")
        let (h, w) = (src.shape[2], src.shape[3])
        // HWC rows, 5 spare bytes each
        let stride = w * 3 + 5
        var hwc = [UInt8](repeating: 0, count: h * stride)
        for c in 0..<3 {
            for y in 0..<h { for x in 0..<w { hwc[y * stride + x * 3 + c] = UInt8(src.values[(c * h + y) * w + x]) } }
        }
        // exact HxW cases: stripes_bilinear_90x150 (down), stripes_bicubic_300x500 (up)
        for (filter, file, oh, ow) in [
            (FK_FILTER_BILINEAR, "stripes_bilinear_90x150.png", 90, 150),
            (FK_FILTER_BICUBIC, "stripes_bicubic_300x500.png", 300, 500),
        ] {
            let want = try Self.pixels(Self.dir + "/" + file)
            var out = [UInt8](repeating: 0, count: oh * ow * 3)
            let bytes = fk_resample_scratch(filter, Int32(w), Int32(h), Int32(ow), Int32(oh), 3)
            var scratch = [Double](repeating: 0, count: bytes / 8 + 1)
            scratch.withUnsafeMutableBytes { s in
                fk_resample_u8(hwc, Int32(w), Int32(h), stride, 3, &out, Int32(ow), Int32(oh), filter, s.baseAddress)
            }
            var got = [Int](repeating: 0, count: out.count)
            for c in 0..<3 { for p in 0..<(oh * ow) { got[c * oh * ow + p] = Int(out[p * 3 + c]) } }
            #expect(got == want.values, "\(file)")
        }
        // nearest keeps the top-left-of-centre source pixel: a 2x downscale takes odd ones
        var near = [UInt8](repeating: 0, count: (h / 2) * (w / 2) * 3)
        fk_resize_nearest_u8(hwc, Int32(w), Int32(h), stride, 3, &near, Int32(w / 2), Int32(h / 2))
        let sx = Double(w) / Double(w / 2)
        let sy = Double(h) / Double(h / 2)
        #expect(near[0] == hwc[Int(sy * 0.5) * stride + Int(sx * 0.5) * 3])
        // a crop larger than the image reads zeros outside it, normalised as (0/255 - mean) / std
        var f = [Float](repeating: 0, count: 3 * 4 * 4)
        let tiny: [UInt8] = [10, 20, 30, 40, 50, 60]  // 2x1 RGB
        fk_crop_normalise(tiny, 2, 1, 3, -1, -1, 4, 4, [2, 1, 0], [0, 0, 0.5], [1, 1, 2], 0, &f)
        #expect(f[0] == 0 && f[16 + 6] == 50 / 255 && f[5] == 30 / 255 && f[32] == -0.25)
        // and the padding value where one is given (a letterbox's 114)
        fk_crop_normalise(tiny, 2, 1, 3, -1, -1, 4, 4, [2, 1, 0], [0, 0, 0.5], [1, 1, 2], 114, &f)
        #expect(f[0] == 114 / 255 && f[5] == 30 / 255 && f[32] == (114 / 255 - 0.5) / 2)
    }

    static let formats: [String] = {
        guard let data = FileManager.default.contents(atPath: dir + "/formats.json"),
            let list = try? JSONSerialization.jsonObject(with: data) as? [[String: Any]]
        else { return [] }
        return list.compactMap { $0["image"] as? String }
    }()

    /// Every PNG colour type and depth reads as PIL's `convert("RGB")` gives it (what
    /// torchvision's ImageFolder feeds a model): 16-bit colour by its high byte, 16-bit gray
    /// clipped to 255 (gray + alpha by its high byte), palette expanded, alpha dropped.
    @Test(arguments: formats)
    func pngFormatsReadAsPILDoes(_ image: String) throws {
        let got = try Self.pixels(Self.dir + "/" + image)
        let want = try Self.pixels(Self.dir + "/" + image.replacing(".png", with: "_rgb.png"))
        #expect(got.shape == want.shape)
        let differing = zip(got.values, want.values).filter { $0 != $1 }.count
        #expect(differing == 0, "\(image): \(differing) values differ from PIL's")
    }

    /// The size and offset rules called directly against torchvision's: `int(n * long / short)`
    /// for Resize(n), `int(round((size - crop) / 2))` (halves to even) for CenterCrop, and
    /// `-((crop - size) // 2)` where the crop pads.
    @Test func resizeAndCropRulesMatchTorchvision() {
        var p = Preprocessing()
        p.resize = .shorterSide(256)
        var k = p.kernelParameters
        for (w, h, ew, eh) in [
            (451, 300, 384, 256), (300, 451, 256, 384), (1411, 1411, 256, 256), (640, 427, 383, 256),
        ] {
            var (rw, rh): (Int32, Int32) = (0, 0)
            fk_resized_size(&k, Int32(w), Int32(h), &rw, &rh)
            #expect((Int(rw), Int(rh)) == (ew, eh), "\(w)x\(h)")
        }
        // Python: int(round(d / 2)) for d = 0…7 is 0, 0, 1, 2, 2, 2, 3, 4
        let pil = FK_PIPELINE_PIL
        #expect((0...7).map { Int(fk_crop_offset(Int32(224 + $0), 224, pil)) } == [0, 0, 1, 2, 2, 2, 3, 4])
        #expect(fk_crop_offset(221, 224, pil) == -1 && fk_crop_offset(220, 224, pil) == -2)
        // Hugging Face's center_crop floors (size - crop) / 2 both ways
        let hf = FK_PIPELINE_HF
        #expect((0...7).map { Int(fk_crop_offset(Int32(224 + $0), 224, hf)) } == [0, 0, 1, 1, 2, 2, 3, 3])
        #expect(fk_crop_offset(221, 224, hf) == -2 && fk_crop_offset(220, 224, hf) == -2)
        // the scratch refuses what it cannot read
        #expect(fk_preprocess_scratch(&k, 0, 10) == 0 && fk_preprocess_scratch(&k, 16385, 10) == 0)
    }

    /// torchvision's Resize(128) + CenterCrop(112) + ToTensor + Normalize(ImageNet), as float32.
    @Test func matchesTorchvisionsFloatTensor() throws {
        var p = Preprocessing()
        (p.height, p.width) = (112, 112)
        p.resize = .shorterSide(128)
        p.crop = Preprocessing.Size(112, 112)
        let got = try DatasetLoader.image(Self.dir + "/coffee.png", p)
        let want = try NPY.read(path: Self.dir + "/coffee_imagenet_128_112.npy")
        #expect(got.shape == want.shape)
        let worst = zip(got.floatArray(), want.floatArray()).map { abs($0 - $1) }.max() ?? 1
        #expect(worst == 0, "worst difference \(worst)")
        #expect(p.summary.contains("resize 128 (shorter side, bilinear) + centre crop 112x112"))
    }

    /// torchvision's fixtures (scripts/make_torchvision_fixtures.py): real photographs through its
    /// transforms on float32 tensors, and the sample student's logits under torch.
    static let torchvision = dir + "/torchvision"

    static func json(_ file: String) -> Any? {
        FileManager.default.contents(atPath: torchvision + "/" + file).flatMap {
            try? JSONSerialization.jsonObject(with: $0)
        }
    }

    /// The preprocessing of a torchvision fixture case: ImageNet normalisation, the model size
    /// the expected tensor's.
    static func torchvisionCase(_ c: [String: Any], height: Int, width: Int, pipeline: Preprocessing.Pipeline) throws
        -> Preprocessing
    {
        var p = Preprocessing()
        (p.height, p.width) = (height, width)
        p.pipeline = pipeline
        p.interpolation = try #require(Preprocessing.Interpolation(rawValue: c["filter"] as? String ?? "bilinear"))
        let resize = try #require(c["resize"] as? String)
        let size = try #require(Preprocessing.Size(parsing: resize))
        p.resize = resize.contains("x") ? .exact(size) : .shorterSide(size.height)
        p.crop = try (c["crop"] as? String).map { try #require(Preprocessing.Size(parsing: $0)) }
        return p
    }

    /// `--pipeline tensor` against torchvision's v2 transforms on float32 tensors (ToDtype(float32,
    /// scale=True), Resize(antialias=True), CenterCrop, Normalize) of a 1411 x 1411 fundus JPEG, a
    /// 427 x 640 JPEG and a 102 x 102 fundus crop: downscaling by up to 20x, upscaling, aspect
    /// changes, zero padding, every filter: within 1e-4 (measured: 4.2e-6 at worst).
    @Test func tensorPipelineMatchesTorchvisionsFloatTransforms() throws {
        let cases = try #require((Self.json("tensor.json") as? [String: Any])?["cases"] as? [[String: Any]])
        #expect(cases.count == 10)
        for c in cases {
            let want = try NPY.read(path: Self.torchvision + "/" + (c["expected"] as? String ?? ""))
            let p = try Self.torchvisionCase(c, height: want.shape[2], width: want.shape[3], pipeline: .tensor)
            let got = try DatasetLoader.image(Self.torchvision + "/" + (c["image"] as? String ?? ""), p)
            #expect(got.shape == want.shape)
            let worst = zip(got.floatArray(), want.floatArray()).map { abs($0 - $1) }.max() ?? 1
            #expect(worst <= 1e-4, "\(c["expected"] ?? ""): worst difference \(worst)")
        }
    }

    /// `preprocessor_config.json` of Hugging Face image processors (transformers' PIL backend:
    /// MobileNetV2's shortest edge 256 + crop 224, ViT's 224 x 224, a bicubic one whose crop pads)
    /// read and applied: the processors' float32 pixel values exactly, odd crop margins (floored)
    /// included.
    @Test func huggingFaceConfigsReproduceTheirImageProcessors() throws {
        let cases = try #require(Self.json("hf.json") as? [[String: Any]])
        #expect(cases.count == 9)
        for c in cases {
            var p = try Preprocessing.huggingFace(configAt: Self.torchvision + "/" + (c["config"] as? String ?? ""))
            let want = try NPY.read(path: Self.torchvision + "/" + (c["expected"] as? String ?? ""))
            (p.height, p.width) = (want.shape[2], want.shape[3])
            #expect(p.pipeline == .hf)
            let got = try DatasetLoader.image(Self.torchvision + "/" + (c["image"] as? String ?? ""), p)
            #expect(got.shape == want.shape)
            let worst = zip(got.floatArray(), want.floatArray()).map { abs($0 - $1) }.max() ?? 1
            #expect(worst == 0, "\(c["expected"] ?? ""): worst difference \(worst)")
        }
    }

    /// A config fkdc cannot reproduce exactly, or a malformed one, is refused naming the file and
    /// the key; the samples' own config (images fed as they are) is read beside the model.
    @Test func huggingFaceConfigsThatCannotBeReproducedAreRefused() throws {
        let dir = NSTemporaryDirectory() + "fkdc-hfconfig-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let good =
            #""do_resize": true, "size": {"shortest_edge": 256}, "resample": 2, "crop_size": 224, "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]"#
        let cases: [(String, String)] = [
            ("[1, 2]", "not a JSON object"),
            ("{\"size\": 224, \"resample\": 2}", "a plain number"),
            ("{\"size\": {\"shortest_edge\": 256}}", "resample missing"),
            ("{\(good), \"resample\": 1}", "resample must be"),
            ("{\(good), \"crop_pct\": 0.9}", "crop_pct"),
            ("{\(good), \"rescale_factor\": 1}", "rescale_factor"),
            ("{\(good), \"do_rescale\": false}", "do_rescale"),
            ("{\(good), \"image_std\": [0.5, 0, 0.5]}", "image_std"),
            ("{\(good), \"image_mean\": [0.5]}", "image_mean"),
            ("{\"size\": {\"height\": 1e30, \"width\": 3}, \"resample\": 2}", "size.height"),
            ("{\"size\": {\"height\": -4, \"width\": 3}, \"resample\": 2}", "size.height"),
            ("{\"do_resize\": \"yes\"}", "do_resize"),
            ("{\"size\": {\"shortest_edge\": 8, \"longest_edge\": 9}, \"resample\": 2}", "longest_edge"),
        ]
        let path = dir + "/" + Preprocessing.configName
        for (text, why) in cases {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            do {
                _ = try Preprocessing.declared(besideModel: dir + "/model.onnx")
                Issue.record("accepted: \(text)")
            } catch {
                #expect(error.message.contains(path) && error.message.contains(why), "\(error.message)")
                #expect(error.kind == .badInput)
            }
        }
        try "{\(good), \"do_flip_channel_order\": true}".write(toFile: path, atomically: true, encoding: .utf8)
        let p = try #require(try Preprocessing.declared(besideModel: dir + "/model.onnx"))
        #expect(p.resize == .shorterSide(256) && p.crop == Preprocessing.Size(224, 224) && p.channels == .bgr)
        #expect(try Preprocessing.declared(besideModel: NSTemporaryDirectory() + "no-such/model.pt") == nil)
        // the bundled samples declare they are fed as they are; elsewhere the default is the eval transform
        let samples = try #require(try Preprocessing.declared(besideModel: Repo.path("samples/student.pt")))
        #expect(samples.resize == .none && samples.crop == nil)
        var eval = Preprocessing()
        #expect(eval.kernelParameters.resize == FK_RESIZE_SHORTER && eval.kernelParameters.resize_h == 256)
        #expect(eval.summary.hasPrefix("resize 256 (shorter side, bilinear) + centre crop 224x224 + RGB"))
        (eval.height, eval.width) = (160, 320)
        #expect(
            eval.steps.resize == .exact(Preprocessing.Size(182, 365)) && eval.steps.crop == Preprocessing.Size(160, 320)
        )
    }

    /// `--exif-orientation`: every EXIF orientation (JPEG APP1, PNG eXIf) turned upright exactly
    /// as PIL's ImageOps.exif_transpose does (scripts/make_exif_fixtures.py); off, the pixels stay
    /// as stored, as PIL's loader leaves them.
    @Test func exifOrientationTurnsImagesUprightAsPILDoes() throws {
        let dir = Self.dir + "/exif"
        for (k, ext) in (1...8).map({ ($0, "jpg") }) + [(6, "png")] {
            let file = "\(dir)/orientation\(k).\(ext)"
            let data = try #require(FileManager.default.contents(atPath: file))
            #expect(data.withUnsafeBytes { ExifOrientation.of($0) } == k, "\(file)")
            let want = try Self.pixels("\(dir)/orientation\(k)_\(ext)_upright.png")
            var p = Preprocessing()
            p.resize = .none
            (p.mean, p.std) = ([0, 0, 0], [1, 1, 1])
            (p.height, p.width) = (want.shape[2], want.shape[3])
            p.exifOrientation = true
            let got = try DatasetLoader.image(file, p).floatArray().map { Int(($0 * 255).rounded()) }
            #expect(got == want.values, "orientation \(k) (\(ext))")
            if k >= 5 {  // off: the stored 40 x 27 pixels, which do not fit the upright 27 x 40
                p.exifOrientation = false
                #expect(throws: DriverError.self) { try DatasetLoader.image(file, p) }
            }
        }
        // truncated or damaged EXIF reads as "as stored", never past the bytes
        let jpeg = try #require(FileManager.default.contents(atPath: "\(dir)/orientation6.jpg"))
        for cut in stride(from: 2, to: min(jpeg.count, 200), by: 3) {
            #expect((1...8).contains(Data(jpeg.prefix(cut)).withUnsafeBytes { ExifOrientation.of($0) }))
        }
    }

    /// Letterboxing (scripts/make_pil_extra_fixtures.py, PIL's resize): `--resize fit` as
    /// ultralytics' LetterBox sizes and centres it (padding 114), `--resize height` as PaddleOCR's
    /// text-line rule (height fixed, width rounded up and capped, padded on the right with the
    /// normalised zero): the same floats exactly.
    @Test func letterboxesMatchTheirReferences() throws {
        let dir = Self.dir + "/letterbox"
        let data = try #require(FileManager.default.contents(atPath: dir + "/cases.json"))
        let cases = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        #expect(cases.count == 8)
        for c in cases {
            let want = try NPY.read(path: dir + "/" + (c["expected"] as? String ?? ""))
            var p = Preprocessing()
            (p.height, p.width) = (want.shape[2], want.shape[3])
            p.resize = c["resize"] as? String == "fit" ? .fit : .height
            p.padValue = Float(try #require(c["pad"] as? Double))
            p.mean = try #require(c["mean"] as? [Double]).map { Float($0) }
            p.std = try #require(c["std"] as? [Double]).map { Float($0) }
            let got = try DatasetLoader.image(dir + "/" + (c["image"] as? String ?? ""), p)
            #expect(got.shape == want.shape)
            let worst = zip(got.floatArray(), want.floatArray()).map { abs($0 - $1) }.max() ?? 1
            #expect(worst == 0, "\(c["expected"] ?? ""): worst difference \(worst)")
        }
        // the sizes directly: a 640 x 427 photo into 640 x 640 (ultralytics: 640 x 427, centred)
        var p = Preprocessing()
        (p.height, p.width, p.resize) = (640, 640, .fit)
        var k = p.kernelParameters
        var (rw, rh): (Int32, Int32) = (0, 0)
        fk_resized_size(&k, 640, 427, &rw, &rh)
        #expect((rw, rh) == (640, 427) && fk_crop_origin(&k, 427, 640) == -106)
        // a text line 100 x 30 into 48 x 320: width ceil(48 · 100 / 30) = 160, from the top left
        (p.height, p.width, p.resize) = (48, 320, .height)
        k = p.kernelParameters
        fk_resized_size(&k, 100, 30, &rw, &rh)
        #expect((rw, rh) == (160, 48) && fk_crop_origin(&k, 160, 320) == 0 && p.alignment == .topLeft)
        #expect(p.summary.hasPrefix("resize to height 48 (width in proportion up to 320, bilinear) + crop 48x320"))
    }

    /// The end-to-end check: the standard eval transform (Resize(256) + CenterCrop(224)) of each
    /// photograph through either pipeline, then the sample student in float32, gives torch's
    /// logits within 1e-4 relative (measured: 1.5e-6 at worst).
    @Test func studentLogitsOnPreprocessedPhotographsMatchTorch() throws {
        let entries = try #require(Self.json("logits.json") as? [[String: Any]])
        #expect(entries.count == 6)
        let m = try ModelLoader.load(path: Repo.path("samples/student.pt"))
        let evaluator = Evaluator(graph: m.graph)
        for e in entries {
            let pipeline = try #require(Preprocessing.Pipeline(rawValue: e["pipeline"] as? String ?? ""))
            let p = try Self.torchvisionCase(e, height: 224, width: 224, pipeline: pipeline)
            let x = try DatasetLoader.image(Self.torchvision + "/" + (e["image"] as? String ?? ""), p)
            let got = try evaluator.run([x])[0].floatArray()
            let want = try #require(e["logits"] as? [Double]).map { Float($0) }
            let scale = want.map(abs).max() ?? 1
            let worst = zip(got, want).map { abs($0 - $1) }.max() ?? 1
            #expect(got.count == 4 && worst / scale <= 1e-4, "\(e["image"] ?? "") \(pipeline): \(got) vs \(want)")
        }
    }

    @Test func settingsAreCheckedBeforeAnyImageIsRead() throws {
        #expect(Preprocessing.Size(parsing: "224")?.description == "224x224")
        #expect(Preprocessing.Size(parsing: "256x320") == Preprocessing.Size(256, 320))
        for bad in ["", "0", "x", "224x", "-3", "99999", "1x2x3", "a"] {
            #expect(Preprocessing.Size(parsing: bad) == nil)
        }
        var p = Preprocessing()
        p.resize = .shorterSide(256)
        #expect(p.invalidity?.contains("add --crop 224x224") == true)
        p.crop = Preprocessing.Size(200, 200)
        #expect(p.invalidity?.contains("the crop is 200x200") == true)
        p.crop = Preprocessing.Size(224, 224)
        #expect(p.invalidity == nil)
        p.resize = .shorterSide(0)
        #expect(p.invalidity?.contains("1…16384") == true)
        p.resize = .fit
        p.padValue = 256
        #expect(p.invalidity?.contains("padding value must be 0…255") == true)
        p.padValue = 114
        #expect(p.invalidity == nil)
        p.resize = .shorterSide(256)
        p.std = [1, 0, 1]
        #expect(throws: DriverError.self) { try DatasetLoader.preprocess([Self.dir + "/coffee.png"], p) }
    }

    /// BGR swaps the channels the model sees; nothing else changes.
    @Test func bgrSwapsChannels() throws {
        var p = Preprocessing()
        (p.height, p.width) = (112, 112)
        p.resize = .shorterSide(128)
        p.crop = Preprocessing.Size(112, 112)
        let rgb = try DatasetLoader.image(Self.dir + "/chelsea.png", p).floatArray()
        p.channels = .bgr
        (p.mean, p.std) = ([0.406, 0.456, 0.485], [0.225, 0.224, 0.229])
        let bgr = try DatasetLoader.image(Self.dir + "/chelsea.png", p).floatArray()
        let plane = 112 * 112
        #expect(Array(bgr[0..<plane]) == Array(rgb[(2 * plane)...]))
        #expect(Array(bgr[plane..<(2 * plane)]) == Array(rgb[plane..<(2 * plane)]))
    }

    /// `fkdc preprocess` on a class folder writes the tensors compile's loader makes, and the labels.
    @Test func preprocessCommandWritesWhatTheLoaderSees() throws {
        let dir = NSTemporaryDirectory() + "fkdc-preprocess-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let r = try CLI.run([
            "preprocess", Repo.path("samples/fundus/val"), "-o", dir + "/x.npy", "--labels-output", dir + "/y.npy",
        ])
        #expect(r.code == 0, "\(r.err)")
        let x = try NPY.read(path: dir + "/x.npy")
        let y = try NPY.read(path: dir + "/y.npy")
        let d = try DatasetLoader.load(path: Repo.path("samples/fundus/val"))
        #expect(x.shape.dims == [d.count, 3, 224, 224])
        #expect(x.floatArray() == d.samples.flatMap { $0.floatArray() })
        #expect(y.int64ArrayExact().map { Int($0) } == d.labels)
        let bad = try CLI.run(["preprocess", Repo.path("samples/fundus/val"), "-o", dir + "/z.npy", "--resize", "256"])
        #expect(bad.code == 1 && bad.err.contains("add --crop"), "\(bad.err)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/z.npy"))
    }
}
