/// How many inputs and outputs each ONNX op this importer reads must have (the operator
/// specification's required ones), checked for every node before any lowering or pattern
/// looks at it, so no lowering indexes past the end of a node's lists.
enum ONNXArity {
    /// op type → (fewest inputs, most inputs, fewest outputs).
    static let table: [String: (minInputs: Int, maxInputs: Int, minOutputs: Int)] = {
        var t: [String: (Int, Int, Int)] = [:]
        for op in ["Add", "Mul", "Sub", "Div", "Pow", "Mod", "Equal", "Less", "Greater", "MatMul", "Expand", "Reshape"]
        {
            t[op] = (2, 2, 1)
        }
        for op in [
            "Sqrt", "Erf", "Exp", "Reciprocal", "Floor", "Ceil", "Neg", "Relu", "Sigmoid", "HardSwish", "HardSigmoid",
            "Identity", "Cast", "Shape", "ConstantOfShape", "Flatten", "Transpose", "GlobalAveragePool", "AveragePool",
            "MaxPool", "Softmax",
        ] {
            t[op] = (1, 1, 1)
        }
        t["Where"] = (3, 3, 1)
        t["Range"] = (3, 3, 1)
        t["Clip"] = (1, 3, 1)
        t["Dropout"] = (1, 3, 1)
        t["Constant"] = (0, 0, 1)
        t["Squeeze"] = (1, 2, 1)
        t["Unsqueeze"] = (1, 2, 1)
        t["Concat"] = (1, Int.max, 1)
        t["Gather"] = (2, 2, 1)
        t["Slice"] = (1, 5, 1)
        t["Split"] = (1, 2, 1)
        t["Pad"] = (1, 4, 1)
        t["Conv"] = (2, 3, 1)
        t["QuantizeLinear"] = (2, 3, 1)
        t["DequantizeLinear"] = (2, 3, 1)
        t["BatchNormalization"] = (5, 5, 1)
        t["Gemm"] = (2, 3, 1)
        t["LayerNormalization"] = (2, 3, 1)
        t["ReduceMean"] = (1, 2, 1)
        return t.mapValues { (minInputs: $0.0, maxInputs: $0.1, minOutputs: $0.2) }
    }()

    /// Nil when `n` has the inputs and outputs its op needs (or is an op the table does not
    /// know, which the importer refuses by name), else what is wrong.
    static func problem(_ n: ONNXModel.Node) -> String? {
        guard let a = table[n.opType] else { return nil }
        if n.inputs.count < a.minInputs || n.inputs.count > a.maxInputs {
            let want =
                a.minInputs == a.maxInputs
                ? "\(a.minInputs)"
                : a.maxInputs == Int.max ? "at least \(a.minInputs)" : "\(a.minInputs) to \(a.maxInputs)"
            return "\(n.opType) takes \(want) inputs, the node has \(n.inputs.count)"
        }
        if let i = n.inputs.prefix(a.minInputs).firstIndex(where: \.isEmpty) {
            return "\(n.opType) needs input \(i), the node leaves it empty"
        }
        if n.outputs.count < a.minOutputs || n.outputs.first?.isEmpty != false {
            return "\(n.opType) has no output"
        }
        return nil
    }
}
