import GraphIR

/// PyTorch's zip checkpoint: `<archive>/data.pkl` (the pickled object), `<archive>/data/<key>`
/// (one entry per storage, usually stored uncompressed and 64-byte aligned), `<archive>/byteorder`.
enum TorchCheckpoint {
    /// Keys under which training code nests the model's weights, tried in order.
    static let wrapperKeys = [
        "state_dict", "model_state_dict", "model", "module", "net", "network", "student_state_dict",
    ]

    static func read(_ file: MappedFile, limits: ParsingLimits) throws(FrontendError) -> StateDict {
        let zip = try ZipArchive(file: file, limits: limits)
        guard
            let pkl = zip.entries.first(where: {
                $0.name.hasSuffix("data.pkl") && $0.name.split(separator: "/").count <= 2
            })
        else {
            if zip.entry(named: "constants.pkl") != nil || zip.entries.contains(where: { $0.name.contains("/code/") }) {
                throw FrontendError(
                    .unsupportedFormat,
                    "a TorchScript archive; save the state_dict instead: torch.save(model.state_dict(), path)")
            }
            throw FrontendError(.malformedZip, "no data.pkl entry; not a torch.save archive")
        }
        if zip.entries.contains(where: { $0.name.hasSuffix("/constants.pkl") }) {
            throw FrontendError(
                .unsupportedFormat,
                "a TorchScript archive; save the state_dict instead: torch.save(model.state_dict(), path)")
        }
        let root = String(pkl.name.dropLast("data.pkl".count))
        if let bo = zip.entry(named: root + "byteorder") {
            let s = try zip.data(of: bo)
            let text = String(decoding: UnsafeRawBufferPointer(start: s.pointer, count: s.byteCount), as: UTF8.self)
            guard text == "little" else {
                throw FrontendError(
                    .unsupportedFormat, at: bo.name,
                    "byte order '\(text.prefix(16))' (only little-endian checkpoints are read)")
            }
        }
        guard pkl.uncompressedSize <= limits.maxPickleBytes else {
            throw FrontendError(
                .limitExceeded, at: pkl.name, "\(pkl.uncompressedSize) bytes of pickle exceed the limit")
        }
        let pklData = try zip.data(of: pkl)
        var vm = PickleMachine(
            UnsafeRawBufferPointer(start: pklData.pointer, count: pklData.byteCount), limits: limits, what: pkl.name)
        let top = try vm.run()
        let (dict, path) = try findStateDict(top)

        var storages: [String: TensorStorage] = [:]
        var out = StateDict(tensors: [], file: file.path, format: "pytorch-zip")
        out.path = path
        out.inertGlobals = vm.inertGlobals.sorted()
        guard dict.entries.count <= limits.maxTensors else {
            throw FrontendError(.limitExceeded, "more than \(limits.maxTensors) tensors")
        }
        for (k, v) in dict.entries {
            guard let key = k.string else { continue }
            guard case .tensor(let ref) = v else {
                out.nonTensors[key] = v.kindName
                continue
            }
            let s: TensorStorage
            if let cached = storages[ref.storage.key] {
                s = cached
            } else {
                let name = root + "data/" + ref.storage.key
                guard let e = zip.entry(named: name) else {
                    throw FrontendError(.malformedZip, at: key, "storage entry \(name) is missing")
                }
                s = try zip.data(of: e)
                let (need, o) = ref.storage.count.multipliedReportingOverflow(by: ref.storage.dtype.byteSize)
                guard !o, need == s.byteCount else {
                    throw FrontendError(
                        .malformedTensor, at: name,
                        "holds \(s.byteCount) bytes but declares \(ref.storage.count) × \(ref.storage.dtype.byteSize)")
                }
                storages[ref.storage.key] = s
            }
            out.tensors.append((key, try materialize(ref, storage: s, key: key)))
        }
        return out
    }

