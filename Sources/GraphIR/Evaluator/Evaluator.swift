import COpenBLAS

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The reference evaluator: the meaning of the IR. Runs float32 graphs with OpenBLAS for
/// GEMM-shaped work and direct loops elsewhere.
public struct Evaluator {
    public let graph: Graph
    /// Last node index that reads each value (buffers are released after it).
    private let lastUse: [Int]

    public init(graph: Graph) {
        Evaluator.useOneBLASThread()
        self.graph = graph
        lastUse = graph.lastUses()
    }

    /// OpenBLAS on one thread, set once for the process before the first evaluator runs and never
    /// changed: its sums (and with them logits, calibrated ranges and learned rounding) change
    /// with its thread count (measured: 2486 bytes of the student's .fkdc differed between 1 and 2
    /// threads), and outputs must be the same bytes on any machine and for any `--threads`.
    /// Parallelism is over samples instead (`Parallel`), each with its own evaluator. Changing it
    /// per call would also race: one compile or test resetting it while another evaluates.
    public static func useOneBLASThread() { _ = oneBLASThread }
    private static let oneBLASThread: Void = openblas_set_num_threads(1)

    /// The number of threads OpenBLAS uses now.
    public static var threads: Int { Int(openblas_get_num_threads()) }

    /// The CPU kernel set OpenBLAS chose (e.g. "Haswell"; "Prescott" is its SSE3 fallback).
    public static var blasCoreName: String { openblas_get_corename().map { String(cString: $0) } ?? "unknown" }

    /// Runs the graph on `inputs` (one per graph input, matching its shape) and returns the outputs.
    /// `observe`, when given, sees every node's output as it is computed.
    public func run(_ inputs: [Tensor], observe: ((Node, Tensor) -> Void)? = nil) throws(IRError) -> [Tensor] {
        if let observe { return try run(inputs, view: { node, b in observe(node, b.tensor()) }) }
        return try run(inputs, view: nil)
    }

    /// Runs the graph; `observeValues` sees every node's float output in place (no copy; valid
    /// only during the call).
    public func run(_ inputs: [Tensor], observeValues: @escaping (Node, UnsafeBufferPointer<Float>) -> Void)
        throws(IRError)
        -> [Tensor]
    {
        try run(inputs, view: { node, b in observeValues(node, b.buffer) })
    }

    private func run(_ inputs: [Tensor], view: ((Node, FloatBuffer) -> Void)?) throws(IRError) -> [Tensor] {
        guard inputs.count == graph.inputs.count else {
            throw IRError(.badInput, at: "", "the model takes \(graph.inputs.count) inputs, got \(inputs.count)")
        }
        var env = [FloatBuffer?](repeating: nil, count: graph.values.count)
        for (id, t) in zip(graph.inputs, inputs) {
            let v = graph.values[id]
            guard t.shape == v.shape else {
                throw IRError(
                    .badInput, at: "%\(v.name)", "input shape \(t.shape) does not match the model's \(v.shape)")
            }
            env[id] = FloatBuffer(t)
        }
        for (id, t) in graph.constants { env[id] = FloatBuffer(t) }
        for (i, node) in graph.nodes.enumerated() {
            var args: [FloatBuffer] = []
            for id in node.inputs {
                guard let b = env[id] else { throw IRError(.undefinedValue, at: node.name, "input not computed") }
                args.append(b)
            }
            let out = try execute(node, args)
            let outID = node.outputs[0]
            guard out.shape == graph.values[outID].shape.dims else {
                throw IRError(
                    .shapeMismatch, at: node.name,
                    "evaluated shape \(out.shape) differs from \(graph.values[outID].shape)")
            }
            env[outID] = out
            view?(node, out)
            for id in node.inputs where lastUse[id] == i && graph.constants[id] == nil { env[id] = nil }
        }
        return graph.outputs.map { env[$0]!.tensor() }
    }

