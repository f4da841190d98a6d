import GraphIR

/// Every pass, by name, and the named pipelines.
public enum PassRegistry {
    /// All passes. A test fails if a `*Pass.swift` file defines a pass missing here.
    public static let all: [any Pass.Type] = [
        EliminateIdentityPass.self,
        FoldConstantsPass.self,
        FoldBatchNormPass.self,
        CanonicalizePass.self,
        FuseActivationPass.self,
        DeadCodeEliminationPass.self,
        EstimateRangesPass.self,
        BiasCorrectionPass.self,
        QuantizePass.self,
        AdaRoundPass.self,
    ]

    /// What `compile` and `opt` run unless told otherwise.
    public static let defaultPipeline: [any Pass.Type] = [
        EliminateIdentityPass.self,
        FoldConstantsPass.self,
        FoldBatchNormPass.self,
        CanonicalizePass.self,
        FuseActivationPass.self,
        DeadCodeEliminationPass.self,
    ]

    /// What `compile` runs after the default pipeline (`context.quantization` configures it):
    /// `rangePipeline`, then `roundingPipeline`.
    public static let quantizePipeline: [any Pass.Type] = rangePipeline + roundingPipeline

    /// Activation ranges, and the float graph's biases corrected where configured.
    public static let rangePipeline: [any Pass.Type] = [EstimateRangesPass.self, BiasCorrectionPass.self]

    /// The int8 graph from those ranges (and `keepFloat`), its weights rounded as configured.
    public static let roundingPipeline: [any Pass.Type] = [QuantizePass.self, AdaRoundPass.self]

    public static func named(_ name: String) -> (any Pass.Type)? { all.first { $0.name == name } }

    /// Parses "a,b,c"; "default" stands for the default pipeline; "" and "none" for no passes.
    public static func parse(_ pipeline: String) throws(PassError) -> [any Pass.Type] {
        var out: [any Pass.Type] = []
        for raw in pipeline.split(separator: ",") {
            let n = String(raw).filter { !$0.isWhitespace }
            if n.isEmpty || n == "none" { continue }
            if n == "default" {
                out += defaultPipeline
                continue
            }
            guard let p = named(n) else {
                throw PassError(
                    .unknownPass, pass: "",
                    "unknown pass '\(n)'; known: \(all.map { $0.name }.joined(separator: ", ")), default")
            }
            out.append(p)
        }
        return out
    }
}
