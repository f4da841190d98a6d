/// Element types of tensors and values.
public enum DType: String, Sendable, Hashable, CaseIterable {
    case float32 = "f32"
    case float16 = "f16"
    case bfloat16 = "bf16"
    case float64 = "f64"
    case int64 = "i64"
    case int32 = "i32"
    case int16 = "i16"
    case int8 = "i8"
    case uint8 = "u8"
    case bool = "bool"

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .float64, .int64: 8
        case .float32, .int32: 4
        case .float16, .bfloat16, .int16: 2
        case .int8, .uint8, .bool: 1
        }
    }

    public var isFloatingPoint: Bool {
        switch self {
        case .float32, .float16, .bfloat16, .float64: true
        default: false
        }
    }

    /// Whether a non-constant value of this type must carry quantization parameters.
    public var needsQuantParams: Bool { self == .int8 }
}

/// A tensor shape: dimensions outermost first (row-major, as PyTorch).
public struct Shape: Sendable, Hashable, CustomStringConvertible {
    public var dims: [Int]

    public init(_ dims: [Int]) { self.dims = dims }

    public var rank: Int { dims.count }

    /// Element count, or nil when a dim is negative or the product of the non-zero dims
    /// overflows `Int` (a zero-element shape with a huge dim is refused too: a flatten or
    /// reshape of part of it would overflow).
    public var checkedElementCount: Int? {
        guard span != nil else { return nil }
        return dims.contains(0) ? 0 : span
    }

    /// Product of the dims with zeros counted as one, or nil when a dim is negative or it
    /// overflows. When it is at most `Graph.maxElements`, no product of any subset of the dims
    /// can overflow, whatever an op multiplies.
    public var span: Int? {
        var n = 1
        for d in dims {
            guard d >= 0 else { return nil }
            let (p, o) = n.multipliedReportingOverflow(by: Swift.max(d, 1))
            if o { return nil }
            n = p
        }
        return n
    }

    /// Element count of a shape already known to be valid (verified graphs and tensors).
    public var elementCount: Int { dims.reduce(1, *) }

    public subscript(_ i: Int) -> Int { dims[i] }

    public var description: String { "[" + dims.map(String.init).joined(separator: ",") + "]" }

    /// Row-major strides in elements.
    public var strides: [Int] {
        var s = [Int](repeating: 1, count: dims.count)
        var acc = 1
        for i in stride(from: dims.count - 1, through: 0, by: -1) {
            s[i] = acc
            acc *= dims[i]
        }
        return s
    }
}

/// Quantization parameters of a value or constant.
///
/// Per-tensor when `scales` has one element; per-channel along `axis` otherwise.
/// `real = scale × (q − zeroPoint)`.
public struct QuantParams: Sendable, Hashable {
    public var scales: [Float]
    public var zeroPoints: [Int32]
    public var axis: Int?

    public init(scales: [Float], zeroPoints: [Int32], axis: Int? = nil) {
        self.scales = scales
        self.zeroPoints = zeroPoints
        self.axis = axis
    }

    public init(scale: Float, zeroPoint: Int32) {
        self.init(scales: [scale], zeroPoints: [zeroPoint], axis: nil)
    }

    /// One scale for each of `count` channels: a per-tensor scale repeated, per-channel ones as
    /// they are (the only place a per-tensor weight scale is broadcast).
    public func channelScales(_ count: Int) -> [Float] {
        scales.count == 1 ? [Float](repeating: scales[0], count: count) : scales
    }
}
