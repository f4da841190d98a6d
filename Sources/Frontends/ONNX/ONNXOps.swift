import GraphIR

/// One small function per ONNX op type, lowering it into IR ops (or folding it when its inputs
/// are constants). Each returns the refs of the node's outputs, in order.
enum ONNXOps {
    typealias Lowering = @Sendable (inout ONNXImporter, ONNXModel.Node) throws(FrontendError) -> [ONNXRef]

    static let table: [String: Lowering] = neural.merging(elementwise) { a, _ in a }.merging(layout) { a, _ in a }
        .merging(quantization) { a, _ in a }

    // MARK: Neural network layers

    static let neural: [String: Lowering] = [
        "Conv": conv,
        "BatchNormalization": { imp, n throws(FrontendError) in
            let ins = try (0..<5).map { i throws(FrontendError) in try imp.input(n, i) }
            return [
                .value(
                    try imp.emit(.batchNorm(epsilon: n.float("epsilon") ?? 1e-5), ins, output: n.outputs[0], node: n))
            ]
        },
        "Gemm": gemm,
        "MatMul": matMul,
        "GlobalAveragePool": { imp, n throws(FrontendError) in
            [.value(try imp.emit(.globalAvgPool, [try imp.input(n, 0)], output: n.outputs[0], node: n))]
        },
        "AveragePool": { imp, n throws(FrontendError) in try pool(&imp, n, max: false) },
        "MaxPool": { imp, n throws(FrontendError) in try pool(&imp, n, max: true) },
        "Softmax": { imp, n throws(FrontendError) in
            let x = try imp.ref(n.inputs[0])
            let rank = imp.shape(x).count
            let axis = n.int("axis") ?? (imp.opset >= 13 ? -1 : 1)
            guard imp.opset >= 13 || ShapeInference.axis(axis, rank: rank) == rank - 1 else {
                throw imp.fail(
                    .unsupportedFormat, "Softmax before opset 13 over axis \(axis) of a rank-\(rank) tensor", node: n)
            }
            return [
                .value(
                    try imp.emit(.softmax(axis: axis), [imp.value(x, name: n.inputs[0])], output: n.outputs[0], node: n)
                )
            ]
        },
        "LayerNormalization": { imp, n throws(FrontendError) in
            let x = try imp.input(n, 0)
            let axis = n.int("axis") ?? -1
            let scale = try imp.input(n, 1)
            var bias: ValueID
            if n.inputs.count > 2, !n.inputs[2].isEmpty {
                bias = try imp.input(n, 2)
            } else {
                let s = imp.g.values[scale].shape
                bias = imp.g.addConstant(
                    name: imp.uniqueName(n.name + ".bias"),
                    Tensor(shape: s, floats: [Float](repeating: 0, count: s.elementCount)))
            }
            return [
                .value(
                    try imp.emit(
                        .layerNorm(axis: axis, epsilon: n.float("epsilon") ?? 1e-5), [x, scale, bias],
                        output: n.outputs[0], node: n))
            ]
        },
        "ReduceMean": reduceMean,
    ]

    static func conv(_ imp: inout ONNXImporter, _ n: ONNXModel.Node) throws(FrontendError) -> [ONNXRef] {
        let x = try imp.input(n, 0)
        let w = try imp.requireConstant(n, 1, "weights")
        guard w.shape.rank == 4, imp.g.values[x].shape.rank == 4 else {
            throw imp.fail(.unsupportedFormat, "only 2-D convolutions are supported (weights \(w.shape))", node: n)
        }
        let k = [w.shape[2], w.shape[3]]
        let stride = n.ints("strides") ?? [1, 1]
        let dilation = n.ints("dilations") ?? [1, 1]
        let pads = try padding(
            &imp, n, input: imp.g.values[x].shape.dims, kernel: k, stride: stride, dilation: dilation)
        var ins = [x, imp.value(.constant(w), name: n.inputs[1])]
        if n.inputs.count > 2, !n.inputs[2].isEmpty { ins.append(try imp.input(n, 2)) }
        let attrs = Conv2dAttrs(stride: stride, pad: pads, dilation: dilation, groups: n.int("group") ?? 1)
        return [.value(try imp.emit(.conv2d(attrs), ins, output: n.outputs[0], node: n))]
    }

