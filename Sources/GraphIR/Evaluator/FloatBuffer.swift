/// Float32 elements the evaluator reads and writes, owned or borrowed from a constant.
final class FloatStorage: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Float>
    let count: Int
    private let owns: Bool
    private let keepAlive: TensorStorage?

    init(count: Int) {
        pointer = .allocate(capacity: max(count, 1))
        self.count = count
        owns = true
        keepAlive = nil
    }

    /// Borrows a float32 tensor's bytes (read-only use only).
    init(borrowing t: Tensor) {
        pointer = UnsafeMutablePointer(mutating: t.storage.pointer.assumingMemoryBound(to: Float.self))
        count = t.elementCount
        owns = false
        keepAlive = t.storage
    }

    deinit { if owns { pointer.deallocate() } }
}

/// A float32 tensor in the evaluator: shape plus storage (shared by views such as reshape).
struct FloatBuffer {
    var shape: [Int]
    let storage: FloatStorage

    init(shape: [Int]) {
        self.shape = shape
        storage = FloatStorage(count: shape.reduce(1, *))
    }

    init(shape: [Int], storage: FloatStorage) {
        self.shape = shape
        self.storage = storage
    }

    init(_ t: Tensor) {
        shape = t.shape.dims
        if t.dtype == .float32, Int(bitPattern: t.storage.pointer) % MemoryLayout<Float>.alignment == 0 {
            storage = FloatStorage(borrowing: t)
        } else {
            let f = t.floatArray()
            storage = FloatStorage(count: f.count)
            f.withUnsafeBufferPointer { storage.pointer.update(from: $0.baseAddress!, count: f.count) }
        }
    }

    var count: Int { storage.count }
    var ptr: UnsafeMutablePointer<Float> { storage.pointer }
    var buffer: UnsafeBufferPointer<Float> { UnsafeBufferPointer(start: storage.pointer, count: count) }

    func tensor() -> Tensor {
        Tensor(dtype: .float32, shape: Shape(shape), bytes: UnsafeRawBufferPointer(start: ptr, count: count * 4))
    }
}
