import CKernels
import CZlib
import GraphIR

/// A `.fkdc` file that cannot be read: names the file and what is wrong.
public struct FkdcError: Error, Sendable, CustomStringConvertible {
    public var file: String
    public var message: String

    public init(file: String, _ message: String) {
        self.file = file
        self.message = message
    }

    public var description: String { "\(file): \(message)" }
}

/// The `.fkdc` binary (docs/fkdc-format.md): header, section table, META, GRAPH, TENSORS,
/// QUANT and DATA sections, CRC-32 over the file. Since 2.0 GRAPH, TENSORS and QUANT are stored
/// deflated (section flag 1); 1.x files (every section stored) are still read.
public enum FkdcFile {
    public static let magic: [UInt8] = [0x46, 0x4B, 0x44, 0x43, 0x0D, 0x0A, 0x1A, 0x0A]
    public static let majorVersion: UInt16 = 2
    public static let minorVersion: UInt16 = 0
    /// The oldest major version this fkdc reads.
    static let oldestMajorVersion: UInt16 = 1
    /// Section flag: the payload is its length inflated (u64) and a zlib stream of it.
    static let deflated: UInt32 = 1
    /// The most bytes a deflated section may inflate to, and the most per stored byte (zlib's
    /// best ratio is about 1032:1): past either the file is refused before allocating.
    static let maxInflatedBytes = 256 << 20
    static let maxInflateRatio = 1100
    static let headerSize = 64
    /// The header's CRC-32 field (4 bytes; `FK_FKDC_CRC_OFFSET`, which generated C checks too).
    static let crcOffset = Int(FK_FKDC_CRC_OFFSET)
    static let alignment = 64
    static let maxSections = 16

    enum Kind: UInt32, CaseIterable {
        case meta = 1, graph, tensors, quant
        case data = 6
    }

    static let dtypeCodes: [DType: UInt8] = [
        .float32: 1, .float16: 2, .bfloat16: 3, .float64: 4, .int64: 5, .int32: 6, .int16: 7, .int8: 8, .uint8: 9,
        .bool: 10,
    ]

    /// The int32 bias constant of an int8 conv2d / fully_connected / gemm.
    static func biasOf(_ n: Node, in g: Graph) -> ValueID? {
        switch n.op {
        case .conv2d, .fullyConnected, .gemm:
            guard n.inputs.count > 2, g.values[n.inputs[2]].dtype == .int32, g.constants[n.inputs[2]] != nil else {
                return nil
            }
            return n.inputs[2]
        default: return nil
        }
    }

    /// A bias's parameters from its layer's (`QuantMath.biasParams`, as `quantize` made them).
    static func biasParams(_ n: Node, in g: Graph) -> QuantParams? {
        guard let xq = g.values[n.inputs[0]].quant, let wq = g.values[n.inputs[1]].quant,
            let w = g.constants[n.inputs[1]], w.shape.rank >= 1
        else { return nil }
        return QuantMath.biasParams(input: xq, weights: wq, channels: w.shape[0])
    }

    // MARK: - writing

    /// The file's bytes for an int8 graph and its metadata. Deterministic.
    public static func write(_ graph: Graph, metadata: [String: String]) -> [UInt8] {
        layout(graph, metadata: metadata).bytes
    }

