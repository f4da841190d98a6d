import Foundation

/// The preprocessing a model declares: a Hugging Face `preprocessor_config.json` (the file
/// `AutoImageProcessor.save_pretrained` writes) in the model's folder. Its image processor's
/// steps map onto fkdc's: `size` (`shortest_edge`, or `height` and `width`) and `resample` (PIL's
/// filter codes) for the resize, `crop_size` for the centre crop (its offset floored, as
/// `center_crop` in transformers computes it: the `hf` pipeline), `rescale_factor` 1/255,
/// `image_mean` / `image_std`, `do_flip_channel_order` for BGR. What fkdc cannot reproduce
/// exactly is refused with the key named, never approximated.
extension Preprocessing {
    public static let configName = "preprocessor_config.json"
    /// The largest config read.
    static let maxConfigBytes = 1 << 20

    /// The preprocessing `preprocessor_config.json` beside `modelPath` declares, or nil when the
    /// model's folder has none.
    public static func declared(besideModel modelPath: String) throws(DriverError) -> Preprocessing? {
        let folder = (modelPath as NSString).deletingLastPathComponent
        let path = (folder.isEmpty ? "." : folder) + "/" + configName
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        return try huggingFace(configAt: path)
    }

    /// What the data loaders apply to a model's images: `given` (the command line's), else what
    /// the model declares, else torchvision's eval transform.
    public static func resolved(_ given: Preprocessing?, model modelPath: String) throws(DriverError) -> Preprocessing {
        if let given { return given }
        return try declared(besideModel: modelPath) ?? Preprocessing()
    }

    /// A Hugging Face image processor's config as fkdc's preprocessing (pipeline `hf`).
    public static func huggingFace(configAt path: String) throws(DriverError) -> Preprocessing {
        let bad = { (why: String) in DriverError(.badInput, "\(path): \(why)") }
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
            let size = attributes[.size] as? Int, size <= maxConfigBytes,
            let data = FileManager.default.contents(atPath: path)
        else { throw bad("unreadable, or larger than \(maxConfigBytes) bytes") }
        guard let object = try? JSONSerialization.jsonObject(with: data), let c = object as? [String: Any] else {
            throw bad("not a JSON object")
        }
        var p = Preprocessing()
        p.pipeline = .hf
        func flag(_ key: String, _ otherwise: Bool) throws(DriverError) -> Bool {
            guard let v = c[key] else { return otherwise }
            guard let b = v as? Bool else { throw bad("\(key) must be true or false") }
            return b
        }
        func side(_ v: Any?, _ key: String) throws(DriverError) -> Int {
            guard let n = v as? NSNumber, let i = Int(exactly: n.doubleValue), (1...Size.maxSide).contains(i) else {
                throw bad("\(key) must be a whole number of pixels, 1…\(Size.maxSide)")
            }
            return i
        }
        func dims(_ key: String) throws(DriverError) -> [String: Any] {
            guard let d = c[key] as? [String: Any] else {
                throw bad(
                    "\(key) must be {\"height\": H, \"width\": W}"
                        + (key == "size" ? " or {\"shortest_edge\": N}" : "")
                        + " (a plain number is square for some processors and the shorter side for others)")
            }
            return d
        }
        if try flag("do_resize", c["size"] != nil) {
            let d = try dims("size")
            if let n = d["shortest_edge"] {
                guard d["longest_edge"] == nil else { throw bad("size.longest_edge is not supported") }
                guard c["crop_pct"] == nil else {
                    throw bad("crop_pct (processor-specific resizing) is not supported: give --resize and --crop")
                }
                p.resize = .shorterSide(try side(n, "size.shortest_edge"))
            } else {
                p.resize = .exact(Size(try side(d["height"], "size.height"), try side(d["width"], "size.width")))
            }
            guard let resample = c["resample"] else { throw bad("resample missing (the resize's filter)") }
            switch (resample as? NSNumber)?.intValue ?? -1 {
            case 0: p.interpolation = .nearestExact
            case 2: p.interpolation = .bilinear
            case 3: p.interpolation = .bicubic
            default:
                throw bad(
                    "resample must be 0 (nearest), 2 (bilinear) or 3 (bicubic): PIL's other filters are not supported")
            }
        } else {
            p.resize = .none
        }
        if try flag("do_center_crop", c["crop_size"] != nil) {
            if let n = c["crop_size"] as? NSNumber {
                let s = try side(n, "crop_size")
                p.crop = Size(s, s)
            } else {
                let d = try dims("crop_size")
                p.crop = Size(try side(d["height"], "crop_size.height"), try side(d["width"], "crop_size.width"))
            }
        } else {
            p.crop = nil
        }
        guard try flag("do_rescale", true) else { throw bad("do_rescale false (0…255 inputs) is not supported") }
        if let f = c["rescale_factor"] {
            guard let v = f as? NSNumber, abs(v.doubleValue - 1.0 / 255) < 1e-12 else {
                throw bad("rescale_factor must be 1/255 (0.00392156862745098)")
            }
        }
        if try flag("do_normalize", true) {
            func three(_ key: String) throws(DriverError) -> [Float] {
                guard let a = c[key] as? [Any], a.count == 3,
                    case let v = a.compactMap({ ($0 as? NSNumber)?.floatValue }), v.count == 3, v.allSatisfy(\.isFinite)
                else { throw bad("\(key) must be three numbers") }
                return v
            }
            (p.mean, p.std) = (try three("image_mean"), try three("image_std"))
            guard p.std.allSatisfy({ $0 != 0 }) else { throw bad("image_std must not hold a zero") }
        } else {
            (p.mean, p.std) = ([0, 0, 0], [1, 1, 1])
        }
        if try flag("do_flip_channel_order", false) { p.channels = .bgr }
        return p
    }
}
