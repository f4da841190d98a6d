import CZlib
import GraphIR

/// A zip archive read from a mapped file: the container `torch.save` has written since 1.6.
/// Stored entries are returned as views of the mapping (no copy); deflated ones are inflated.
/// Every offset and length is checked against the file, and every entry's CRC-32 when read.
final class ZipArchive {
    struct Entry {
        var name: String
        var method: UInt16
        var crc32: UInt32
        var compressedSize: Int
        var uncompressedSize: Int
        var localHeaderOffset: Int
    }

    let file: MappedFile
    let path: String
    private(set) var entries: [Entry] = []
    private var index: [String: Int] = [:]
    let limits: ParsingLimits

    init(file: MappedFile, limits: ParsingLimits) throws(FrontendError) {
        self.file = file
        self.path = file.path
        self.limits = limits
        try readDirectory()
    }

    private func fail(_ kind: FrontendError.Kind, _ m: String, at loc: String = "") -> FrontendError {
        FrontendError(kind, file: path, at: loc, m)
    }

    private func readDirectory() throws(FrontendError) {
        let bytes = file.bytes
        let n = bytes.count
        guard n >= 22 else { throw fail(.truncated, "too short to be a zip archive (\(n) bytes)") }
        // End of central directory: within the last 64 KiB + 22 bytes.
        var eocd = -1
        var p = n - 22
        let lowest = max(0, n - 22 - 65535)
        while p >= lowest {
            if bytes.loadUnaligned(fromByteOffset: p, as: UInt32.self) == 0x0605_4b50 {
                eocd = p
                break
            }
            p -= 1
        }
        guard eocd >= 0 else {
            throw fail(.truncated, "no end-of-central-directory record; the archive is truncated or not a zip file")
        }
        var c = ByteCursor(bytes, offset: eocd + 10, what: "end of central directory")
        var count = Int(try c.u16())
        var cdSize = Int(try c.u32())
        var cdOffset = Int(try c.u32())
        if count == 0xFFFF || cdSize == 0xFFFF_FFFF || cdOffset == 0xFFFF_FFFF {
            // ZIP64 locator sits right before the classic record.
            guard eocd >= 20, bytes.loadUnaligned(fromByteOffset: eocd - 20, as: UInt32.self) == 0x0706_4b50 else {
                throw fail(.malformedZip, "ZIP64 sizes without a ZIP64 locator")
            }
            var l = ByteCursor(bytes, offset: eocd - 12, what: "ZIP64 locator")
            guard let recOffset = Int(exactly: try l.u64()), recOffset <= n - 56,
                bytes.loadUnaligned(fromByteOffset: recOffset, as: UInt32.self) == 0x0606_4b50
            else { throw fail(.malformedZip, "ZIP64 end-of-central-directory record missing or out of range") }
            var r = ByteCursor(bytes, offset: recOffset + 32, what: "ZIP64 record")
            guard let cnt = Int(exactly: try r.u64()), let sz = Int(exactly: try r.u64()),
                let off = Int(exactly: try r.u64())
            else { throw fail(.malformedZip, "ZIP64 sizes out of range") }
            (count, cdSize, cdOffset) = (cnt, sz, off)
        }
        guard count <= limits.maxZipEntries else { throw fail(.limitExceeded, "\(count) entries exceed the limit") }
        guard cdOffset <= n, cdSize <= n - cdOffset else {
            throw fail(.truncated, "central directory (offset \(cdOffset), \(cdSize) bytes) lies outside the file")
        }
        var d = ByteCursor(
            UnsafeRawBufferPointer(rebasing: bytes[cdOffset..<cdOffset + cdSize]), what: "central directory")
        for i in 0..<count {
            guard try d.u32() == 0x0201_4b50 else {
                throw fail(.malformedZip, "central directory entry \(i) has a bad signature")
            }
            _ = try d.slice(4)
            let flags = try d.u16()
            let method = try d.u16()
            _ = try d.slice(4)
            let crc = try d.u32()
            var csize = Int(try d.u32())
            var usize = Int(try d.u32())
            let nameLen = Int(try d.u16())
            let extraLen = Int(try d.u16())
            let commentLen = Int(try d.u16())
            _ = try d.slice(8)
            var local = Int(try d.u32())
            let nameBytes = try d.slice(nameLen)
            guard let name = String(validating: nameBytes, as: UTF8.self) else {
                throw fail(.malformedZip, "entry \(i) has a name that is not UTF-8")
            }
            var extra = ByteCursor(try d.slice(extraLen), what: "extra field of \(name)")
            _ = try d.slice(commentLen)
            while extra.remaining >= 4 {
                let id = try extra.u16()
                let len = Int(try extra.u16())
                var f = ByteCursor(try extra.slice(len), what: "ZIP64 field of \(name)")
                if id == 0x0001 {
                    func big() throws(FrontendError) -> Int {
                        guard let v = Int(exactly: try f.u64()) else {
                            throw fail(.malformedZip, "ZIP64 size out of range", at: name)
                        }
                        return v
                    }
                    if usize == 0xFFFF_FFFF { usize = try big() }
                    if csize == 0xFFFF_FFFF { csize = try big() }
                    if local == 0xFFFF_FFFF { local = try big() }
                }
            }
            guard flags & 1 == 0 else { throw fail(.unsupportedFormat, "entry is encrypted", at: name) }
            guard method == 0 || method == 8 else {
                throw fail(
                    .unsupportedFormat, "compression method \(method) (only stored and deflate are read)", at: name)
            }
            guard index[name] == nil else { throw fail(.malformedZip, "duplicate entry name", at: name) }
            index[name] = entries.count
            entries.append(
                Entry(
                    name: name, method: method, crc32: crc, compressedSize: csize, uncompressedSize: usize,
                    localHeaderOffset: local))
        }
    }

