import GraphIR

/// torchvision `mobilenet_v2` (any `width_mult`, any number of classes).
///
/// `features.0` is the stem (conv 3×3 stride 2, BN, ReLU6); `features.1…17` are inverted
/// residual blocks (`conv.*`: optional 1×1 expansion, 3×3 depthwise, 1×1 linear projection,
/// with a residual add when stride is 1 and channels match); `features.18` is the last 1×1
/// conv; then global average pooling, flatten, dropout and `classifier.1`.
enum MobileNetV2Builder {
    /// Block strides of torchvision's default `inverted_residual_setting` (t, c, n, s):
    /// (1,16,1,1) (6,24,2,2) (6,32,3,2) (6,64,4,2) (6,96,3,1) (6,160,3,2) (6,320,1,1).
    static let blockStrides = [1, 2, 1, 2, 1, 1, 2, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1]

    static func matches(_ sd: StateDict) -> Bool {
        let k = Set(sd.keys)
        return k.contains("features.0.0.weight") && k.contains("features.1.conv.0.0.weight")
            && k.contains("classifier.1.weight")
    }

    static func build(_ sd: StateDict, batch: Int, size: Int = 224) throws(FrontendError) -> (Graph, String, [String]) {
        var b = GraphBuilder(name: "mobilenet_v2", stateDict: sd)
        let x = b.graph.addInput(name: "input", shape: Shape([batch, 3, size, size]))
        func cbr(_ p: String, _ x: ValueID, stride: Int, relu6: Bool = true) throws(FrontendError) -> ValueID {
            var y = try b.conv(p + ".0", x, stride: stride)
            y = try b.batchNorm(p + ".1", y)
            return relu6 ? try b.node(p + ".2", .clip(min: 0, max: 6), [y]) : y
        }
        var h = try cbr("features.0", x, stride: 2)
        var i = 1
        while b.has("features.\(i).conv.0.0.weight") {
            guard i <= blockStrides.count else {
                throw FrontendError(
                    .unknownArchitecture, file: sd.file, at: "features.\(i)",
                    "more inverted-residual blocks than torchvision's mobilenet_v2 has (17); a custom inverted_residual_setting is not supported"
                )
            }
            let p = "features.\(i).conv"
            let stride = blockStrides[i - 1]
            let cin = b.dims(h)[1]
            let first = try b.shape(p + ".0.0.weight")
            var y = h
            var next = 0
            if !(first.count == 4 && first[1] == 1 && first[0] == cin) {
                y = try cbr("\(p).0", y, stride: 1)  // 1×1 expansion
                next = 1
            }
            y = try cbr("\(p).\(next)", y, stride: stride)  // depthwise
            y = try b.conv("\(p).\(next + 1)", y)  // linear projection
            y = try b.batchNorm("\(p).\(next + 2)", y)
            if stride == 1 && b.dims(y)[1] == cin {
                y = try b.node("features.\(i).add", .add(), [h, y])
            }
            h = y
            i += 1
        }
        guard i == blockStrides.count + 1 else {
            throw FrontendError(
                .missingKey, file: sd.file, at: "features.\(i)",
                "missing tensor 'features.\(i).conv.0.0.weight' (mobilenet_v2 has 17 inverted-residual blocks, found \(i - 1))"
            )
        }
        h = try cbr("features.\(i)", h, stride: 1)
        h = try b.node("avgpool", .globalAvgPool, [h])
        h = try b.node("flatten", .flatten(axis: 1), [h])
        h = try b.node("classifier.0", .dropout(ratio: 0.2), [h])
        h = try b.linear("classifier.1", h)
        b.graph.outputs = [h]
        let classes = b.dims(h)[1]
        let width = b.dims(b.graph.nodes[0].outputs[0])[1]
        return (b.graph, "mobilenet_v2 (stem \(width) channels, \(classes) classes)", b.unusedKeys)
    }
}
