import CKernels
import GraphIR

/// What a model sees of an image, as data (stored in the `.fkdc` metadata and report.json): an
/// optional resize, an optional centre crop, the channel order and torchvision's ToTensor +
/// Normalize. Resizing is PIL's `Image.resize` exactly (antialiased: the filter's support grows
/// with the downscale factor), which is what torchvision's `Resize` does to PIL images; the C
/// kernels (`Sources/CKernels/include/fk_image.h`) compute it, for `fkdc preprocess`, the data
/// loaders and generated code alike.
///
/// The default is torchvision's eval transform for the model's size, `Resize(256) +
/// CenterCrop(224)` for 224 (`resize: .evalTransform`); a model's `preprocessor_config.json`
/// (`declared(besideModel:)`) or the command line says otherwise.
public struct Preprocessing: Sendable, Equatable {
    public struct Size: Sendable, Equatable, CustomStringConvertible {
        public var height: Int
        public var width: Int
        public init(_ height: Int, _ width: Int) {
            self.height = height
            self.width = width
        }

        /// "224" (square) or "224x320" (height × width), each side 1…16384.
        public init?(parsing s: String) {
            let parts = s.lowercased().split(separator: "x", omittingEmptySubsequences: false)
            guard parts.count == 1 || parts.count == 2 else { return nil }
            let v = parts.compactMap { Int($0) }
            guard v.count == parts.count, v.allSatisfy({ (1...Self.maxSide).contains($0) }) else { return nil }
            self.init(v[0], v.count == 2 ? v[1] : v[0])
        }

        public static let maxSide = 16384
        public var description: String { "\(height)x\(width)" }
    }

    public enum Resize: Sendable, Equatable {
        /// torchvision's eval transform for the model's size: the shorter side to ⌊S / 0.875⌋
        /// (256 for 224), then a centre crop to S × S; for an H × W model to ⌊H / 0.875⌋ ×
        /// ⌊W / 0.875⌋, then the crop (timm's rule, its `crop_pct` 0.875).
        case evalTransform
        /// To the model's input size, ignoring the aspect ratio.
        case model
        /// The shorter side to this many pixels, the longer one in proportion (torchvision's
        /// `Resize(int)`: the longer side truncated).
        case shorterSide(Int)
        case exact(Size)
        /// No resize (a crop alone, or images already at the size).
        case none
        /// A letterbox: fit inside the model's size keeping the aspect ratio (sides rounded half
        /// to even, as ultralytics' LetterBox), then padded to it, centred by default.
        case fit
        /// Fixed-height models (text lines): the height to the model's, the width in proportion,
        /// rounded up and capped at the model's (PaddleOCR's rule), then padded on the right.
        case height
    }

    /// Where padding leaves the image (`--pad-align`): centred (torchvision's CenterCrop), or at
    /// the top left with the padding after it.
    public enum PadAlign: String, Sendable, CaseIterable {
        case centre
        case topLeft = "top-left"
    }

    /// The resampling filters (`--interpolation`), torchvision's `InterpolationMode`s. `nearest`
    /// is PIL's NEAREST on PIL images but torch's `floor(i · in / out)` on tensors;
    /// `nearestExact` (`nearest-exact`) takes the source pixel under each output pixel's centre
    /// in both (PIL's NEAREST, torchvision's NEAREST_EXACT).
    public enum Interpolation: String, Sendable, CaseIterable {
        case bilinear, bicubic, nearest
        case nearestExact = "nearest-exact"

        var code: Int32 {
            switch self {
            case .bilinear: FK_FILTER_BILINEAR
            case .bicubic: FK_FILTER_BICUBIC
            case .nearest: FK_FILTER_NEAREST
            case .nearestExact: FK_FILTER_NEAREST_EXACT
            }
        }
    }

    /// Whose pipeline preprocessing reproduces (`--pipeline`): torchvision's transforms on PIL
    /// images (`pil`, ImageFolder's default loader: PIL's resize, 22-bit fixed-point weights, each
    /// pass rounded to 8 bits), torchvision's on float32 tensors (`tensor`: `ToDtype(float32,
    /// scale=True)` or `ToTensor()` before `Resize`: float32 weights and sums, nothing rounded),
    /// or a Hugging Face image processor (`hf`: PIL's resize, the crop offset floored).
    public enum Pipeline: String, Sendable, CaseIterable {
        case pil, tensor, hf

        var code: Int32 {
            switch self {
            case .pil: FK_PIPELINE_PIL
            case .tensor: FK_PIPELINE_TENSOR
            case .hf: FK_PIPELINE_HF
            }
        }
    }

    /// The channel order the model takes (`--channels`).
    public enum Channels: String, Sendable, CaseIterable {
        case rgb, bgr
    }

