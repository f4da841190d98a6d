/// Reads little-endian integers from immutable bytes; every read checks the remaining length
/// and throws with the offset when input runs short.
struct ByteCursor {
    let bytes: UnsafeRawBufferPointer
    private(set) var offset: Int
    let what: String

    init(_ bytes: UnsafeRawBufferPointer, offset: Int = 0, what: String) {
        self.bytes = bytes
        self.offset = offset
        self.what = what
    }

    var remaining: Int { bytes.count - offset }
    var atEnd: Bool { offset >= bytes.count }

    mutating func need(_ n: Int) throws(FrontendError) {
        guard n >= 0, n <= remaining else {
            throw FrontendError(
                .truncated, at: "\(what) offset \(offset)", "needs \(n) more bytes but only \(remaining) remain")
        }
    }

    mutating func u8() throws(FrontendError) -> UInt8 {
        try need(1)
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func u16() throws(FrontendError) -> UInt16 {
        try need(2)
        defer { offset += 2 }
        return UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    mutating func u32() throws(FrontendError) -> UInt32 {
        try need(4)
        defer { offset += 4 }
        return UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    mutating func u64() throws(FrontendError) -> UInt64 {
        try need(8)
        defer { offset += 8 }
        return UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    mutating func i32() throws(FrontendError) -> Int32 { Int32(bitPattern: try u32()) }

    mutating func f64BigEndian() throws(FrontendError) -> Double {
        try need(8)
        defer { offset += 8 }
        return Double(bitPattern: UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)))
    }

    /// `n` bytes as a slice of the underlying buffer (no copy).
    mutating func slice(_ n: Int) throws(FrontendError) -> UnsafeRawBufferPointer {
        try need(n)
        defer { offset += n }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + n])
    }

    /// Bytes up to (not including) the next `terminator`, which is consumed.
    mutating func line(terminator: UInt8 = 10) throws(FrontendError) -> UnsafeRawBufferPointer {
        var end = offset
        while end < bytes.count, bytes[end] != terminator { end += 1 }
        guard end < bytes.count else {
            throw FrontendError(.truncated, at: "\(what) offset \(offset)", "unterminated line")
        }
        let s = UnsafeRawBufferPointer(rebasing: bytes[offset..<end])
        offset = end + 1
        return s
    }

    mutating func seek(_ o: Int) throws(FrontendError) {
        guard o >= 0, o <= bytes.count else {
            throw FrontendError(.truncated, at: what, "offset \(o) lies outside the \(bytes.count) bytes")
        }
        offset = o
    }
}
