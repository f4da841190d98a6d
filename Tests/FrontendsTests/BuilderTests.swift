import Testing

@testable import Frontends
@testable import GraphIR

@Suite struct BuilderTests {
    func student() throws -> StateDict { try CheckpointReader.read(path: Repo.path("samples/student.safetensors")) }

    /// The student's tensors re-keyed under `prefix`, as a state dict.
    func prefixed(_ prefix: String) throws -> StateDict {
        var sd = try student()
        sd.tensors = sd.tensors.map { (prefix + $0.key, $0.tensor) }
        return sd
    }

    @Test func detectsMobileNetV2AndCountsParameters() throws {
        let m = try ModelBuilder.build(try student())
        #expect(m.graph.parameterCount == 2_228_996)
        #expect(m.architecture.hasPrefix("mobilenet_v2"))
        #expect(m.graph.nodes.filter { if case .batchNorm = $0.op { true } else { false } }.count == 52)
        #expect(m.graph.nodes.filter { if case .clip(0, 6) = $0.op { true } else { false } }.count == 35)
        #expect(m.graph.nodes.filter { $0.op == .add() }.count == 10)
        #expect(m.unusedKeys.isEmpty)
    }

    @Test(arguments: ["module.", "model.", "model.module."])
    func stripsWrapperPrefixes(prefix: String) throws {
        let m = try ModelBuilder.build(try prefixed(prefix))
        #expect(m.prefix == prefix)
        #expect(m.graph.parameterCount == 2_228_996)
    }

    @Test func distillationCheckpointPicksTheStudentUnlessToldOtherwise() throws {
        let sd = try CheckpointReader.read(path: Repo.path("samples/student.ckpt"))
        #expect(sd.path == ["state_dict"])
        let s = try ModelBuilder.build(sd)
        #expect(s.prefix == "student.")
        #expect(s.architecture.hasPrefix("mobilenet_v2"))
        let t = try ModelBuilder.build(sd, options: ModelOptions(prefix: "teacher", heads: 4))
        #expect(t.prefix == "teacher.")
        #expect(t.architecture.hasPrefix("vit"))
        let none = #expect(throws: FrontendError.self) {
            try ModelBuilder.build(sd, options: ModelOptions(prefix: "ema."))
        }
        #expect(none?.message.contains("top-level groups: student (314), teacher") == true, "\(none?.message ?? "")")
    }

    @Test func twoUnnamedModelsNeedAPrefix() throws {
        var a = try prefixed("a.")
        a.tensors += try prefixed("b.").tensors
        let e = #expect(throws: FrontendError.self) { try ModelBuilder.build(a) }
        #expect(e?.message.contains("choose one with --prefix") == true)
    }

    @Test func unknownLayoutListsWhatWasSeen() throws {
        var sd = try student()
        sd.tensors = [("encoder.weight", sd.tensors[0].tensor), ("decoder.weight", sd.tensors[1].tensor)]
        let e = #expect(throws: FrontendError.self) { try ModelBuilder.build(sd) }
        #expect(e?.kind == .unknownArchitecture)
        #expect(e?.message.contains("key groups: encoder (1), decoder (1)") == true, "\(e?.message ?? "")")
        #expect(e?.message.contains("mobilenet_v2") == true)
    }

    @Test func missingAndMisShapedTensorsNameTheKey() throws {
        let missing = #expect(throws: FrontendError.self) {
            try ModelBuilder.build(try CheckpointReader.read(path: Repo.path("Tests/Fixtures/hostile/missing_key.pt")))
        }
        #expect(missing?.kind == .missingKey)
        #expect(missing?.message.contains("missing tensor 'features.3.conv.1.0.weight'") == true)
        let wrong = #expect(throws: FrontendError.self) {
            try ModelBuilder.build(try CheckpointReader.read(path: Repo.path("Tests/Fixtures/hostile/wrong_shape.pt")))
        }
        #expect(wrong?.kind == .shapeMismatch)
        #expect(wrong?.message == "tensor 'classifier.1.weight' has shape [4,7] but the model needs [4,1280]")
    }

    @Test func archOverrideAndUnknownArch() throws {
        let e = #expect(throws: FrontendError.self) {
            try ModelBuilder.build(try student(), options: ModelOptions(arch: "vgg16"))
        }
        #expect(e?.message.contains("unknown --arch 'vgg16'") == true)
        let r = #expect(throws: FrontendError.self) {
            try ModelBuilder.build(try student(), options: ModelOptions(arch: "resnet50"))
        }
        #expect(r?.kind == .missingKey)
    }

    @Test func timmNamesBuildTheSameViT() throws {
        let tv = try CheckpointReader.read(path: Repo.path("samples/teacher_vit.pt"))
        // rename torchvision keys to timm's
        let renames: [(String, String)] = [
            ("conv_proj.", "patch_embed.proj."), ("class_token", "cls_token"), ("encoder.pos_embedding", "pos_embed"),
            ("encoder.layers.encoder_layer_", "blocks."), (".ln_1.", ".norm1."), (".ln_2.", ".norm2."),
            (".self_attention.in_proj_weight", ".attn.qkv.weight"), (".self_attention.in_proj_bias", ".attn.qkv.bias"),
            (".self_attention.out_proj.", ".attn.proj."), (".mlp.0.", ".mlp.fc1."), (".mlp.3.", ".mlp.fc2."),
            ("encoder.ln.", "norm."), ("heads.head.", "head."),
        ]
        var timm = tv
        timm.tensors = tv.tensors.map { kv in
            var k = kv.key
            for (a, b) in renames { k = k.replacing(a, with: b) }
            return (k, kv.tensor)
        }
        let a = try ModelBuilder.build(tv, options: ModelOptions(heads: 4))
        let b = try ModelBuilder.build(timm, options: ModelOptions(heads: 4))
        #expect(b.architecture.contains("timm names"))
        #expect(b.unusedKeys.isEmpty)
        var r = SplitMixF(state: 9)
        let x = Tensor(shape: Shape([1, 3, 224, 224]), floats: (0..<(3 * 224 * 224)).map { _ in r.next() })
        #expect(try Evaluator(graph: a.graph).run([x]) == (try Evaluator(graph: b.graph).run([x])))
    }
}

struct SplitMixF {
    var state: UInt64
    mutating func next() -> Float {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return Float((z ^ (z >> 31)) >> 40) / Float(1 << 24) * 2 - 1
    }
}
