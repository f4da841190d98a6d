#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Bytes that hold tensor elements: owned (64-byte aligned) or a region of a mapped file.
public final class TensorStorage: @unchecked Sendable {
    public let pointer: UnsafeRawPointer
    public let byteCount: Int
    private let owned: UnsafeMutableRawPointer?
    /// Keeps a mapped file (or a parent storage) alive while tensors point into it.
    public let mappedFile: MappedFile?
    private let parent: TensorStorage?

    /// Fresh storage of `byteCount` bytes, zeroed unless the caller will overwrite every byte.
    public init(byteCount: Int, zeroed: Bool = true) {
        let p = UnsafeMutableRawPointer.allocate(byteCount: max(byteCount, 1), alignment: 64)
        if zeroed { p.initializeMemory(as: UInt8.self, repeating: 0, count: max(byteCount, 1)) }
        owned = p
        pointer = UnsafeRawPointer(p)
        self.byteCount = byteCount
        mappedFile = nil
        parent = nil
    }

    /// A view of `byteCount` bytes at `offset` inside `parent`; the caller has checked the range.
    public init(viewOf parent: TensorStorage, offset: Int, byteCount: Int) {
        precondition(offset >= 0 && byteCount >= 0 && offset <= parent.byteCount - byteCount)
        owned = nil
        mappedFile = parent.mappedFile
        self.parent = parent
        pointer = parent.pointer + offset
        self.byteCount = byteCount
    }

    /// A view of `byteCount` bytes at `offset` in `file`; the caller has checked the range.
    public init(file: MappedFile, offset: Int, byteCount: Int) {
        precondition(offset >= 0 && byteCount >= 0 && offset <= file.count - byteCount)
        owned = nil
        mappedFile = file
        parent = nil
        pointer = file.bytes.baseAddress.map { $0 + offset } ?? UnsafeRawPointer(bitPattern: 64)!
        self.byteCount = byteCount
    }

    deinit { owned?.deallocate() }

    public var mutablePointer: UnsafeMutableRawPointer? { owned }

    /// For a view of a mapped file: lets the kernel drop the resident pages that lie wholly
    /// inside it (`madvise(MADV_DONTNEED)`; the mapping is read-only, so a later read simply
    /// faults them in again from the file). For a caller done with the bytes for now.
    public func releaseResidentPages() {
        guard let file = mappedFile, let base = file.bytes.baseAddress, byteCount > 0 else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        guard page > 0 else { return }
        let start = pointer - base
        let first = (start + page - 1) / page * page
        let end = (start + byteCount) / page * page
        guard end > first else { return }
        _ = madvise(UnsafeMutableRawPointer(mutating: base + first), end - first, MADV_DONTNEED)
    }
    public var isMapped: Bool { mappedFile != nil }
}

/// A dense, contiguous, row-major tensor. Large weights may be backed by a mapped file.
public struct Tensor: Sendable, Equatable {
    public let dtype: DType
    public let shape: Shape
    public let storage: TensorStorage

    /// Wraps storage that holds exactly `shape.elementCount × dtype.byteSize` bytes.
    public init(dtype: DType, shape: Shape, storage: TensorStorage) {
        precondition(storage.byteCount == shape.elementCount * dtype.byteSize)
        self.dtype = dtype
        self.shape = shape
        self.storage = storage
    }

    public init(shape: Shape, floats: [Float]) {
        precondition(floats.count == shape.elementCount)
        let s = TensorStorage(byteCount: floats.count * 4)
        floats.withUnsafeBytes { s.mutablePointer!.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        self.init(dtype: .float32, shape: shape, storage: s)
    }

    public init(shape: Shape, int64s: [Int64]) {
        precondition(int64s.count == shape.elementCount)
        let s = TensorStorage(byteCount: int64s.count * 8)
        int64s.withUnsafeBytes { s.mutablePointer!.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        self.init(dtype: .int64, shape: shape, storage: s)
    }

    /// Copies `bytes`, which must hold exactly the tensor's elements, little-endian.
    public init(dtype: DType, shape: Shape, bytes: UnsafeRawBufferPointer) {
        precondition(bytes.count == shape.elementCount * dtype.byteSize)
        let s = TensorStorage(byteCount: bytes.count)
        if let src = bytes.baseAddress { s.mutablePointer!.copyMemory(from: src, byteCount: bytes.count) }
        self.init(dtype: dtype, shape: shape, storage: s)
    }

    public var elementCount: Int { shape.elementCount }
    public var byteCount: Int { storage.byteCount }
    public var isMapped: Bool { storage.isMapped }

    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: storage.pointer, count: byteCount) }

