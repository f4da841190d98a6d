/// Errors of the IR module: verification, shape inference, text parsing, evaluation.
public struct IRError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        // MARK: Structure
        case undefinedValue
        case redefinedValue
        case arity
        case missingQuantParams
        case constantMismatch
        // MARK: Shapes and types
        case shapeMismatch
        case dtypeMismatch
        case badAttribute
        // MARK: Text form
        case syntax
        // MARK: Evaluation
        case unsupported
        case badInput
    }

    public var kind: Kind
    /// Node, value or `line:column` the error is about.
    public var location: String
    public var message: String

    public init(_ kind: Kind, at location: String, _ message: String) {
        self.kind = kind
        self.location = location
        self.message = message
    }

    public var description: String { location.isEmpty ? message : "\(location): \(message)" }
}
