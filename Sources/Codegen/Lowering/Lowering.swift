import CKernels
import GraphIR

/// Lowers an int8 (or mixed-precision, or float32) graph for a target into a `KernelProgram`:
/// kernel choice, parameters (`KernelParameters`, the evaluator's too), layouts, aliasing and
/// the workspace plan (`MemoryPlanner`). Backends (the C and CUDA emitters) only print it.
///
/// The program's entry takes one NCHW float32 input of batch 1 and returns one float32 output;
/// int8 feature maps are channel-last inside, every other value row-major. `int8ElementBytes`
/// is the width a backend stores an int8 value's elements in (the CUDA fp16 path: 2), which the
/// workspace plan follows. With `fusingResidualAdds` a backend that folds a residual add into the
/// 1×1 convolution before it (`KernelProgram.residualFusions`) gets a plan that keeps the
/// convolution's input alive until the add.
public enum Lowering {
    public static func lower(
        _ g: Graph, for target: TargetProfile, int8ElementBytes: Int = 1, fusingResidualAdds: Bool = false
    ) throws(IRError) -> KernelProgram {
        func fail(_ m: String, at node: Node? = nil) -> IRError {
            IRError(.unsupported, at: node?.name ?? "", node.map { "\($0.op.name): \(m)" } ?? m)
        }
        guard g.inputs.count == 1, g.outputs.count == 1 else {
            throw fail("generated code needs one input and one output")
        }
        let input = g.inputs[0]
        let output = g.outputs[0]
        guard g.values[input].dtype == .float32, g.values[input].shape.rank == 4, g.values[input].shape[0] == 1 else {
            throw fail("generated code needs a batch-1 NCHW float32 input")
        }
        guard g.values[output].dtype == .float32 else { throw fail("generated code needs a float32 output") }
        guard !g.nodes.isEmpty else { throw fail("the graph has no ops") }
        for n in g.nodes {
            let t = g.values[n.outputs[0]].dtype
            guard t == .int8 || t == .float32 else {
                throw fail("produces \(t.rawValue); generated code handles int8 and float32", at: n)
            }
        }
        var layouts = g.values.map { v in
            v.dtype == .int8 && v.shape.rank == 4 ? KernelProgram.Layout.channelLast : .rowMajor
        }
        for v in tokenValues(g) { layouts[v] = .rowMajor }
        var p = KernelProgram(
            graph: g, target: target, steps: [], layouts: layouts, int8Ends: nil, inCaller: [], offsets: [:],
            workspaceBytes: 0, largestLivePair: 0)
        p.int8ElementBytes = int8ElementBytes
        func aliases(_ n: Node) -> Bool {
            if g.constants[n.inputs[0]] != nil { return false }  // a constant reshaped: copied (float32) or refused
            switch n.op {
            case .identity, .dropout: return true
            case .reshape, .flatten: return p.naturalOrder(n.inputs[0]) && p.naturalOrder(n.outputs[0])
            default: return false
            }
        }
        let readers = g.nodes.filter { $0.inputs.contains(input) }.count
        if let first = g.nodes.first, case .quantize = first.op, first.inputs == [input], readers == 1,
            let last = g.nodes.last, case .dequantize = last.op, last.outputs == g.outputs, g.nodes.count > 2,
            p.naturalOrder(last.inputs[0])
        {
            p.int8Ends = (first.outputs[0], last.inputs[0])
        }
        let core = p.int8Ends == nil ? 0..<g.nodes.count : 1..<(g.nodes.count - 1)
        // lifetimes over the values the core computes (with the quantized input when int8Ends)
        var root: [ValueID: ValueID] = [:]
        var def: [ValueID: Int] = [:]
        var end: [ValueID: Int] = [:]
        p.inCaller = p.int8Ends == nil ? [input] : []
        if let e = p.int8Ends {
            root[e.quantizedInput] = e.quantizedInput
            def[e.quantizedInput] = 0
        }
        for i in core {
            let n = g.nodes[i]
            let out = n.outputs[0]
            if aliases(n) {
                root[out] = root[n.inputs[0]] ?? n.inputs[0]
                if p.inCaller.contains(n.inputs[0]) { p.inCaller.insert(out) }
            } else {
                root[out] = out
                def[out] = i
                p.steps.append(
                    KernelProgram.Step(
                        node: i, kernel: try kernel(n, p), parameters: try KernelParameters.of(n, in: g)))
            }
            for v in n.inputs where g.constants[v] == nil && !p.inCaller.contains(v) {
                let r = root[v] ?? v
                end[r] = max(end[r] ?? i, i)
            }
        }
        if fusingResidualAdds {
            var readers: [ValueID: Int] = [:]
            for n in g.nodes { for v in n.inputs { readers[v, default: 0] += 1 } }
            for (i, s) in p.steps.enumerated().dropLast() where s.kernel == .pointwise && p.steps[i + 1].kernel == .add
            {
                let (conv, add) = (g.nodes[s.node], g.nodes[p.steps[i + 1].node])
                let out = conv.outputs[0]
                guard add.inputs.count == 2, add.inputs.filter({ $0 == out }).count == 1, readers[out] == 1,
                    !g.outputs.contains(out), p.int8Ends?.int8Output != out,
                    g.values[add.inputs[0]].shape == g.values[add.inputs[1]].shape
                else { continue }
                p.residualFusions.insert(i)
                let x = conv.inputs[0]
                if !p.inCaller.contains(x), let r = root[x] ?? (def[x] != nil ? x : nil) {
                    end[r] = max(end[r] ?? p.steps[i + 1].node, p.steps[i + 1].node)
                }
            }
        }
        let final = p.int8Ends?.int8Output ?? output
        if !p.inCaller.contains(final), let r = root[final] { end[r] = g.nodes.count }
        let roots = def.keys.sorted()
        let blocks = roots.map { r in
            MemoryPlanner.Block(bytes: p.storageBytes(r), first: def[r]!, last: end[r] ?? def[r]!)
        }
        let placed = MemoryPlanner().place(blocks, steps: g.nodes.count)
        p.workspaceBytes = placed.bytes
        let starts = Dictionary(uniqueKeysWithValues: zip(roots, placed.offsets))
        for (v, r) in root where !p.inCaller.contains(v) { p.offsets[v] = starts[r] }
        // the yardstick: the largest input + output bytes in the workspace any one step touches
        for s in p.steps {
            let n = g.nodes[s.node]
            let ins = n.inputs.filter { g.constants[$0] == nil && p.offsets[$0] != nil }.map(p.storageBytes)
            p.largestLivePair = max(p.largestLivePair, ins.reduce(0, +) + p.storageBytes(n.outputs[0]))
        }
        return p
    }

