import GraphIR

/// Vision Transformers: torchvision `VisionTransformer` (vit_b_16 and other sizes) and timm's
/// naming of the same model. Patch size, hidden size, depth, image size and classes come from the
/// tensor shapes; the head count from `heads` (default hidden/64).
///
/// Attention is lowered to IR ops: one `gemm` for q, k, v; `slice`s; `reshape`/`transpose` to
/// `[B, heads, tokens, head_dim]`; `mat_mul`, `mul` by 1/√head_dim, `softmax`, `mat_mul`; merge.
enum ViTBuilder {
    struct Names {
        var patch, classToken, posEmbedding, layer: String
        var ln1, qkv, qkvWeight, qkvBias, outProj, ln2, fc1, fc2, finalNorm, head: String
        var family: String
    }

    static let torchvision = Names(
        patch: "conv_proj", classToken: "class_token", posEmbedding: "encoder.pos_embedding",
        layer: "encoder.layers.encoder_layer_", ln1: "ln_1", qkv: "self_attention",
        qkvWeight: "self_attention.in_proj_weight", qkvBias: "self_attention.in_proj_bias",
        outProj: "self_attention.out_proj", ln2: "ln_2", fc1: "mlp.0", fc2: "mlp.3", finalNorm: "encoder.ln",
        head: "heads.head", family: "torchvision")

    static let timm = Names(
        patch: "patch_embed.proj", classToken: "cls_token", posEmbedding: "pos_embed", layer: "blocks.",
        ln1: "norm1", qkv: "attn", qkvWeight: "attn.qkv.weight", qkvBias: "attn.qkv.bias", outProj: "attn.proj",
        ln2: "norm2", fc1: "mlp.fc1", fc2: "mlp.fc2", finalNorm: "norm", head: "head", family: "timm")

    static func names(for sd: StateDict) -> Names? {
        let k = Set(sd.keys)
        if k.contains("conv_proj.weight") && k.contains("class_token") && k.contains("encoder.pos_embedding") {
            return torchvision
        }
        if k.contains("patch_embed.proj.weight") && k.contains("cls_token") && k.contains("pos_embed") { return timm }
        return nil
    }

