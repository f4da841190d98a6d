import CKernels

/// Requantizers for each output channel, as the kernels read them (three parallel arrays).
public struct ChannelRequantizers: Sendable, Equatable {
    public var multipliers: [Int32]
    public var leftShifts: [Int8]
    public var rightShifts: [Int8]

    public init(_ r: [Requantizer]) {
        multipliers = r.map(\.multiplier)
        leftShifts = r.map { Int8($0.leftShift) }
        rightShifts = r.map { Int8($0.rightShift) }
    }

    public var count: Int { multipliers.count }

    public subscript(i: Int) -> Requantizer {
        Requantizer(multiplier: multipliers[i], leftShift: Int(leftShifts[i]), rightShift: Int(rightShifts[i]))
    }
}

/// The int8 clamp of an output: [lo, hi] in the output's quantized units.
public struct Clamp: Sendable, Equatable {
    public var lo: Int32
    public var hi: Int32
}

/// conv2d, fully_connected and gemm: acc[o] = bias[o] + Σ w[o, k]·(x[k] − inputOffset);
/// out = clamp(requantize(acc, requant[o]) + outputZeroPoint).
public struct WeightedParameters: Sendable, Equatable {
    public var weights: ValueID
    /// Subtracted from every input inside the kernel: the input zero point, or 0 where it is
    /// folded into the bias (bias' = bias − zx·Σ_k w[o, k], wrapping as the accumulator does, so
    /// the sum is the same int32): a 1×1 convolution without padding and a linear layer.
    public var inputOffset: Int32
    public var bias: [Int32]
    public var requant: ChannelRequantizers
    public var outputZeroPoint: Int32
    public var clamp: Clamp
}

/// A linear layer (or 1×1 convolution) with one output row and a float32 output
/// (`Int8Support.emitsFloat`): acc[o] = bias[o] + Σ_k w[o, k]·x[k], the input zero point folded
/// into the bias as in `WeightedParameters`; out[o] = `QuantMath.accumulatorToFloat(acc[o],
/// scales[o], lo, hi)`, scales[o] = s_in·s_w[o].
public struct FloatOutputParameters: Sendable, Equatable {
    public var weights: ValueID
    public var bias: [Int32]
    public var scales: [Float]
    /// The fused activation in real units (−∞, ∞ for none).
    public var lo: Float
    public var hi: Float
}

/// add: each input, less its zero point, << `FK_ADD_SHIFT` and rescaled to 2·max(s_a, s_b); the
/// sum rescaled to the output (the TFLite scheme on DESIGN.md's primitives).
public struct AddParameters: Sendable, Equatable {
    public var a: Requantizer
    public var b: Requantizer
    public var out: Requantizer
    public var aZeroPoint: Int32
    public var bZeroPoint: Int32
    public var outputZeroPoint: Int32
    public var clamp: Clamp
    /// The left shift of the common grid (`FK_ADD_SHIFT`, fk_config.h).
    public static let shift = Int(FK_ADD_SHIFT)
}

/// mul (TFLite's rule): acc = (a − za)·(b − zb), |acc| ≤ 255², then out = requantize(acc,
/// s_a·s_b/s_out) + zo; `form` says how the operands broadcast.
public struct MulParameters: Sendable, Equatable {
    public var aZeroPoint: Int32
    public var bZeroPoint: Int32
    public var out: Requantizer
    public var outputZeroPoint: Int32
    public var form: Int8Support.MulForm
}

/// One input of a move whose parameters differ from the output's (a concat's):
/// out = requantize(q − inputZeroPoint, s_in/s_out) + outputZeroPoint.
public struct Rescale: Sendable, Equatable {
    public var inputZeroPoint: Int32
    public var requant: Requantizer
    public var outputZeroPoint: Int32

    /// The requantized code of `q`.
    public func apply(_ q: Int8) -> Int8 {
        QuantMath.requantize(Int32(q) - inputZeroPoint, requant, zeroPoint: outputZeroPoint, lo: -128, hi: 127)
    }
}

