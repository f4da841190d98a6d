import CONNX
import CProtobufC
import GraphIR

/// An ONNX model read through protobuf-c, as plain Swift values (the protobuf message is freed).
struct ONNXModel {
    struct Attribute {
        var int: Int64?
        var float: Float?
        var ints: [Int64] = []
        var floats: [Float] = []
        var string: String?
        var tensor: Tensor?
        var hasGraph = false
    }

    struct Node {
        var name: String
        var opType: String
        var domain: String
        var inputs: [String]
        var outputs: [String]
        var attributes: [String: Attribute]

        func int(_ k: String) -> Int? { attributes[k]?.int.flatMap { Int(exactly: $0) } }
        func float(_ k: String) -> Float? { attributes[k]?.float }
        func ints(_ k: String) -> [Int]? { attributes[k].map { $0.ints.compactMap { Int(exactly: $0) } } }
        func string(_ k: String) -> String? { attributes[k]?.string }
    }

    struct ValueInfo {
        var name: String
        /// ONNX TensorProto data type code.
        var elemType: Int32
        /// Known sizes, or nil for symbolic (`dim_param`), negative (-1) and missing dimensions.
        var dims: [Int?]
        var hasShape: Bool
    }

    var opset: Int
    var nodes: [Node] = []
    var initializers: [(String, Tensor)] = []
    var inputs: [ValueInfo] = []
    var outputs: [ValueInfo] = []
    var graphName: String

    /// `inPlace: false` unpacks the whole file with protobuf-c, copying the weights (tests compare
    /// the two ways).
    static func read(path: String, limits: ParsingLimits, inPlace: Bool = true) throws(FrontendError) -> ONNXModel {
        let file: MappedFile
        do { file = try MappedFile(path: path) } catch { throw FrontendError(.io, file: path, "cannot open: \(error)") }
        let bytes = file.bytes
        guard let base = bytes.baseAddress, bytes.count > 0 else {
            throw FrontendError(.truncated, file: path, "the file is empty")
        }
        let depth = withUnsafePointer(to: onnx__model_proto__descriptor) {
            ProtobufNesting.depth(of: bytes, root: $0, limit: limits.maxNesting)
        }
        guard depth != nil else {
            throw FrontendError(
                .limitExceeded, file: path,
                "messages nest deeper than \(limits.maxNesting) levels (a TypeProto or subgraph nested this deep is not a real model)"
            )
        }
        // weights stay in the mapping: protobuf-c unpacks the structure only (see ONNXSkeleton)
        let skeleton = inPlace ? ONNXSkeleton.split(bytes) : nil
        let unpacked =
            if let skeleton {
                skeleton.bytes.withUnsafeBufferPointer { onnx__model_proto__unpack(nil, $0.count, $0.baseAddress) }
            } else {
                onnx__model_proto__unpack(nil, bytes.count, base.assumingMemoryBound(to: UInt8.self))
            }
        guard let msg = unpacked else {
            throw FrontendError(.malformedProtobuf, file: path, "not a valid ONNX protobuf (truncated or corrupted)")
        }
        defer { onnx__model_proto__free_unpacked(msg, nil) }
        let m = msg.pointee
        var opset = 0
        for i in 0..<m.n_opset_import {
            guard let o = m.opset_import[i]?.pointee else { continue }
            let domain = o.domain.map { String(cString: $0) } ?? ""
            if domain == "" || domain == "ai.onnx" { opset = Int(o.version) }
        }
        guard let g = m.graph?.pointee else { throw FrontendError(.layout, file: path, "the model has no graph") }
        let folder = path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        let reader = ONNXTensorReader(folder: folder.isEmpty ? "." : folder, file: path, limits: limits)
        var model = ONNXModel(opset: opset, graphName: g.name.map { String(cString: $0) } ?? "onnx")
        guard g.n_initializer <= limits.maxTensors, g.n_node <= limits.maxTensors else {
            throw FrontendError(.limitExceeded, file: path, "more than \(limits.maxTensors) nodes or initializers")
        }
        if let skeleton, skeleton.raw.count != g.n_initializer {
            throw FrontendError(
                .malformedProtobuf, file: path,
                "the graph holds \(g.n_initializer) initializers but \(skeleton.raw.count) were found in the file")
        }
        for i in 0..<g.n_initializer {
            guard let t = g.initializer[i] else { continue }
            let name = string(t.pointee.name)
            let inPlace = skeleton?.raw[i].map { (file: file, range: $0) }
            model.initializers.append((name, try reader.tensor(t.pointee, name: name, rawData: inPlace)))
        }
        for i in 0..<g.n_input { if let v = g.input[i] { model.inputs.append(valueInfo(v.pointee)) } }
        for i in 0..<g.n_output { if let v = g.output[i] { model.outputs.append(valueInfo(v.pointee)) } }
        for i in 0..<g.n_node {
            guard let np = g.node[i] else { continue }
            let n = np.pointee
            var node = Node(
                name: string(n.name), opType: string(n.op_type), domain: string(n.domain),
                inputs: (0..<n.n_input).map { string(n.input[$0]) },
                outputs: (0..<n.n_output).map { string(n.output[$0]) },
                attributes: [:])
            if node.name.isEmpty { node.name = "\(node.opType)_\(i)" }
            for j in 0..<n.n_attribute {
                guard let a = n.attribute[j]?.pointee else { continue }
                var attr = Attribute()
                if a.has_i != 0 { attr.int = a.i }
                if a.has_f != 0 { attr.float = a.f }
                if a.n_ints > 0 { attr.ints = (0..<a.n_ints).map { a.ints[$0] } }
                if a.n_floats > 0 { attr.floats = (0..<a.n_floats).map { a.floats[$0] } }
                if a.has_s != 0 {
                    attr.string = String(decoding: UnsafeBufferPointer(start: a.s.data, count: a.s.len), as: UTF8.self)
                }
                if let t = a.t { attr.tensor = try reader.tensor(t.pointee, name: node.name) }
                attr.hasGraph = a.g != nil || a.n_graphs > 0
                node.attributes[string(a.name)] = attr
            }
            model.nodes.append(node)
        }
        return model
    }

    static func string(_ p: UnsafeMutablePointer<CChar>?) -> String { p.map { String(cString: $0) } ?? "" }

    static func valueInfo(_ v: Onnx__ValueInfoProto) -> ValueInfo {
        var info = ValueInfo(name: string(v.name), elemType: 0, dims: [], hasShape: false)
        guard let t = v.type?.pointee, t.value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE,
            let tt = t.tensor_type?.pointee
        else { return info }
        info.elemType = tt.elem_type
        if let s = tt.shape?.pointee {
            info.hasShape = true
            info.dims = (0..<s.n_dim).map { i -> Int? in
                guard let d = s.dim[i]?.pointee, d.value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE
                else { return nil }
                // -1 (no name) is how some exporters write an unknown size
                return d.dim_value >= 0 ? Int(exactly: d.dim_value) : nil
            }
        }
        return info
    }
}