    static func build(_ sd: StateDict, batch: Int, heads: Int?) throws(FrontendError) -> (Graph, String, [String]) {
        let n = names(for: sd) ?? torchvision
        var b = GraphBuilder(name: "vit", stateDict: sd)
        func err(_ at: String, _ m: String) -> FrontendError { FrontendError(.shapeMismatch, file: sd.file, at: at, m) }
        let pw = try b.shape(n.patch + ".weight")
        guard pw.count == 4, pw[1] == 3, pw[2] == pw[3] else {
            throw err(n.patch + ".weight", "patch embedding \(Shape(pw)) is not [hidden, 3, p, p]")
        }
        let (d, p) = (pw[0], pw[2])
        let pos = try b.shape(n.posEmbedding)
        guard pos.count == 3, pos[0] == 1, pos[2] == d, pos[1] >= 2 else {
            throw err(n.posEmbedding, "position embedding \(Shape(pos)) is not [1, tokens, \(d)]")
        }
        let grid = Int(Double(pos[1] - 1).squareRoot().rounded())
        guard grid * grid == pos[1] - 1 else {
            throw err(n.posEmbedding, "\(pos[1] - 1) patch tokens do not form a square grid")
        }
        let h = heads ?? max(1, d / 64)
        guard h > 0, d % h == 0 else { throw err("--heads", "hidden size \(d) is not divisible by \(h) heads") }
        let dh = d / h
        let image = grid * p
        let tokens = pos[1]
        if b.has("heads.pre_logits.weight") || b.has("fc_norm.weight") {
            throw FrontendError(
                .unknownArchitecture, file: sd.file, at: b.has("fc_norm.weight") ? "fc_norm" : "heads.pre_logits",
                "this ViT head variant (pre-logits or average-pooled fc_norm) is not supported")
        }

        let x = b.graph.addInput(name: "input", shape: Shape([batch, 3, image, image]))
        var t = try b.conv(n.patch, x, stride: p, pad: 0)
        t = try b.node("patchify.reshape", .reshape(shape: [batch, d, grid * grid]), [t])
        t = try b.node("patchify.transpose", .transpose(perm: [0, 2, 1]), [t])
        let cls = try b.weight(n.classToken, shape: [1, 1, d])
        let clsB = try b.node("class_token.expand", .expand(shape: [batch, 1, d]), [cls])
        t = try b.node("tokens.concat", .concat(axis: 1), [clsB, t])
        t = try b.node("pos_embedding.add", .add(), [t, try b.weight(n.posEmbedding, shape: [1, tokens, d])])
        let scale = b.constant("attention.scale", Tensor(shape: Shape([1]), floats: [1 / Float(dh).squareRoot()]))
        var depth = 0
        while b.has("\(n.layer)\(depth).\(n.ln1).weight") {
            let l = "\(n.layer)\(depth)"
            let a = "\(l).\(n.qkv)"
            var y = try b.layerNorm("\(l).\(n.ln1)", t, epsilon: 1e-6)
            let qkvW = try b.weight("\(l).\(n.qkvWeight)", shape: [3 * d, d])
            let qkvB = try b.weight("\(l).\(n.qkvBias)", shape: [3 * d])
            let qkv = try b.node("\(a).qkv", .gemm(), [y, qkvW, qkvB])
            func head(_ i: Int, _ name: String, _ perm: [Int]) throws(FrontendError) -> ValueID {
                var v = try b.node("\(a).\(name)", .slice(axis: 2, start: i * d, end: (i + 1) * d, step: 1), [qkv])
                v = try b.node("\(a).\(name).split_heads", .reshape(shape: [batch, tokens, h, dh]), [v])
                return try b.node("\(a).\(name).transpose", .transpose(perm: perm), [v])
            }
            let q = try head(0, "q", [0, 2, 1, 3])
            let kT = try head(1, "k", [0, 2, 3, 1])
            let v = try head(2, "v", [0, 2, 1, 3])
            var s = try b.node("\(a).scores", .matMul, [q, kT])
            s = try b.node("\(a).scale", .mul, [s, scale])
            s = try b.node("\(a).softmax", .softmax(axis: -1), [s])
            var o = try b.node("\(a).context", .matMul, [s, v])
            o = try b.node("\(a).merge_heads.transpose", .transpose(perm: [0, 2, 1, 3]), [o])
            o = try b.node("\(a).merge_heads", .reshape(shape: [batch, tokens, d]), [o])
            o = try b.linear("\(l).\(n.outProj)", o, outFeatures: d)
            t = try b.node("\(l).add_1", .add(), [t, o])
            y = try b.layerNorm("\(l).\(n.ln2)", t, epsilon: 1e-6)
            y = try b.linear("\(l).\(n.fc1)", y)
            y = try b.node("\(l).mlp.gelu", .gelu, [y])
            y = try b.linear("\(l).\(n.fc2)", y, outFeatures: d)
            t = try b.node("\(l).add_2", .add(), [t, y])
            depth += 1
        }
        guard depth > 0 else {
            throw FrontendError(
                .missingKey, file: sd.file, at: "\(n.layer)0",
                "missing tensor '\(n.layer)0.\(n.ln1).weight' (no encoder layers)")
        }
        t = try b.layerNorm(n.finalNorm, t, epsilon: 1e-6)
        let zero = b.constant("class_token.index", Tensor(shape: Shape([]), int64s: [0]))
        t = try b.node("class_token.select", .gather(axis: 1), [t, zero])
        t = try b.linear(n.head, t)
        b.graph.outputs = [t]
        b.graph.name = "vit"
        let classes = b.dims(t)[1]
        let known = (d, depth, p, h) == (768, 12, 16, 12) && image == 224 ? "vit_b_16" : "vit"
        b.graph.name = known
        return (
            b.graph,
            "\(known) (\(n.family) names; image \(image), patch \(p), hidden \(d), depth \(depth), \(h) heads, \(classes) classes)",
            b.unusedKeys
        )
    }
}
