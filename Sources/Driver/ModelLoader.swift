import Codegen
import Frontends
import GraphIR

/// A model ready to inspect or run: its graph and where it came from.
public struct LoadedModel: Sendable {
    public var graph: Graph
    public var path: String
    /// "pytorch-zip", "safetensors", "onnx" or "fkir".
    public var format: String
    public var architecture: String
    /// How the weights were found inside the file ("state_dict", prefix "student.").
    public var location: String
    public var unusedKeys: [String]
    /// A `.fkdc` file's metadata (compiler, target, source checksum, calibration).
    public var metadata: [String: String] = [:]
}

/// Loads models from any supported file: PyTorch checkpoints and safetensors (by content),
/// `.onnx` and `.fkir` text (by extension).
public enum ModelLoader {
    public static func load(path: String, options: ModelOptions = ModelOptions()) throws(DriverError) -> LoadedModel {
        let m = try loadAny(path: path, options: options)
        if let size = options.inputSize, let x = m.graph.inputs.first {
            let d = m.graph.values[x].shape.dims
            guard d.count == 4, d[2] == size, d[3] == size else {
                throw DriverError(
                    .badInput,
                    "\(path): the model's input is \(d.map(String.init).joined(separator: "×")); --input-size \(size) "
                        + "applies to convolutional networks built from a checkpoint (a ViT's size is fixed by its "
                        + "position embeddings, an ONNX or .fkir graph's by the file)")
            }
        }
        return m
    }

    static func loadAny(path: String, options: ModelOptions) throws(DriverError) -> LoadedModel {
        if path.hasSuffix(".fkdc") {
            do {
                let f = try MappedFile(path: path)
                let c = try FkdcFile.read(f.bytes, file: path)
                return LoadedModel(
                    graph: c.graph, path: path, format: "fkdc",
                    architecture: c.metadata["architecture"] ?? c.graph.name,
                    location: "", unusedKeys: [], metadata: c.metadata)
            } catch let e as FkdcError {
                throw DriverError(.badInput, e.description)
            } catch { throw DriverError(.badInput, "\(path): cannot open: \(error)") }
        }
        if path.hasSuffix(".fkir") {
            let text: String
            do {
                let f = try MappedFile(path: path)
                text = String(decoding: f.bytes, as: UTF8.self)
            } catch { throw DriverError(.badInput, "\(path): cannot open: \(error)") }
            do {
                let g = try IRParser().parse(text)
                try g.verify()
                return LoadedModel(
                    graph: g, path: path, format: "fkir", architecture: g.name, location: "", unusedKeys: [])
            } catch { throw DriverError.from(error, file: path) }
        }
        if path.hasSuffix(".onnx") {
            do {
                let m = try ONNXReader.build(path: path, options: options)
                return LoadedModel(
                    graph: m.graph, path: path, format: "onnx", architecture: m.architecture, location: "",
                    unusedKeys: [])
            } catch { throw DriverError.from(error) }
        }
        do {
            let sd = try CheckpointReader.read(path: path)
            let m = try ModelBuilder.build(sd, options: options)
            var loc: [String] = []
            if !sd.path.isEmpty { loc.append("state dict at '\(sd.path.joined(separator: "."))'") }
            if !m.prefix.isEmpty { loc.append("prefix '\(m.prefix)'") }
            return LoadedModel(
                graph: m.graph, path: path, format: sd.format, architecture: m.architecture,
                location: loc.joined(separator: ", "), unusedKeys: m.unusedKeys)
        } catch { throw DriverError.from(error) }
    }
}
