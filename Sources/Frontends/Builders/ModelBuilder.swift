import GraphIR

/// What a user may force when detection is not enough.
public struct ModelOptions: Sendable {
    /// `mobilenet_v2`, `resnet` (or resnet18/34/50/101/152), `vit` (or vit_b_16, timm_vit).
    public var arch: String?
    /// A key prefix selecting one model in a checkpoint (e.g. `student.`), stripped from keys.
    public var prefix: String?
    /// ViT attention heads (default hidden/64).
    public var heads: Int?
    /// Batch size of the graph's input.
    public var batch: Int = 1
    /// Input height and width of a convolutional network built from a checkpoint (default 224).
    public var inputSize: Int?
    /// The whole input shape (`--input-shape 1x3x48x192`, as trtexec's `--shapes`): fixes the
    /// dimensions an ONNX graph input leaves open; the ones it fixes must agree.
    public var inputShape: [Int]?
    /// A shape the data has (a .npy input or data set): fills the open dimensions after the
    /// batch's when `inputShape` is not given, and never overrides what the model fixes.
    public var dataShape: [Int]?

    public init(arch: String? = nil, prefix: String? = nil, heads: Int? = nil, batch: Int = 1, inputSize: Int? = nil) {
        self.arch = arch
        self.prefix = prefix
        self.heads = heads
        self.batch = batch
        self.inputSize = inputSize
    }
}

/// A graph built from a state dict, with what was detected.
public struct BuiltModel: Sendable {
    public var graph: Graph
    /// Family and what was read from the shapes, e.g. "mobilenet_v2 (stem 32 channels, 4 classes)".
    public var architecture: String
    /// The prefix selected (auto-detected or given), "" when none.
    public var prefix: String
    /// Tensors in the file the model does not use.
    public var unusedKeys: [String]
    public var stateDict: StateDict
}

/// Detects the architecture of a state dict from its tensor names and shapes and builds the graph.
public enum ModelBuilder {
    public static let knownArchitectures = [
        "mobilenet_v2", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
        "vit_b_16 (and other torchvision/timm ViT sizes)",
    ]

    enum Family { case mobileNetV2, resNet, vit }

    static func detect(_ sd: StateDict) -> Family? {
        if MobileNetV2Builder.matches(sd) { return .mobileNetV2 }
        if ResNetBuilder.matches(sd) { return .resNet }
        if ViTBuilder.names(for: sd) != nil { return .vit }
        return nil
    }

    static func family(named arch: String) -> Family? {
        let a = arch.lowercased()
        if a.hasPrefix("mobilenet_v2") || a == "mobilenetv2" { return .mobileNetV2 }
        if a.hasPrefix("resnet") { return .resNet }
        if a.hasPrefix("vit") || a.hasPrefix("timm_vit") || a == "visiontransformer" { return .vit }
        return nil
    }

    public static func build(_ full: StateDict, options: ModelOptions = ModelOptions()) throws(FrontendError)
        -> BuiltModel
    {
        guard options.batch >= 1, options.batch <= 4096 else {
            throw FrontendError(.layout, file: full.file, "batch size \(options.batch) out of range (1…4096)")
        }
        if let size = options.inputSize, !(32...2048).contains(size) {
            throw FrontendError(.layout, file: full.file, "input size \(size) out of range (32…2048)")
        }
        var sd = full
        if var p = options.prefix, !p.isEmpty {
            if !p.hasSuffix(".") { p += "." }
            sd = full.stripping(prefix: p)
            guard !sd.tensors.isEmpty else {
                let groups = full.topLevelGroups.map { "\($0.name) (\($0.count))" }.joined(separator: ", ")
                throw FrontendError(
                    .layout, file: full.file, at: p, "no tensor keys start with '\(p)'; top-level groups: \(groups)")
            }
        } else {
            sd = try autoPrefix(full)
        }
        var family: Family?
        if let a = options.arch {
            guard let f = Self.family(named: a) else {
                throw FrontendError(
                    .unknownArchitecture, file: full.file,
                    "unknown --arch '\(a)'; known: \(knownArchitectures.joined(separator: ", "))")
            }
            family = f
        } else {
            family = detect(sd)
        }
        guard let family else {
            let all = sd.topLevelGroups
            let groups =
                all.prefix(12).map { "\($0.name) (\($0.count))" }.joined(separator: ", ")
                + (all.count > 12 ? ", … (\(all.count) groups)" : "")
            throw FrontendError(
                .unknownArchitecture, file: full.file,
                "no known architecture matches the \(sd.tensors.count) tensors (key groups: \(groups)); known: \(knownArchitectures.joined(separator: ", ")); use --arch to choose one and --prefix to select a sub-model"
            )
        }
        let (g, desc, unused): (Graph, String, [String])
        switch family {
        case .mobileNetV2:
            (g, desc, unused) = try MobileNetV2Builder.build(sd, batch: options.batch, size: options.inputSize ?? 224)
        case .resNet:
            (g, desc, unused) = try ResNetBuilder.build(sd, batch: options.batch, size: options.inputSize ?? 224)
        case .vit: (g, desc, unused) = try ViTBuilder.build(sd, batch: options.batch, heads: options.heads)
        }
        do { try g.verify() } catch {
            throw FrontendError(.shapeMismatch, file: full.file, at: error.location, error.message)
        }
        return BuiltModel(graph: g, architecture: desc, prefix: sd.strippedPrefix, unusedKeys: unused, stateDict: sd)
    }

    /// Strips wrapper prefixes (`module.`, `model.`) until an architecture is recognised; with
    /// several sub-models (`student.`, `teacher.`) it picks the student, or asks for `--prefix`.
    static func autoPrefix(_ full: StateDict) throws(FrontendError) -> StateDict {
        var sd = full
        for _ in 0..<4 {
            if detect(sd) != nil { return sd }
            let groups = sd.topLevelGroups
            if groups.count == 1 {
                sd = sd.stripping(prefix: groups[0].name + ".")
                continue
            }
            let candidates = sd.strippedGroups().filter {
                detect($0.dict) != nil || detect($0.dict.strippedOnce()) != nil
            }
            if let s = candidates.first(where: { $0.name == "student" })
                ?? (candidates.count == 1 ? candidates.first : nil)
            {
                sd = sd.stripping(prefix: s.name + ".")
                continue
            }
            if candidates.count > 1 {
                throw FrontendError(
                    .layout, file: full.file,
                    "the checkpoint holds several models (\(candidates.map { $0.name + "." }.joined(separator: ", "))); choose one with --prefix"
                )
            }
            return sd
        }
        return sd
    }
}

extension StateDict {
    /// Strips the single top-level group when there is exactly one.
    func strippedOnce() -> StateDict {
        let g = topLevelGroups
        return g.count == 1 ? stripping(prefix: g[0].name + ".") : self
    }
}
