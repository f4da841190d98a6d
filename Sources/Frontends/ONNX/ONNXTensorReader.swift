import CONNX
import GraphIR

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Turns ONNX TensorProtos into tensors: raw_data, the typed repeated fields, or external data
/// (a file beside the model, which must stay inside the model's folder).
struct ONNXTensorReader {
    let folder: String
    let file: String
    let limits: ParsingLimits

    static func dtype(_ code: Int32) -> DType? {
        switch code {
        case 1: .float32
        case 2: .uint8
        case 3: .int8
        case 5: .int16
        case 6: .int32
        case 7: .int64
        case 9: .bool
        case 10: .float16
        case 11: .float64
        case 16: .bfloat16
        default: nil
        }
    }

    func fail(_ name: String, _ m: String) -> FrontendError {
        FrontendError(.malformedTensor, file: file, at: "tensor '\(name)'", m)
    }

    /// `rawData`, when given, is where the tensor's raw_data lies in the model file (the message
    /// was unpacked from an `ONNXSkeleton`): the tensor is a view of the mapping, not a copy.
    func tensor(_ t: Onnx__TensorProto, name: String, rawData: (file: MappedFile, range: Range<Int>)? = nil)
        throws(FrontendError) -> Tensor
    {
        guard let dtype = Self.dtype(t.data_type) else { throw fail(name, "unsupported data type \(t.data_type)") }
        var dims: [Int] = []
        for i in 0..<t.n_dims {
            guard let d = Int(exactly: t.dims[i]), d >= 0 else { throw fail(name, "negative dimension \(t.dims[i])") }
            dims.append(d)
        }
        let shape = Shape(dims)
        guard let count = shape.checkedElementCount, let span = shape.span, span <= Graph.maxElements else {
            throw fail(name, "dims \(dims) are too large")
        }
        let bytes = count * dtype.byteSize
        let typeName = "\(dtype.rawValue)"
        if t.data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL {
            return try external(t, name: name, dtype: dtype, shape: shape, bytes: bytes)
        }
        if t.has_raw_data != 0 {
            let held = rawData?.range.count ?? t.raw_data.len
            guard held == bytes else {
                throw fail(name, "raw_data holds \(held) bytes but dims \(shape) of \(typeName) need \(bytes)")
            }
            if let rawData {
                return Tensor(
                    dtype: dtype, shape: shape,
                    storage: TensorStorage(file: rawData.file, offset: rawData.range.lowerBound, byteCount: bytes))
            }
            return Tensor(
                dtype: dtype, shape: shape, bytes: UnsafeRawBufferPointer(start: t.raw_data.data, count: bytes))
        }
        func check(_ n: Int, _ field: String) throws(FrontendError) {
            guard n == count else { throw fail(name, "\(field) holds \(n) values but dims \(shape) need \(count)") }
        }
        // the typed field must hold exactly `count` values before anything of `bytes` is allocated
        switch dtype {
        case .float32: try check(t.n_float_data, "float_data")
        case .int64: try check(t.n_int64_data, "int64_data")
        case .float64: try check(t.n_double_data, "double_data")
        case .int32, .int16, .int8, .uint8, .bool, .float16, .bfloat16: try check(t.n_int32_data, "int32_data")
        }
        let out = TensorStorage(byteCount: bytes)
        let p = out.mutablePointer!
        switch dtype {
        case .float32:
            if count > 0 { p.copyMemory(from: t.float_data, byteCount: bytes) }
        case .int64:
            if count > 0 { p.copyMemory(from: t.int64_data, byteCount: bytes) }
        case .float64:
            if count > 0 { p.copyMemory(from: t.double_data, byteCount: bytes) }
        case .int32, .int16, .int8, .uint8, .bool, .float16, .bfloat16:
            for i in 0..<count {
                let v = t.int32_data[i]
                switch dtype.byteSize {
                case 4: p.storeBytes(of: v, toByteOffset: 4 * i, as: Int32.self)
                case 2: p.storeBytes(of: UInt16(truncatingIfNeeded: v), toByteOffset: 2 * i, as: UInt16.self)
                default: p.storeBytes(of: UInt8(truncatingIfNeeded: v), toByteOffset: i, as: UInt8.self)
                }
            }
        }
        return Tensor(dtype: dtype, shape: shape, storage: out)
    }

    /// External data: `location` relative to the model's folder (no absolute paths, no `..`,
    /// no symbolic link leading outside), `offset` and `length` checked against the file.
    private func external(_ t: Onnx__TensorProto, name: String, dtype: DType, shape: Shape, bytes: Int)
        throws(FrontendError) -> Tensor
    {
        var location = ""
        var offset = 0
        var length: Int?
        for i in 0..<t.n_external_data {
            guard let e = t.external_data[i]?.pointee else { continue }
            let key = ONNXModel.string(e.key)
            let value = ONNXModel.string(e.value)
            switch key {
            case "location": location = value
            case "offset":
                guard let v = Int(value), v >= 0 else {
                    throw fail(name, "external data offset '\(value)' is not a byte offset")
                }
                offset = v
            case "length":
                guard let v = Int(value), v >= 0 else {
                    throw fail(name, "external data length '\(value)' is not a byte count")
                }
                length = v
            default: break
            }
        }
        guard !location.isEmpty else { throw fail(name, "external data without a location") }
        guard !location.hasPrefix("/") else {
            throw fail(
                name, "external data location '\(location)' is absolute; it must be relative to the model's folder")
        }
        guard !location.split(separator: "/").contains("..") else {
            throw fail(name, "external data location '\(location)' leaves the model's folder ('..')")
        }
        let path = folder + "/" + location
        guard let real = realPath(path), let base = realPath(folder), real.hasPrefix(base + "/") else {
            throw fail(name, "external data '\(location)' is missing or resolves outside the model's folder")
        }
        if let length, length != bytes {
            throw fail(name, "external data length \(length) but dims \(shape) of \(dtype.rawValue) need \(bytes)")
        }
        let f: MappedFile
        do { f = try MappedFile(path: real) } catch {
            throw fail(name, "cannot open external data '\(location)': \(error)")
        }
        guard offset <= f.count, bytes <= f.count - offset else {
            throw fail(
                name,
                "external data [\(offset), \(offset + bytes)) runs past the end of '\(location)' (\(f.count) bytes)")
        }
        return Tensor(dtype: dtype, shape: shape, storage: TensorStorage(file: f, offset: offset, byteCount: bytes))
    }

    private func realPath(_ p: String) -> String? {
        guard let r = realpath(p, nil) else { return nil }
        defer { free(r) }
        return String(cString: r)
    }
}