    /// The model's input height and width (the output of preprocessing).
    public var height = 224
    public var width = 224
    public var resize = Resize.evalTransform
    /// A centre crop after the resize (torchvision's `CenterCrop`: zero padding where the image
    /// is smaller).
    public var crop: Size?
    public var interpolation = Interpolation.bilinear
    public var pipeline = Pipeline.pil
    public var channels = Channels.rgb
    /// Turn decoded images upright by their EXIF orientation first (`--exif-orientation`, PIL's
    /// `ImageOps.exif_transpose`); off, as PIL's and torchvision's loaders leave it.
    public var exifOrientation = false
    /// The value (0…255, in the image's units) padding reads; torchvision's CenterCrop pads 0.
    public var padValue: Float = 0
    /// nil: top left for `.height`, centred otherwise.
    public var padAlign: PadAlign?
    /// Per output channel, after scaling to [0, 1].
    public var mean: [Float] = [0.485, 0.456, 0.406]
    public var std: [Float] = [0.229, 0.224, 0.225]

    public init() {}

    /// The size the resize step gives whatever the image, when it gives one (`--resize HxW`).
    public var exactSize: Size? {
        if case .exact(let s) = resize { return s }
        return nil
    }

    /// Where padding and cropping leave the image.
    public var alignment: PadAlign { padAlign ?? (resize == .height ? .topLeft : .centre) }

    /// The fraction of the resized image the eval transform's centre crop keeps.
    public static let evalCropFraction = 0.875

    /// The resize and the crop as they run: `.evalTransform` spelled out for the model's size, a
    /// letterbox's padding as a crop to the model's size.
    public var steps: (resize: Resize, crop: Size?) {
        if resize == .fit || resize == .height { return (resize, crop ?? Size(height, width)) }
        guard resize == .evalTransform else { return (resize, crop) }
        let (h, w) = (Int(Double(height) / Self.evalCropFraction), Int(Double(width) / Self.evalCropFraction))
        return (height == width ? .shorterSide(h) : .exact(Size(h, w)), crop ?? Size(height, width))
    }

    /// In words, for the metadata and report ("resize 256 (shorter side, bilinear) + centre
    /// crop 224x224, RGB, /255, mean …, std …").
    public var summary: String {
        var out: [String] = exifOrientation ? ["EXIF orientation"] : []
        let how = interpolation.rawValue + (pipeline == .tensor ? ", float32 tensor" : "")
        let (resize, crop) = steps
        switch resize {
        case .model: out.append("resize \(height)x\(width) (\(how))")
        case .shorterSide(let n): out.append("resize \(n) (shorter side, \(how))")
        case .exact(let s): out.append("resize \(s) (\(how))")
        case .fit: out.append("letterbox into \(height)x\(width) (aspect kept, \(how))")
        case .height: out.append("resize to height \(height) (width in proportion up to \(width), \(how))")
        case .none, .evalTransform: break
        }
        let pad = padValue == 0 ? "" : ", padding \(padValue)"
        if let c = crop, alignment == .topLeft {
            out.append("crop \(c) from the top left\(pad)")
        } else if let c = crop {
            out.append("centre crop \(c)" + (pipeline == .hf ? " (offset floored, Hugging Face)" : "") + pad)
        }
        out.append(channels.rawValue.uppercased())
        let f = { (v: [Float]) in v.map { "\($0)" }.joined(separator: ",") }
        return out.joined(separator: " + ") + ", /255, mean \(f(mean)), std \(f(std))"
    }

    /// The settings as the C kernels read them (`fk_preprocessing`, fk_image.h): what
    /// `fkdc preprocess` runs and generated C's `<prefix>_preprocess` holds.
    public var kernelParameters: fk_preprocessing {
        var p = fk_preprocessing()
        let (resize, crop) = steps
        switch resize {
        case .model: p.resize = FK_RESIZE_MODEL
        case .none, .evalTransform: p.resize = FK_RESIZE_NONE
        case .fit: (p.resize, p.resize_h, p.resize_w) = (FK_RESIZE_FIT, Int32(height), Int32(width))
        case .height: (p.resize, p.resize_h, p.resize_w) = (FK_RESIZE_HEIGHT, Int32(height), Int32(width))
        case .shorterSide(let n): (p.resize, p.resize_h) = (FK_RESIZE_SHORTER, Int32(n))
        case .exact(let s): (p.resize, p.resize_h, p.resize_w) = (FK_RESIZE_EXACT, Int32(s.height), Int32(s.width))
        }
        (p.crop_h, p.crop_w) = (Int32(crop?.height ?? 0), Int32(crop?.width ?? 0))
        (p.out_h, p.out_w) = (Int32(height), Int32(width))
        p.filter = interpolation.code
        p.pipeline = pipeline.code
        p.align = alignment == .topLeft ? FK_ALIGN_TOP_LEFT : FK_ALIGN_CENTRE
        p.pad = padValue
        p.order = channels == .rgb ? (0, 1, 2) : (2, 1, 0)
        if mean.count == 3, std.count == 3 {
            p.mean = (mean[0], mean[1], mean[2])
            p.std = (std[0], std[1], std[2])
        }
        return p
    }

