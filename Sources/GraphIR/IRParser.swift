/// Reads the `.fkir` text form written by `IRPrinter`.
public struct IRParser {
    /// Accept `elided` constants, filling them with zeros (for structural tests of passes).
    public var allowElidedConstants: Bool
    /// Data of constants written `external` (the `.fkdc` binary keeps it outside the text), by name.
    public var external: [String: Tensor]

    public init(allowElidedConstants: Bool = false, external: [String: Tensor] = [:]) {
        self.allowElidedConstants = allowElidedConstants
        self.external = external
    }

    public func parse(_ text: String) throws(IRError) -> Graph {
        var lexer = Lexer(Array(text.utf8))
        return try parseGraph(&lexer)
    }

    private enum Attr {
        case int(Int), float(Float), bool(Bool), list([Int]), word(String)
    }

    private func parseGraph(_ lx: inout Lexer) throws(IRError) -> Graph {
        try lx.expectWord("graph")
        try lx.expect("@")
        var g = Graph(name: try lx.name())
        try lx.expect("{")
        var ids = [String: ValueID]()
        func lookup(_ lx: inout Lexer) throws(IRError) -> ValueID {
            let loc = lx.location
            try lx.expect("%")
            let n = try lx.name()
            guard let id = ids[n] else { throw IRError(.undefinedValue, at: loc, "%\(n) is not defined") }
            return id
        }
        func declare(_ v: Value, _ loc: String) throws(IRError) -> ValueID {
            guard ids[v.name] == nil else { throw IRError(.redefinedValue, at: loc, "%\(v.name) is defined twice") }
            let id = g.addValue(v)
            ids[v.name] = id
            return id
        }
        while true {
            let loc = lx.location
            if lx.accept("}") { break }
            if lx.acceptWord("input") {
                try lx.expect("%")
                let name = try lx.name()
                try lx.expect(":")
                let v = try parseType(&lx, name: name)
                g.inputs.append(try declare(v, loc))
            } else if lx.acceptWord("const") {
                try lx.expect("%")
                let name = try lx.name()
                try lx.expect(":")
                let v = try parseType(&lx, name: name)
                try lx.expect("=")
                let t = try parseData(&lx, v)
                g.constants[try declare(v, loc)] = t
            } else if lx.acceptWord("output") {
                repeat { g.outputs.append(try lookup(&lx)) } while lx.accept(",")
            } else {
                var outs: [Value] = []
                repeat {
                    try lx.expect("%")
                    let name = try lx.name()
                    try lx.expect(":")
                    outs.append(try parseType(&lx, name: name))
                } while lx.accept(",")
                try lx.expect("=")
                let opLoc = lx.location
                let opName = try lx.word()
                try lx.expect("(")
                var ins: [ValueID] = []
                if !lx.accept(")") {
                    repeat { ins.append(try lookup(&lx)) } while lx.accept(",")
                    try lx.expect(")")
                }
                var attrs: [String: Attr] = [:]
                if lx.accept("{") {
                    repeat {
                        let key = try lx.word()
                        try lx.expect("=")
                        attrs[key] = try parseAttr(&lx)
                    } while lx.accept(",")
                    try lx.expect("}")
                }
                try lx.expect("@")
                let nodeName = try lx.name()
                let op = try makeOp(opName, attrs, at: opLoc)
                var outIDs: [ValueID] = []
                for v in outs { outIDs.append(try declare(v, loc)) }
                g.nodes.append(Node(name: nodeName, op: op, inputs: ins, outputs: outIDs))
            }
        }
        lx.skipSpace()
        guard lx.atEnd else { throw IRError(.syntax, at: lx.location, "unexpected text after the graph") }
        return g
    }

    private func parseType(_ lx: inout Lexer, name: String) throws(IRError) -> Value {
        let loc = lx.location
        let dt = try lx.word()
        guard let dtype = DType(rawValue: dt) else { throw IRError(.syntax, at: loc, "unknown dtype '\(dt)'") }
        let dims = try parseIntList(&lx)
        guard dims.allSatisfy({ $0 >= 0 }), Shape(dims).checkedElementCount != nil else {
            throw IRError(.syntax, at: loc, "invalid shape \(dims)")
        }
        var v = Value(name: name, dtype: dtype, shape: Shape(dims))
        if lx.acceptWord("quant") {
            try lx.expect("<")
            var q = QuantParams(scales: [], zeroPoints: [])
            repeat {
                let key = try lx.word()
                try lx.expect("=")
                switch key {
                case "axis": q.axis = try lx.integer()
                case "scales": q.scales = try parseFloatList(&lx)
                case "zero_points": q.zeroPoints = try parseIntList(&lx).map { Int32(clamping: $0) }
                default: throw IRError(.syntax, at: lx.location, "unknown quantization key '\(key)'")
                }
            } while lx.accept(",")
            try lx.expect(">")
            v.quant = q
        }
        return v
    }

