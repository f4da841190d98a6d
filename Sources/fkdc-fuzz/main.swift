// Coverage-guided fuzz targets for every reader fkdc has (scripts/fuzz.sh builds this with
// -sanitize=fuzzer,address and runs libFuzzer), and a replay mode without libFuzzer:
//
//     fkdc-fuzz TARGET FILE…        runs each file through TARGET once; exit 0 unless one crashes
//
// A target feeds the bytes to the same library call the command line makes for that kind of
// file, then (when it loads) to what a user would run next: the default passes and, for small
// graphs, the evaluator. An input may fail with an error; it may never trap, hang or blow up.
import Driver
import GraphIR

#if canImport(Glibc)
    import Glibc
#endif
#if FKDC_LIBFUZZER
    import CFuzzDriver
#endif

/// The targets: name → (file suffix the bytes are written under, what runs on them).
let targets: [String: (suffix: String, run: (String) -> Void)] = [
    "pt": (".pt", model),
    "safetensors": (".safetensors", model),
    "onnx": (".onnx", model),
    "fkir": (".fkir", model),
    "fkdc": (".fkdc", model),
    "npy": (".npy", { _ = try? NPY.read(path: $0) }),
    "image": (
        ".png",
        { path in
            var p = Preprocessing()
            p.exifOrientation = true  // the EXIF reader too
            _ = try? DatasetLoader.image(path, p)
        }
    ),
    "preprocessor-config": (".json", preprocessorConfig),
]

/// Reads a Hugging Face preprocessor_config.json; when it loads, preprocesses a small image
/// with it (for a model of its crop's or resize's size).
func preprocessorConfig(_ path: String) {
    guard var p = try? Preprocessing.huggingFace(configAt: path) else { return }
    if let c = p.crop {
        (p.height, p.width) = (c.height, c.width)
    } else if case .exact(let s) = p.resize {
        (p.height, p.width) = (s.height, s.width)
    }
    switch p.resize {  // small sizes only: a fuzz iteration must stay fast
    case .shorterSide(let n) where n > 512: return
    case .exact(let s) where s.height > 512 || s.width > 512: return
    default: break
    }
    guard p.height <= 512, p.width <= 512, p.invalidity == nil else { return }
    let px = [UInt8](repeating: 128, count: 40 * 30 * 3)
    _ = px.withUnsafeBufferPointer { b in b.baseAddress.map { try? p.apply(rgb: $0, width: 40, height: 30) } }
}

/// Loads a model file; on success runs the default passes and, when every value is small,
/// the evaluator (float32, or int8 for a quantized graph) on a zero input.
func model(_ path: String) {
    guard let m = try? ModelLoader.load(path: path) else { return }
    var total = 0
    for v in m.graph.values {
        total += v.shape.checkedElementCount ?? Int.max / 2
        if total > 1 << 16 { return }
    }
    let int8 = m.graph.values.contains { $0.dtype == .int8 }
    let inputs = m.graph.inputs.map { id -> Tensor in
        let v = m.graph.values[id]
        return Tensor(
            dtype: v.dtype, shape: v.shape, storage: TensorStorage(byteCount: v.shape.elementCount * v.dtype.byteSize))
    }
    if int8 {
        _ = try? QuantizedEvaluator(graph: m.graph).run(inputs)
    } else {
        _ = try? Evaluator(graph: m.graph).run(inputs)
        if let g = try? Optimizer.run(m.graph).graph { _ = try? Evaluator(graph: g).run(inputs) }
    }
}

func complain(_ m: String) { _ = m.withCString { write(2, $0, strlen($0)) } }

nonisolated(unsafe) var current: (suffix: String, run: (String) -> Void)? = nil
nonisolated(unsafe) var scratch = ""

/// Writes the bytes to the scratch file and runs the current target on it.
func one(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let t = current else { return 0 }
    let path = scratch + t.suffix
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    guard fd >= 0 else { return 0 }
    var off = 0
    while off < size, let data {
        let n = write(fd, data + off, size - off)
        if n <= 0 { break }
        off += n
    }
    close(fd)
    t.run(path)
    return 0
}

let dir = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
scratch = dir + "/fkdc-fuzz-\(getpid())"

#if FKDC_LIBFUZZER
    // libFuzzer mode: the target comes from FKDC_FUZZ_TARGET, the arguments are libFuzzer's.
    let name = getenv("FKDC_FUZZ_TARGET").map { String(cString: $0) } ?? ""
    guard let t = targets[name] else {
        complain("fkdc-fuzz: set FKDC_FUZZ_TARGET to one of \(targets.keys.sorted().joined(separator: ", "))\n")
        exit(1)
    }
    current = t
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    exit(LLVMFuzzerRunDriver(&argc, &argv) { one($0, $1) })
#else
    let args = Array(CommandLine.arguments.dropFirst())
    guard let name = args.first, let t = targets[name] else {
        complain("usage: fkdc-fuzz TARGET FILE… (targets: \(targets.keys.sorted().joined(separator: ", ")))\n")
        exit(1)
    }
    current = t
    for file in args.dropFirst() {
        guard let f = try? MappedFile(path: file) else {
            complain("fkdc-fuzz: \(file): cannot open\n")
            exit(1)
        }
        let b = f.bytes
        _ = one(b.baseAddress?.assumingMemoryBound(to: UInt8.self), b.count)
    }
    for t in targets.values { unlink(scratch + t.suffix) }
#endif
