import CONNX
import CProtobufC

/// Bounds how deeply protobuf messages nest before protobuf-c's recursive unpacker sees them:
/// a TypeProto or a subgraph attribute nested a hundred thousand deep would exhaust its stack.
///
/// One pass over the wire format, guided by protobuf-c's descriptors of the schema, with an
/// explicit stack (no recursion): a length-delimited field whose descriptor says "message" is
/// entered, every other field is skipped. Each byte is read once. Malformed wire data is left for
/// protobuf-c to reject with its own error.
enum ProtobufNesting {
    /// The depth of the deepest message, or nil as soon as it exceeds `limit`.
    static func depth(
        of bytes: UnsafeRawBufferPointer, root: UnsafePointer<ProtobufCMessageDescriptor>, limit: Int
    ) -> Int? {
        var stack: [(end: Int, message: UnsafePointer<ProtobufCMessageDescriptor>)] = []
        var message = root
        var end = bytes.count
        var pos = 0
        var deepest = 0
        func varint() -> UInt64? { Self.varint(bytes, &pos, end) }
        while true {
            while pos < end {
                guard let tag = varint() else { return deepest }
                let field = UInt32(truncatingIfNeeded: tag >> 3)
                switch tag & 7 {
                case 0: guard varint() != nil else { return deepest }
                case 1: pos += 8
                case 5: pos += 4
                case 2:
                    guard let n = varint(), n <= UInt64(end - pos) else { return deepest }
                    let len = Int(n)
                    if let sub = submessage(message, field) {
                        guard stack.count < limit else { return nil }
                        stack.append((end, message))
                        deepest = max(deepest, stack.count)
                        (message, end) = (sub, pos + len)
                    } else {
                        pos += len
                    }
                default: return deepest  // groups (unused by ONNX) and invalid wire types: protobuf-c decides
                }
            }
            guard let (outer, parent) = stack.popLast() else { return deepest }
            (pos, end, message) = (end, outer, parent)
        }
    }

    /// The base-128 varint at `pos` (advanced past it), or nil when it runs past `end` or past
    /// ten bytes. Shared by the wire-format walkers (this one and `ONNXSkeleton`).
    static func varint(_ bytes: UnsafeRawBufferPointer, _ pos: inout Int, _ end: Int) -> UInt64? {
        var v: UInt64 = 0
        var shift: UInt64 = 0
        while pos < end, shift < 64 {
            let b = bytes[pos]
            pos += 1
            v |= UInt64(b & 0x7f) << shift
            if b & 0x80 == 0 { return v }
            shift += 7
        }
        return nil
    }

    /// The descriptor of field `id` of `message` when that field holds a message.
    static func submessage(_ message: UnsafePointer<ProtobufCMessageDescriptor>, _ id: UInt32)
        -> UnsafePointer<ProtobufCMessageDescriptor>?
    {
        let m = message.pointee
        guard let fields = m.fields else { return nil }
        for i in 0..<Int(m.n_fields) where fields[i].id == id {
            guard fields[i].type == PROTOBUF_C_TYPE_MESSAGE, let d = fields[i].descriptor else { return nil }
            return d.assumingMemoryBound(to: ProtobufCMessageDescriptor.self)
        }
        return nil
    }
}