    private func parseData(_ lx: inout Lexer, _ v: Value) throws(IRError) -> Tensor {
        let loc = lx.location
        let n = v.shape.elementCount
        if lx.acceptWord("external") {
            guard let t = external[v.name] else {
                throw IRError(.syntax, at: loc, "constant %\(v.name) is external but no tensor data has that name")
            }
            guard t.dtype == v.dtype, t.shape == v.shape else {
                throw IRError(
                    .shapeMismatch, at: loc,
                    "constant %\(v.name) is \(v.dtype.rawValue)\(v.shape) but its data is \(t.dtype.rawValue)\(t.shape)"
                )
            }
            return t
        }
        if lx.acceptWord("elided") {
            guard allowElidedConstants else {
                throw IRError(.syntax, at: loc, "constant %\(v.name) is elided; print the IR with its data to parse it")
            }
            return Tensor(dtype: v.dtype, shape: v.shape, storage: TensorStorage(byteCount: n * v.dtype.byteSize))
        }
        if lx.acceptWord("dense_hex") {
            try lx.expect("<")
            let hex = try lx.quotedString()
            try lx.expect(">")
            var bytes: [UInt8] = []
            var it = hex.utf8.makeIterator()
            while let hi = it.next() {
                guard let lo = it.next(), let h = hexValue(hi), let l = hexValue(lo) else {
                    throw IRError(.syntax, at: loc, "malformed hex data")
                }
                bytes.append(h << 4 | l)
            }
            guard bytes.count == n * v.dtype.byteSize else {
                throw IRError(.syntax, at: loc, "%\(v.name) needs \(n * v.dtype.byteSize) bytes, got \(bytes.count)")
            }
            return bytes.withUnsafeBytes { Tensor(dtype: v.dtype, shape: v.shape, bytes: $0) }
        }
        try lx.expectWord("dense")
        try lx.expect("<")
        let t: Tensor
        switch v.dtype {
        case .float32:
            let f = try parseFloatList(&lx)
            guard f.count == n else {
                throw IRError(.syntax, at: loc, "%\(v.name) needs \(n) elements, got \(f.count)")
            }
            t = Tensor(shape: v.shape, floats: f)
        case .int64, .int32, .int16, .int8, .uint8, .bool:
            let ints = try parseIntList(&lx)
            guard ints.count == n else {
                throw IRError(.syntax, at: loc, "%\(v.name) needs \(n) elements, got \(ints.count)")
            }
            let s = TensorStorage(byteCount: n * v.dtype.byteSize)
            let p = s.mutablePointer!
            for (i, x) in ints.enumerated() {
                switch v.dtype {
                case .int64: p.storeBytes(of: Int64(x), toByteOffset: 8 * i, as: Int64.self)
                case .int32: p.storeBytes(of: Int32(truncatingIfNeeded: x), toByteOffset: 4 * i, as: Int32.self)
                case .int16: p.storeBytes(of: Int16(truncatingIfNeeded: x), toByteOffset: 2 * i, as: Int16.self)
                case .int8: p.storeBytes(of: Int8(truncatingIfNeeded: x), toByteOffset: i, as: Int8.self)
                default: p.storeBytes(of: UInt8(truncatingIfNeeded: x), toByteOffset: i, as: UInt8.self)
                }
            }
            t = Tensor(dtype: v.dtype, shape: v.shape, storage: s)
        default:
            throw IRError(.syntax, at: loc, "\(v.dtype.rawValue) constants are written as dense_hex")
        }
        try lx.expect(">")
        return t
    }