/// Average pooling (global: one window over the plane): acc = Σ (q − zp_in) over a window;
/// out = requantize(acc, byCount[count]) + zp_out, `count` the window's divisor.
public struct AveragePoolParameters: Sendable, Equatable {
    public var pool: PoolAttrs
    public var inputZeroPoint: Int32
    public var outputZeroPoint: Int32
    /// s_in / (s_out · n) for every divisor n from 0 (read as 1) to the largest window.
    public var byCount: ChannelRequantizers
}

/// The precomputed parameters of one node's kernel: what every backend and the int8 evaluator
/// apply, computed here only (TFLite Micro's Prepare).
public enum KernelParameters: Sendable, Equatable {
    case weighted(WeightedParameters)
    /// A classifier's float32 output straight from its int32 accumulators.
    case weightedFloat(FloatOutputParameters)
    case add(AddParameters)
    case mul(MulParameters)
    /// transpose, slice, concat: each input's codes copied to their place in the output
    /// (`StridedCopy.of`), through its `Rescale` where it has one (nil: the same parameters).
    case move([Rescale?])
    case averagePool(AveragePoolParameters)
    case maxPool(PoolAttrs)
    /// Same bytes, same parameters, another shape (reshape, flatten, identity, dropout).
    case reshape
    /// out = table[q + 128]: the op's function on each dequantized input code, quantized to the
    /// output's parameters (TFLite's LUT kernels).
    case lookup([Int8])
    /// float32 → int8: clamp(round(x / scale) + zeroPoint).
    case quantize(scale: Float, zeroPoint: Int32)
    case dequantize(scale: Float, zeroPoint: Int32)
    /// A float32 op (the float kernels' own attributes).
    case float32

