extension Graph {
    /// The most elements one value may hold (2^31: far above any vision model's tensors), and
    /// the bound on the product of its dims with zeros counted as one (`Shape.span`).
    public static let maxElements = 1 << 31
    /// The largest integer attribute (pad, stride, dilation, kernel, groups, reshape dim) shape
    /// inference accepts: with dims and attributes both under 2^31, every window and product it
    /// computes fits in 64 bits.
    public static let maxAttribute = 1 << 31

    /// Checks every invariant of the IR: each value defined once and before use, op arity,
    /// shapes and dtypes agreeing with shape inference, constants matching their values,
    /// quantization parameters present where the dtype needs them, outputs defined, names unique.
    public func verify() throws(IRError) {
        var defined = [Bool](repeating: false, count: values.count)
        func check(_ id: ValueID, at loc: String) throws(IRError) {
            guard values.indices.contains(id) else {
                throw IRError(.undefinedValue, at: loc, "value #\(id) does not exist")
            }
        }
        func define(_ id: ValueID, at loc: String) throws(IRError) {
            try check(id, at: loc)
            guard !defined[id] else { throw IRError(.redefinedValue, at: loc, "%\(values[id].name) is defined twice") }
            defined[id] = true
        }
        for v in values {
            guard let n = v.shape.span, n <= Self.maxElements else {
                throw IRError(
                    .shapeMismatch, at: "%\(v.name)",
                    "shape \(v.shape) holds more than the \(Self.maxElements) elements a value may have")
            }
        }
        var names = Set<String>()
        for v in values where !names.insert(v.name).inserted {
            throw IRError(.redefinedValue, at: "%\(v.name)", "two values are named %\(v.name)")
        }
        for id in inputs { try define(id, at: "input") }
        for (id, t) in constants.sorted(by: { $0.key < $1.key }) {
            try define(id, at: "const")
            let v = values[id]
            guard v.dtype == t.dtype, v.shape == t.shape else {
                throw IRError(
                    .constantMismatch, at: "%\(v.name)",
                    "value is \(v.dtype.rawValue)\(v.shape) but its tensor is \(t.dtype.rawValue)\(t.shape)")
            }
        }
        for node in nodes {
            let loc = node.name
            for id in node.inputs {
                try check(id, at: loc)
                guard defined[id] else {
                    throw IRError(
                        .undefinedValue, at: loc, "\(node.op.name) uses %\(values[id].name) before it is defined")
                }
            }
            guard node.outputs.count == 1 else {
                throw IRError(.arity, at: loc, "\(node.op.name) defines \(node.outputs.count) values, expected 1")
            }
            let inferred = try ShapeInference.infer(
                op: node.op, inputs: node.inputs.map { values[$0] }, constants: node.inputs.map { constants[$0] },
                node: loc)
            for (id, t) in zip(node.outputs, inferred) {
                try define(id, at: loc)
                let v = values[id]
                guard v.shape == t.shape else {
                    throw IRError(
                        .shapeMismatch, at: loc,
                        "%\(v.name) is declared \(v.shape) but \(node.op.name) produces \(t.shape)")
                }
                // an int8 classifier may emit float32 from its accumulators (`Int8Support.emitsFloat`)
                let accumulated =
                    t.dtype == .int8 && v.dtype == .float32
                    && Int8Support.emitsFloat(node.op, inputs: node.inputs.map { values[$0] })
                guard v.dtype == t.dtype || accumulated else {
                    throw IRError(
                        .dtypeMismatch, at: loc,
                        "%\(v.name) is declared \(v.dtype.rawValue) but \(node.op.name) produces \(t.dtype.rawValue)")
                }
                if v.dtype.needsQuantParams, v.quant == nil {
                    throw IRError(
                        .missingQuantParams, at: loc,
                        "%\(v.name) is \(v.dtype.rawValue) but has no quantization parameters")
                }
            }
        }
        for (id, v) in values.enumerated() {
            if let q = v.quant { try Self.verify(q, of: v, constant: constants[id] != nil) }
        }
        for node in nodes { try verifyQuantizedWeights(node) }
        guard !outputs.isEmpty else { throw IRError(.undefinedValue, at: "output", "the graph has no outputs") }
        for id in outputs {
            try check(id, at: "output")
            guard defined[id] else {
                throw IRError(.undefinedValue, at: "output", "%\(values[id].name) is never defined")
            }
        }
    }

    /// Quantization parameters the int8 kernels can index without going out of range: one
    /// (scale, zero point) per tensor or one per channel along an axis that exists, positive
    /// finite scales, int8 zero points in [-128, 127], int32 (bias) zero points 0, and one
    /// scale for every activation (values a node computes).
    static func verify(_ q: QuantParams, of v: Value, constant: Bool) throws(IRError) {
        func bad(_ m: String) -> IRError {
            IRError(.missingQuantParams, at: "%\(v.name)", "quantization parameters are malformed: \(m)")
        }
        guard !q.scales.isEmpty, q.scales.count == q.zeroPoints.count else {
            throw bad("\(q.scales.count) scales and \(q.zeroPoints.count) zero points")
        }
        guard q.scales.allSatisfy({ $0 > 0 && $0.isFinite }) else { throw bad("a scale is not positive and finite") }
        if q.scales.count > 1 {
            guard let a = q.axis, v.shape.dims.indices.contains(a), v.shape[a] == q.scales.count else {
                throw bad("\(q.scales.count) scales along axis \(q.axis.map(String.init) ?? "none") of \(v.shape)")
            }
            guard constant else { throw bad("an activation has one scale, not \(q.scales.count)") }
        }
        switch v.dtype {
        case .int8:
            guard q.zeroPoints.allSatisfy({ (-128...127).contains($0) }) else {
                throw bad("an int8 zero point is outside [-128, 127]")
            }
        case .int32:
            guard q.zeroPoints.allSatisfy({ $0 == 0 }) else { throw bad("an int32 zero point is not 0") }
        default: break
        }
    }

    /// Per-channel weights of conv2d, gemm and fully_connected are quantized along the output
    /// channel (axis 0), which is how the kernels index their scales.
    func verifyQuantizedWeights(_ node: Node) throws(IRError) {
        switch node.op {
        case .conv2d, .gemm, .fullyConnected:
            for i in node.inputs.indices.dropFirst() {
                guard let q = values[node.inputs[i]].quant, q.scales.count > 1 else { continue }
                guard q.axis == 0 else {
                    throw IRError(
                        .missingQuantParams, at: node.name,
                        "\(node.op.name): per-channel parameters of %\(values[node.inputs[i]].name) must run along axis 0"
                    )
                }
            }
        default: break
        }
    }
}