    /// The file's bytes, and where each constant's data starts in them (by value name): what
    /// generated C with external weights reads.
    public static func layout(_ graph: Graph, metadata: [String: String]) -> (bytes: [UInt8], offsets: [String: Int]) {
        // values in printing order, so a graph read back from a file writes the same bytes
        let g = graph.canonicalized()
        var meta = ByteWriter()
        meta.u32(UInt32(metadata.count))
        for k in metadata.keys.sorted() {
            meta.string(k)
            meta.string(metadata[k]!)
        }
        var graph = ByteWriter()
        graph.bytes += Array(IRPrinter(externalData: true).print(g).utf8)

        var tensors = ByteWriter()
        var data = ByteWriter()
        let constantIDs = g.constants.keys.sorted()
        tensors.u32(UInt32(constantIDs.count))
        var dataOffsets: [String: Int] = [:]
        for id in constantIDs {
            let t = g.constants[id]!
            data.pad(to: alignment)
            dataOffsets[g.values[id].name] = data.bytes.count
            tensors.string(g.values[id].name)
            tensors.u8(dtypeCodes[t.dtype]!)
            tensors.u8(UInt8(t.shape.rank))
            tensors.u16(0)
            for d in t.shape.dims { tensors.u32(UInt32(d)) }
            tensors.u64(UInt64(data.bytes.count))
            tensors.u64(UInt64(t.byteCount))
            data.bytes += Array(t.bytes)
        }

        // biases' parameters follow from their layer's (s_in · s_w[c], zero point 0): not stored
        let biases = Set(g.nodes.compactMap { biasOf($0, in: g) })
        var quant = ByteWriter()
        let quantized = g.values.indices.filter { g.values[$0].quant != nil && !biases.contains($0) }
        quant.u32(UInt32(quantized.count))
        for id in quantized {
            let q = g.values[id].quant!
            quant.string(g.values[id].name)
            quant.i32(Int32(q.axis ?? -1))
            quant.u32(UInt32(q.scales.count))
            let zeroPoints = q.zeroPoints.contains { $0 != 0 }
            quant.u32(zeroPoints ? 1 : 0)
            for s in q.scales { quant.u32(s.bitPattern) }
            if zeroPoints { for z in q.zeroPoints { quant.i32(z) } }
        }

        let sections: [(Kind, [UInt8])] = [
            (.meta, meta.bytes), (.graph, graph.bytes), (.tensors, tensors.bytes), (.quant, quant.bytes),
            (.data, data.bytes),
        ]
        var out = ByteWriter()
        out.bytes = [UInt8](repeating: 0, count: headerSize)
        let tableOffset = out.bytes.count
        out.bytes += [UInt8](repeating: 0, count: 24 * sections.count)
        var table = ByteWriter()
        var dataStart = 0
        for (kind, raw) in sections {
            out.pad(to: alignment)
            if kind == .data { dataStart = out.bytes.count }
            // the graph text, tensor table and scales deflated; META stays readable, DATA stays
            // aligned and mappable
            let pack = kind == .graph || kind == .tensors || kind == .quant
            let bytes = pack ? deflate(raw) : raw
            table.u32(kind.rawValue)
            table.u32(pack ? deflated : 0)
            table.u64(UInt64(out.bytes.count))
            table.u64(UInt64(bytes.count))
            out.bytes += bytes
        }
        out.bytes.replaceSubrange(tableOffset..<(tableOffset + table.bytes.count), with: table.bytes)
        var header = ByteWriter()
        header.bytes += magic
        header.u16(majorVersion)
        header.u16(minorVersion)
        header.u32(UInt32(headerSize))
        header.u64(UInt64(out.bytes.count))
        header.u32(0)  // CRC-32, filled below
        header.u32(UInt32(sections.count))
        header.u64(UInt64(tableOffset))
        header.bytes += [UInt8](repeating: 0, count: headerSize - header.bytes.count)
        out.bytes.replaceSubrange(0..<headerSize, with: header.bytes)
        let crc = CRC32.checksum(out.bytes)
        out.bytes.replaceSubrange(
            crcOffset..<(crcOffset + 4), with: withUnsafeBytes(of: crc.littleEndian) { Array($0) })
        return (out.bytes, dataOffsets.mapValues { $0 + dataStart })
    }

