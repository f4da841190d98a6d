import GraphIR

/// QuantizeLinear / DequantizeLinear (opset 10–13 forms; a QDQ model such as fkdc's
/// `--emit onnx-qdq` or onnxruntime's quantizer writes): on a constant, folded (weights stored
/// int8 and dequantized per channel become float constants); on an activation, per tensor with
/// int8 or uint8 codes, the IR's `quantize` (its output carrying the scale and zero point, uint8
/// codes shifted by 128 onto int8, the same real values) and `dequantize`.
extension ONNXOps {
    static let quantization: [String: Lowering] = [
        "QuantizeLinear": quantizeLinear,
        "DequantizeLinear": dequantizeLinear,
    ]

    /// Scale (float32) and zero points (int8, uint8 or int32; zeros when absent) of a Q/DQ node.
    static func qdqParameters(_ imp: ONNXImporter, _ n: ONNXModel.Node) throws(FrontendError)
        -> (scales: [Float], zeroPoints: [Int64], unsigned: Bool)
    {
        let s = try imp.requireConstant(n, 1, "scale")
        guard s.dtype == .float32 || s.dtype == .float16 else {
            throw imp.fail(.unsupportedFormat, "scale must be float32", node: n)
        }
        let scales = s.floatArray()
        guard !scales.isEmpty, scales.allSatisfy({ $0.isFinite && $0 > 0 }) else {
            throw imp.fail(.unsupportedFormat, "scales must be finite and positive", node: n)
        }
        var zeroPoints = [Int64](repeating: 0, count: scales.count)
        var unsigned = false
        if n.inputs.count > 2, !n.inputs[2].isEmpty {
            let z = try imp.requireConstant(n, 2, "zero point")
            guard [.int8, .uint8, .int32].contains(z.dtype), z.elementCount == scales.count else {
                throw imp.fail(.unsupportedFormat, "zero point must be int8, uint8 or int32, one per scale", node: n)
            }
            zeroPoints = z.int64ArrayExact()
            unsigned = z.dtype == .uint8
        }
        return (scales, zeroPoints, unsigned)
    }

    static func quantizeLinear(_ imp: inout ONNXImporter, _ n: ONNXModel.Node) throws(FrontendError) -> [ONNXRef] {
        let p = try qdqParameters(imp, n)
        guard p.scales.count == 1 else {
            throw imp.fail(
                .unsupportedFormat, "QuantizeLinear per channel (fkdc quantizes activations per tensor)", node: n)
        }
        guard imp.constant(n.inputs[0]) == nil else {
            throw imp.fail(.unsupportedFormat, "QuantizeLinear of a constant (store the int8 tensor)", node: n)
        }
        let x = try imp.input(n, 0)
        guard imp.g.values[x].dtype == .float32 else {
            throw imp.fail(.unsupportedFormat, "QuantizeLinear of a non-float32 value", node: n)
        }
        let zp = p.zeroPoints[0] - (p.unsigned ? 128 : 0)
        guard (-128...127).contains(zp) else {
            throw imp.fail(.unsupportedFormat, "zero point \(p.zeroPoints[0]) out of the int8 range", node: n)
        }
        let q = try imp.emit(.quantize, [x], output: n.outputs[0], node: n)
        imp.g.values[q].quant = QuantParams(scales: [p.scales[0]], zeroPoints: [Int32(zp)], axis: nil)
        return [.value(q)]
    }

    static func dequantizeLinear(_ imp: inout ONNXImporter, _ n: ONNXModel.Node) throws(FrontendError) -> [ONNXRef] {
        let p = try qdqParameters(imp, n)
        if let t = imp.constant(n.inputs[0]) {
            // int8 weights (per channel along `axis`, default 1) folded to float32
            guard [.int8, .uint8, .int32].contains(t.dtype) else {
                throw imp.fail(.unsupportedFormat, "DequantizeLinear of a \(t.dtype.rawValue) constant", node: n)
            }
            let dims = t.shape.dims
            let q = t.int64ArrayExact()
            var channel: (Int) -> Int = { _ in 0 }
            if p.scales.count > 1 {
                guard let axis = ShapeInference.axis(n.int("axis") ?? 1, rank: dims.count), dims[axis] == p.scales.count
                else {
                    throw imp.fail(
                        .unsupportedFormat, "\(p.scales.count) scales for \(t.shape) along its axis", node: n)
                }
                let inner = dims[(axis + 1)...].reduce(1, *)
                channel = { ($0 / inner) % dims[axis] }
            }
            let f = q.indices.map { i in Float(q[i] - p.zeroPoints[channel(i)]) * p.scales[channel(i)] }
            return [.constant(Tensor(shape: t.shape, floats: f))]
        }
        let x = try imp.input(n, 0)
        guard imp.g.values[x].dtype == .int8, let xq = imp.g.values[x].quant, p.scales.count == 1,
            xq.scales == [p.scales[0]],
            Int64(xq.zeroPoints[0]) == p.zeroPoints[0] - (p.unsigned ? 128 : 0)
        else {
            throw imp.fail(
                .unsupportedFormat, "DequantizeLinear must read a QuantizeLinear with the same scale and zero point",
                node: n)
        }
        return [.value(try imp.emit(.dequantize, [x], output: n.outputs[0], node: n))]
    }
}