    /// Explicit pads ([top, left, bottom, right] in ONNX's begin-then-end order) or auto_pad.
    static func padding(
        _ imp: inout ONNXImporter, _ n: ONNXModel.Node, input: [Int], kernel: [Int], stride: [Int], dilation: [Int]
    ) throws(FrontendError) -> [Int] {
        let auto = n.string("auto_pad") ?? "NOTSET"
        let limit = Graph.maxAttribute
        guard input.count == 4, kernel.count == 2, stride.count == 2, dilation.count == 2,
            (kernel + stride + dilation).allSatisfy({ (1...limit).contains($0) })
        else {
            throw imp.fail(
                .unsupportedFormat,
                "kernel \(kernel), strides \(stride) and dilations \(dilation) must be two values in 1…\(limit) each over a 4-D input",
                node: n)
        }
        switch auto {
        case "NOTSET", "": return n.ints("pads") ?? [0, 0, 0, 0]
        case "VALID": return [0, 0, 0, 0]
        case "SAME_UPPER", "SAME_LOWER":
            var begin = [0, 0]
            var end = [0, 0]
            for d in 0..<2 {
                let out = (input[2 + d] + stride[d] - 1) / stride[d]
                let total = max(0, (out - 1) * stride[d] + (kernel[d] - 1) * dilation[d] + 1 - input[2 + d])
                begin[d] = auto == "SAME_UPPER" ? total / 2 : total - total / 2
                end[d] = total - begin[d]
            }
            return [begin[0], begin[1], end[0], end[1]]
        default: throw imp.fail(.unsupportedFormat, "auto_pad '\(auto)'", node: n)
        }
    }

    static func pool(_ imp: inout ONNXImporter, _ n: ONNXModel.Node, max isMax: Bool) throws(FrontendError) -> [ONNXRef]
    {
        let x = try imp.input(n, 0)
        guard let k = n.ints("kernel_shape"), k.count == 2 else {
            throw imp.fail(.unsupportedFormat, "only 2-D pooling is supported", node: n)
        }
        if let d = n.ints("dilations"), d != [1, 1] { throw imp.fail(.unsupportedFormat, "dilated pooling", node: n) }
        let stride = n.ints("strides") ?? [1, 1]
        let pads = try padding(&imp, n, input: imp.g.values[x].shape.dims, kernel: k, stride: stride, dilation: [1, 1])
        let attrs = PoolAttrs(
            kernel: k, stride: stride, pad: pads, ceilMode: (n.int("ceil_mode") ?? 0) != 0,
            countIncludePad: (n.int("count_include_pad") ?? 0) != 0)
        return [.value(try imp.emit(isMax ? .maxPool(attrs) : .avgPool(attrs), [x], output: n.outputs[0], node: n))]
    }

