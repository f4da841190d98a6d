/// Index of a value in `Graph.values`.
public typealias ValueID = Int

/// An SSA value: produced once (by a node, as a graph input, or as a constant).
public struct Value: Sendable, Equatable {
    public var name: String
    public var dtype: DType
    public var shape: Shape
    public var quant: QuantParams?

    public init(name: String, dtype: DType, shape: Shape, quant: QuantParams? = nil) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.quant = quant
    }
}

/// One operation: reads `inputs`, defines `outputs`.
public struct Node: Sendable, Equatable {
    /// The source module path (e.g. `features.3.conv.1.0`), for reports and generated code.
    public var name: String
    public var op: Op
    public var inputs: [ValueID]
    public var outputs: [ValueID]

    public init(name: String, op: Op, inputs: [ValueID], outputs: [ValueID]) {
        self.name = name
        self.op = op
        self.inputs = inputs
        self.outputs = outputs
    }
}

/// A model: graph inputs, constants (weights), nodes in execution order, graph outputs.
public struct Graph: Sendable, Equatable {
    public var name: String
    public var values: [Value] = []
    public var nodes: [Node] = []
    public var inputs: [ValueID] = []
    public var outputs: [ValueID] = []
    /// Weights and other constants, keyed by the value they define.
    public var constants: [ValueID: Tensor] = [:]

    public init(name: String) { self.name = name }

    // MARK: Building

    /// Adds a graph input.
    @discardableResult
    public mutating func addInput(name: String, dtype: DType = .float32, shape: Shape) -> ValueID {
        let id = addValue(Value(name: name, dtype: dtype, shape: shape))
        inputs.append(id)
        return id
    }

    /// Adds a constant owned by the graph.
    @discardableResult
    public mutating func addConstant(name: String, _ tensor: Tensor, quant: QuantParams? = nil) -> ValueID {
        let id = addValue(Value(name: name, dtype: tensor.dtype, shape: tensor.shape, quant: quant))
        constants[id] = tensor
        return id
    }

    public mutating func addValue(_ value: Value) -> ValueID {
        values.append(value)
        return values.count - 1
    }

    /// Appends a node with one output whose type comes from shape inference.
    public mutating func addNode(
        name: String, op: Op, inputs: [ValueID], outputName: String? = nil
    ) throws(IRError) -> ValueID {
        let inTypes = inputs.map { values[$0] }
        let types = try ShapeInference.infer(
            op: op, inputs: inTypes, constants: inputs.map { constants[$0] }, node: name)
        let out = addValue(Value(name: outputName ?? name, dtype: types[0].dtype, shape: types[0].shape))
        nodes.append(Node(name: name, op: op, inputs: inputs, outputs: [out]))
        return out
    }

    // MARK: Queries

    public func isConstant(_ id: ValueID) -> Bool { constants[id] != nil }

    /// Whether constant input `i` of `node` is a learned parameter, as PyTorch counts them: the
    /// weights of conv2d/gemm/fully_connected/batch_norm/layer_norm, and any other floating-point
    /// constant with more than one element (a ViT's position embedding and class token, a bias
    /// added separately) — but not batch norm's running mean and variance, which are buffers.
    /// In an int8 graph the quantized weights and int32 biases count too.
    public func isParameter(input i: Int, of node: Node) -> Bool {
        let id = node.inputs[i]
        guard let t = constants[id], t.dtype.isFloatingPoint || values[id].quant != nil else { return false }
        if node.op.parameterInputs.contains(i) { return true }
        if case .batchNorm = node.op { return false }
        return t.elementCount > 1
    }

    /// Number of parameter elements (see `isParameter`), each constant counted once.
    public var parameterCount: Int {
        var seen = Set<ValueID>()
        var n = 0
        for node in nodes {
            for i in node.inputs.indices where isParameter(input: i, of: node) {
                if seen.insert(node.inputs[i]).inserted { n += values[node.inputs[i]].shape.elementCount }
            }
        }
        return n
    }

    /// Bytes of all constants as stored.
    public var constantBytes: Int { constants.values.reduce(0) { $0 + $1.byteCount } }

    /// Multiply-accumulates of one node for the graph's shapes.
    public func macs(of node: Node) -> Int {
        let out = values[node.outputs[0]].shape
        switch node.op {
        case .conv2d:
            let w = values[node.inputs[1]].shape
            return out.elementCount * w[1] * w[2] * w[3]
        case .gemm, .fullyConnected:
            return out.elementCount * values[node.inputs[1]].shape[1]
        case .matMul:
            let a = values[node.inputs[0]].shape
            return out.elementCount * a[a.rank - 1]
        default:
            return 0
        }
    }

    /// A value's printable name, unique in a verified graph.
    public func name(of id: ValueID) -> String { values[id].name }
}
