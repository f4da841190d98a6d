import Testing

@testable import GraphIR

@Suite struct ShapeInferenceTests {
    func value(_ dims: [Int], _ dtype: DType = .float32) -> Value { Value(name: "v", dtype: dtype, shape: Shape(dims)) }

    @Test(arguments: [
        // (input, weight, stride, pad, dilation, groups, expected)
        ([1, 3, 224, 224], [32, 3, 3, 3], 2, 1, 1, 1, [1, 32, 112, 112]),
        ([2, 32, 112, 112], [32, 1, 3, 3], 1, 1, 1, 32, [2, 32, 112, 112]),
        ([1, 8, 10, 10], [4, 4, 3, 3], 1, 2, 2, 2, [1, 4, 10, 10]),
        ([1, 3, 224, 224], [768, 3, 16, 16], 16, 0, 1, 1, [1, 768, 14, 14]),
    ])
    func conv2dShapes(x: [Int], w: [Int], stride: Int, pad: Int, dilation: Int, groups: Int, expected: [Int]) throws {
        let op = Op.conv2d(
            Conv2dAttrs(
                stride: [stride, stride], pad: [pad, pad, pad, pad], dilation: [dilation, dilation], groups: groups))
        let out = try ShapeInference.infer(op: op, inputs: [value(x), value(w)], constants: [nil, nil], node: "c")
        #expect(out[0].shape.dims == expected)
    }

    @Test func conv2dRejectsChannelMismatch() {
        let op = Op.conv2d(Conv2dAttrs())
        #expect(throws: IRError.self) {
            try ShapeInference.infer(
                op: op, inputs: [value([1, 3, 8, 8]), value([4, 2, 3, 3])], constants: [nil, nil], node: "c")
        }
    }

    @Test func broadcasting() {
        #expect(ShapeInference.broadcast([2, 3, 4], [4]) == [2, 3, 4])
        #expect(ShapeInference.broadcast([1, 197, 768], [2, 197, 768]) == [2, 197, 768])
        #expect(ShapeInference.broadcast([3, 1], [1, 5]) == [3, 5])
        #expect(ShapeInference.broadcast([3], [4]) == nil)
    }

    @Test func poolCeilModeFollowsPyTorch() throws {
        // PyTorch: MaxPool2d(3, 2, ceil_mode=True) on 112 → 56; on 7 with pad 0 → 3
        let p = PoolAttrs(kernel: [3, 3], stride: [2, 2], pad: [0, 0, 0, 0], ceilMode: true)
        let a = try ShapeInference.infer(
            op: .maxPool(p), inputs: [value([1, 1, 112, 112])], constants: [nil], node: "p")
        #expect(a[0].shape.dims == [1, 1, 56, 56])
        let b = try ShapeInference.infer(op: .maxPool(p), inputs: [value([1, 1, 7, 7])], constants: [nil], node: "p")
        #expect(b[0].shape.dims == [1, 1, 3, 3])
    }

    @Test func reshapeInfersOneDimension() throws {
        let out = try ShapeInference.infer(
            op: .reshape(shape: [2, -1]), inputs: [value([2, 3, 4])], constants: [nil], node: "r")
        #expect(out[0].shape.dims == [2, 12])
        #expect(throws: IRError.self) {
            try ShapeInference.infer(
                op: .reshape(shape: [5, -1]), inputs: [value([2, 3, 4])], constants: [nil], node: "r")
        }
    }

    @Test func gatherChecksConstantIndices() {
        let idx = Tensor(shape: Shape([]), int64s: [7])
        #expect(throws: IRError.self) {
            try ShapeInference.infer(
                op: .gather(axis: 1), inputs: [value([1, 5, 8]), value([], .int64)], constants: [nil, idx], node: "g")
        }
    }
}

@Suite struct VerifierTests {
    func tiny() throws -> Graph {
        var g = Graph(name: "t")
        let x = g.addInput(name: "x", shape: Shape([1, 4]))
        let w = g.addConstant(name: "w", Tensor(shape: Shape([2, 4]), floats: (0..<8).map(Float.init)))
        let y = try g.addNode(name: "fc", op: .gemm(), inputs: [x, w])
        g.outputs = [try g.addNode(name: "act", op: .relu, inputs: [y])]
        return g
    }

    @Test func acceptsAWellFormedGraph() throws {
        try tiny().verify()
    }

    @Test func rejectsUseBeforeDefinition() throws {
        var g = try tiny()
        g.nodes.swapAt(0, 1)
        let e = #expect(throws: IRError.self) { try g.verify() }
        #expect(e?.kind == .undefinedValue)
    }

    @Test func rejectsAWrongDeclaredShape() throws {
        var g = try tiny()
        g.values[g.nodes[0].outputs[0]].shape = Shape([1, 3])
        let e = #expect(throws: IRError.self) { try g.verify() }
        #expect(e?.kind == .shapeMismatch)
    }

    @Test func rejectsInt8WithoutQuantParams() throws {
        var g = Graph(name: "q")
        let x = g.addInput(name: "x", shape: Shape([4]))
        let out = g.addValue(Value(name: "q", dtype: .int8, shape: Shape([4])))
        g.nodes.append(Node(name: "quantize", op: .quantize, inputs: [x], outputs: [out]))
        g.outputs = [out]
        let e = #expect(throws: IRError.self) { try g.verify() }
        #expect(e?.kind == .missingQuantParams)
        g.values[out].quant = QuantParams(scale: 0.1, zeroPoint: 0)
        try g.verify()
    }

    @Test func rejectsDuplicateNamesAndMissingOutputs() throws {
        var g = try tiny()
        g.values[1].name = "x"
        #expect(throws: IRError.self) { try g.verify() }
        var h = try tiny()
        h.outputs = []
        #expect(throws: IRError.self) { try h.verify() }
    }

    @Test func rejectsValuesTooLargeToEvaluate() throws {
        let text =
            "graph @g {\n  input %x : f32[1,4]\n  %y : f32[65536,65536,4] = expand(%x) {shape=[65536,65536,4]} @\"e\"\n  output %y\n}\n"
        let g = try IRParser().parse(text)
        let e = #expect(throws: IRError.self) { try g.verify() }
        #expect(e?.description.contains("holds more than the 2147483648 elements") == true)
    }

    @Test func rejectsConstantWhoseTensorDisagrees() throws {
        var g = try tiny()
        g.constants[1] = Tensor(shape: Shape([8]), floats: [Float](repeating: 0, count: 8))
        let e = #expect(throws: IRError.self) { try g.verify() }
        #expect(e?.kind == .constantMismatch)
    }
}
