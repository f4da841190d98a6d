import Testing

@testable import Codegen
@testable import GraphIR
@testable import Passes

/// `Int8Support`, the one table of what runs in int8, walked row by row: for every op it names, a
/// graph whose node meets the row is quantized to int8 by `quantize`, calibrated in int8 by
/// sequential calibration, run by the int8 evaluator and emitted as an int8 kernel in C; the
/// refusals (hard_swish, a constant operand, broadcasting) stay float32 everywhere alike.
@Suite struct Int8SupportTests {
    static func input(_ shape: [Int], seed: UInt64) -> Tensor {
        var s = seed
        return Tensor(
            shape: Shape(shape),
            floats: (0..<shape.reduce(1, *)).map { _ in
                s = s &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return Float(Int64(s >> 40) % 2001) / 500 - 2
            })
    }

    /// A graph holding `op` as the node named "op": x [1, 4, 6, 6] → conv (int8, so that ops
    /// keeping their input's parameters see an int8 input) → op.
    static func graph(_ op: Op, constantOperand: Bool = false, broadcast: Bool = false) throws -> Graph {
        var g = Graph(name: "t")
        let x = g.addInput(name: "x", shape: Shape([1, 4, 6, 6]))
        let w = g.addConstant(name: "w", input([4, 4, 1, 1], seed: 1))
        let c = try g.addNode(name: "conv", op: .conv2d(Conv2dAttrs()), inputs: [x, w])
        var ins = [c]
        switch op {
        case .conv2d:
            ins += [
                g.addConstant(name: "w2", input([8, 4, 3, 3], seed: 2)), g.addConstant(name: "b2", input([8], seed: 3)),
            ]
        case .fullyConnected, .gemm:
            let f = try g.addNode(name: "flat", op: .flatten(axis: 1), inputs: [c])
            ins = [
                f, g.addConstant(name: "w2", input([5, 144], seed: 4)), g.addConstant(name: "b2", input([5], seed: 5)),
            ]
        case .mul:
            // a squeeze-and-excitation scale: one value per channel, computed
            let p = try g.addNode(name: "p", op: .globalAvgPool, inputs: [c])
            let s = try g.addNode(name: "s", op: .sigmoid, inputs: [p])
            // broadcast: one plane for every channel, which the int8 mul refuses
            let plane = Op.slice(axis: 1, start: 0, end: 1, step: 1)
            ins = broadcast ? [c, try g.addNode(name: "t", op: plane, inputs: [c])] : [s, c]
        case .concat:
            ins.append(
                try g.addNode(
                    name: "r", op: .conv2d(Conv2dAttrs()),
                    inputs: [x, g.addConstant(name: "w3", input([2, 4, 1, 1], seed: 8))]))
        case .add:
            if constantOperand {
                ins.append(g.addConstant(name: "k", input([1, 4, 6, 6], seed: 6)))
            } else if broadcast {
                let p = try g.addNode(name: "p", op: .globalAvgPool, inputs: [c])
                ins.append(p)
            } else {
                ins.append(
                    try g.addNode(
                        name: "r", op: .conv2d(Conv2dAttrs()),
                        inputs: [x, g.addConstant(name: "w3", input([4, 4, 1, 1], seed: 7))]))
            }
        default: break
        }
        let out = try g.addNode(name: "op", op: op, inputs: ins)
        g.outputs = [out]
        return g
    }

    /// A node meeting each row, by op name.
    static let samples: [String: Op] = [
        "conv2d": .conv2d(Conv2dAttrs(stride: [2, 2], pad: [1, 1, 1, 1], activation: .clip(min: 0, max: 6))),
        "fully_connected": .fullyConnected(.relu), "gemm": .gemm(.none), "add": .add(.relu),
        "global_avg_pool": .globalAvgPool,
        "avg_pool": .avgPool(PoolAttrs(kernel: [3, 3], stride: [2, 2], pad: [1, 1, 1, 1])),
        "max_pool": .maxPool(PoolAttrs(kernel: [2, 2], stride: [2, 2])), "reshape": .reshape(shape: [1, 144]),
        "flatten": .flatten(axis: 1), "identity": .identity, "dropout": .dropout(ratio: 0.1),
        "hard_swish": .hardSwish, "hard_sigmoid": .hardSigmoid, "sigmoid": .sigmoid, "silu": .silu, "gelu": .gelu,
        "mul": .mul, "concat": .concat(axis: 1), "transpose": .transpose(perm: [0, 2, 3, 1]),
        "slice": .slice(axis: 1, start: 1, end: 4, step: 2),
    ]