    /// Unwraps `{"state_dict": …}`-style containers down to the dict of tensors.
    static func findStateDict(_ top: PickleValue) throws(FrontendError) -> (PickleDict, [String]) {
        var current = top
        var path: [String] = []
        for _ in 0..<4 {
            guard case .dict(let d) = current else {
                throw FrontendError(
                    .layout, at: path.joined(separator: "."),
                    "the checkpoint holds \(current.kindName), not a dict of tensors")
            }
            let tensorCount = d.entries.filter { if case .tensor = $0.value { true } else { false } }.count
            if tensorCount > 0 && tensorCount * 2 >= d.entries.count { return (d, path) }
            guard let k = wrapperKeys.first(where: { d[$0] != nil }) else {
                let keys = d.stringKeys.prefix(12).joined(separator: ", ")
                throw FrontendError(
                    .layout, at: path.joined(separator: "."),
                    "no tensors found; top-level keys: \(keys) (expected a state_dict or one of \(wrapperKeys.joined(separator: ", ")))"
                )
            }
            path.append(k)
            current = d[k]!
        }
        throw FrontendError(.layout, "state dict nested too deeply")
    }

    /// Builds a contiguous tensor from a view of a storage, without copying when the view is
    /// already contiguous and aligned.
    static func materialize(_ r: TensorRef, storage: TensorStorage, key: String) throws(FrontendError) -> Tensor {
        guard let dtype = DType(rawValue: dtypeCode(r.storage.dtype)) else {
            throw FrontendError(.malformedTensor, at: key, "unsupported dtype")
        }
        let esize = dtype.byteSize
        guard let count = Shape(r.size).checkedElementCount, let span = Shape(r.size).span, span <= Graph.maxElements
        else {
            throw FrontendError(
                .malformedTensor, at: key,
                "size \(r.size) holds more than the \(Graph.maxElements) elements a tensor may have")
        }
        guard r.stride.count == r.size.count, r.stride.allSatisfy({ $0 >= 0 }), r.offset >= 0 else {
            throw FrontendError(
                .malformedTensor, at: key, "view (offset \(r.offset), size \(r.size), stride \(r.stride)) is malformed")
        }
        // an empty view reads nothing, wherever it says it starts
        if count == 0 { return Tensor(dtype: dtype, shape: Shape(r.size), storage: TensorStorage(byteCount: 0)) }
        // Largest element index the view reads.
        var extent = r.offset
        do {
            for (d, s) in zip(r.size, r.stride) {
                let (m, o1) = (d - 1).multipliedReportingOverflow(by: s)
                let (e, o2) = extent.addingReportingOverflow(m)
                guard !o1, !o2 else { throw FrontendError(.malformedTensor, at: key, "stride arithmetic overflows") }
                extent = e
            }
            guard extent < r.storage.count else {
                throw FrontendError(
                    .malformedTensor, at: key,
                    "view (offset \(r.offset), size \(r.size), stride \(r.stride)) reaches element \(extent) of a \(r.storage.count)-element storage"
                )
            }
        }
        let shape = Shape(r.size)
        let contiguous = zip(r.size, zip(r.stride, shape.strides)).allSatisfy { $0 == 1 || $1.0 == $1.1 }
        if contiguous {
            return Tensor(
                dtype: dtype, shape: shape,
                storage: TensorStorage(viewOf: storage, offset: r.offset * esize, byteCount: count * esize))
        }
        let out = TensorStorage(byteCount: count * esize)
        let dst = out.mutablePointer!
        var idx = [Int](repeating: 0, count: r.size.count)
        var off = r.offset
        for i in 0..<count {
            dst.advanced(by: i * esize).copyMemory(from: storage.pointer + off * esize, byteCount: esize)
            var d = r.size.count - 1
            while d >= 0 {
                idx[d] += 1
                off += r.stride[d]
                if idx[d] < r.size[d] { break }
                off -= r.stride[d] * idx[d]
                idx[d] = 0
                d -= 1
            }
        }
        return Tensor(dtype: dtype, shape: shape, storage: out)
    }

    static func dtypeCode(_ t: TorchDType) -> String {
        switch t {
        case .float32: "f32"
        case .float16: "f16"
        case .bfloat16: "bf16"
        case .float64: "f64"
        case .int64: "i64"
        case .int32: "i32"
        case .int16: "i16"
        case .int8: "i8"
        case .uint8: "u8"
        case .bool: "bool"
        }
    }
}
