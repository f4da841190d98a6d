/// The exact int8 evaluator: the reference every generated kernel must match bit for bit.
///
/// Float values run through the float32 kernels (mixed precision); int8 values through
/// `Int8Kernels`, in integer arithmetic only, with the parameters the lowering computes
/// (`KernelParameters`, the same every emitter reads). `quantize` and `dequantize` cross
/// between the two. With `layers` (the C kernels, `Codegen.CKernelLayers`) the weighted layers
/// it takes run there instead, giving the same bytes; without, everything runs in Swift (the
/// reference the C is tested against).
public struct QuantizedEvaluator {
    public let graph: Graph
    public let layers: (any Int8Layers)?
    private let float: Evaluator
    private let lastUse: [Int]
    /// Each node's kernel parameters, or why it cannot run (thrown when it is reached).
    private let parameters: [Result<KernelParameters, IRError>]

    enum Buffer {
        case f32(FloatBuffer)
        case i8(Int8Buffer)
    }

    public init(graph: Graph, layers: (any Int8Layers)? = nil) {
        self.graph = graph
        self.layers = layers
        float = Evaluator(graph: graph)
        lastUse = graph.lastUses()
        parameters = graph.nodes.map { n in Result { () throws(IRError) in try KernelParameters.of(n, in: graph) } }
    }

    /// Runs the graph; `observe` sees every node's output (int8 outputs as int8 tensors).
    public func run(_ inputs: [Tensor], observe: ((Node, Tensor) -> Void)? = nil) throws(IRError) -> [Tensor] {
        guard inputs.count == graph.inputs.count else {
            throw IRError(.badInput, at: "", "the model takes \(graph.inputs.count) inputs, got \(inputs.count)")
        }
        var env = [Buffer?](repeating: nil, count: graph.values.count)
        for (id, t) in zip(graph.inputs, inputs) {
            guard t.shape == graph.values[id].shape, t.dtype == .float32 else {
                throw IRError(
                    .badInput, at: "%\(graph.values[id].name)",
                    "input must be f32\(graph.values[id].shape), got \(t.dtype.rawValue)\(t.shape)")
            }
            env[id] = .f32(FloatBuffer(t))
        }
        // float constants, and integer ones float ops read (a gather's indices); int8 weights and int32
        // biases are read by the int8 kernels themselves
        for (id, t) in graph.constants where graph.values[id].quant == nil { env[id] = .f32(FloatBuffer(t)) }
        for (i, node) in graph.nodes.enumerated() {
            let out = try execute(i, node, try parameters[i].get(), env)
            env[node.outputs[0]] = out
            if let observe {
                switch out {
                case .f32(let b): observe(node, b.tensor())
                case .i8(let b): observe(node, b.tensor())
                }
            }
            for id in node.inputs where lastUse[id] == i && graph.constants[id] == nil { env[id] = nil }
        }
        return graph.outputs.map { id in
            switch env[id]! {
            case .f32(let b): b.tensor()
            case .i8(let b): b.tensor()
            }
        }
    }

