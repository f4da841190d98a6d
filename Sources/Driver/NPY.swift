import GraphIR

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// NumPy `.npy` files (format 1.0–3.0): little-endian float32/float64/int64/int32 arrays in C order.
public enum NPY {
    static let magic: [UInt8] = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]

    /// Reads an array; float64 and integer arrays are kept in their dtype.
    public static func read(path: String) throws(DriverError) -> Tensor {
        let f: MappedFile
        do { f = try MappedFile(path: path) } catch { throw DriverError(.badInput, "\(path): cannot open: \(error)") }
        let b = f.bytes
        func bad(_ m: String) -> DriverError { DriverError(.badInput, "\(path): \(m)") }
        guard b.count >= 10, Array(b[0..<6]) == magic else { throw bad("not a .npy file (bad magic)") }
        let major = b[6]
        var headerLen: Int
        var start: Int
        switch major {
        case 1:
            headerLen = Int(b[8]) | Int(b[9]) << 8
            start = 10
        case 2, 3:
            guard b.count >= 12 else { throw bad("truncated header") }
            headerLen = Int(b.loadUnaligned(fromByteOffset: 8, as: UInt32.self).littleEndian)
            start = 12
        default: throw bad("unsupported .npy version \(major)")
        }
        guard headerLen <= 1 << 20, headerLen <= b.count - start else {
            throw bad("header length \(headerLen) runs past the end of the file")
        }
        let header = String(decoding: UnsafeRawBufferPointer(rebasing: b[start..<start + headerLen]), as: UTF8.self)
        guard let descr = field(header, "descr").flatMap(unquote) else { throw bad("header has no 'descr'") }
        guard let fortran = field(header, "fortran_order") else { throw bad("header has no 'fortran_order'") }
        guard fortran.hasPrefix("False") else {
            throw bad("Fortran-order arrays are not supported; save with np.ascontiguousarray")
        }
        guard let shapeText = field(header, "shape"), let dims = parseShape(shapeText) else {
            throw bad("header has no readable 'shape'")
        }
        let dtype: DType
        switch descr {
        case "<f4": dtype = .float32
        case "<f8": dtype = .float64
        case "<i8": dtype = .int64
        case "<i4": dtype = .int32
        case "|u1": dtype = .uint8
        default: throw bad("dtype '\(descr)' is not supported (expected float32 '<f4')")
        }
        guard let count = Shape(dims).checkedElementCount else { throw bad("shape \(dims) overflows") }
        let (bytes, o) = count.multipliedReportingOverflow(by: dtype.byteSize)
        let dataStart = start + headerLen
        guard !o, bytes == b.count - dataStart else {
            throw bad("shape \(Shape(dims)) of \(descr) needs \(bytes) bytes but the file holds \(b.count - dataStart)")
        }
        return Tensor(dtype: dtype, shape: Shape(dims), bytes: UnsafeRawBufferPointer(rebasing: b[dataStart..<b.count]))
    }

    /// The text after `'key':` up to the next top-level comma.
    static func field(_ h: String, _ key: String) -> String? {
        guard let r = h.firstRange(of: "'\(key)':") else { return nil }
        var rest = h[r.upperBound...].drop { $0 == " " }
        if rest.first == "(" {
            guard let close = rest.firstIndex(of: ")") else { return nil }
            return String(rest[...close])
        }
        if let comma = rest.firstIndex(where: { $0 == "," || $0 == "}" }) { rest = rest[..<comma] }
        return String(rest).trimmingSpaces()
    }

    static func unquote(_ s: String) -> String? {
        guard s.count >= 2, let f = s.first, f == "'" || f == "\"", s.last == f else { return nil }
        return String(s.dropFirst().dropLast())
    }

    static func parseShape(_ s: String) -> [Int]? {
        guard s.hasPrefix("("), s.hasSuffix(")") else { return nil }
        let inner = s.dropFirst().dropLast()
        var dims: [Int] = []
        for part in inner.split(separator: ",") {
            let t = String(part).trimmingSpaces()
            if t.isEmpty { continue }
            guard let v = Int(t), v >= 0 else { return nil }
            dims.append(v)
        }
        return dims
    }

    /// Writes a float32, int64, int32 or int8 array as .npy 1.0, through a temporary file renamed into place.
    public static func write(_ t: Tensor, to path: String) throws(DriverError) {
        try AtomicFile.write(encode(t), to: path)
    }

    /// The .npy 1.0 bytes of a float32, int64, int32 or int8 array.
    public static func encode(_ t: Tensor) -> [UInt8] {
        let descr: String
        switch t.dtype {
        case .float32: descr = "<f4"
        case .int64: descr = "<i8"
        case .int32: descr = "<i4"
        case .int8: descr = "|i1"
        default: preconditionFailure("NPY.write: \(t.dtype) is not written")
        }
        let shape = t.shape.dims.map(String.init).joined(separator: ", ") + (t.shape.rank == 1 ? "," : "")
        var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': (\(shape)), }"
        let total = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - total % 64) % 64) + "\n"
        var out = magic + [1, 0, UInt8(header.utf8.count & 0xff), UInt8(header.utf8.count >> 8)]
        out += Array(header.utf8)
        out += Array(t.bytes)
        return out
    }
}

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\n" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\n" { s = s.dropLast() }
        return String(s)
    }
}

/// Writes files so that a failure leaves nothing half-written: a temporary name in the same
/// folder, then rename.
public enum AtomicFile {
    public static func write(_ bytes: [UInt8], to path: String) throws(DriverError) {
        try writeAll([(path, bytes)])
    }

    /// Writes every file under a temporary name, then renames them all: until every file is
    /// complete none of the final names is touched; a failure removes the temporaries.
    public static func writeAll(_ files: [(path: String, bytes: [UInt8])]) throws(DriverError) {
        var temps: [String] = []
        func cleanUp() { for t in temps { unlink(t) } }
        for (path, bytes) in files {
            let tmp = path + ".tmp-\(getpid())"
            guard let f = fopen(tmp, "wb") else {
                cleanUp()
                throw DriverError(.badInput, "\(path): cannot write: \(String(cString: strerror(errno)))")
            }
            temps.append(tmp)
            let n = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, f) }
            let closed = fclose(f)
            guard n == bytes.count, closed == 0 else {
                cleanUp()
                throw DriverError(.badInput, "\(path): write failed")
            }
        }
        for (tmp, file) in zip(temps, files) {
            guard rename(tmp, file.path) == 0 else {
                cleanUp()
                throw DriverError(
                    .badInput, "\(file.path): cannot rename into place: \(String(cString: strerror(errno)))")
            }
        }
    }
}

/// Output folders.
public enum Outputs {
    /// Creates `path` and any missing parent folders (as `mkdir -p`).
    public static func makeDirectory(_ path: String) throws(DriverError) {
        var st = stat()
        if stat(path, &st) == 0 {
            guard (st.st_mode & S_IFMT) == S_IFDIR else {
                throw DriverError(.badInput, "\(path): exists and is not a folder")
            }
            return
        }
        if let slash = path.dropLast().lastIndex(of: "/"), slash > path.startIndex {
            try makeDirectory(String(path[..<slash]))
        }
        guard mkdir(path, 0o755) == 0 || errno == EEXIST else {
            throw DriverError(.badInput, "\(path): cannot create: \(String(cString: strerror(errno)))")
        }
    }
}