    /// Where the bytes of a file `layout` wrote go, for the report: int8 weights, int32 biases
    /// and other constants (DATA, by dtype), the stored GRAPH, TENSORS (the tensor table), QUANT
    /// (scales and zero points) and META sections, and the rest (header, section table,
    /// alignment). The parts sum to the file's size.
    public static func breakdown(_ bytes: [UInt8], graph: Graph) -> [(part: String, bytes: Int)] {
        func u32(_ o: Int) -> Int { (0..<4).reduce(0) { $0 | Int(bytes[o + $1]) << (8 * $1) } }
        func u64(_ o: Int) -> Int { (0..<8).reduce(0) { $0 | Int(bytes[o + $1]) << (8 * $1) } }
        guard bytes.count >= headerSize else { return [("other", bytes.count)] }
        let (count, table) = (u32(28), u64(32))
        var stored: [Kind: Int] = [:]
        for i in 0..<count where table + 24 * (i + 1) <= bytes.count {
            if let k = Kind(rawValue: UInt32(u32(table + 24 * i))) { stored[k, default: 0] += u64(table + 24 * i + 16) }
        }
        var byType: [DType: Int] = [:]
        for t in graph.constants.values { byType[t.dtype, default: 0] += t.byteCount }
        let int8 = byType[.int8] ?? 0
        let int32 = byType[.int32] ?? 0
        let other = byType.values.reduce(0, +) - int8 - int32
        var parts: [(part: String, bytes: Int)] = [
            ("int8 weights", int8), ("int32 biases", int32), ("other constants", other),
            ("scales and zero points", stored[.quant] ?? 0), ("graph", stored[.graph] ?? 0),
            ("tensor table", stored[.tensors] ?? 0), ("metadata", stored[.meta] ?? 0),
        ]
        parts.append(("header, table and alignment", bytes.count - parts.reduce(0) { $0 + $1.bytes }))
        return parts
    }

    /// u64 length, then zlib's stream at level 9 (the same bytes for the same input).
    static func deflate(_ raw: [UInt8]) -> [UInt8] {
        var w = ByteWriter()
        w.u64(UInt64(raw.count))
        var n = compressBound(uLong(raw.count))
        var z = [UInt8](repeating: 0, count: Int(n))
        let rc = raw.withUnsafeBytes { src in
            z.withUnsafeMutableBytes { dst in
                compress2(
                    dst.baseAddress!.assumingMemoryBound(to: Bytef.self), &n,
                    src.baseAddress?.assumingMemoryBound(to: Bytef.self), uLong(raw.count), 9)
            }
        }
        precondition(rc == Z_OK, "zlib compress2 failed on \(raw.count) bytes")  // only out of memory
        return w.bytes + z[0..<Int(n)]
    }

    /// A deflated section's bytes inflated into `out` (allocated here, the caller frees it):
    /// the declared length checked against limits first, then the stream must fill it exactly.
    static func inflate(_ payload: UnsafeRawBufferPointer, kind: Kind, file: String) throws(FkdcError)
        -> UnsafeMutableRawBufferPointer
    {
        func fail(_ m: String) -> FkdcError { FkdcError(file: file, "\(kind) section: \(m)") }
        var r = ByteReader(payload, section: "\(kind)", file: file)
        let declared = try r.u64()
        let stored = payload.count - 8
        guard stored <= Int(UInt32.max) else { throw fail("\(stored) deflated bytes: more than one zlib call takes") }
        guard declared <= UInt64(maxInflatedBytes), declared <= UInt64(stored) * UInt64(maxInflateRatio) else {
            throw fail("declares \(declared) bytes inflated from \(stored): beyond the limits")
        }
        let n = Int(declared)
        let out = UnsafeMutableRawBufferPointer.allocate(byteCount: max(n, 1), alignment: 8)
        var z = z_stream()
        guard inflateInit_(&z, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            out.deallocate()
            throw fail("zlib could not start")
        }
        z.next_in = UnsafeMutablePointer(
            mutating: payload.baseAddress?.advanced(by: 8).assumingMemoryBound(to: Bytef.self))
        z.avail_in = uInt(stored)
        z.next_out = out.baseAddress!.assumingMemoryBound(to: Bytef.self)
        z.avail_out = uInt(n)
        let rc = CZlib.inflate(&z, Z_FINISH)
        let (produced, left) = (Int(z.total_out), Int(z.avail_in))
        inflateEnd(&z)
        guard rc == Z_STREAM_END, produced == n, left == 0 else {
            out.deallocate()
            throw fail(
                rc == Z_STREAM_END
                    ? "inflates to \(produced) bytes, declared \(n)\(left > 0 ? ", with \(left) bytes after the stream" : "")"
                    : rc == Z_BUF_ERROR
                        ? "inflates to more than the declared \(n) bytes, or its stream ends early"
                        : "corrupt deflate stream (zlib error \(rc))")
        }
        return UnsafeMutableRawBufferPointer(rebasing: out[0..<n])
    }

    // MARK: - reading

    /// What a `.fkdc` file holds.
    public struct Contents: Sendable {
        public var graph: Graph
        public var metadata: [String: String]
        public var version: (major: UInt16, minor: UInt16)
    }

