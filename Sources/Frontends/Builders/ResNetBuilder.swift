import GraphIR

/// torchvision ResNet: BasicBlock (resnet18/34) or Bottleneck (resnet50/101/152, stride on
/// the 3×3 conv as torchvision v1.5), block counts read from the keys.
enum ResNetBuilder {
    static func matches(_ sd: StateDict) -> Bool {
        let k = Set(sd.keys)
        return k.contains("conv1.weight") && k.contains("layer1.0.conv1.weight") && k.contains("fc.weight")
    }

    static func build(_ sd: StateDict, batch: Int, size: Int = 224) throws(FrontendError) -> (Graph, String, [String]) {
        var b = GraphBuilder(name: "resnet", stateDict: sd)
        let x = b.graph.addInput(name: "input", shape: Shape([batch, 3, size, size]))
        var h = try b.conv("conv1", x, stride: 2)
        h = try b.batchNorm("bn1", h)
        h = try b.node("relu", .relu, [h])
        h = try b.node("maxpool", .maxPool(PoolAttrs(kernel: [3, 3], stride: [2, 2], pad: [1, 1, 1, 1])), [h])
        let bottleneck = b.has("layer1.0.conv3.weight")
        var counts: [Int] = []
        for l in 1...4 {
            var j = 0
            while b.has("layer\(l).\(j).conv1.weight") {
                let p = "layer\(l).\(j)"
                let s = (l > 1 && j == 0) ? 2 : 1
                var y: ValueID
                if bottleneck {
                    y = try b.conv(p + ".conv1", h)
                    y = try b.node(p + ".relu1", .relu, [try b.batchNorm(p + ".bn1", y)])
                    y = try b.conv(p + ".conv2", y, stride: s)
                    y = try b.node(p + ".relu2", .relu, [try b.batchNorm(p + ".bn2", y)])
                    y = try b.batchNorm(p + ".bn3", try b.conv(p + ".conv3", y))
                } else {
                    y = try b.conv(p + ".conv1", h, stride: s)
                    y = try b.node(p + ".relu1", .relu, [try b.batchNorm(p + ".bn1", y)])
                    y = try b.batchNorm(p + ".bn2", try b.conv(p + ".conv2", y))
                }
                var identity = h
                if b.has(p + ".downsample.0.weight") {
                    identity = try b.batchNorm(
                        p + ".downsample.1", try b.conv(p + ".downsample.0", h, stride: s, pad: 0))
                }
                y = try b.node(p + ".add", .add(), [y, identity])
                h = try b.node(p + ".relu", .relu, [y])
                j += 1
            }
            guard j > 0 else {
                throw FrontendError(
                    .missingKey, file: sd.file, at: "layer\(l)",
                    "missing tensor 'layer\(l).0.conv1.weight' (a ResNet has four stages)")
            }
            counts.append(j)
        }
        h = try b.node("avgpool", .globalAvgPool, [h])
        h = try b.node("flatten", .flatten(axis: 1), [h])
        h = try b.linear("fc", h)
        b.graph.outputs = [h]
        let known: [String: String] = [
            "basic[2, 2, 2, 2]": "resnet18", "basic[3, 4, 6, 3]": "resnet34", "bottleneck[3, 4, 6, 3]": "resnet50",
            "bottleneck[3, 4, 23, 3]": "resnet101", "bottleneck[3, 8, 36, 3]": "resnet152",
        ]
        let kind = (bottleneck ? "bottleneck" : "basic") + "\(counts)"
        let name = known[kind] ?? "resnet (\(bottleneck ? "Bottleneck" : "BasicBlock") \(counts))"
        b.graph.name = name.split(separator: " ").first.map(String.init) ?? "resnet"
        return (b.graph, "\(name), \(b.dims(h)[1]) classes", b.unusedKeys)
    }
}