    private func execute(_ index: Int, _ node: Node, _ params: KernelParameters, _ env: [Buffer?]) throws(IRError)
        -> Buffer
    {
        let outShape = graph.values[node.outputs[0]].shape.dims
        func int8(_ i: Int) throws(IRError) -> Int8Buffer {
            guard case .i8(let b)? = env[node.inputs[i]] else {
                throw IRError(.unsupported, at: node.name, "\(node.op.name) expects an int8 input \(i)")
            }
            return b
        }
        func weights() throws(IRError) -> Tensor {
            guard let w = graph.constants[node.inputs[1]] else {
                throw IRError(.unsupported, at: node.name, "int8 \(node.op.name) needs constant weights")
            }
            return w
        }
        switch params {
        case .quantize(let s, let z):
            guard case .f32(let x)? = env[node.inputs[0]] else {
                throw IRError(.unsupported, at: node.name, "quantize needs a float32 input")
            }
            let out = Int8Buffer(shape: outShape)
            for i in 0..<out.count { out.ptr[i] = QuantMath.quantize(x.ptr[i], scale: s, zeroPoint: z) }
            return .i8(out)
        case .dequantize(let s, let z):
            let x = try int8(0)
            let out = FloatBuffer(shape: outShape)
            for i in 0..<out.count { out.ptr[i] = QuantMath.dequantize(x.ptr[i], scale: s, zeroPoint: z) }
            return .f32(out)
        case .float32:
            var args: [FloatBuffer] = []
            for id in node.inputs {
                guard case .f32(let b)? = env[id] else {
                    throw IRError(.undefinedValue, at: node.name, "input not computed")
                }
                args.append(b)
            }
            // products summed in generated C's order, so mixed-precision C gives these bits
            return .f32(try float.executeOrdered(node, args))
        case .weighted(let p):
            let x = try int8(0)
            if let layers {
                let out = Int8Buffer(shape: outShape)
                if layers.run(
                    index, x: UnsafeBufferPointer(start: x.ptr, count: x.count), xShape: x.shape,
                    y: UnsafeMutableBufferPointer(start: out.ptr, count: out.count), yShape: outShape)
                {
                    return .i8(out)
                }
            }
            let w = try weights()
            if case .conv2d(let a) = node.op {
                return .i8(Int8Kernels.conv2d(x, w: w, p, a, outShape: outShape))
            }
            return .i8(Int8Kernels.linear(x, w: w, p, outShape: outShape))
        case .weightedFloat(let p):
            let x = try int8(0)
            let w = try weights()
            let cells = x.count.multipliedReportingOverflow(by: w.shape[0])
            guard !cells.overflow, cells.partialValue == w.elementCount, p.bias.count == w.shape[0] else {
                throw IRError(.unsupported, at: node.name, "\(node.op.name): a float32 output needs one input row")
            }
            return .f32(Int8Kernels.linearToFloat(x, w: w, p, outShape: outShape))
        case .add(let p):
            return .i8(Int8Kernels.add(try int8(0), try int8(1), p, outShape: outShape))
        case .mul(let p):
            return .i8(Int8Kernels.mul(try int8(0), try int8(1), p, outShape: outShape))
        case .move(let rescales):
            var xs: [Int8Buffer] = []
            for i in node.inputs.indices { xs.append(try int8(i)) }
            guard
                let copies = StridedCopy.of(
                    node.op, inputs: xs.map(\.shape), output: outShape, strides: { _, d in Shape(d).strides })
            else {
                throw IRError(.unsupported, at: node.name, "\(node.op.name): axis, permutation or step out of range")
            }
            return .i8(Int8Kernels.move(xs, rescales, copies, outShape: outShape))
        case .averagePool(let p):
            return .i8(Int8Kernels.averagePool(try int8(0), p, outShape: outShape))
        case .maxPool(let p):
            return .i8(Int8Kernels.maxPool(try int8(0), p, outShape: outShape))
        case .reshape:
            return .i8(Int8Buffer(shape: outShape, storage: try int8(0).storage))
        case .lookup(let t):
            return .i8(Int8Kernels.lookup(try int8(0), t))
        }
    }
}

/// Weighted int8 layers computed elsewhere with the same bytes as `Int8Kernels` (the C kernels:
/// `Codegen.CKernelLayers`).
public protocol Int8Layers: Sendable {
    /// Node `index`'s output (`y`, `yShape`, natural order) from its int8 input (`x`, `xShape`,
    /// natural order: NCHW for a map); false where this layer is not taken, and the Swift kernel
    /// runs it.
    func run(
        _ index: Int, x: UnsafeBufferPointer<Int8>, xShape: [Int], y: UnsafeMutableBufferPointer<Int8>, yShape: [Int]
    ) -> Bool
}