    /// Reads and checks a file's bytes (every offset, length and count before use).
    public static func read(_ bytes: UnsafeRawBufferPointer, file: String) throws(FkdcError) -> Contents {
        func fail(_ m: String) -> FkdcError { FkdcError(file: file, m) }
        guard bytes.count >= headerSize else {
            throw fail("not an .fkdc file: \(bytes.count) bytes, shorter than the 64-byte header")
        }
        var h = ByteReader(bytes, section: "header", file: file)
        guard Array(bytes[0..<8]) == magic else { throw fail("not an .fkdc file (bad magic)") }
        h.offset = 8
        let major = try h.u16()
        let minor = try h.u16()
        guard (oldestMajorVersion...majorVersion).contains(major) else {
            throw fail(
                "format version \(major).\(minor) is "
                    + (major > majorVersion ? "newer than" : "not one")
                    + " this fkdc reads (\(oldestMajorVersion).x to \(majorVersion).x); recompile the model with this fkdc"
            )
        }
        guard try h.u32() == UInt32(headerSize) else { throw fail("header size is not 64") }
        let size = try h.u64()
        guard size == UInt64(bytes.count) else {
            throw fail("the header records \(size) bytes but the file has \(bytes.count) (truncated or padded)")
        }
        let storedCRC = try h.u32()
        var crc = CRC32()
        crc.update(UnsafeRawBufferPointer(rebasing: bytes[0..<crcOffset]))
        crc.update([0, 0, 0, 0])
        crc.update(UnsafeRawBufferPointer(rebasing: bytes[(crcOffset + 4)...]))
        guard crc.value == storedCRC else {
            throw fail(
                "checksum mismatch (CRC-32 \(hex(crc.value)), header says \(hex(storedCRC))): the file is corrupt")
        }
        let count = Int(try h.u32())
        guard count <= maxSections else { throw fail("\(count) sections (at most \(maxSections))") }
        let tableOffset = try h.u64()
        guard tableOffset >= UInt64(headerSize), tableOffset <= UInt64(bytes.count),
            UInt64(bytes.count) - tableOffset >= UInt64(24 * count)
        else { throw fail("section table at \(tableOffset) lies outside the file") }
        var t = ByteReader(bytes, section: "section table", file: file)
        t.offset = Int(tableOffset)
        var ranges: [Kind: Range<Int>] = [:]
        var flags: [Kind: UInt32] = [:]
        var used: [Range<Int>] = [0..<headerSize, Int(tableOffset)..<(Int(tableOffset) + 24 * count)]
        for _ in 0..<count {
            let kind = try t.u32()
            let flag = try t.u32()
            let off = try t.u64()
            let len = try t.u64()
            guard off <= UInt64(bytes.count), len <= UInt64(bytes.count) - off else {
                throw fail("section \(kind) at \(off) with \(len) bytes runs past the end of the file")
            }
            guard off % UInt64(alignment) == 0 else { throw fail("section \(kind) at \(off) is not 64-byte aligned") }
            let r = Int(off)..<Int(off + len)
            guard !used.contains(where: { $0.overlaps(r) }) else { throw fail("section \(kind) overlaps another") }
            used.append(r)
            guard let k = Kind(rawValue: kind) else { continue }  // a later minor version's section
            guard ranges[k] == nil else { throw fail("section \(k) appears twice") }
            let packable = major >= 2 && (k == .graph || k == .tensors || k == .quant)
            guard flag == 0 || (flag == deflated && packable) else {
                throw fail("section \(k) has flags \(flag), which format \(major).\(minor) does not define for it")
            }
            ranges[k] = r
            flags[k] = flag
        }
        for k in Kind.allCases where ranges[k] == nil { throw fail("section \(k) is missing") }
        // each section's bytes: in the file, or inflated (freed when reading ends)
        var inflated: [UnsafeMutableRawBufferPointer] = []
        defer { for b in inflated { b.deallocate() } }
        var views: [Kind: UnsafeRawBufferPointer] = [:]
        for k in Kind.allCases {
            let stored = UnsafeRawBufferPointer(rebasing: bytes[ranges[k]!])
            if flags[k] == deflated {
                let b = try inflate(stored, kind: k, file: file)
                inflated.append(b)
                views[k] = UnsafeRawBufferPointer(b)
            } else {
                views[k] = stored
            }
        }
        func section(_ k: Kind) -> ByteReader { ByteReader(views[k]!, section: "\(k)", file: file) }

        // META
        var m = section(.meta)
        var metadata: [String: String] = [:]
        let metaCount = try m.count(minEntryBytes: 8)
        for _ in 0..<metaCount {
            let k = try m.string()
            guard metadata[k] == nil else { throw fail("metadata key '\(k)' appears twice") }
            metadata[k] = try m.string()
        }

        // TENSORS
        let data = UnsafeRawBufferPointer(rebasing: bytes[ranges[.data]!])
        var tr = section(.tensors)
        var tensors: [String: Tensor] = [:]
        let codes = Dictionary(uniqueKeysWithValues: dtypeCodes.map { ($1, $0) })
        let tensorCount = try tr.count(minEntryBytes: 24)
        for _ in 0..<tensorCount {
            let name = try tr.string()
            let code = try tr.u8()
            guard let dtype = codes[code] else { throw fail("tensor '\(name)': unknown dtype code \(code)") }
            let rank = Int(try tr.u8())
            _ = try tr.u16()
            guard rank <= 8 else { throw fail("tensor '\(name)': rank \(rank) (at most 8)") }
            var dims: [Int] = []
            var elements = 1
            for _ in 0..<rank {
                let d = Int(try tr.u32())
                let (p, overflow) = elements.multipliedReportingOverflow(by: d)
                guard !overflow, p <= 1 << 31 else { throw fail("tensor '\(name)': dimensions overflow") }
                elements = p
                dims.append(d)
            }
            let off = try tr.u64()
            let len = try tr.u64()
            guard len == UInt64(elements * dtype.byteSize) else {
                throw fail("tensor '\(name)': \(len) bytes for \(dtype.rawValue)\(Shape(dims))")
            }
            guard off % UInt64(alignment) == 0, off <= UInt64(data.count), len <= UInt64(data.count) - off else {
                throw fail("tensor '\(name)': data at \(off) with \(len) bytes lies outside the DATA section")
            }
            guard tensors[name] == nil else { throw fail("tensor '\(name)' appears twice") }
            tensors[name] = Tensor(
                dtype: dtype, shape: Shape(dims),
                bytes: UnsafeRawBufferPointer(rebasing: data[Int(off)..<Int(off + len)]))
        }

        // GRAPH
        let text = String(decoding: views[.graph]!, as: UTF8.self)
        var g: Graph
        do { g = try IRParser(external: tensors).parse(text) } catch { throw fail("graph: \(error.description)") }
        guard g.constants.count == tensors.count else {
            throw fail("\(tensors.count - g.constants.count) tensors are not constants of the graph")
        }

        // QUANT
        var q = section(.quant)
        var ids: [String: ValueID] = [:]
        for (i, v) in g.values.enumerated() { ids[v.name] = i }
        let quantCount = try q.count(minEntryBytes: 16)
        for _ in 0..<quantCount {
            let name = try q.string()
            let axis = try q.i32()
            let n = try q.count(minEntryBytes: 4)
            let flags = try q.u32()
            guard flags <= 1 else { throw fail("'\(name)': unknown quantization flags \(flags)") }
            guard let id = ids[name] else { throw fail("quantization parameters for unknown value '\(name)'") }
            guard g.values[id].quant == nil else { throw fail("value '\(name)' has two sets of parameters") }
            var scales: [Float] = []
            for _ in 0..<n { scales.append(Float(bitPattern: try q.u32())) }
            var zps = [Int32](repeating: 0, count: n)
            if flags == 1 { for i in 0..<n { zps[i] = try q.i32() } }
            let shape = g.values[id].shape
            if axis == -1 {
                guard n == 1 else { throw fail("'\(name)': per-tensor parameters with \(n) scales") }
            } else {
                guard axis >= 0, Int(axis) < shape.rank, shape[Int(axis)] == n else {
                    throw fail("'\(name)': \(n) scales along axis \(axis) of \(shape)")
                }
            }
            guard scales.allSatisfy({ $0.isFinite && $0 > 0 }) else {
                throw fail("'\(name)': scales must be positive and finite")
            }
            g.values[id].quant = QuantParams(scales: scales, zeroPoints: zps, axis: axis == -1 ? nil : Int(axis))
        }
        for n in g.nodes {
            guard let b = biasOf(n, in: g), g.values[b].quant == nil else { continue }
            guard let p = biasParams(n, in: g) else {
                throw fail("'\(n.name)': an int32 bias needs quantized input and weights")
            }
            g.values[b].quant = p
        }
        do { try g.verify() } catch { throw fail("graph: \(error.description)") }
        return Contents(graph: g, metadata: metadata, version: (major, minor))
    }