    /// The parameters of `node` in the int8 graph `g`, or why it cannot run as it stands.
    public static func of(_ node: Node, in g: Graph) throws(IRError) -> KernelParameters {
        let out = g.values[node.outputs[0]]
        func fail(_ m: String) -> IRError { IRError(.unsupported, at: node.name, m) }
        switch node.op {
        case .quantize:
            guard let q = out.quant, out.dtype == .int8, g.values[node.inputs[0]].dtype == .float32 else {
                throw fail("quantize needs a float32 input and int8 output parameters")
            }
            return .quantize(scale: q.scales[0], zeroPoint: q.zeroPoints[0])
        case .dequantize:
            guard let q = g.values[node.inputs[0]].quant, g.values[node.inputs[0]].dtype == .int8 else {
                throw fail("dequantize needs an int8 input")
            }
            return .dequantize(scale: q.scales[0], zeroPoint: q.zeroPoints[0])
        default: break
        }
        if out.dtype == .float32, Int8Support.emitsFloat(node.op, inputs: node.inputs.map { g.values[$0] }) {
            return .weightedFloat(try floatOutput(node, g))
        }
        guard out.dtype == .int8 else {
            guard node.inputs.allSatisfy({ g.values[$0].dtype != .int8 || g.constants[$0] != nil }) else {
                throw fail("\(node.op.name) reads an int8 value into a float32 op")
            }
            return .float32
        }
        guard let oq = out.quant else {
            throw IRError(.missingQuantParams, at: node.name, "int8 output without parameters")
        }
        guard
            node.inputs.allSatisfy({
                g.constants[$0] != nil || (g.values[$0].dtype == .int8 && g.values[$0].quant != nil)
            })
        else { throw fail("int8 \(node.op.name) reads a float32 value") }
        let kernel: Int8Support.Kernel
        switch Int8Support.decide(node, in: g) {
        case .int8(let k), .int8IfInputIs(let k): kernel = k
        case .float32(let reason): throw fail("\(node.op.name) cannot run in int8: \(reason)")
        }
        let xq = g.values[node.inputs[0]].quant ?? oq
        func clamp(_ a: FusedActivation) throws(IRError) -> Clamp {
            guard let r = QuantMath.clampRange(a, oq) else { throw fail("activation has no int8 clamp") }
            return Clamp(lo: r.lo, hi: r.hi)
        }
        switch (kernel, node.op) {
        case (.convolution, .conv2d(let a)):
            let folds = isPointwise(a, weights: g.values[node.inputs[1]].shape.dims)
            return .weighted(try weighted(node, g, xq: xq, oq: oq, folds: folds, clamp: clamp(a.activation)))
        case (.linear, .fullyConnected(let act)), (.linear, .gemm(let act)):
            return .weighted(try weighted(node, g, xq: xq, oq: oq, folds: true, clamp: clamp(act)))
        case (.add, .add(let act)):
            let bq = g.values[node.inputs[1]].quant ?? oq
            let twiceMax = 2 * max(Double(xq.scales[0]), Double(bq.scales[0]))
            return .add(
                AddParameters(
                    a: Requantizer(real: Double(xq.scales[0]) / twiceMax),
                    b: Requantizer(real: Double(bq.scales[0]) / twiceMax),
                    out: Requantizer(real: twiceMax / (Double(1 << AddParameters.shift) * Double(oq.scales[0]))),
                    aZeroPoint: xq.zeroPoints[0], bZeroPoint: bq.zeroPoints[0], outputZeroPoint: oq.zeroPoints[0],
                    clamp: try clamp(act)))
        case (.mul, .mul):
            guard let form = Int8Support.mulForm(node, in: g) else {
                throw fail("mul broadcasts beyond one scale per channel")
            }
            let bq = g.values[node.inputs[1]].quant ?? oq
            return .mul(
                MulParameters(
                    aZeroPoint: xq.zeroPoints[0], bZeroPoint: bq.zeroPoints[0],
                    out: Requantizer(real: Double(xq.scales[0]) * Double(bq.scales[0]) / Double(oq.scales[0])),
                    outputZeroPoint: oq.zeroPoints[0], form: form))
        case (.move, _):
            return .move(
                node.inputs.map { v in
                    guard let q = g.values[v].quant, q != oq else { return nil }
                    return Rescale(
                        inputZeroPoint: q.zeroPoints[0],
                        requant: Requantizer(real: Double(q.scales[0]) / Double(oq.scales[0])),
                        outputZeroPoint: oq.zeroPoints[0])
                })
        case (.averagePool, _):
            let d = g.values[node.inputs[0]].shape.dims
            var p = PoolAttrs(kernel: [d[2], d[3]], stride: [1, 1])
            if case .avgPool(let a) = node.op { p = a }
            let largest = (p.kernel[0] + p.pad[0] + p.pad[2]) * (p.kernel[1] + p.pad[1] + p.pad[3])
            guard largest <= 1 << 20 else { throw fail("an average-pool window of \(largest) values") }
            let byCount = (0...largest).map {
                Requantizer(real: Double(xq.scales[0]) / (Double(oq.scales[0]) * Double(max($0, 1))))
            }
            return .averagePool(
                AveragePoolParameters(
                    pool: p, inputZeroPoint: xq.zeroPoints[0], outputZeroPoint: oq.zeroPoints[0],
                    byCount: ChannelRequantizers(byCount)))
        case (.maxPool, .maxPool(let p)):
            guard xq == oq else { throw fail("int8 max_pool keeps its input's parameters") }
            return .maxPool(p)
        case (.reshape, _):
            guard xq == oq else { throw fail("int8 \(node.op.name) keeps its input's parameters") }
            return .reshape
        case (.lookup, _):
            guard let f = Kernels.pointwise(node.op) else { throw fail("\(node.op.name) has no pointwise function") }
            return .lookup(
                (-128...127).map { q in
                    QuantMath.quantize(
                        f(QuantMath.dequantize(Int8(q), scale: xq.scales[0], zeroPoint: xq.zeroPoints[0])),
                        scale: oq.scales[0], zeroPoint: oq.zeroPoints[0])
                })
        default:
            throw fail("\(node.op.name) has no int8 kernel")
        }
    }

