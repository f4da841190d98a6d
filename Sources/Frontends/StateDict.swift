import GraphIR

/// Named tensors read from a checkpoint, in file order, with where they came from.
public struct StateDict: Sendable {
    public var tensors: [(key: String, tensor: Tensor)]
    /// Keys whose values are not tensors, with what they hold (for error messages).
    public var nonTensors: [String: String] = [:]
    /// The file the tensors came from.
    public var file: String
    /// Container format: "pytorch-zip" or "safetensors".
    public var format: String
    /// How the state dict was found inside the checkpoint (e.g. `["state_dict"]`).
    public var path: [String] = []
    /// A prefix stripped from every key (e.g. `module.`), if any.
    public var strippedPrefix: String = ""
    /// Globals the checkpoint named that were kept inert (not tensors, not containers).
    public var inertGlobals: [String] = []

    public init(tensors: [(key: String, tensor: Tensor)], file: String, format: String) {
        self.tensors = tensors
        self.file = file
        self.format = format
    }

    public var keys: [String] { tensors.map(\.key) }

    public subscript(_ key: String) -> Tensor? { tensors.first { $0.key == key }?.tensor }

    /// Keys grouped by their first dotted component, in first-seen order.
    public var topLevelGroups: [(name: String, count: Int)] {
        var order: [String] = []
        var counts: [String: Int] = [:]
        for k in keys {
            let g = k.split(separator: ".", maxSplits: 1).first.map(String.init) ?? k
            if counts[g] == nil { order.append(g) }
            counts[g, default: 0] += 1
        }
        return order.map { ($0, counts[$0]!) }
    }

    /// The tensors under `prefix` (which should end in "."), with the prefix removed.
    public func stripping(prefix: String) -> StateDict {
        var s = self
        s.tensors = tensors.compactMap {
            $0.key.hasPrefix(prefix) ? (String($0.key.dropFirst(prefix.count)), $0.tensor) : nil
        }
        s.nonTensors = nonTensors.reduce(into: [:]) { acc, kv in
            if kv.key.hasPrefix(prefix) { acc[String(kv.key.dropFirst(prefix.count))] = kv.value }
        }
        s.strippedPrefix = strippedPrefix + prefix
        return s
    }

    /// `stripping(prefix: name + ".")` for every top-level group at once, in first-seen order:
    /// one pass over the keys, so a file of 60,000 groups costs no more than one of 60,000 keys.
    public func strippedGroups() -> [(name: String, dict: StateDict)] {
        var order: [String] = []
        var parts: [String: StateDict] = [:]
        func part(_ g: String) -> StateDict {
            if let p = parts[g] { return p }
            order.append(g)
            var e = self
            e.tensors = []
            e.nonTensors = [:]
            e.strippedPrefix = strippedPrefix + g + "."
            return e
        }
        for (k, t) in tensors {
            let pieces = k.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
            let g = String(pieces[0])
            var p = part(g)
            if pieces.count == 2 { p.tensors.append((String(pieces[1]), t)) }
            parts[g] = p
        }
        for (k, v) in nonTensors {
            let pieces = k.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
            guard pieces.count == 2, var p = parts[String(pieces[0])] else { continue }
            p.nonTensors[String(pieces[1])] = v
            parts[String(pieces[0])] = p
        }
        return order.compactMap { g in parts[g].map { (g, $0) } }
    }
}

/// Reads any supported weights file by its content: PyTorch zip checkpoints (.pt .pth .ckpt,
/// torch ≥ 1.6) and safetensors.
public enum CheckpointReader {
    public static func read(path: String, limits: ParsingLimits = ParsingLimits()) throws(FrontendError) -> StateDict {
        let file: MappedFile
        do { file = try MappedFile(path: path) } catch {
            if case .cannotOpen(_, let reason) = error {
                throw FrontendError(.io, file: path, "cannot open: \(reason)")
            }
            throw FrontendError(.io, file: path, "cannot open")
        }
        let b = file.bytes
        do throws(FrontendError) {
            if b.count >= 4, b[0] == 0x50, b[1] == 0x4b, b[2] == 3 || b[2] == 5 {
                return try TorchCheckpoint.read(file, limits: limits)
            }
            if b.count >= 1, b[0] == 0x80 {
                throw FrontendError(
                    .unsupportedFormat,
                    "legacy torch.save format (PyTorch before 1.6); re-save it with a current torch: torch.save(torch.load(path), path)"
                )
            }
            if path.hasSuffix(".safetensors") || (b.count >= 9 && b[8] == UInt8(ascii: "{")) {
                return try Safetensors.read(file, limits: limits)
            }
            if path.hasSuffix(".onnx") {
                throw FrontendError(
                    .unsupportedFormat,
                    "ONNX models are not read yet; give the PyTorch checkpoint (.pt, .ckpt) or .safetensors")
            }
            throw FrontendError(
                .unsupportedFormat, "not a PyTorch zip checkpoint or safetensors file (unrecognised first bytes)")
        } catch {
            throw error.inFile(path)
        }
    }
}
