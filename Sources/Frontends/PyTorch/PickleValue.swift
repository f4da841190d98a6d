/// Inert values built by the pickle machine. Nothing in here can run code: globals are
/// names, and calls of globals the reader does not interpret stay as descriptions.
indirect enum PickleValue {
    case none
    case bool(Bool)
    case int(Int64)
    /// An integer too large for Int64, as little-endian two's complement bytes.
    case bigInt([UInt8])
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case tuple(PickleTuple)
    case list(PickleList)
    case dict(PickleDict)
    case set(PickleList)
    /// A reference to `module.name`, not resolved.
    case global(module: String, name: String)
    /// A call the reader does not interpret (`callable(args)`), kept inert.
    case object(PickleObject)
    /// A tensor storage named by a persistent id.
    case storage(StorageRef)
    case tensor(TensorRef)

    /// Nesting depth of this value (scalars 0).
    var depth: Int {
        switch self {
        case .tuple(let t): t.depth
        case .list(let l), .set(let l): l.depth
        case .dict(let d): d.depth
        case .object(let o): o.depth
        default: 0
        }
    }

    var string: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    var int: Int64? {
        switch self {
        case .int(let v): return v
        case .bool(let b): return b ? 1 : 0
        default: return nil
        }
    }

    var items: [PickleValue]? {
        switch self {
        case .tuple(let t): t.items
        case .list(let l): l.items
        default: nil
        }
    }

    /// A short description for error messages.
    var kindName: String {
        switch self {
        case .none: "None"
        case .bool: "bool"
        case .int, .bigInt: "int"
        case .float: "float"
        case .string: "str"
        case .bytes: "bytes"
        case .tuple: "tuple"
        case .list: "list"
        case .dict: "dict"
        case .set: "set"
        case .global(let m, let n): "\(m).\(n)"
        case .object(let o): "an instance of \(o.callableName)"
        case .storage: "storage"
        case .tensor: "tensor"
        }
    }
}

/// Containers are classes because pickle mutates them after creation (APPEND, SETITEM).
/// Once a container is placed inside another, it is sealed: mutating it afterwards is refused,
/// which rules out cycles and keeps `depth` exact.
final class PickleTuple {
    let items: [PickleValue]
    let depth: Int
    init(_ items: [PickleValue]) {
        self.items = items
        depth = 1 + (items.map(\.depth).max() ?? 0)
    }
}

final class PickleList {
    var items: [PickleValue] = []
    var depth = 1
    var sealed = false
    init() {}
}

final class PickleDict {
    var entries: [(key: PickleValue, value: PickleValue)] = []
    var depth = 1
    var sealed = false
    init() {}

    subscript(_ key: String) -> PickleValue? {
        entries.first { $0.key.string == key }?.value
    }

    var stringKeys: [String] { entries.compactMap { $0.key.string } }
}

final class PickleObject {
    let callableName: String
    let args: PickleValue
    var state: PickleValue?
    var depth: Int
    var sealed = false
    init(callableName: String, args: PickleValue) {
        self.callableName = callableName
        self.args = args
        depth = 1 + args.depth
    }
}

/// A storage in a torch zip archive: `archive/data/<key>`, of `dtype`, holding `count` elements.
struct StorageRef {
    var key: String
    var dtype: TorchDType
    var count: Int
}

/// A tensor view of a storage, as `torch._utils._rebuild_tensor_v2` describes it.
struct TensorRef {
    var storage: StorageRef
    var offset: Int
    var size: [Int]
    var stride: [Int]
}

/// Element types that torch storages carry.
enum TorchDType: String {
    case float32, float16, bfloat16, float64, int64, int32, int16, int8, uint8, bool

    /// From a storage class name (`FloatStorage`, `HalfStorage`, …; `UntypedStorage` is bytes).
    init?(storageClass: String) {
        switch storageClass {
        case "FloatStorage": self = .float32
        case "HalfStorage": self = .float16
        case "BFloat16Storage": self = .bfloat16
        case "DoubleStorage": self = .float64
        case "LongStorage": self = .int64
        case "IntStorage": self = .int32
        case "ShortStorage": self = .int16
        case "CharStorage": self = .int8
        case "ByteStorage", "UntypedStorage": self = .uint8
        case "BoolStorage": self = .bool
        default: return nil
        }
    }

    /// From a `torch.<dtype>` global.
    init?(dtypeName: String) {
        switch dtypeName {
        case "float32", "float": self = .float32
        case "float16", "half": self = .float16
        case "bfloat16": self = .bfloat16
        case "float64", "double": self = .float64
        case "int64", "long": self = .int64
        case "int32", "int": self = .int32
        case "int16", "short": self = .int16
        case "int8": self = .int8
        case "uint8": self = .uint8
        case "bool": self = .bool
        default: return nil
        }
    }

    var byteSize: Int {
        switch self {
        case .float64, .int64: 8
        case .float32, .int32: 4
        case .float16, .bfloat16, .int16: 2
        case .int8, .uint8, .bool: 1
        }
    }
}
