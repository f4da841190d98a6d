/// A minimal JSON reader for safetensors headers: it rejects duplicate keys (which a general
/// JSON library would silently merge) and bounds nesting.
public enum JSONValue: Sendable {
    case null
    case bool(Bool)
    case integer(Int)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([JSONMember])
}

extension JSONValue {
    /// Parses a whole JSON document (duplicate keys rejected, nesting bounded).
    public static func parse(_ bytes: UnsafeRawBufferPointer) throws(FrontendError) -> JSONValue {
        var p = JSONParser(bytes)
        return try p.parseDocument()
    }

    /// The member `key` of an object.
    public subscript(_ key: String) -> JSONValue? {
        guard case .object(let m) = self else { return nil }
        return m.first { $0.key == key }?.value
    }

    public var number: Double? {
        switch self {
        case .integer(let i): Double(i)
        case .number(let d): d
        default: nil
        }
    }
}

struct JSONParser {
    let s: UnsafeRawBufferPointer
    var i = 0
    let maxDepth: Int

    init(_ s: UnsafeRawBufferPointer, maxDepth: Int = 64) {
        self.s = s
        self.maxDepth = maxDepth
    }

    func fail(_ m: String) -> FrontendError { FrontendError(.malformedTensor, at: "header offset \(i)", "JSON: \(m)") }

    mutating func ws() {
        while i < s.count, s[i] == 32 || s[i] == 9 || s[i] == 10 || s[i] == 13 { i += 1 }
    }

    mutating func parseDocument() throws(FrontendError) -> JSONValue {
        let v = try value(depth: 0)
        ws()
        guard i == s.count else { throw fail("trailing characters") }
        return v
    }

    mutating func value(depth: Int) throws(FrontendError) -> JSONValue {
        guard depth < maxDepth else { throw fail("nested deeper than \(maxDepth)") }
        ws()
        guard i < s.count else { throw fail("unexpected end") }
        switch s[i] {
        case UInt8(ascii: "{"):
            i += 1
            var out: [JSONMember] = []
            var seen = Set<String>()
            ws()
            if i < s.count, s[i] == UInt8(ascii: "}") {
                i += 1
                return .object(out)
            }
            while true {
                ws()
                let k = try string()
                guard seen.insert(k).inserted else { throw fail("duplicate key '\(k.prefix(60))'") }
                ws()
                try expect(":")
                out.append(JSONMember(key: k, value: try value(depth: depth + 1)))
                ws()
                if accept(",") { continue }
                try expect("}")
                return .object(out)
            }
        case UInt8(ascii: "["):
            i += 1
            var out: [JSONValue] = []
            ws()
            if accept("]") { return .array(out) }
            while true {
                out.append(try value(depth: depth + 1))
                ws()
                if accept(",") { continue }
                try expect("]")
                return .array(out)
            }
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"):
            try word("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try word("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try word("null")
            return .null
        default: return try number()
        }
    }

    mutating func accept(_ c: Character) -> Bool {
        if i < s.count, s[i] == c.asciiValue! {
            i += 1
            return true
        }
        return false
    }

    mutating func expect(_ c: Character) throws(FrontendError) {
        guard accept(c) else { throw fail("expected '\(c)'") }
    }

    mutating func word(_ w: String) throws(FrontendError) {
        for c in w.utf8 {
            guard i < s.count, s[i] == c else { throw fail("expected \(w)") }
            i += 1
        }
    }

    mutating func number() throws(FrontendError) -> JSONValue {
        let start = i
        while i < s.count, "+-0123456789.eE".utf8.contains(s[i]) { i += 1 }
        let t = String(decoding: UnsafeRawBufferPointer(rebasing: s[start..<i]), as: UTF8.self)
        guard !t.isEmpty, let d = Double(t) else { throw fail("bad number '\(t.prefix(30))'") }
        if let i = Int(t) { return .integer(i) }
        return .number(d)
    }

    mutating func string() throws(FrontendError) -> String {
        guard accept("\"") else { throw fail("expected a string") }
        var bytes: [UInt8] = []
        while true {
            guard i < s.count else { throw fail("unterminated string") }
            let c = s[i]
            i += 1
            if c == UInt8(ascii: "\"") { break }
            if c == UInt8(ascii: "\\") {
                guard i < s.count else { throw fail("unterminated escape") }
                let e = s[i]
                i += 1
                switch e {
                case UInt8(ascii: "n"): bytes.append(10)
                case UInt8(ascii: "t"): bytes.append(9)
                case UInt8(ascii: "r"): bytes.append(13)
                case UInt8(ascii: "b"): bytes.append(8)
                case UInt8(ascii: "f"): bytes.append(12)
                case UInt8(ascii: "u"):
                    guard i + 4 <= s.count,
                        let v = UInt32(
                            String(decoding: UnsafeRawBufferPointer(rebasing: s[i..<i + 4]), as: UTF8.self), radix: 16)
                    else {
                        throw fail("bad \\u escape")
                    }
                    i += 4
                    let scalar = Unicode.Scalar(v) ?? "\u{FFFD}"
                    bytes += Array(String(scalar).utf8)
                default: bytes.append(e)
                }
            } else {
                bytes.append(c)
            }
        }
        guard let str = String(validating: bytes, as: UTF8.self) else { throw fail("string is not UTF-8") }
        return str
    }
}

/// One `"key": value` member of a JSON object, in document order.
public struct JSONMember: Sendable {
    public var key: String
    public var value: JSONValue
}
