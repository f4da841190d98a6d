import CImageDecode
import GraphIR

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Labelled or unlabelled samples for calibration and validation, one `[1, C, H, W]` tensor each.
public struct Dataset: Sendable {
    public var samples: [Tensor] = []
    /// Class index per sample, when known (ImageFolder subfolders or a labels .npy).
    public var labels: [Int]?
    /// Class names in label order (sorted subfolder names), when known.
    public var classNames: [String] = []
    /// Files that could not be read, with why.
    public var skipped: [(file: String, reason: String)] = []
    public var source: String

    public var count: Int { samples.count }
}

/// Reads image folders (PNG, JPEG; one subfolder per class gives labels in sorted order) and
/// `.npy` float32 NCHW arrays (with optional int64 labels).
public enum DatasetLoader {
    static let imageExtensions: Set<String> = ["png", "jpg", "jpeg"]

    public static func load(
        path: String, labels labelsPath: String? = nil, preprocessing: Preprocessing = Preprocessing(),
        strict: Bool = false,
        limit: Int? = nil
    ) throws(DriverError) -> Dataset {
        var st = stat()
        guard stat(path, &st) == 0 else { throw DriverError(.badInput, "\(path): no such file or folder") }
        var ds: Dataset
        if (st.st_mode & S_IFMT) == S_IFDIR {
            ds = try folder(path, preprocessing, strict: strict, limit: limit)
        } else {
            ds = try npy(path, labelsPath: labelsPath, limit: limit)
        }
        guard ds.count > 0 else { throw DriverError(.badInput, "\(path): no usable samples") }
        return ds
    }

    static func npy(_ path: String, labelsPath: String?, limit: Int?) throws(DriverError) -> Dataset {
        let t = try NPY.read(path: path)
        guard t.shape.rank >= 2, t.dtype.isFloatingPoint else {
            throw DriverError(.badInput, "\(path): expected a float32 array [N, …], got \(t.dtype.rawValue)\(t.shape)")
        }
        let n = min(t.shape[0], limit ?? .max)
        let per = t.elementCount / max(t.shape[0], 1)
        let f = t.floatArray()
        var ds = Dataset(source: path)
        ds.samples = (0..<n).map {
            Tensor(shape: Shape([1] + t.shape.dims.dropFirst()), floats: Array(f[($0 * per)..<(($0 + 1) * per)]))
        }
        if let labelsPath {
            let l = try NPY.read(path: labelsPath)
            guard !l.dtype.isFloatingPoint, l.elementCount == t.shape[0] else {
                throw DriverError(
                    .badInput, "\(labelsPath): expected \(t.shape[0]) integer labels, got \(l.dtype.rawValue)\(l.shape)"
                )
            }
            let v = l.int64ArrayExact().prefix(n).map { Int($0) }
            guard v.allSatisfy({ $0 >= 0 && $0 < 1 << 20 }) else {
                throw DriverError(.badInput, "\(labelsPath): labels must be class indices ≥ 0")
            }
            ds.labels = v
            ds.classNames = (0...(v.max() ?? 0)).map { "class \($0)" }
        }
        return ds
    }

    static func listing(_ dir: String) -> [String] {
        guard let d = opendir(dir) else { return [] }
        defer { closedir(d) }
        var names: [String] = []
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if !name.hasPrefix(".") { names.append(name) }
        }
        return names.sorted()
    }

    static func isDirectory(_ p: String) -> Bool {
        var st = stat()
        return stat(p, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    static func isImage(_ name: String) -> Bool {
        imageExtensions.contains(name.split(separator: ".").last.map { $0.lowercased() } ?? "")
    }

    static func folder(_ path: String, _ pre: Preprocessing, strict: Bool, limit: Int?) throws(DriverError) -> Dataset {
        var ds = Dataset(source: path)
        let entries = listing(path)
        let classes = entries.filter { isDirectory(path + "/" + $0) }
        var files: [(String, Int?)] = []
        if classes.isEmpty {
            files = entries.filter(isImage).map { (path + "/" + $0, nil) }
        } else {
            ds.classNames = classes
            ds.labels = []
            for (i, c) in classes.enumerated() {
                files += listing(path + "/" + c).filter(isImage).map { (path + "/" + c + "/" + $0, i) }
            }
        }
        if let limit { files = Array(files.prefix(limit)) }
        for (file, label) in files {
            do {
                ds.samples.append(try image(file, pre))
                if let label { ds.labels?.append(label) }
            } catch {
                if strict { throw error }
                ds.skipped.append((file, error.message))
            }
        }
        return ds
    }

    /// Decodes one image and preprocesses it (`Preprocessing`) to `[1, 3, H, W]`.
    public static func image(_ file: String, _ pre: Preprocessing) throws(DriverError) -> Tensor {
        let f: MappedFile
        do { f = try MappedFile(path: file) } catch { throw DriverError(.badInput, "\(file): cannot open: \(error)") }
        guard let base = f.bytes.baseAddress, f.count > 0 else { throw DriverError(.badInput, "\(file): empty file") }
        var w: Int32 = 0
        var h: Int32 = 0
        var pixels: UnsafeMutablePointer<UInt8>?
        var message = [CChar](repeating: 0, count: 256)
        let rc = fkdc_decode_image(
            base.assumingMemoryBound(to: UInt8.self), f.count, 1 << 26, &w, &h, &pixels, &message, 256)
        guard rc == 0, let px = pixels else {
            let text = message.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            throw DriverError(.badInput, "\(file): cannot decode image: \(text)")
        }
        defer { fkdc_image_free(px) }
        let orientation = pre.exifOrientation ? ExifOrientation.of(f.bytes) : 1
        do {
            guard orientation != 1 else { return try pre.apply(rgb: px, width: Int(w), height: Int(h)) }
            let upright = ExifOrientation.apply(orientation, px, width: Int(w), height: Int(h))
            return try upright.pixels.withUnsafeBufferPointer { (b) throws(DriverError) -> Tensor in
                guard let base = b.baseAddress else { throw DriverError(.badInput, "an empty image") }
                return try pre.apply(rgb: base, width: upright.width, height: upright.height)
            }
        } catch {
            throw DriverError(error.kind, "\(file): \(error.message)")
        }
    }
}