    static func hex(_ v: UInt32) -> String {
        let s = String(v, radix: 16)
        return "0x" + String(repeating: "0", count: 8 - s.count) + s
    }
}

/// Little-endian output.
struct ByteWriter {
    var bytes: [UInt8] = []
    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    mutating func i32(_ v: Int32) { u32(UInt32(bitPattern: v)) }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    mutating func string(_ s: String) {
        u32(UInt32(s.utf8.count))
        bytes += Array(s.utf8)
    }
    mutating func pad(to a: Int) {
        bytes += [UInt8](repeating: 0, count: (a - bytes.count % a) % a)
    }
}

/// Bounds-checked little-endian input over one section.
struct ByteReader {
    let buf: UnsafeRawBufferPointer
    let section: String
    let file: String
    var offset = 0

    init(_ buf: UnsafeRawBufferPointer, section: String, file: String) {
        self.buf = buf
        self.section = section
        self.file = file
    }

    func fail(_ m: String) -> FkdcError { FkdcError(file: file, "\(section) section: \(m)") }

    mutating func take(_ n: Int) throws(FkdcError) -> UnsafeRawBufferPointer {
        guard n >= 0, n <= buf.count - offset else {
            throw fail("needs \(n) bytes at \(offset) but ends at \(buf.count)")
        }
        defer { offset += n }
        return UnsafeRawBufferPointer(rebasing: buf[offset..<(offset + n)])
    }