    /// The rank-4 int8 values a gemm reads or writes over their last axis (channel-last
    /// tokens, ConvNeXt's MLP: [N, H, W, C]), and those the elementwise ops between such layers
    /// join to them (a lookup's input and output, a same-shape add's or mul's operands): these
    /// stay row-major, so the layer's rows are contiguous. Transposes, quantize and dequantize
    /// convert between layouts; a convolution or pool meeting one is refused in `kernel`.
    static func tokenValues(_ g: Graph) -> Set<ValueID> {
        func int8Map(_ v: ValueID) -> Bool { g.values[v].dtype == .int8 && g.values[v].shape.rank == 4 }
        var rows = Set<ValueID>()
        for n in g.nodes {
            // gemm works on the last axis, token by token; fully_connected flattens the whole map
            // (NCHW order) and keeps needing a natural-order input, which it checks itself
            switch n.op {
            case .gemm:
                for v in [n.inputs[0], n.outputs[0]] where int8Map(v) && g.values[v].shape[2] * g.values[v].shape[3] > 1
                {
                    rows.insert(v)
                }
            default: break
            }
        }
        guard !rows.isEmpty else { return rows }
        var changed = true
        while changed {
            changed = false
            for n in g.nodes {
                switch n.op {
                case .hardSwish, .hardSigmoid, .sigmoid, .silu, .gelu, .add, .mul, .identity, .dropout: break
                default: continue
                }
                let out = n.outputs[0]
                let joined = ([out] + n.inputs).filter {
                    g.constants[$0] == nil && int8Map($0) && g.values[$0].shape == g.values[out].shape
                }
                if joined.contains(where: rows.contains) && !joined.allSatisfy(rows.contains) {
                    rows.formUnion(joined)
                    changed = true
                }
            }
        }
        return rows
    }

