import CZlib
import Frontends
import GraphIR

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Paths of the repository's committed samples and fixtures.
enum Repo {
    static let root: String = {
        var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)  // Tests/FrontendsTests/TestFiles.swift
        return parts.joined(separator: "/")
    }()
    static func path(_ relative: String) -> String { root + "/" + relative }
}

/// Writes bytes to a fresh temporary file and returns its path.
func temporaryFile(_ bytes: [UInt8], suffix: String = ".pt") -> String {
    var template = Array("/tmp/fkdc-test-XXXXXX\(suffix)".utf8CString)
    let fd = template.withUnsafeMutableBufferPointer { mkstemps($0.baseAddress!, Int32(suffix.utf8.count)) }
    precondition(fd >= 0)
    _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    close(fd)
    return String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// A minimal zip writer (stored entries), optionally with ZIP64 central-directory records.
/// `deflated` entries are written as one raw-deflate stored block; `declared` overrides the
/// uncompressed size recorded in the directory.
func makeZip(
    _ entries: [(String, [UInt8])], zip64: Bool = false, deflated: Set<String> = [], declared: [String: Int] = [:]
) -> [UInt8] {
    func le16(_ v: Int) -> [UInt8] { [UInt8(v & 0xff), UInt8(v >> 8 & 0xff)] }
    func le32(_ v: Int) -> [UInt8] { (0..<4).map { UInt8(v >> (8 * $0) & 0xff) } }
    func le64(_ v: Int) -> [UInt8] { (0..<8).map { UInt8(v >> (8 * $0) & 0xff) } }
    var out: [UInt8] = []
    var central: [UInt8] = []
    for (name, raw) in entries {
        let crc = raw.withUnsafeBytes {
            Int(crc32(0, $0.baseAddress?.assumingMemoryBound(to: Bytef.self), uInt($0.count)))
        }
        let method = deflated.contains(name) ? 8 : 0
        let data = method == 8 ? [1] + le16(raw.count) + le16(~raw.count & 0xffff) + raw : raw
        let usize = declared[name] ?? raw.count
        let offset = out.count
        let n = Array(name.utf8)
        out += le32(0x0403_4b50) + le16(20) + le16(0) + le16(method) + le32(0) + le32(crc)
        out += le32(data.count) + le32(usize)
        out += le16(n.count) + le16(0) + n + data
        let extra = zip64 ? le16(1) + le16(24) + le64(usize) + le64(data.count) + le64(offset) : []
        central += le32(0x0201_4b50) + le16(45) + le16(45) + le16(0) + le16(method) + le32(0) + le32(crc)
        central += le32(zip64 ? 0xFFFF_FFFF : data.count) + le32(zip64 ? 0xFFFF_FFFF : usize)
        central +=
            le16(n.count) + le16(extra.count) + le16(0) + le16(0) + le16(0) + le32(0)
            + le32(zip64 ? 0xFFFF_FFFF : offset) + n + extra
    }
    let cdOffset = out.count
    out += central
    if zip64 {
        let rec = out.count
        out +=
            le32(0x0606_4b50) + le64(44) + le16(45) + le16(45) + le32(0) + le32(0) + le64(entries.count)
            + le64(entries.count)
        out += le64(central.count) + le64(cdOffset)
        out += le32(0x0706_4b50) + le32(0) + le64(rec) + le32(1)
        out +=
            le32(0x0605_4b50) + le16(0) + le16(0) + le16(0xFFFF) + le16(0xFFFF) + le32(0xFFFF_FFFF) + le32(0xFFFF_FFFF)
            + le16(0)
    } else {
        out +=
            le32(0x0605_4b50) + le16(0) + le16(0) + le16(entries.count) + le16(entries.count) + le32(central.count)
            + le32(cdOffset) + le16(0)
    }
    return out
}

/// A torch-style checkpoint: `archive/data.pkl` plus storages.
func makeCheckpoint(pickle: [UInt8], storages: [(String, [UInt8])] = [], zip64: Bool = false) -> [UInt8] {
    makeZip(
        [("archive/data.pkl", pickle), ("archive/byteorder", Array("little".utf8))]
            + storages.map { ("archive/data/" + $0.0, $0.1) }, zip64: zip64)
}

/// Pickle opcodes for building test streams by hand.
enum P {
    static let proto2: [UInt8] = [0x80, 2]
    static let stop: [UInt8] = [0x2e]
    static let mark: [UInt8] = [0x28]
    static let emptyDict: [UInt8] = [0x7d]
    static let setitems: [UInt8] = [0x75]
    static let reduce: [UInt8] = [0x52]
    static let tuple: [UInt8] = [0x74]
    static let binpersid: [UInt8] = [0x51]
    static let newFalse: [UInt8] = [0x89]
    static func global(_ module: String, _ name: String) -> [UInt8] { [0x63] + Array("\(module)\n\(name)\n".utf8) }
    static func str(_ s: String) -> [UInt8] {
        let b = Array(s.utf8)
        return [0x58] + (0..<4).map { UInt8(b.count >> (8 * $0) & 0xff) } + b
    }
    static func int(_ v: Int) -> [UInt8] { [0x4a] + (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
    static func tupleOf(_ items: [[UInt8]]) -> [UInt8] { mark + items.flatMap { $0 } + tuple }

    /// `_rebuild_tensor_v2(('storage', torch.FloatStorage, key, 'cpu', numel), offset, size, stride, False, OrderedDict())`.
    static func tensor(
        key: String, numel: Int, offset: Int = 0, size: [Int], stride: [Int], storage: String = "FloatStorage"
    ) -> [UInt8] {
        let pid = tupleOf([str("storage"), global("torch", storage), str(key), str("cpu"), int(numel)]) + binpersid
        let args = tupleOf([
            pid, int(offset), tupleOf(size.map(int)), tupleOf(stride.map(int)), newFalse,
            global("collections", "OrderedDict") + [0x29] + reduce,
        ])
        return global("torch._utils", "_rebuild_tensor_v2") + args + reduce
    }

    /// `{k: v, …}` as an OrderedDict.
    static func dict(_ items: [(String, [UInt8])]) -> [UInt8] {
        global("collections", "OrderedDict") + [0x29] + reduce + mark + items.flatMap { str($0.0) + $0.1 } + setitems
    }
}

func floatBytes(_ v: [Float]) -> [UInt8] { v.withUnsafeBytes { Array($0) } }

/// A safetensors file from (name, dtype, shape, bytes) in order, with a JSON header as given or built.
func makeSafetensors(_ tensors: [(String, String, [Int], [UInt8])], header: String? = nil) -> [UInt8] {
    var offset = 0
    var parts: [String] = []
    var data: [UInt8] = []
    for (name, dt, shape, bytes) in tensors {
        parts.append(
            "\"\(name)\":{\"dtype\":\"\(dt)\",\"shape\":[\(shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(offset + bytes.count)]}"
        )
        offset += bytes.count
        data += bytes
    }
    let h = Array((header ?? "{" + parts.joined(separator: ",") + "}").utf8)
    return (0..<8).map { UInt8(h.count >> (8 * $0) & 0xff) } + h + data
}