    /// Gemm: y = α·A'·B' + β·C. With a constant B this is a linear layer (weights `[N, K]`).
    static func gemm(_ imp: inout ONNXImporter, _ n: ONNXModel.Node) throws(FrontendError) -> [ONNXRef] {
        let (alpha, beta) = (n.float("alpha") ?? 1, n.float("beta") ?? 1)
        let (transA, transB) = ((n.int("transA") ?? 0) != 0, (n.int("transB") ?? 0) != 0)
        var a = try imp.input(n, 0)
        if transA { a = try imp.emit(.transpose(perm: [1, 0]), [a], output: n.outputs[0] + ".a_t", node: n) }
        var b = try imp.requireConstant(n, 1, "B").toFloat32()
        guard b.shape.rank == 2 else { throw imp.fail(.shapeMismatch, "Gemm's B must be 2-D, got \(b.shape)", node: n) }
        if !transB { b = ConstMath.transpose(b, perm: [1, 0]) }
        if alpha != 1 { b = ConstMath.unary(b) { $0 * Double(alpha) } }
        let w = imp.value(.constant(b), name: n.inputs[1] + (transB && alpha == 1 ? "" : ".gemm_weight"))
        var ins = [a, w]
        var extra: ValueID?
        if n.inputs.count > 2, !n.inputs[2].isEmpty {
            if var c = imp.constant(n.inputs[2])?.toFloat32() {
                if beta != 1 { c = ConstMath.unary(c) { $0 * Double(beta) } }
                if c.elementCount == b.shape[0] && (c.shape.rank == 1 || c.shape.dims.dropLast().allSatisfy { $0 == 1 })
                {
                    ins.append(
                        imp.value(
                            .constant(c.reshaped(Shape([b.shape[0]]))),
                            name: n.inputs[2] + (beta == 1 ? "" : ".gemm_bias")))
                } else {
                    extra = imp.value(.constant(c), name: n.inputs[2] + ".gemm_bias")
                }
            } else {
                guard beta == 1 else {
                    throw imp.fail(.unsupportedFormat, "Gemm with a non-constant C and beta ≠ 1", node: n)
                }
                extra = try imp.input(n, 2)
            }
        }
        var y = try imp.emit(.gemm(), ins, output: n.outputs[0] + (extra == nil ? "" : ".gemm"), node: n)
        if let extra { y = try imp.emit(.add(), [y, extra], output: n.outputs[0], node: n) }
        return [.value(y)]
    }

    /// MatMul by a constant 2-D matrix is a linear layer; otherwise a batched matrix product.
    static func matMul(_ imp: inout ONNXImporter, _ n: ONNXModel.Node) throws(FrontendError) -> [ONNXRef] {
        if let a = imp.constant(n.inputs[0]), let b = imp.constant(n.inputs[1]) {
            return [.constant(try imp.fold(.matMul, [a, b], node: n))]
        }
        let a = try imp.input(n, 0)
        if let b = imp.constant(n.inputs[1]), b.shape.rank == 2, imp.g.values[a].shape.rank >= 2 {
            let w = imp.value(
                .constant(ConstMath.transpose(b.toFloat32(), perm: [1, 0])), name: n.inputs[1] + ".matmul_weight")
            return [.value(try imp.emit(.gemm(), [a, w], output: n.outputs[0], node: n))]
        }
        return [.value(try imp.emit(.matMul, [a, try imp.input(n, 1)], output: n.outputs[0], node: n))]
    }

    /// ReduceMean over H and W of an NCHW tensor is global average pooling; constants fold.
    static func reduceMean(_ imp: inout ONNXImporter, _ n: ONNXModel.Node) throws(FrontendError) -> [ONNXRef] {
        let x = try imp.ref(n.inputs[0])
        let rank = imp.shape(x).count
        var axes = n.ints("axes") ?? []
        if n.inputs.count > 1, let t = imp.optionalConstant(n, 1) { axes = t.int64ArrayExact().map { Int($0) } }
        axes = axes.compactMap { ShapeInference.axis($0, rank: rank) }.sorted()
        let keep = (n.int("keepdims") ?? 1) != 0
        guard rank == 4, axes == [2, 3] else {
            throw imp.fail(
                .unsupportedFormat,
                "ReduceMean over axes \(axes) of a rank-\(rank) tensor (only spatial means, or the layer-norm pattern, are supported)",
                node: n)
        }
        let xv = imp.value(x, name: n.inputs[0])
        let s = imp.g.values[xv].shape.dims
        if keep { return [.value(try imp.emit(.globalAvgPool, [xv], output: n.outputs[0], node: n))] }
        let p = try imp.emit(.globalAvgPool, [xv], output: n.outputs[0] + ".pool", node: n)
        return [.value(try imp.emit(.reshape(shape: [s[0], s[1]]), [p], output: n.outputs[0], node: n))]
    }
}