    /// Why these settings cannot give the model's input, or nil.
    public var invalidity: String? {
        guard mean.count == 3, std.count == 3, std.allSatisfy({ $0 != 0 && $0.isFinite }), mean.allSatisfy(\.isFinite)
        else { return "the normalisation needs three means and three non-zero standard deviations" }
        guard (0...255).contains(padValue) else { return "the padding value must be 0…255" }
        let sides = 1...Size.maxSide
        let (resize, crop) = steps
        var sizes = [height, width] + [crop?.height, crop?.width].compactMap { $0 }
        if case .shorterSide(let n) = resize { sizes.append(n) }
        if case .exact(let s) = resize { sizes += [s.height, s.width] }
        guard sizes.allSatisfy(sides.contains) else { return "every size must be 1…\(Size.maxSide) pixels" }
        if let c = crop, c != Size(height, width) {
            return "the crop is \(c) but the model takes \(height)x\(width)"
        }
        if crop == nil {
            switch resize {
            // .none: the image must be at the size (checked per image)
            case .model, .none, .evalTransform, .fit, .height: break
            case .exact(let s) where s == Size(height, width): break
            default:
                return
                    "without --crop, the resize must give the model's \(height)x\(width) (add --crop \(height)x\(width))"
            }
        }
        return nil
    }

    /// The model's `[1, 3, H, W]` input from 8-bit RGB pixels (`w` × `h`, rows packed), through
    /// `fk_preprocess_u8`.
    public func apply(rgb px: UnsafePointer<UInt8>, width w: Int, height h: Int) throws(DriverError) -> Tensor {
        if let why = invalidity { throw DriverError(.usage, "preprocessing: \(why)") }
        var p = kernelParameters
        guard (1...Size.maxSide).contains(w), (1...Size.maxSide).contains(h) else {
            throw DriverError(.badInput, "an image of \(h)x\(w) (at most \(Size.maxSide) a side)")
        }
        var (rw, rh): (Int32, Int32) = (0, 0)
        fk_resized_size(&p, Int32(w), Int32(h), &rw, &rh)
        let crop = steps.crop
        let (ch, cw) = (crop?.height ?? Int(rh), crop?.width ?? Int(rw))
        guard ch == height, cw == width else {
            throw DriverError(
                .badInput,
                "the image is \(h)x\(w) and preprocesses to \(ch)x\(cw), but the model takes \(height)x\(width)")
        }
        let bytes = fk_preprocess_scratch(&p, Int32(w), Int32(h))
        guard bytes > 0, bytes <= 1 << 32 else { throw DriverError(.badInput, "an image of \(h)x\(w) is too large") }
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        defer { scratch.deallocate() }
        var out = [Float](repeating: 0, count: 3 * height * width)
        let rc = out.withUnsafeMutableBufferPointer { o in
            fk_preprocess_u8(px, Int32(w), Int32(h), w * 3, FK_FORMAT_RGB, &p, o.baseAddress, scratch)
        }
        guard rc == 0 else { throw DriverError(.badInput, "an image of \(h)x\(w) cannot be preprocessed") }
        return Tensor(shape: Shape([1, 3, height, width]), floats: out)
    }
}

extension DatasetLoader {
    /// `fkdc preprocess`: image files and image folders (one subfolder per class gives labels, in
    /// sorted order) through `pre`, in the order given, as one dataset.
    public static func preprocess(_ paths: [String], _ pre: Preprocessing, strict: Bool = false) throws(DriverError)
        -> Dataset
    {
        if let why = pre.invalidity { throw DriverError(.usage, "preprocessing: \(why)") }
        var all = Dataset(source: paths.joined(separator: ", "))
        var labelled = true
        for p in paths {
            if isDirectory(p) {
                let d = try folder(p, pre, strict: strict, limit: nil)
                all.samples += d.samples
                all.skipped += d.skipped
                if let l = d.labels, all.classNames.isEmpty || all.classNames == d.classNames {
                    all.classNames = d.classNames
                    all.labels = (all.labels ?? []) + l
                } else {
                    labelled = false
                }
            } else {
                all.samples.append(try image(p, pre))
                labelled = false
            }
        }
        if !labelled { all.labels = nil }
        guard all.count > 0 else { throw DriverError(.badInput, "\(all.source): no usable images") }
        return all
    }
}

extension Dataset {
    /// The samples as one `[N, C, H, W]` float32 tensor.
    public func stacked() -> Tensor {
        let dims = samples[0].shape.dims
        return Tensor(shape: Shape([samples.count] + dims.dropFirst()), floats: samples.flatMap { $0.floatArray() })
    }

    /// The labels as an int64 `[N]` tensor, when known.
    public func labelTensor() -> Tensor? {
        guard let l = labels else { return nil }
        let v = l.map { Int64($0) }
        return v.withUnsafeBytes { Tensor(dtype: .int64, shape: Shape([v.count]), bytes: $0) }
    }
}
