import Frontends
import GraphIR

/// Errors the driver reports, with the process exit code each maps to.
public struct DriverError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// Bad command-line use (exit 1).
        case usage
        /// Bad input file or data (exit 2).
        case badInput
        /// A verification gate failed (exit 3).
        case gateFailed
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var exitCode: Int32 {
        switch kind {
        case .usage: 1
        case .badInput: 2
        case .gateFailed: 3
        }
    }

    public var description: String { message }

    static func from(_ e: FrontendError) -> DriverError { DriverError(.badInput, e.description) }

    static func from(_ e: IRError, file: String) -> DriverError {
        DriverError(.badInput, "\(file): \(e.description)")
    }
}
