/// A graph run over a set of samples one node at a time: every sample goes through a node before
/// the next node runs. A caller sees a node's inputs over the whole set and may replace one of
/// its constants before it runs. AdaRound uses this to choose each layer's rounding on the
/// inputs that the layers before it, already rounded, give it.
///
/// The semantics are the float32 evaluator's, or (`fakeQuant`) the fake-quant mode's
/// (`FakeQuantEvaluator`). Each value is released after the last node that reads it; graph
/// outputs are kept.
public struct LayerwiseRun {
    public let graph: Graph
    public let fakeQuant: Bool
    /// The index of the node `step` runs next.
    public private(set) var next = 0
    private let float: Evaluator
    /// Per value, its buffers over the samples (nil: not computed yet, or released).
    private var env: [[FloatBuffer]?]
    private let lastUse: [Int]
    /// How many samples run.
    public let count: Int
    /// Threads the samples of a node are spread over (the results do not depend on it).
    public var threads = 1

    public init(graph: Graph, samples: [Tensor], fakeQuant: Bool) throws(IRError) {
        guard graph.inputs.count == 1 else {
            throw IRError(.badInput, at: "", "a layer-wise run takes a model with one input, not \(graph.inputs.count)")
        }
        self.graph = graph
        self.fakeQuant = fakeQuant
        float = Evaluator(graph: graph)
        lastUse = graph.lastUses()
        env = [[FloatBuffer]?](repeating: nil, count: graph.values.count)
        let input = graph.inputs[0]
        var xs: [FloatBuffer] = []
        for t in samples {
            guard t.shape == graph.values[input].shape else {
                throw IRError(
                    .badInput, at: "%\(graph.values[input].name)",
                    "input shape \(t.shape) does not match the model's \(graph.values[input].shape)")
            }
            xs.append(FloatBuffer(t.toFloat32()))
        }
        env[input] = xs
        count = xs.count
        for (id, t) in graph.constants { setConstant(id, t) }
    }

    public var isFinished: Bool { next >= graph.nodes.count }

    /// Whether `v` is held now (computed and not yet released).
    public func holds(_ v: ValueID) -> Bool { env[v] != nil }

    /// `v` over the samples (one buffer each, the value's shape), nil when not held; the
    /// buffers are valid only during the call.
    public func withValues<R>(_ v: ValueID, _ body: ([UnsafeBufferPointer<Float>]) -> R) -> R? {
        guard let bs = env[v] else { return nil }
        return body(bs.map(\.buffer))
    }

    /// Replaces a constant as the run reads it from now on (dequantized in the fake-quant mode).
    public mutating func replaceConstant(_ id: ValueID, with t: Tensor) { setConstant(id, t) }

    private mutating func setConstant(_ id: ValueID, _ t: Tensor) {
        let b = fakeQuant ? FakeQuantEvaluator.dequantized(t, graph.values[id].quant) : FloatBuffer(t)
        // one buffer read by every sample (kernels never write their inputs)
        env[id] = [FloatBuffer](repeating: b, count: count)
    }

    /// Runs node `next` on every sample.
    public mutating func step() throws(IRError) {
        guard next < graph.nodes.count else { return }
        let node = graph.nodes[next]
        // the samples on `threads` threads; each sample's arithmetic is the same on any of them
        nonisolated(unsafe) let held = env
        nonisolated(unsafe) let float = self.float
        let fakeQuant = self.fakeQuant
        let output = graph.values[node.outputs[0]]
        let outs = try Parallel.map(count, threads: threads, state: {}) {
            (_: inout Void, s: Int) throws(IRError) -> FloatBuffer in
            var args: [FloatBuffer] = []
            for id in node.inputs {
                guard let b = held[id]?[s] else { throw IRError(.undefinedValue, at: node.name, "input not computed") }
                args.append(b)
            }
            return fakeQuant
                ? try FakeQuantEvaluator.execute(node, args, output: output, float: float)
                : try float.execute(node, args)
        }
        env[node.outputs[0]] = outs
        for id in node.inputs where lastUse[id] == next && graph.constants[id] == nil { env[id] = nil }
        next += 1
    }

    /// Runs nodes until `v` is held (at once when it already is); false when the graph ended
    /// without computing it.
    public mutating func run(until v: ValueID) throws(IRError) -> Bool {
        while env[v] == nil {
            guard !isFinished else { return false }
            try step()
        }
        return true
    }
}
