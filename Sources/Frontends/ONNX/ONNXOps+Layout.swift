import GraphIR

extension ONNXOps {
    // MARK: Shapes, layout and constants

    static let layout: [String: Lowering] = [
        "Constant": constantNode,
        "Shape": { imp, n throws(FrontendError) in
            let s = imp.shape(try imp.ref(n.inputs[0]))
            let r = s.count
            func clampAxis(_ a: Int) -> Int { min(max(a < 0 ? a + r : a, 0), r) }
            let start = clampAxis(n.int("start") ?? 0)
            let end = clampAxis(n.int("end") ?? r)
            let dims = start < end ? Array(s[start..<end]) : []
            return [.constant(Tensor(shape: Shape([dims.count]), int64s: dims.map(Int64.init)))]
        },
        "ConstantOfShape": { imp, n throws(FrontendError) in
            let s = try imp.requireConstant(n, 0, "shape").int64ArrayExact().map { Int($0) }
            guard s.allSatisfy({ $0 >= 0 }), let count = Shape(s).checkedElementCount,
                count <= ONNXImporter.maxFoldedElements
            else {
                throw imp.fail(.shapeMismatch, "ConstantOfShape of \(s)", node: n)
            }
            let fill = n.attributes["value"]?.tensor
            let v = fill.map { ConstMath.values($0).first ?? 0 } ?? 0
            return [
                .constant(
                    ConstMath.tensor([Double](repeating: v, count: count), shape: s, dtype: fill?.dtype ?? .float32))
            ]
        },
        "Range": { imp, n throws(FrontendError) in
            let refusal =
                "Range needs scalar start, limit and a non-zero delta, finite, giving at most \(ONNXImporter.maxFoldedElements) elements"
            return try constantOnly(&imp, n, refusal: refusal) { a in
                guard let start = ConstMath.scalar(a[0]), let limit = ConstMath.scalar(a[1]),
                    let delta = ConstMath.scalar(a[2]), delta != 0
                else { return nil }
                // NaN or infinite bounds, or too many elements: not a range this importer folds
                let q = ((limit - start) / delta).rounded(.up)
                guard q.isFinite, q <= Double(ONNXImporter.maxFoldedElements) else { return nil }
                let count = max(0, Int(q))
                return ConstMath.tensor(
                    (0..<count).map { start + Double($0) * delta }, shape: [count], dtype: a[0].dtype)
            }
        },
        "Reshape": reshape,
        "Flatten": { imp, n throws(FrontendError) in
            let x = try imp.ref(n.inputs[0])
            let s = imp.shape(x)
            let axis = ShapeInference.axis(n.int("axis") ?? 1, rank: s.count + 1) ?? 1
            let out = [s[..<axis].reduce(1, *), s[axis...].reduce(1, *)]
            return [try reshaped(&imp, n, x, to: out)]
        },
        "Squeeze": { imp, n throws(FrontendError) in
            let x = try imp.ref(n.inputs[0])
            let s = imp.shape(x)
            var axes = n.ints("axes")
            if n.inputs.count > 1, let t = imp.optionalConstant(n, 1) { axes = t.int64ArrayExact().map { Int($0) } }
            let drop = Set(
                (axes ?? s.indices.filter { s[$0] == 1 }).compactMap { ShapeInference.axis($0, rank: s.count) })
            guard drop.allSatisfy({ s[$0] == 1 }) else {
                throw imp.fail(.shapeMismatch, "Squeeze of a dimension that is not 1", node: n)
            }
            return [try reshaped(&imp, n, x, to: s.indices.filter { !drop.contains($0) }.map { s[$0] })]
        },
        "Unsqueeze": { imp, n throws(FrontendError) in
            let x = try imp.ref(n.inputs[0])
            var s = imp.shape(x)
            var axes = n.ints("axes") ?? []
            if n.inputs.count > 1 { axes = try imp.requireConstant(n, 1, "axes").int64ArrayExact().map { Int($0) } }
            let r = s.count + axes.count
            for a in axes.compactMap({ ShapeInference.axis($0, rank: r) }).sorted() { s.insert(1, at: min(a, s.count)) }
            return [try reshaped(&imp, n, x, to: s)]
        },
        "Transpose": { imp, n throws(FrontendError) in
            let x = try imp.ref(n.inputs[0])
            let r = imp.shape(x).count
            let perm = n.ints("perm") ?? Array((0..<r).reversed())
            guard Set(perm) == Set(0..<r) else {
                throw imp.fail(.shapeMismatch, "perm \(perm) is not a permutation", node: n)
            }
            if case .constant(let t) = x { return [.constant(ConstMath.transpose(t, perm: perm))] }
            return [
                .value(
                    try imp.emit(
                        .transpose(perm: perm), [imp.value(x, name: n.inputs[0])], output: n.outputs[0], node: n))
            ]
        },
        "Concat": { imp, n throws(FrontendError) in
            let refs = try n.inputs.filter { !$0.isEmpty }.map { x throws(FrontendError) in try imp.ref(x) }
            let rank = imp.shape(refs[0]).count
            guard let axis = ShapeInference.axis(n.int("axis") ?? 0, rank: rank) else {
                throw imp.fail(.shapeMismatch, "Concat axis out of range", node: n)
            }
            let consts = refs.compactMap { r -> Tensor? in if case .constant(let t) = r { t } else { nil } }
            if consts.count == refs.count {
                let first = consts[0].shape.dims
                guard
                    consts.allSatisfy({ c in
                        c.shape.rank == rank && (0..<rank).allSatisfy { $0 == axis || c.shape[$0] == first[$0] }
                    }), let total = consts.reduce(0, { $0 + $1.shape.elementCount }) as Int?,
                    total <= ONNXImporter.maxFoldedElements
                else {
                    throw imp.fail(
                        .shapeMismatch,
                        "Concat of constants \(consts.map { $0.shape.description }.joined(separator: ", ")) along axis \(axis)",
                        node: n)
                }
                return [.constant(ConstMath.concat(consts, axis: axis))]
            }
            let ins = zip(refs, n.inputs.filter { !$0.isEmpty }).map { imp.value($0.0, name: $0.1) }
            return [.value(try imp.emit(.concat(axis: axis), ins, output: n.outputs[0], node: n))]
        },
        "Gather": { imp, n throws(FrontendError) in
            let x = try imp.ref(n.inputs[0])
            let idx = try imp.requireConstant(n, 1, "indices")
            let s = imp.shape(x)
            guard let axis = ShapeInference.axis(n.int("axis") ?? 0, rank: s.count) else {
                throw imp.fail(.shapeMismatch, "Gather axis out of range", node: n)
            }
            let ind = idx.int64ArrayExact().map { Int($0) }
            guard ind.allSatisfy({ (-s[axis]..<s[axis]).contains($0) }) else {
                throw imp.fail(.shapeMismatch, "Gather index out of range for dimension \(s[axis])", node: n)
            }
            if case .constant(let t) = x {
                return [
                    .constant(
                        ConstMath.take(
                            t, indices: ind.map { $0 < 0 ? $0 + s[axis] : $0 }, indicesShape: idx.shape.dims, axis: axis
                        ))
                ]
            }
            let iv = imp.value(.constant(Tensor(shape: idx.shape, int64s: ind.map(Int64.init))), name: n.inputs[1])
            return [
                .value(
                    try imp.emit(
                        .gather(axis: axis), [imp.value(x, name: n.inputs[0]), iv], output: n.outputs[0], node: n))
            ]
        },
        "Slice": slice,
        "Split": split,
        "Expand": { imp, n throws(FrontendError) in
            let x = try imp.ref(n.inputs[0])
            let target = try imp.requireConstant(n, 1, "shape").int64ArrayExact().map { Int($0) }
            guard let out = ShapeInference.broadcast(imp.shape(x), target), let count = Shape(out).checkedElementCount,
                count <= Graph.maxElements
            else {
                throw imp.fail(.shapeMismatch, "cannot expand \(imp.shape(x)) to \(target)", node: n)
            }
            if case .constant(let t) = x {
                guard count <= ONNXImporter.maxFoldedElements else {
                    throw imp.fail(
                        .limitExceeded,
                        "Expand of a constant to \(Shape(out)) (\(count) elements; at most \(ONNXImporter.maxFoldedElements) are folded)",
                        node: n)
                }
                return [.constant(ConstMath.expand(t, to: out))]
            }
            if out == imp.shape(x) { return [x] }
            return [
                .value(
                    try imp.emit(.expand(shape: out), [imp.value(x, name: n.inputs[0])], output: n.outputs[0], node: n))
            ]
        },
        "Pad": { imp, n throws(FrontendError) in
            var pads = n.ints("pads") ?? []
            if n.inputs.count > 1, !n.inputs[1].isEmpty {
                pads = try imp.requireConstant(n, 1, "pads").int64ArrayExact().map { Int($0) }
            }
            guard pads.allSatisfy({ $0 == 0 }) else {
                throw imp.fail(
                    .unsupportedFormat,
                    "Pad with non-zero pads (opset \(imp.opset)); export with the padding inside Conv or pooling",
                    node: n)
            }
            return [try imp.ref(n.inputs[0])]
        },
    ]