    func execute(_ node: Node, _ a: [FloatBuffer]) throws(IRError) -> FloatBuffer {
        let out = try compute(node, a)
        if let act = node.op.fusedActivation { Kernels.activate(out, act) }
        return out
    }

    private func compute(_ node: Node, _ a: [FloatBuffer]) throws(IRError) -> FloatBuffer {
        let outShape = graph.values[node.outputs[0]].shape.dims
        switch node.op {
        case .conv2d(let attrs):
            return Kernels.conv2d(a[0], a[1], a.count > 2 ? a[2] : nil, attrs, outShape: outShape)
        case .batchNorm(let eps): return Kernels.batchNorm(a[0], a[1], a[2], a[3], a[4], epsilon: eps)
        case .gemm, .fullyConnected: return Kernels.gemm(a[0], a[1], a.count > 2 ? a[2] : nil, outShape: outShape)
        case .matMul: return Kernels.matMul(a[0], a[1], outShape: outShape)
        case .add: return Kernels.binary(a[0], a[1], outShape: outShape, +)
        case .mul: return Kernels.binary(a[0], a[1], outShape: outShape, *)
        case .relu, .clip, .hardSwish:
            let out = FloatBuffer(shape: a[0].shape)
            out.ptr.update(from: a[0].ptr, count: out.count)
            Kernels.activate(out, FusedActivation(node.op)!)
            return out
        case .hardSigmoid, .gelu, .sigmoid, .silu:
            guard let f = Kernels.pointwise(node.op) else { throw IRError(.unsupported, at: node.name, "no function") }
            return Kernels.unary(a[0], f)
        case .layerNorm(let axis, let eps):
            return Kernels.layerNorm(
                a[0], a[1], a[2], axis: ShapeInference.axis(axis, rank: a[0].shape.count)!, epsilon: eps)
        case .softmax(let axis): return Kernels.softmax(a[0], axis: ShapeInference.axis(axis, rank: a[0].shape.count)!)
        case .globalAvgPool: return Kernels.globalAvgPool(a[0])
        case .avgPool(let p): return Kernels.pool(a[0], p, outShape: outShape, max: false)
        case .maxPool(let p): return Kernels.pool(a[0], p, outShape: outShape, max: true)
        case .reshape, .flatten, .identity, .dropout:
            return FloatBuffer(shape: outShape, storage: a[0].storage)
        case .transpose(let perm): return Kernels.transpose(a[0], perm: perm)
        case .concat(let axis):
            return Kernels.concat(a, axis: ShapeInference.axis(axis, rank: a[0].shape.count)!, outShape: outShape)
        case .slice(let axis, let start, let end, let step):
            let ax = ShapeInference.axis(axis, rank: a[0].shape.count)!
            let (s, _) = ShapeInference.sliceBounds(start: start, end: end, dim: a[0].shape[ax])
            return Kernels.slice(a[0], axis: ax, start: s, step: step, outShape: outShape)
        case .gather(let axis):
            guard let idx = graph.constants[node.inputs[1]] else {
                throw IRError(.unsupported, at: node.name, "gather needs constant indices")
            }
            let ax = ShapeInference.axis(axis, rank: a[0].shape.count)!
            return Kernels.gather(a[0], indices: idx.int64Array(), axis: ax, outShape: outShape)
        case .expand: return Kernels.broadcastCopy(a[0], outShape: outShape)
        case .quantize, .dequantize:
            throw IRError(.unsupported, at: node.name, "\(node.op.name) needs the int8 evaluator")
        }
    }
}

extension Graph {
    /// Per value, the index of the last node that reads it (−1: none; `Int.max` for outputs):
    /// when an evaluator may release its buffer.
    public func lastUses() -> [Int] {
        var last = [Int](repeating: -1, count: values.count)
        for (i, n) in nodes.enumerated() { for v in n.inputs { last[v] = i } }
        for v in outputs { last[v] = Int.max }
        return last
    }
}
