/// An ONNX ModelProto split into its structure and its initializers' weight bytes, so weights
/// are used in place from the mapped file. Unpacked as it is, protobuf-c copies every `bytes`
/// field into the message, and the tensor reader would copy it once more: three times the
/// file in memory for a ViT-B/16.
///
/// The skeleton is the same message with the raw_data of each initializer of the graph replaced
/// by an empty raw_data field, and `raw[i]` is where initializer i's raw_data lies in the file
/// (nil when it has none). Only what protobuf-c would read the same way is rewritten: on
/// malformed wire data, groups, or a graph field given more than once (protobuf merges those),
/// `split` returns nil and the caller unpacks the file itself, so protobuf-c still judges
/// every malformed file.
struct ONNXSkeleton {
    var bytes: [UInt8]
    var raw: [Range<Int>?]

    /// Field numbers and wire types of onnx.proto (`Sources/CONNX/onnx.proto`).
    private static let modelGraph = 7
    private static let graphInitializer = 5
    private static let tensorRawData = 9
    private static let lengthDelimited = 2

    /// One field: where it starts, its number and wire type, and its payload.
    private struct Field {
        var start: Int
        var number: Int
        var wireType: Int
        var payload: Range<Int>
    }

    /// The fields of the message in `range`, or nil when the wire data is not well formed.
    private static func fields(_ b: UnsafeRawBufferPointer, _ range: Range<Int>) -> [Field]? {
        var out: [Field] = []
        var pos = range.lowerBound
        let end = range.upperBound
        func varint() -> UInt64? { ProtobufNesting.varint(b, &pos, end) }
        while pos < end {
            let start = pos
            guard let tag = varint(), let number = Int(exactly: tag >> 3), number > 0 else { return nil }
            let wireType = Int(tag & 7)
            let length: Int
            switch wireType {
            case 0:
                let s = pos
                guard varint() != nil else { return nil }
                length = pos - s
                pos = s
            case 1: length = 8
            case 5: length = 4
            case 2:
                guard let n = varint(), let len = Int(exactly: n) else { return nil }
                length = len
            default: return nil
            }
            guard length <= end - pos else { return nil }
            out.append(Field(start: start, number: number, wireType: wireType, payload: pos..<(pos + length)))
            pos += length
        }
        return out
    }

    private static func appendVarint(_ v: Int, to out: inout [UInt8]) {
        var v = UInt64(v)
        while v >= 0x80 {
            out.append(UInt8(v & 0x7f) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }

    private static func appendField(_ number: Int, payload: [UInt8], to out: inout [UInt8]) {
        appendVarint(number << 3 | lengthDelimited, to: &out)
        appendVarint(payload.count, to: &out)
        out.append(contentsOf: payload)
    }

    private static func append(_ b: UnsafeRawBufferPointer, _ r: Range<Int>, to out: inout [UInt8]) {
        out.append(contentsOf: UnsafeRawBufferPointer(rebasing: b[r]))
    }

    static func split(_ b: UnsafeRawBufferPointer) -> ONNXSkeleton? {
        guard let model = fields(b, 0..<b.count) else { return nil }
        let graphs = model.filter { $0.number == modelGraph }
        guard graphs.count == 1, let graph = graphs.first, graph.wireType == lengthDelimited,
            let graphFields = fields(b, graph.payload)
        else { return nil }
        var raw: [Range<Int>?] = []
        var newGraph: [UInt8] = []
        for f in graphFields {
            guard f.number == graphInitializer, f.wireType == lengthDelimited else {
                append(b, f.start..<f.payload.upperBound, to: &newGraph)
                continue
            }
            guard let tensorFields = fields(b, f.payload) else { return nil }
            var tensor: [UInt8] = []
            var data: Range<Int>?
            for t in tensorFields {
                if t.number == tensorRawData, t.wireType == lengthDelimited {
                    data = t.payload  // the last one wins, as protobuf-c reads it
                } else {
                    append(b, t.start..<t.payload.upperBound, to: &tensor)
                }
            }
            if data != nil { appendField(tensorRawData, payload: [], to: &tensor) }
            raw.append(data)
            appendField(graphInitializer, payload: tensor, to: &newGraph)
        }
        var out: [UInt8] = []
        append(b, 0..<graph.start, to: &out)
        appendField(modelGraph, payload: newGraph, to: &out)
        append(b, graph.payload.upperBound..<b.count, to: &out)
        return ONNXSkeleton(bytes: out, raw: raw)
    }
}