    mutating func u8() throws(FkdcError) -> UInt8 { try take(1)[0] }
    mutating func u16() throws(FkdcError) -> UInt16 {
        let b = try take(2)
        return UInt16(b[0]) | UInt16(b[1]) << 8
    }
    mutating func u32() throws(FkdcError) -> UInt32 {
        let b = try take(4)
        return (0..<4).reduce(UInt32(0)) { $0 | UInt32(b[$1]) << (8 * $1) }
    }
    mutating func i32() throws(FkdcError) -> Int32 { Int32(bitPattern: try u32()) }
    mutating func u64() throws(FkdcError) -> UInt64 {
        let b = try take(8)
        return (0..<8).reduce(UInt64(0)) { $0 | UInt64(b[$1]) << (8 * $1) }
    }
    mutating func string() throws(FkdcError) -> String {
        let n = Int(try u32())
        guard n <= buf.count - offset else { throw fail("a \(n)-byte string at \(offset) runs past the section") }
        return String(decoding: try take(n), as: UTF8.self)
    }
    /// A count of entries that must each take at least `minEntryBytes` of what is left.
    mutating func count(minEntryBytes: Int) throws(FkdcError) -> Int {
        let n = Int(try u32())
        guard n <= (buf.count - offset) / minEntryBytes else {
            throw fail("count \(n) cannot fit in the \(buf.count - offset) bytes left")
        }
        return n
    }
}

/// CRC-32 through zlib (the checksum the format names), fed in pieces.
struct CRC32 {
    var crc: UInt = 0

    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        var off = 0
        while off < bytes.count {
            let chunk = Swift.min(bytes.count - off, 1 << 30)
            crc = CZlib.crc32(
                crc, bytes.baseAddress!.advanced(by: off).assumingMemoryBound(to: Bytef.self), uInt(chunk))
            off += chunk
        }
    }
    mutating func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { update($0) } }
    var value: UInt32 { UInt32(truncatingIfNeeded: crc) }

    static func checksum(_ bytes: [UInt8]) -> UInt32 {
        var c = CRC32()
        c.update(bytes)
        return c.value
    }
}