    /// The elements as float32 values, converting from the stored type.
    public func floatArray() -> [Float] {
        let n = elementCount
        let p = storage.pointer
        return [Float](unsafeUninitializedCapacity: n) { out, done in
            switch dtype {
            case .float32: UnsafeMutableRawPointer(out.baseAddress!).copyMemory(from: p, byteCount: n * 4)
            case .float16:
                for i in 0..<n { out[i] = Float(halfBits: p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
            case .bfloat16:
                for i in 0..<n {
                    out[i] = Float(bitPattern: UInt32(p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) << 16)
                }
            case .float64: for i in 0..<n { out[i] = Float(p.loadUnaligned(fromByteOffset: 8 * i, as: Double.self)) }
            case .int64: for i in 0..<n { out[i] = Float(p.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self)) }
            case .int32: for i in 0..<n { out[i] = Float(p.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)) }
            case .int16: for i in 0..<n { out[i] = Float(p.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self)) }
            case .int8: for i in 0..<n { out[i] = Float(p.load(fromByteOffset: i, as: Int8.self)) }
            case .uint8: for i in 0..<n { out[i] = Float(p.load(fromByteOffset: i, as: UInt8.self)) }
            case .bool: for i in 0..<n { out[i] = p.load(fromByteOffset: i, as: UInt8.self) != 0 ? 1 : 0 }
            }
            done = n
        }
    }

    /// The elements as Int64 values (integer and bool types only; floats are truncated).
    public func int64Array() -> [Int64] {
        switch dtype {
        case .int64: (0..<elementCount).map { storage.pointer.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self) }
        case .int32:
            (0..<elementCount).map { Int64(storage.pointer.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self)) }
        default: floatArray().map { Int64($0) }
        }
    }

    /// A float32 tensor with the same elements; self when already float32.
    public func toFloat32() -> Tensor {
        dtype == .float32 ? self : Tensor(shape: shape, floats: floatArray())
    }

    /// The same elements under another shape of equal element count.
    public func reshaped(_ newShape: Shape) -> Tensor {
        Tensor(dtype: dtype, shape: newShape, storage: storage)
    }

    public static func == (a: Tensor, b: Tensor) -> Bool {
        a.dtype == b.dtype && a.shape == b.shape
            && (a.storage === b.storage || memcmp(a.storage.pointer, b.storage.pointer, a.byteCount) == 0)
    }
}

extension Float {
    /// Converts IEEE half-precision bits to Float without relying on the platform's Float16.
    public init(halfBits h: UInt16) {
        let sign = UInt32(h & 0x8000) << 16
        let exp = Int((h >> 10) & 0x1f)
        let man = UInt32(h & 0x3ff)
        if exp == 0 {
            // zero or subnormal: man × 2^-24
            let v = Float(man) * Float(sign: .plus, exponent: -24, significand: 1)
            self = sign != 0 ? -v : v
        } else if exp == 31 {
            self = Float(bitPattern: sign | 0x7f80_0000 | (man << 13))
        } else {
            self = Float(bitPattern: sign | (UInt32(exp - 15 + 127) << 23) | (man << 13))
        }
    }
}

extension Tensor {
    /// The constant's values as one per index of `axis` of a rank-`rank` value it broadcasts
    /// against (`count` of them): when it is one value, or varies along that axis only (its
    /// dims right-aligned, as broadcasting aligns them); nil otherwise. A bias or a scale per
    /// channel, however the exporter shaped it ([C], [C, 1, 1], [1, C, 1, 1]).
    public func perIndex(alongAxis axis: Int, rank: Int, count: Int) -> [Float]? {
        let d = shape.dims
        if elementCount == 1 { return Array(repeating: floatArray()[0], count: count) }
        guard d.count <= rank, axis >= 0, axis < rank else { return nil }
        let aligned = Array(repeating: 1, count: rank - d.count) + d
        for (i, n) in aligned.enumerated() where n != 1 && i != axis { return nil }
        return aligned[axis] == count ? floatArray() : nil
    }
}