    private func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 48...57: c - 48
        case 97...102: c - 87
        case 65...70: c - 55
        default: nil
        }
    }

    private func parseIntList(_ lx: inout Lexer) throws(IRError) -> [Int] {
        try lx.expect("[")
        var out: [Int] = []
        if lx.accept("]") { return out }
        repeat { out.append(try lx.integer()) } while lx.accept(",")
        try lx.expect("]")
        return out
    }

    private func parseFloatList(_ lx: inout Lexer) throws(IRError) -> [Float] {
        try lx.expect("[")
        var out: [Float] = []
        if lx.accept("]") { return out }
        repeat { out.append(try lx.float()) } while lx.accept(",")
        try lx.expect("]")
        return out
    }

    private func parseAttr(_ lx: inout Lexer) throws(IRError) -> Attr {
        if lx.peek == UInt8(ascii: "[") { return .list(try parseIntList(&lx)) }
        if lx.acceptWord("true") { return .bool(true) }
        if lx.acceptWord("false") { return .bool(false) }
        if let c = lx.peek, Lexer.isWordByte(c), !(c >= 48 && c <= 57) { return .word(try lx.word()) }
        let tok = try lx.numberToken()
        if let i = Int(tok) { return .int(i) }
        guard let f = Float(tok) else { throw IRError(.syntax, at: lx.location, "bad number '\(tok)'") }
        return .float(f)
    }

    private func makeOp(_ name: String, _ attrs: [String: Attr], at loc: String) throws(IRError) -> Op {
        var used = Set<String>()
        func get(_ k: String) throws(IRError) -> Attr {
            guard let a = attrs[k] else { throw IRError(.badAttribute, at: loc, "\(name) needs attribute '\(k)'") }
            used.insert(k)
            return a
        }
        func int(_ k: String) throws(IRError) -> Int {
            guard case .int(let v) = try get(k) else {
                throw IRError(.badAttribute, at: loc, "\(name).\(k) must be an integer")
            }
            return v
        }
        func float(_ k: String) throws(IRError) -> Float {
            switch try get(k) {
            case .float(let v): return v
            case .int(let v): return Float(v)
            default: throw IRError(.badAttribute, at: loc, "\(name).\(k) must be a number")
            }
        }
        func bool(_ k: String) throws(IRError) -> Bool {
            guard case .bool(let v) = try get(k) else {
                throw IRError(.badAttribute, at: loc, "\(name).\(k) must be true or false")
            }
            return v
        }
        func list(_ k: String) throws(IRError) -> [Int] {
            guard case .list(let v) = try get(k) else {
                throw IRError(.badAttribute, at: loc, "\(name).\(k) must be a list")
            }
            return v
        }
        func activation() throws(IRError) -> FusedActivation {
            guard attrs["activation"] != nil else { return .none }
            guard case .word(let w) = try get("activation") else {
                throw IRError(.badAttribute, at: loc, "\(name).activation must be relu, clip or hard_swish")
            }
            switch w {
            case "relu": return .relu
            case "hard_swish": return .hardSwish
            case "clip": return .clip(min: try float("clip_min"), max: try float("clip_max"))
            default: throw IRError(.badAttribute, at: loc, "unknown activation '\(w)'")
            }
        }
        func pool() throws(IRError) -> PoolAttrs {
            PoolAttrs(
                kernel: try list("kernel"), stride: try list("stride"), pad: try list("pad"),
                ceilMode: try bool("ceil_mode"), countIncludePad: try bool("count_include_pad"))
        }
        let op: Op
        switch name {
        case "conv2d":
            op = .conv2d(
                Conv2dAttrs(
                    stride: try list("stride"), pad: try list("pad"), dilation: try list("dilation"),
                    groups: try int("groups"), activation: try activation()))
        case "batch_norm": op = .batchNorm(epsilon: try float("epsilon"))
        case "gemm": op = .gemm(try activation())
        case "fully_connected": op = .fullyConnected(try activation())
        case "mat_mul": op = .matMul
        case "add": op = .add(try activation())
        case "mul": op = .mul
        case "relu": op = .relu
        case "clip": op = .clip(min: try float("min"), max: try float("max"))
        case "hard_swish": op = .hardSwish
        case "hard_sigmoid": op = .hardSigmoid
        case "gelu": op = .gelu
        case "sigmoid": op = .sigmoid
        case "silu": op = .silu
        case "layer_norm": op = .layerNorm(axis: try int("axis"), epsilon: try float("epsilon"))
        case "softmax": op = .softmax(axis: try int("axis"))
        case "global_avg_pool": op = .globalAvgPool
        case "avg_pool": op = .avgPool(try pool())
        case "max_pool": op = .maxPool(try pool())
        case "reshape": op = .reshape(shape: try list("shape"))
        case "flatten": op = .flatten(axis: try int("axis"))
        case "transpose": op = .transpose(perm: try list("perm"))
        case "concat": op = .concat(axis: try int("axis"))
        case "slice":
            op = .slice(axis: try int("axis"), start: try int("start"), end: try int("end"), step: try int("step"))
        case "gather": op = .gather(axis: try int("axis"))
        case "expand": op = .expand(shape: try list("shape"))
        case "identity": op = .identity
        case "dropout": op = .dropout(ratio: try float("ratio"))
        case "quantize": op = .quantize
        case "dequantize": op = .dequantize
        default: throw IRError(.syntax, at: loc, "unknown op '\(name)'")
        }
        if let extra = attrs.keys.sorted().first(where: { !used.contains($0) }) {
            throw IRError(.badAttribute, at: loc, "\(name) has no attribute '\(extra)'")
        }
        return op
    }
}