    static func constantNode(_ imp: inout ONNXImporter, _ n: ONNXModel.Node) throws(FrontendError) -> [ONNXRef] {
        if let t = n.attributes["value"]?.tensor { return [.constant(t)] }
        if let f = n.attributes["value_float"]?.float { return [.constant(Tensor(shape: Shape([]), floats: [f]))] }
        if let fs = n.attributes["value_floats"]?.floats {
            return [.constant(Tensor(shape: Shape([fs.count]), floats: fs))]
        }
        if let i = n.attributes["value_int"]?.int { return [.constant(Tensor(shape: Shape([]), int64s: [i]))] }
        if let is_ = n.attributes["value_ints"]?.ints {
            return [.constant(Tensor(shape: Shape([is_.count]), int64s: is_))]
        }
        throw imp.fail(.unsupportedFormat, "Constant without a tensor, float or int value", node: n)
    }

    /// The same data under another shape: folded for constants, a reshape node otherwise.
    static func reshaped(_ imp: inout ONNXImporter, _ n: ONNXModel.Node, _ x: ONNXRef, to out: [Int])
        throws(FrontendError) -> ONNXRef
    {
        guard let count = Shape(out).checkedElementCount, count == imp.shape(x).reduce(1, *),
            Shape(out).span.map({ $0 <= Graph.maxElements }) == true
        else {
            throw imp.fail(.shapeMismatch, "cannot reshape \(imp.shape(x)) to \(out)", node: n)
        }
        if case .constant(let t) = x { return .constant(t.reshaped(Shape(out))) }
        if out == imp.shape(x) { return x }
        return .value(
            try imp.emit(.reshape(shape: out), [imp.value(x, name: n.inputs[0])], output: n.outputs[0], node: n))
    }

