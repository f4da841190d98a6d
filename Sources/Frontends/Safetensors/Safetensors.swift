import GraphIR

/// The safetensors format: an 8-byte little-endian header length N, N bytes of JSON
/// (`{"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {…}}`), then the
/// byte buffer. Applies every check of the format's reference implementation: header size limit,
/// JSON well-formed with no duplicate names, known dtypes, element count × dtype size equal to
/// the byte range, and the ranges covering the buffer exactly, without gaps or overlap.
enum Safetensors {
    struct Item {
        var name: String
        var dtype: DType
        var shape: [Int]
        var begin: Int
        var end: Int
    }

    static let dtypes: [String: DType] = [
        "F64": .float64, "F32": .float32, "F16": .float16, "BF16": .bfloat16, "I64": .int64, "I32": .int32,
        "I16": .int16, "I8": .int8, "U8": .uint8, "BOOL": .bool,
    ]

    static func read(_ file: MappedFile, limits: ParsingLimits) throws(FrontendError) -> StateDict {
        let b = file.bytes
        var c = ByteCursor(b, what: "header")
        let n64 = try c.u64()
        guard n64 <= UInt64(limits.maxSafetensorsHeader) else {
            throw FrontendError(
                .limitExceeded, at: "header",
                "header length \(n64) exceeds the \(limits.maxSafetensorsHeader)-byte limit")
        }
        let n = Int(n64)
        guard n <= b.count - 8 else {
            throw FrontendError(
                .truncated, at: "header", "header length \(n) runs past the end of the \(b.count)-byte file")
        }
        var parser = JSONParser(UnsafeRawBufferPointer(rebasing: b[8..<8 + n]))
        let document = try parser.parseDocument()
        guard case .object(let entries) = document else {
            throw FrontendError(.malformedTensor, at: "header", "the header is not a JSON object")
        }
        let bufferStart = 8 + n
        let bufferSize = b.count - bufferStart
        guard entries.count <= limits.maxTensors else {
            throw FrontendError(.limitExceeded, at: "header", "more than \(limits.maxTensors) tensors")
        }
        var items: [Item] = []
        for member in entries where member.key != "__metadata__" {
            let (name, v) = (member.key, member.value)
            func bad(_ m: String) -> FrontendError { FrontendError(.malformedTensor, at: name, m) }
            guard case .object(let fields) = v else { throw bad("entry is not an object") }
            func f(_ k: String) -> JSONValue? { fields.first { $0.key == k }?.value }
            guard case .string(let dt)? = f("dtype") else { throw bad("missing dtype") }
            guard let dtype = dtypes[dt] else { throw bad("unsupported dtype '\(dt)'") }
            guard case .array(let shapeJ)? = f("shape") else { throw bad("missing shape") }
            guard case .array(let offs)? = f("data_offsets"), offs.count == 2 else {
                throw bad("missing data_offsets [begin, end]")
            }
            var shape: [Int] = []
            for s in shapeJ {
                guard case .integer(let i) = s, i >= 0 else { throw bad("shape holds a non-integer or negative") }
                shape.append(i)
            }
            guard case .integer(let begin) = offs[0], case .integer(let end) = offs[1], begin >= 0, begin <= end else {
                throw bad("data_offsets must be integers with begin ≤ end")
            }
            guard let count = Shape(shape).checkedElementCount else { throw bad("shape \(shape) overflows") }
            let (bytes, o) = count.multipliedReportingOverflow(by: dtype.byteSize)
            guard !o, bytes == end - begin else {
                throw bad(
                    "shape \(shape) of \(dt) needs \(o ? "too many" : String(bytes)) bytes, data_offsets give \(end - begin)"
                )
            }
            items.append(Item(name: name, dtype: dtype, shape: shape, begin: begin, end: end))
        }
        // The ranges, sorted, must tile the buffer: no gap, no overlap, nothing past the end.
        var expected = 0
        for it in items.sorted(by: { ($0.begin, $0.end) < ($1.begin, $1.end) }) {
            guard it.begin == expected else {
                throw FrontendError(
                    .malformedTensor, at: it.name,
                    it.begin < expected
                        ? "data_offsets [\(it.begin), \(it.end)] overlap another tensor's bytes"
                        : "a gap of \(it.begin - expected) bytes precedes data_offsets [\(it.begin), \(it.end)]")
            }
            expected = it.end
        }
        guard expected == bufferSize else {
            throw FrontendError(
                .malformedTensor, at: "data",
                expected > bufferSize
                    ? "tensors need \(expected) bytes but the file holds \(bufferSize) after the header"
                    : "\(bufferSize - expected) bytes after the last tensor are not covered")
        }
        var out = StateDict(tensors: [], file: file.path, format: "safetensors")
        for it in items {
            let s = TensorStorage(file: file, offset: bufferStart + it.begin, byteCount: it.end - it.begin)
            out.tensors.append((it.name, Tensor(dtype: it.dtype, shape: Shape(it.shape), storage: s)))
        }
        return out
    }
}