    /// Whether a convolution is 1×1 without stride or padding (weights [O, C, 1, 1]): the
    /// pointwise kernel, with the input zero point folded into the bias.
    public static func isPointwise(_ a: Conv2dAttrs, weights w: [Int]) -> Bool {
        w.count == 4 && w[2] == 1 && w[3] == 1 && a.groups == 1 && a.stride == [1, 1] && a.pad == [0, 0, 0, 0]
    }

    /// Requantizers s_in·s_w[o]/s_out, and the int32 bias with the input zero point folded in
    /// where `folds`.
    static func weighted(_ node: Node, _ g: Graph, xq: QuantParams, oq: QuantParams, folds: Bool, clamp: Clamp)
        throws(IRError) -> WeightedParameters
    {
        let (bias, wq, o) = try foldedBias(node, g, xq: xq, folds: folds)
        let scales = wq.channelScales(o)
        let req = scales.map { Requantizer(real: Double(xq.scales[0]) * Double($0) / Double(oq.scales[0])) }
        return WeightedParameters(
            weights: node.inputs[1], inputOffset: folds ? 0 : xq.zeroPoints[0], bias: bias,
            requant: ChannelRequantizers(req), outputZeroPoint: oq.zeroPoints[0], clamp: clamp)
    }

    /// A classifier's float32 output: the folded bias and s_in·s_w[o].
    static func floatOutput(_ node: Node, _ g: Graph) throws(IRError) -> FloatOutputParameters {
        guard let xq = g.values[node.inputs[0]].quant, !xq.scales.isEmpty, !xq.zeroPoints.isEmpty else {
            throw IRError(.missingQuantParams, at: node.name, "int8 input without parameters")
        }
        guard let act = node.op.fusedActivation, let clamp = QuantMath.realClamp(act) else {
            throw IRError(.unsupported, at: node.name, "\(node.op.name): the activation has no float clamp")
        }
        let (bias, wq, o) = try foldedBias(node, g, xq: xq, folds: true)
        let scales = wq.channelScales(o).map { Float(Double(xq.scales[0]) * Double($0)) }
        return FloatOutputParameters(weights: node.inputs[1], bias: bias, scales: scales, lo: clamp.lo, hi: clamp.hi)
    }

    /// The int32 bias of a weighted node (zeros without one), with the input zero point folded in
    /// where `folds`; the weights' parameters and output channels.
    static func foldedBias(_ node: Node, _ g: Graph, xq: QuantParams, folds: Bool) throws(IRError)
        -> (bias: [Int32], weights: QuantParams, channels: Int)
    {
        guard let w = g.constants[node.inputs[1]], w.dtype == .int8, let wq = g.values[node.inputs[1]].quant else {
            throw IRError(.unsupported, at: node.name, "int8 \(node.op.name) needs int8 constant weights")
        }
        let o = w.shape[0]
        var bias = [Int32](repeating: 0, count: o)
        if node.inputs.count > 2 {
            guard let b = g.constants[node.inputs[2]], b.dtype == .int32, b.elementCount == o else {
                throw IRError(.unsupported, at: node.name, "int8 \(node.op.name) needs an int32 bias of \(o) values")
            }
            bias = b.int64ArrayExact().map { Int32(truncatingIfNeeded: $0) }
        }
        let zx = xq.zeroPoints[0]
        if folds && zx != 0 {
            let k = w.elementCount / max(o, 1)
            do {
                let wp = w.storage.pointer.assumingMemoryBound(to: Int8.self)
                for r in 0..<o {
                    var s: Int32 = 0
                    for i in 0..<k { s &+= Int32(wp[r * k + i]) }
                    bias[r] = bias[r] &- zx &* s
                }
            }
        }
        return (bias, wq, o)
    }
}