    /// Reshape with ONNX's rules: 0 copies the input dimension (unless allowzero), one -1 is inferred.
    static func reshape(_ imp: inout ONNXImporter, _ n: ONNXModel.Node) throws(FrontendError) -> [ONNXRef] {
        let x = try imp.ref(n.inputs[0])
        let s = imp.shape(x)
        var target = try imp.requireConstant(n, 1, "shape").int64ArrayExact().map { Int($0) }
        let allowZero = (n.int("allowzero") ?? 0) != 0
        for i in target.indices where target[i] == 0 && !allowZero {
            guard i < s.count else {
                throw imp.fail(.shapeMismatch, "shape \(target) copies dimension \(i) of \(s)", node: n)
            }
            target[i] = s[i]
        }
        let total = s.reduce(1, *)
        if let i = target.firstIndex(of: -1) {
            let rest = target.enumerated().filter { $0.offset != i }.map(\.element)
            guard rest.allSatisfy({ $0 >= 0 }), let known = Shape(rest).checkedElementCount, known > 0,
                total % known == 0, target.filter({ $0 == -1 }).count == 1
            else {
                throw imp.fail(.shapeMismatch, "cannot reshape \(s) to \(target)", node: n)
            }
            target[i] = total / known
        }
        guard target.allSatisfy({ $0 >= 0 }) else {
            throw imp.fail(.shapeMismatch, "cannot reshape \(s) to \(target)", node: n)
        }
        return [try reshaped(&imp, n, x, to: target)]
    }