/// Tokens of the text form over UTF-8 bytes, tracking line and column for errors.
struct Lexer {
    let s: [UInt8]
    var i = 0
    var line = 1
    var lineStart = 0

    init(_ s: [UInt8]) { self.s = s }

    var atEnd: Bool { i >= s.count }
    var location: String { "line \(line):\(i - lineStart + 1)" }
    var peek: UInt8? {
        mutating get {
            skipSpace()
            return i < s.count ? s[i] : nil
        }
    }

    mutating func skipSpace() {
        while i < s.count {
            let c = s[i]
            if c == UInt8(ascii: "\n") {
                line += 1
                i += 1
                lineStart = i
            } else if c == 32 || c == 9 || c == 13 {
                i += 1
            } else if c == UInt8(ascii: "/"), i + 1 < s.count, s[i + 1] == UInt8(ascii: "/") {
                while i < s.count, s[i] != UInt8(ascii: "\n") { i += 1 }
            } else {
                break
            }
        }
    }

    mutating func accept(_ c: Character) -> Bool {
        skipSpace()
        guard i < s.count, s[i] == c.asciiValue! else { return false }
        i += 1
        return true
    }

    mutating func expect(_ c: Character) throws(IRError) {
        guard accept(c) else { throw IRError(.syntax, at: location, "expected '\(c)'") }
    }

    static func isWordByte(_ c: UInt8) -> Bool {
        (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c == 95
    }

    static func isNameByte(_ c: UInt8) -> Bool {
        isWordByte(c) || c == UInt8(ascii: ".") || c == UInt8(ascii: "-") || c == UInt8(ascii: ":")
            || c == UInt8(ascii: "/")
    }

    mutating func word() throws(IRError) -> String {
        skipSpace()
        let start = i
        while i < s.count, Self.isWordByte(s[i]) { i += 1 }
        guard i > start else { throw IRError(.syntax, at: location, "expected a word") }
        return String(decoding: s[start..<i], as: UTF8.self)
    }

    mutating func acceptWord(_ w: String) -> Bool {
        skipSpace()
        let save = i
        let bytes = Array(w.utf8)
        guard i + bytes.count <= s.count, Array(s[i..<i + bytes.count]) == bytes,
            i + bytes.count == s.count || !Self.isWordByte(s[i + bytes.count])
        else {
            i = save
            return false
        }
        i += bytes.count
        return true
    }

    mutating func expectWord(_ w: String) throws(IRError) {
        guard acceptWord(w) else { throw IRError(.syntax, at: location, "expected '\(w)'") }
    }

    /// A bare name (letters, digits, `_ . - : /`) or a quoted string.
    mutating func name() throws(IRError) -> String {
        skipSpace()
        if i < s.count, s[i] == UInt8(ascii: "\"") { return try quotedString() }
        let start = i
        while i < s.count, Self.isNameByte(s[i]) { i += 1 }
        guard i > start else { throw IRError(.syntax, at: location, "expected a name") }
        return String(decoding: s[start..<i], as: UTF8.self)
    }

    mutating func quotedString() throws(IRError) -> String {
        skipSpace()
        guard i < s.count, s[i] == UInt8(ascii: "\"") else { throw IRError(.syntax, at: location, "expected a string") }
        i += 1
        var out: [UInt8] = []
        while i < s.count, s[i] != UInt8(ascii: "\"") {
            if s[i] == UInt8(ascii: "\\"), i + 1 < s.count {
                i += 1
                out.append(s[i] == UInt8(ascii: "n") ? 10 : s[i])
            } else {
                out.append(s[i])
            }
            i += 1
        }
        guard i < s.count else { throw IRError(.syntax, at: location, "unterminated string") }
        i += 1
        return String(decoding: out, as: UTF8.self)
    }

    mutating func numberToken() throws(IRError) -> String {
        skipSpace()
        let start = i
        while i < s.count,
            Self.isWordByte(s[i]) || s[i] == UInt8(ascii: "-") || s[i] == UInt8(ascii: "+")
                || s[i] == UInt8(ascii: ".")
        {
            i += 1
        }
        guard i > start else { throw IRError(.syntax, at: location, "expected a number") }
        return String(decoding: s[start..<i], as: UTF8.self)
    }

    mutating func integer() throws(IRError) -> Int {
        let loc = location
        let t = try numberToken()
        guard let v = Int(t) else { throw IRError(.syntax, at: loc, "expected an integer, got '\(t)'") }
        return v
    }

    mutating func float() throws(IRError) -> Float {
        let loc = location
        let t = try numberToken()
        guard let v = Float(t) else { throw IRError(.syntax, at: loc, "expected a number, got '\(t)'") }
        return v
    }
}