    func entry(named name: String) -> Entry? { index[name].map { entries[$0] } }

    /// The entry's bytes, verified against its CRC-32.
    func data(of e: Entry) throws(FrontendError) -> TensorStorage {
        let bytes = file.bytes
        let n = bytes.count
        guard e.localHeaderOffset <= n - 30,
            bytes.loadUnaligned(fromByteOffset: e.localHeaderOffset, as: UInt32.self) == 0x0403_4b50
        else { throw fail(.malformedZip, "local header missing or outside the file", at: e.name) }
        let nameLen = Int(bytes.loadUnaligned(fromByteOffset: e.localHeaderOffset + 26, as: UInt16.self))
        let extraLen = Int(bytes.loadUnaligned(fromByteOffset: e.localHeaderOffset + 28, as: UInt16.self))
        let start = e.localHeaderOffset + 30 + nameLen + extraLen
        guard start <= n, e.compressedSize <= n - start else {
            throw fail(
                .truncated, "data (\(e.compressedSize) bytes at offset \(start)) runs past the end of the file",
                at: e.name)
        }
        let storage: TensorStorage
        if e.method == 0 {
            guard e.compressedSize == e.uncompressedSize else {
                throw fail(.malformedZip, "stored entry with differing sizes", at: e.name)
            }
            storage = TensorStorage(file: file, offset: start, byteCount: e.compressedSize)
        } else {
            storage = try inflate(UnsafeRawBufferPointer(rebasing: bytes[start..<start + e.compressedSize]), entry: e)
        }
        let crc = Self.crc32(UnsafeRawBufferPointer(start: storage.pointer, count: storage.byteCount))
        guard crc == e.crc32 else {
            throw fail(
                .checksum, "CRC-32 mismatch (stored \(hex(e.crc32)), computed \(hex(crc))); the file is corrupted",
                at: e.name)
        }
        return storage
    }

    private func hex(_ v: UInt32) -> String { "0x" + String(v, radix: 16) }

    static func crc32(_ b: UnsafeRawBufferPointer) -> UInt32 {
        var crc: UInt = 0
        var off = 0
        while off < b.count {
            let chunk = min(b.count - off, 1 << 30)
            crc = CZlib.crc32(crc, b.baseAddress!.advanced(by: off).assumingMemoryBound(to: Bytef.self), uInt(chunk))
            off += chunk
        }
        return UInt32(truncatingIfNeeded: crc)
    }

    private func inflate(_ src: UnsafeRawBufferPointer, entry e: Entry) throws(FrontendError) -> TensorStorage {
        guard e.uncompressedSize <= limits.maxInflatedBytes else {
            throw fail(.limitExceeded, "declares \(e.uncompressedSize) uncompressed bytes, over the limit", at: e.name)
        }
        // deflate cannot expand data by more than about 1032:1; a larger claim is a bomb or a lie
        guard e.uncompressedSize <= max(e.compressedSize, 1) * 1100 else {
            throw fail(
                .compression,
                "declares \(e.uncompressedSize) bytes from \(e.compressedSize) compressed, beyond what deflate can produce",
                at: e.name)
        }
        let out = TensorStorage(byteCount: e.uncompressedSize, zeroed: false)
        var z = z_stream()
        guard inflateInit2_(&z, -15, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw fail(.compression, "zlib could not start", at: e.name)
        }
        defer { inflateEnd(&z) }
        var inOff = 0
        var outOff = 0
        while true {
            let inChunk = min(src.count - inOff, 1 << 30)
            let outChunk = min(e.uncompressedSize - outOff, 1 << 30)
            z.next_in = UnsafeMutablePointer(
                mutating: src.baseAddress.map { $0.advanced(by: inOff).assumingMemoryBound(to: Bytef.self) })
            z.avail_in = uInt(inChunk)
            z.next_out = out.mutablePointer!.advanced(by: outOff).assumingMemoryBound(to: Bytef.self)
            z.avail_out = uInt(outChunk)
            let rc = CZlib.inflate(&z, Z_NO_FLUSH)
            inOff += inChunk - Int(z.avail_in)
            outOff += outChunk - Int(z.avail_out)
            if rc == Z_STREAM_END { break }
            guard rc == Z_OK || (rc == Z_BUF_ERROR && outOff < e.uncompressedSize && inOff < src.count) else {
                let why =
                    rc == Z_BUF_ERROR
                    ? (outOff >= e.uncompressedSize
                        ? "inflates to more than the declared \(e.uncompressedSize) bytes"
                        : "the deflate stream ends early") : "corrupt deflate stream (zlib error \(rc))"
                throw fail(.compression, why, at: e.name)
            }
            // no progress with input and room left: stop (the size check below reports it) rather than spin
            if z.avail_out != 0 && z.avail_in != 0 && rc != Z_OK { break }
        }
        guard outOff == e.uncompressedSize else {
            throw fail(
                .compression, "inflates to \(outOff) bytes, the directory says \(e.uncompressedSize)", at: e.name)
        }
        return out
    }
}