    /// Slice along each listed axis (starts, ends, axes, steps; inputs from opset 10, attributes before).
    static func slice(_ imp: inout ONNXImporter, _ n: ONNXModel.Node) throws(FrontendError) -> [ONNXRef] {
        var x = try imp.ref(n.inputs[0])
        let s = imp.shape(x)
        func list(_ i: Int, _ attr: String) throws(FrontendError) -> [Int]? {
            if imp.opset >= 10 {
                guard i < n.inputs.count, !n.inputs[i].isEmpty else { return nil }
                return try imp.requireConstant(n, i, attr).int64ArrayExact().map { Int(clamping: $0) }
            }
            return n.ints(attr)
        }
        guard let starts = try list(1, "starts"), let ends = try list(2, "ends"), starts.count == ends.count else {
            throw imp.fail(.shapeMismatch, "Slice needs starts and ends of equal length", node: n)
        }
        let axes = try list(3, "axes") ?? Array(0..<starts.count)
        let steps = try list(4, "steps") ?? [Int](repeating: 1, count: starts.count)
        guard axes.count == starts.count, steps.count == starts.count else {
            throw imp.fail(.shapeMismatch, "Slice argument lengths differ", node: n)
        }
        var current = n.inputs[0]
        for k in starts.indices {
            guard let axis = ShapeInference.axis(axes[k], rank: s.count) else {
                throw imp.fail(.shapeMismatch, "Slice axis out of range", node: n)
            }
            guard steps[k] >= 1 else {
                throw imp.fail(.unsupportedFormat, "Slice with step \(steps[k]) (only positive steps)", node: n)
            }
            let dim = imp.shape(x)[axis]
            let (b, e) = ShapeInference.sliceBounds(start: starts[k], end: ends[k], dim: dim)
            let count = e > b ? (e - b - 1) / steps[k] + 1 : 0
            if b == 0 && count == dim && steps[k] == 1 { continue }
            if case .constant(let t) = x {
                x = .constant(ConstMath.slice(t, axis: axis, start: b, step: steps[k], count: count))
            } else {
                let last = k == starts.count - 1
                let name = last ? n.outputs[0] : "\(n.outputs[0]).axis\(axis)"
                x = .value(
                    try imp.emit(
                        .slice(axis: axis, start: b, end: e, step: steps[k]), [imp.value(x, name: current)],
                        output: name, node: n))
                current = name
            }
        }
        return [x]
    }

    /// Split into slices along an axis (sizes from the `split` input/attribute or equal parts).
    static func split(_ imp: inout ONNXImporter, _ n: ONNXModel.Node) throws(FrontendError) -> [ONNXRef] {
        let x = try imp.ref(n.inputs[0])
        let s = imp.shape(x)
        guard let axis = ShapeInference.axis(n.int("axis") ?? 0, rank: s.count) else {
            throw imp.fail(.shapeMismatch, "Split axis out of range", node: n)
        }
        var sizes = n.ints("split")
        if n.inputs.count > 1, let t = imp.optionalConstant(n, 1) { sizes = t.int64ArrayExact().map { Int($0) } }
        let parts = n.outputs.count
        if sizes == nil {
            let each = (s[axis] + parts - 1) / max(parts, 1)
            sizes = (0..<parts).map { min(each, max(0, s[axis] - $0 * each)) }
        }
        // sizes are checked one by one against the dimension, so their sum cannot overflow
        guard let sz = sizes, sz.count == parts, sz.allSatisfy({ (0...s[axis]).contains($0) }),
            sz.reduce(0, +) == s[axis]
        else {
            throw imp.fail(.shapeMismatch, "Split sizes \(sizes ?? []) do not cover dimension \(s[axis])", node: n)
        }
        var out: [ONNXRef] = []
        var start = 0
        for (k, len) in sz.enumerated() {
            if case .constant(let t) = x {
                out.append(.constant(ConstMath.slice(t, axis: axis, start: start, step: 1, count: len)))
            } else {
                out.append(
                    .value(
                        try imp.emit(
                            .slice(axis: axis, start: start, end: start + len, step: 1),
                            [imp.value(x, name: n.inputs[0])], output: n.outputs[k], node: n)))
            }
            start += len
        }
        return out
    }
}
