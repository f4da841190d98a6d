import GraphIR

/// `--emit trt-calib`: fkdc's activation ranges as a TensorRT calibration cache (the text form
/// `IInt8Calibrator::writeCalibrationCache` writes), so that TensorRT on a Xavier or Orin builds
/// its int8 engine from fkdc's calibration, data-free or data-driven and checked per class,
/// instead of calibrating again.
///
/// The first line names the calibrator and TensorRT version; each further line is
/// `tensor: hex`, the hex the IEEE-754 bits of the tensor's float32 scale (big-endian digits).
/// TensorRT's int8 is symmetric: a scale is amax / 127, amax the larger side of fkdc's
/// asymmetric range. Tensors are named as in the graph fkdc imported, which match TensorRT's
/// only for a model imported from ONNX (the same .onnx TensorRT parses).
public enum TensorRTCache {
    /// TensorRT 8.2.1's calibrator line (JetPack 4.6, the Nano's; later releases read it).
    public static let header = "TRT-8201-EntropyCalibration2"

    /// Each activation fkdc quantizes, by its float tensor's name, with TensorRT's scale.
    public static func scales(_ g: Graph) -> [(name: String, scale: Float)] {
        var producer: [ValueID: Node] = [:]
        for n in g.nodes { for o in n.outputs { producer[o] = n } }
        var seen = Set<String>()
        var out: [(name: String, scale: Float)] = []
        for n in g.nodes {
            let v = g.values[n.outputs[0]]
            guard v.dtype == .int8, let q = v.quant, let s = q.scales.first, let z = q.zeroPoints.first else {
                continue
            }
            // the quantized input (and any quantize) stands for the float tensor it reads
            let name = n.op == .quantize ? g.values[n.inputs[0]].name : v.name
            let amax = max(abs(Double(s) * Double(-128 - Int64(z))), abs(Double(s) * Double(127 - Int64(z))))
            if seen.insert(name).inserted { out.append((name, Float(amax / 127))) }
        }
        return out
    }

    public static func text(_ g: Graph) -> String {
        func hex(_ f: Float) -> String {
            let h = String(f.bitPattern, radix: 16)
            return String(repeating: "0", count: 8 - h.count) + h
        }
        return ([header] + scales(g).map { "\($0.name): \(hex($0.scale))" }).joined(separator: "\n") + "\n"
    }
}
