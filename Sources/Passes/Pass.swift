import GraphIR

/// A graph transformation with a kebab-case name, run by the `PassManager`.
public protocol Pass: Sendable {
    static var name: String { get }
    static var summary: String { get }
    init()
    func run(on graph: inout Graph, context: inout PassContext) throws(PassError)
}

/// Options passes read and the counts they report.
public struct PassContext: Sendable {
    /// Activations the target's kernels can apply inside conv2d / gemm / add (quantizing:
    /// `Int8Support.fusable`, so that fusion never takes an op out of int8).
    public var fusableActivations: @Sendable (FusedActivation) -> Bool = { _ in true }
    /// Constant folding leaves results larger than this many elements unfolded.
    public var maxFoldedElements = 1 << 24
    /// Per-channel (mean, standard deviation) of each batch norm's output, recorded by
    /// `fold-batchnorm` under the name of the value that carries the result after folding
    /// (BN output ~ N(β, γ²) per channel): what data-free calibration starts from.
    public var batchNormStatistics: [String: (mean: [Float], std: [Float])] = [:]
    /// The quantization passes' configuration and results.
    public var quantization = QuantizationContext()
    /// What the current pass did, as (what, how many), in the order first counted.
    public private(set) var counts: [(String, Int)] = []

    public init() {}

    /// Adds `n` to the counter `what` of the pass being run (e.g. "folded batch norms").
    public mutating func count(_ what: String, _ n: Int = 1) {
        if let i = counts.firstIndex(where: { $0.0 == what }) {
            counts[i].1 += n
        } else {
            counts.append((what, n))
        }
    }

    mutating func takeCounts() -> [(String, Int)] {
        defer { counts = [] }
        return counts
    }
}

/// Errors of the Passes module.
public struct PassError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The graph failed verification after a pass (a bug in the pass, or bad input IR).
        case verifierFailed
        /// A pipeline names a pass that does not exist.
        case unknownPass
        /// A pass could not do its work.
        case failed
    }

    public var kind: Kind
    public var pass: String
    public var location: String
    public var message: String

    public init(_ kind: Kind, pass: String, at location: String = "", _ message: String) {
        self.kind = kind
        self.pass = pass
        self.location = location
        self.message = message
    }

    public var description: String {
        "\(pass.isEmpty ? "" : "pass \(pass): ")\(location.isEmpty ? "" : location + ": ")\(message)"
    }
}
