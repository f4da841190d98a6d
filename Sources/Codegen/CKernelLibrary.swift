import GraphIR

/// The C kernels generated C carries: the sections of `Sources/CKernels/include`, a C target
/// SwiftPM compiles and tests call directly, embedded as text in `CKernelSources.swift` by
/// `scripts/embed-c-kernels.py`. A model's C holds the kernels its program calls, what those
/// declare they use, and `fk_config` (the constants Swift and C share), in library order, each
/// with the SIMD blocks of the target's extensions only.
enum CKernelLibrary {
    struct Section: Sendable {
        let name: String
        let file: String
        /// The sections this one calls (declared; the script checks the declaration).
        let uses: [String]
        let text: String
    }

    /// Every section carries this one: the shared constants.
    static let config = "fk_config"

    static let position: [String: Int] = Dictionary(
        uniqueKeysWithValues: (sections + cudaSections).enumerated().map { ($0.element.name, $0.offset) })

    /// Whether the library has a kernel of this name.
    static func has(_ name: String) -> Bool { position[name] != nil }

    /// The text of `kernels` and what they use, in library order (the C sections, then the
    /// CUDA ones), keeping the SIMD blocks of `simd` and dropping every other; without the
    /// sections of `excluding` (already emitted elsewhere in the file).
    static func source(for kernels: Set<String>, simd: [SIMDExtension], excluding: Set<String> = []) -> String {
        let library = sections + cudaSections
        let kept = closure(of: kernels).subtracting(excluding)
        let tags = Set(simd.map(\.rawValue))
        return library.filter { kept.contains($0.name) }.map { keepingSIMD($0.text, tags) + "\n\n" }.joined()
    }

    /// `kernels`, what they use, and `fk_config`.
    static func closure(of kernels: Set<String>) -> Set<String> {
        let library = sections + cudaSections
        var kept = Set<String>()
        var work = Array(kernels) + [config]
        while let k = work.popLast() {
            guard let i = position[k], kept.insert(k).inserted else { continue }
            work += library[i].uses
        }
        return kept
    }

    /// `text` without the `#if … /* @simd TAG */` … `#endif /* @simd TAG */` blocks whose TAG is
    /// not in `tags`.
    static func keepingSIMD(_ text: String, _ tags: Set<String>) -> String {
        var out: [Substring] = []
        var dropping: String? = nil
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if let tag = dropping {
                if line.hasSuffix("#endif /* @simd \(tag) */") { dropping = nil }
                continue
            }
            if line.trimmingPrefix(while: { $0 == " " }).hasPrefix("#if"), let r = line.firstRange(of: "/* @simd "),
                line.hasSuffix(" */")
            {
                let tag = String(line[r.upperBound..<line.index(line.endIndex, offsetBy: -3)])
                if !tags.contains(tag) {
                    dropping = tag
                    continue
                }
            }
            out.append(line)
        }
        return out.joined(separator: "\n")
    }
}
