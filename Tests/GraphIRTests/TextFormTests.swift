import Testing

@testable import GraphIR

@Suite struct TextFormTests {
    /// A graph using every attribute kind, a quantized value and unusual names.
    func sample() throws -> Graph {
        var g = Graph(name: "sample")
        let x = g.addInput(name: "input", shape: Shape([2, 3, 8, 8]))
        let w = g.addConstant(
            name: "conv.weight", Tensor(shape: Shape([4, 3, 3, 3]), floats: (0..<108).map { Float($0) * 0.01 - 0.5 }))
        let b = g.addConstant(
            name: "conv bias \"odd\"", Tensor(shape: Shape([4]), floats: [1e-7, -0.0, .infinity, 3.25]))
        var h = try g.addNode(
            name: "features.0.0", op: .conv2d(Conv2dAttrs(stride: [2, 2], pad: [1, 1, 1, 1], groups: 1)),
            inputs: [x, w, b])
        h = try g.addNode(name: "relu6", op: .clip(min: 0, max: 6), inputs: [h])
        h = try g.addNode(
            name: "pool",
            op: .avgPool(PoolAttrs(kernel: [2, 2], stride: [2, 2], ceilMode: true, countIncludePad: false)), inputs: [h]
        )
        h = try g.addNode(name: "flat", op: .flatten(axis: 1), inputs: [h])
        let idx = g.addConstant(name: "idx", Tensor(shape: Shape([2]), int64s: [3, -1]))
        h = try g.addNode(name: "pick", op: .gather(axis: 1), inputs: [h, idx])
        h = try g.addNode(name: "sm", op: .softmax(axis: -1), inputs: [h])
        let half = g.addConstant(
            name: "half", [UInt16(0x3800)].withUnsafeBytes { Tensor(dtype: .float16, shape: Shape([1]), bytes: $0) })
        h = try g.addNode(name: "scale", op: .mul, inputs: [h, half])
        let q = g.addValue(
            Value(name: "q", dtype: .int8, shape: Shape([2, 2]), quant: QuantParams(scales: [0.5], zeroPoints: [-3])))
        g.nodes.append(Node(name: "quant", op: .quantize, inputs: [h], outputs: [q]))
        g.outputs = [q]
        return g
    }

    @Test func printParseRoundTrip() throws {
        let g = try sample()
        try g.verify()
        let text = g.text
        let back = try IRParser().parse(text)
        try back.verify()
        #expect(back == g.canonicalized())
        #expect(back.text == text)
    }

    @Test func printingIsDeterministic() throws {
        #expect(try sample().text == (try sample()).text)
    }

    @Test func elidedConstantsNeedOptIn() throws {
        let text = IRPrinter(elideConstantsOver: 4).print(try sample())
        #expect(text.contains("elided"))
        #expect(throws: IRError.self) { try IRParser().parse(text) }
        let g = try IRParser(allowElidedConstants: true).parse(text)
        try g.verify()
    }

    @Test(arguments: [
        (
            "graph @g {\n  input %x : f32[1,4]\n  %y : f32[1,4] = frobnicate(%x) @\"n\"\n  output %y\n}\n",
            "unknown op 'frobnicate'"
        ),
        ("graph @g {\n  input %x : f32[1,4]\n  %y : f32[1,4] = relu(%z) @\"n\"\n  output %y\n}\n", "%z is not defined"),
        ("graph @g {\n  input %x : f99[1,4]\n}\n", "unknown dtype 'f99'"),
        (
            "graph @g {\n  input %x : f32[1,4]\n  %y : f32[1,4] = softmax(%x) {axis=1, bogus=2} @\"n\"\n  output %y\n}\n",
            "no attribute 'bogus'"
        ),
        ("graph @g {\n  input %x : f32[1,4]\n  const %w : f32[2] = dense<[1.0]>\n  output %x\n}\n", "needs 2 elements"),
        ("graph @g {\n  input %x : f32[1,4]\n  output %x\n", "expected"),
    ])
    func parseErrorsNameTheProblem(text: String, message: String) {
        let e = #expect(throws: IRError.self) { try IRParser().parse(text) }
        #expect(e?.description.contains(message) == true, "\(e?.description ?? "")")
    }

    @Test func verifierErrorOnParsedGraph() throws {
        let text = "graph @g {\n  input %x : f32[1,4]\n  %y : f32[1,5] = relu(%x) @\"act\"\n  output %y\n}\n"
        let g = try IRParser().parse(text)
        let e = #expect(throws: IRError.self) { try g.verify() }
        #expect(e?.description == "act: %y is declared [1,5] but relu produces [1,4]")
    }
}