    /// Quantizes `g` with calibrated ranges; whether "op" ended int8 in the quantized graph and
    /// in the C emitter's program (an int8 kernel, or int8 bytes shared with its input).
    static func run(_ g: Graph) throws -> (quantized: Bool, emitted: Bool) {
        let x = input([1, 4, 6, 6], seed: 9)
        var ctx = PassContext()
        ctx.quantization.ranges = try Calibrator().ranges(of: g, batches: [x])
        var q = g
        _ = try PassManager(passes: [QuantizePass.self]).run(on: &q, context: &ctx)
        // sequential calibration reads the same table (and must run on the same graph)
        _ = try SequentialCalibration(calibrator: Calibrator()).calibrate(g, batches: [x])
        let i = try #require(q.nodes.firstIndex { $0.name == "op" })
        let out = q.nodes[i].outputs[0]
        let quantized = Int8Support.runsInInt8(q.nodes[i], in: q)
        // the int8 evaluator runs it, and the C emitter lowers it to the kernel the table names
        _ = try QuantizedEvaluator(graph: q).run([x])
        let program = try Lowering.lower(q, for: .named("generic-c")!)
        _ = try CEmitter(target: .named("generic-c")!).emit(program)
        if let step = program.steps.first(where: { $0.node == i }) { return (quantized, step.kernel != .float32) }
        let aliased = program.offsets[out] != nil && program.offsets[out] == program.offsets[q.nodes[i].inputs[0]]
        return (quantized, aliased && quantized)
    }

    @Test func everyRowRunsInInt8Everywhere() throws {
        let names = Set(Int8Support.rows.flatMap(\.ops))
        #expect(names == Set(Self.samples.keys), "a row without a sample node, or a sample without a row")
        for row in Int8Support.rows {
            for name in row.ops {
                let op = try #require(Self.samples[name])
                #expect(op.name == name)
                let g = try Self.graph(op)
                let d = Int8Support.decide(g.nodes.last!, in: g)
                #expect(
                    d == (row.keepsInputParameters ? .int8IfInputIs(row.kernel) : .int8(row.kernel)), "\(name): \(d)")
                let r = try Self.run(g)
                #expect(r.quantized, "\(name): quantize left it in float32")
                #expect(r.emitted, "\(name): the C emitter has no int8 kernel for it")
            }
        }
    }

    /// What the table refuses stays float32 in the quantizer, in the evaluator and in C.
    @Test(arguments: ["hard_swish conv", "constant operand", "broadcast add", "plane-broadcast mul", "softmax"])
    func refusalsStayFloat32Everywhere(_ what: String) throws {
        let g: Graph
        switch what {
        case "hard_swish conv": g = try Self.graph(.conv2d(Conv2dAttrs(activation: .hardSwish)))
        case "constant operand": g = try Self.graph(.add(.none), constantOperand: true)
        case "broadcast add": g = try Self.graph(.add(.none), broadcast: true)
        case "plane-broadcast mul": g = try Self.graph(.mul, broadcast: true)
        default: g = try Self.graph(.softmax(axis: 1))
        }
        guard case .float32(let reason) = Int8Support.decide(g.nodes.last!, in: g) else {
            Issue.record("\(what) is not refused")
            return
        }
        #expect(!reason.isEmpty)
        let r = try Self.run(g)
        #expect(!r.quantized && !r.emitted, "\(what)")
    }

    /// Fusion while quantizing keeps hard_swish apart, so the convolution before it stays int8.
    @Test func fusionNeverTakesAnOpOutOfInt8() throws {
        #expect(Int8Support.fusable(.relu) && Int8Support.fusable(.clip(min: 0, max: 6)) && Int8Support.fusable(.none))
        #expect(!Int8Support.fusable(.hardSwish))
        var g = try Self.graph(.hardSwish)
        var ctx = PassContext()
        ctx.fusableActivations = Int8Support.fusable
        _ = try PassManager(passes: [FuseActivationPass.self]).run(on: &g, context: &ctx)
        #expect(g.nodes.contains { $0.op == .hardSwish }, "hard_swish was fused into the conv")
    }
}
