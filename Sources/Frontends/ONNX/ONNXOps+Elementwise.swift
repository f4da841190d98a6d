import GraphIR

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension ONNXOps {
    // MARK: Elementwise ops

    static let elementwise: [String: Lowering] = [
        "Add": { imp, n throws(FrontendError) in
            try binary(&imp, n, +) { imp, a, b throws(FrontendError) in
                try imp.emit(.add(), [a, b], output: n.outputs[0], node: n)
            }
        },
        "Mul": { imp, n throws(FrontendError) in
            try binary(&imp, n, *) { imp, a, b throws(FrontendError) in
                try imp.emit(.mul, [a, b], output: n.outputs[0], node: n)
            }
        },
        "Sub": sub,
        "Div": div,
        "Pow": { imp, n throws(FrontendError) in
            if let r = try foldBinary(&imp, n, { pow($0, $1) }) { return r }
            guard let e = imp.constant(n.inputs[1]).flatMap(ConstMath.scalar), e == 2 else {
                throw imp.fail(
                    .unsupportedFormat, "Pow of a tensor by anything but a constant 2 (opset \(imp.opset))", node: n)
            }
            let x = try imp.input(n, 0)
            return [.value(try imp.emit(.mul, [x, x], output: n.outputs[0], node: n))]
        },
        "Mod": { imp, n throws(FrontendError) in
            try constantOnly(&imp, n) { a in
                ConstMath.binary(a[0], a[1]) { x, y in y == 0 ? 0 : x - (x / y).rounded(.down) * y }
            }
        },
        "Equal": { imp, n throws(FrontendError) in
            try constantOnly(&imp, n) { a in ConstMath.binary(a[0], a[1], dtype: .bool) { $0 == $1 ? 1 : 0 } }
        },
        "Less": { imp, n throws(FrontendError) in
            try constantOnly(&imp, n) { a in ConstMath.binary(a[0], a[1], dtype: .bool) { $0 < $1 ? 1 : 0 } }
        },
        "Greater": { imp, n throws(FrontendError) in
            try constantOnly(&imp, n) { a in ConstMath.binary(a[0], a[1], dtype: .bool) { $0 > $1 ? 1 : 0 } }
        },
        "Where": { imp, n throws(FrontendError) in
            try constantOnly(&imp, n) { a in
                guard
                    let s = ShapeInference.broadcast(a[0].shape.dims, a[1].shape.dims).flatMap({
                        ShapeInference.broadcast($0, a[2].shape.dims)
                    })
                else { return nil }
                let (c, x, y) = (ConstMath.values(a[0]), ConstMath.values(a[1]), ConstMath.values(a[2]))
                let (ic, ix, iy) = (
                    ShapeInference.broadcastOffsets(from: a[0].shape.dims, to: s),
                    ShapeInference.broadcastOffsets(from: a[1].shape.dims, to: s),
                    ShapeInference.broadcastOffsets(from: a[2].shape.dims, to: s)
                )
                return ConstMath.tensor(
                    (0..<ic.count).map { c[ic[$0]] != 0 ? x[ix[$0]] : y[iy[$0]] }, shape: s, dtype: a[1].dtype)
            }
        },
        "Sqrt": { imp, n throws(FrontendError) in
            try constantOnly(&imp, n) { a in ConstMath.unary(a[0]) { $0.squareRoot() } }
        },
        "Erf": { imp, n throws(FrontendError) in try constantOnly(&imp, n) { a in ConstMath.unary(a[0]) { erf($0) } } },
        "Exp": { imp, n throws(FrontendError) in try constantOnly(&imp, n) { a in ConstMath.unary(a[0]) { exp($0) } } },
        "Reciprocal": { imp, n throws(FrontendError) in
            try constantOnly(&imp, n) { a in ConstMath.unary(a[0]) { 1 / $0 } }
        },
        "Floor": { imp, n throws(FrontendError) in
            try constantOnly(&imp, n) { a in ConstMath.unary(a[0]) { $0.rounded(.down) } }
        },
        "Ceil": { imp, n throws(FrontendError) in
            try constantOnly(&imp, n) { a in ConstMath.unary(a[0]) { $0.rounded(.up) } }
        },
        "Neg": { imp, n throws(FrontendError) in
            if let t = imp.constant(n.inputs[0]) { return [.constant(ConstMath.unary(t) { -$0 })] }
            let m = imp.value(.constant(Tensor(shape: Shape([1]), floats: [-1])), name: n.name + ".minus_one")
            return [.value(try imp.emit(.mul, [try imp.input(n, 0), m], output: n.outputs[0], node: n))]
        },
        "Relu": { imp, n throws(FrontendError) in try unary(&imp, n, .relu) },
        "Sigmoid": { imp, n throws(FrontendError) in try unary(&imp, n, .sigmoid) },
        "HardSwish": { imp, n throws(FrontendError) in try unary(&imp, n, .hardSwish) },
        "HardSigmoid": hardSigmoid,
        "Clip": clip,
        "Identity": { imp, n throws(FrontendError) in [try imp.ref(n.inputs[0])] },
        "Dropout": { imp, n throws(FrontendError) in [try imp.ref(n.inputs[0])] },
        "Cast": { imp, n throws(FrontendError) in
            guard let to = n.int("to"), let dtype = ONNXTensorReader.dtype(Int32(truncatingIfNeeded: to)) else {
                throw imp.fail(.unsupportedFormat, "Cast to data type \(n.int("to") ?? -1)", node: n)
            }
            if let t = imp.constant(n.inputs[0]) {
                let v = ConstMath.values(t).map { dtype.isFloatingPoint ? $0 : $0.rounded(.towardZero) }
                return [.constant(ConstMath.tensor(v, shape: t.shape.dims, dtype: dtype))]
            }
            guard dtype.isFloatingPoint else {
                throw imp.fail(.unsupportedFormat, "Cast of a tensor to \(dtype.rawValue)", node: n)
            }
            return [try imp.ref(n.inputs[0])]
        },
    ]

    static func unary(_ imp: inout ONNXImporter, _ n: ONNXModel.Node, _ op: Op) throws(FrontendError) -> [ONNXRef] {
        if let t = imp.constant(n.inputs[0]) { return [.constant(try imp.fold(op, [t], node: n))] }
        return [.value(try imp.emit(op, [try imp.input(n, 0)], output: n.outputs[0], node: n))]
    }

    /// Folds when every input is a constant; `nil` from `f` means the inputs do not fit.
    static func constantOnly(
        _ imp: inout ONNXImporter, _ n: ONNXModel.Node, refusal: String = "inputs do not broadcast",
        _ f: ([Tensor]) -> Tensor?
    )
        throws(FrontendError) -> [ONNXRef]
    {
        var ts: [Tensor] = []
        for x in n.inputs {
            guard let t = imp.constant(x) else {
                throw imp.fail(
                    .unsupportedFormat,
                    "unsupported ONNX op '\(n.opType)' on a computed tensor (node '\(n.name)', opset \(imp.opset)); only its constant form is folded",
                    node: n)
            }
            ts.append(t)
        }
        guard let out = f(ts) else { throw imp.fail(.shapeMismatch, refusal, node: n) }
        return [.constant(out)]
    }

    static func foldBinary(_ imp: inout ONNXImporter, _ n: ONNXModel.Node, _ f: (Double, Double) -> Double)
        throws(FrontendError) -> [ONNXRef]?
    {
        guard let a = imp.constant(n.inputs[0]), let b = imp.constant(n.inputs[1]) else { return nil }
        guard let t = ConstMath.binary(a, b, f) else {
            throw imp.fail(.shapeMismatch, "\(a.shape) and \(b.shape) do not broadcast", node: n)
        }
        return [.constant(t)]
    }

    static func binary(
        _ imp: inout ONNXImporter, _ n: ONNXModel.Node, _ f: (Double, Double) -> Double,
        emit: (inout ONNXImporter, ValueID, ValueID) throws(FrontendError) -> ValueID
    ) throws(FrontendError) -> [ONNXRef] {
        if let r = try foldBinary(&imp, n, f) { return r }
        return [.value(try emit(&imp, try imp.input(n, 0), try imp.input(n, 1)))]
    }

    /// a − b: with a constant b, a + (−b); otherwise a + (−1)·b.
    static func sub(_ imp: inout ONNXImporter, _ n: ONNXModel.Node) throws(FrontendError) -> [ONNXRef] {
        if let r = try foldBinary(&imp, n, -) { return r }
        let a = try imp.input(n, 0)
        if let b = imp.constant(n.inputs[1]) {
            let nb = imp.value(.constant(ConstMath.unary(b) { -$0 }), name: n.inputs[1] + ".neg")
            return [.value(try imp.emit(.add(), [a, nb], output: n.outputs[0], node: n))]
        }
        let m = imp.value(.constant(Tensor(shape: Shape([1]), floats: [-1])), name: n.name + ".minus_one")
        let nb = try imp.emit(.mul, [try imp.input(n, 1), m], output: n.outputs[0] + ".neg", node: n)
        return [.value(try imp.emit(.add(), [a, nb], output: n.outputs[0], node: n))]
    }

    /// a / b with a constant b is a · (1/b).
    static func div(_ imp: inout ONNXImporter, _ n: ONNXModel.Node) throws(FrontendError) -> [ONNXRef] {
        let integer = imp.constant(n.inputs[0]).map { !$0.dtype.isFloatingPoint } ?? false
        if let r = try foldBinary(&imp, n, { x, y in integer ? (y == 0 ? 0 : (x / y).rounded(.towardZero)) : x / y }) {
            return r
        }
        guard let b = imp.constant(n.inputs[1]) else {
            throw imp.fail(
                .unsupportedFormat,
                "unsupported ONNX op 'Div' by a computed tensor (node '\(n.name)', opset \(imp.opset))", node: n)
        }
        let inv = imp.value(.constant(ConstMath.unary(b.toFloat32()) { 1 / $0 }), name: n.inputs[1] + ".reciprocal")
        return [.value(try imp.emit(.mul, [try imp.input(n, 0), inv], output: n.outputs[0], node: n))]
    }

    /// Clip: bounds from attributes (opset < 11) or constant inputs.
    static func clip(_ imp: inout ONNXImporter, _ n: ONNXModel.Node) throws(FrontendError) -> [ONNXRef] {
        var lo = n.float("min") ?? -.infinity
        var hi = n.float("max") ?? .infinity
        if n.inputs.count > 1, !n.inputs[1].isEmpty {
            lo = Float(ConstMath.scalar(try imp.requireConstant(n, 1, "min")) ?? 0)
        }
        if n.inputs.count > 2, !n.inputs[2].isEmpty {
            hi = Float(ConstMath.scalar(try imp.requireConstant(n, 2, "max")) ?? 0)
        }
        let op: Op = lo == 0 && hi == .infinity ? .relu : .clip(min: lo, max: hi)
        if let t = imp.constant(n.inputs[0]) { return [.constant(try imp.fold(op, [t], node: n))] }
        return [.value(try imp.emit(op, [try imp.input(n, 0)], output: n.outputs[0], node: n))]
    }

    /// HardSigmoid(α, β) = clip(α·x + β, 0, 1); PyTorch's (α = 1/6, β = 0.5) is the IR's hard_sigmoid.
    static func hardSigmoid(_ imp: inout ONNXImporter, _ n: ONNXModel.Node) throws(FrontendError) -> [ONNXRef] {
        let (alpha, beta) = (n.float("alpha") ?? 0.2, n.float("beta") ?? 0.5)
        let x = try imp.input(n, 0)
        if abs(alpha - 1.0 / 6) < 1e-6 && beta == 0.5 {
            return [.value(try imp.emit(.hardSigmoid, [x], output: n.outputs[0], node: n))]
        }
        let a = imp.value(.constant(Tensor(shape: Shape([1]), floats: [alpha])), name: n.name + ".alpha")
        let b = imp.value(.constant(Tensor(shape: Shape([1]), floats: [beta])), name: n.name + ".beta")
        let m = try imp.emit(.mul, [x, a], output: n.outputs[0] + ".scaled", node: n)
        let s = try imp.emit(.add(), [m, b], output: n.outputs[0] + ".shifted", node: n)
        return [.value(try imp.emit(.clip(min: 0, max: 1), [s], output: n.outputs[0], node: n))]
    }
}