    /// The largest window fk_conv_dense gathers (`FK_DENSE_MAX_COLS`).
    public static let denseMaxColumns = Int(FK_DENSE_MAX_COLS)

    /// The kernel of a convolution with weights `w` ([O, C/groups, kh, kw]) over `c` channels
    /// (generated C's and fkdc's own evaluator's, `CKernelLayers`).
    static func convolutionKernel(_ a: Conv2dAttrs, weights w: [Int], channels c: Int) -> KernelProgram.Kernel {
        if KernelParameters.isPointwise(a, weights: w) { return .pointwise }
        if a.groups == c && a.groups == w[0] && w[1] == 1 { return .depthwise }
        if a.groups == 1 && w[1] * w[2] * w[3] <= denseMaxColumns { return .denseConvolution }
        return .convolution
    }

    static func kernel(_ n: Node, _ p: KernelProgram) throws(IRError) -> KernelProgram.Kernel {
        let g = p.graph
        let out = n.outputs[0]
        func fail(_ m: String) -> IRError { IRError(.unsupported, at: n.name, "\(n.op.name): \(m)") }
        switch n.op {
        case .quantize: return .quantize
        case .dequantize: return .dequantize
        default: break
        }
        if Int8Support.runsInInt8(n, in: g), g.values[out].dtype == .float32 {
            guard p.naturalOrder(n.inputs[0]) else { throw fail("a float32 output from a channel-last map") }
            return .linearToFloat
        }
        guard g.values[out].dtype == .int8 else { return .float32 }
        // what reads spatial maps channel-last: every int8 map it touches must be one
        func channelLast() throws(IRError) {
            for v in n.inputs + [out] where g.constants[v] == nil && g.values[v].dtype == .int8 {
                guard g.values[v].shape.rank != 4 || p.layouts[v] == .channelLast || p.naturalOrder(v) else {
                    throw fail("reads channel-last tokens a linear layer keeps row-major")
                }
            }
        }
        switch n.op {
        case .conv2d, .globalAvgPool, .avgPool, .maxPool: try channelLast()
        case .add, .mul:
            // elementwise on one layout; a per-channel operand ([N, C, 1, 1]) needs channel-last
            let maps = (n.inputs + [out]).filter { g.constants[$0] == nil && g.values[$0].shape.rank == 4 }
            let spatial = maps.filter { !(g.values[$0].shape[2] * g.values[$0].shape[3] == 1) }
            if Set(spatial.map { p.layouts[$0] }).count > 1
                || (spatial.count < maps.count && p.layouts[out] == .rowMajor)
            {
                throw fail("mixes row-major tokens and channel-last maps")
            }
        default: break
        }
        switch n.op {
        case .conv2d(let a):
            let w = g.values[n.inputs[1]].shape.dims
            let c = g.values[n.inputs[0]].shape[1]
            guard w.count == 4 else { throw fail("needs weights [O, C/groups, kh, kw]") }
            return convolutionKernel(a, weights: w, channels: c)
        case .fullyConnected, .gemm:
            let w = g.values[n.inputs[1]].shape.dims
            let count = g.values[n.inputs[0]].shape.elementCount
            guard w.count == 2, w[1] > 0, count % w[1] == 0, p.naturalOrder(n.inputs[0]), p.naturalOrder(out) else {
                throw fail("a linear layer on a spatial int8 map (channel-last inside)")
            }
            return .pointwise
        case .add: return .add
        case .mul: return .mul
        case .transpose, .slice, .concat: return .move
        case .globalAvgPool, .avgPool: return .averagePool
        case .maxPool: return .maxPool
        case .hardSwish, .hardSigmoid, .sigmoid, .silu, .gelu: return .lookup
        case .reshape, .flatten, .identity, .dropout:
            if p.naturalOrder(out) { return .toRowMajor }
            if p.naturalOrder(n.inputs[0]) { return .toChannelLast }
            throw fail("reshapes one spatial int8 map into another")
        default:
            throw fail("has no int8 kernel")
        }
    }
}
