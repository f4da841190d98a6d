import GraphIR

/// Errors of the frontends: what is wrong with an input file, and where.
public struct FrontendError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        // MARK: Containers
        case io
        case truncated
        case malformedZip
        case malformedProtobuf
        case checksum
        case compression
        case unsupportedFormat
        // MARK: Pickle
        case malformedPickle
        case refusedGlobal
        case limitExceeded
        // MARK: Tensors and models
        case malformedTensor
        case unknownArchitecture
        case missingKey
        case shapeMismatch
        case layout
    }

    public var kind: Kind
    /// The file the problem is in.
    public var file: String
    /// Where inside it: a zip entry, a byte offset, a tensor key.
    public var location: String
    public var message: String

    public init(_ kind: Kind, file: String = "", at location: String = "", _ message: String) {
        self.kind = kind
        self.file = file
        self.location = location
        self.message = message
    }

    /// The same error attributed to `file` (readers deep inside a container do not know it).
    public func inFile(_ f: String) -> FrontendError {
        var e = self
        if e.file.isEmpty { e.file = f }
        return e
    }

    public var description: String {
        [file, location].filter { !$0.isEmpty }.joined(separator: ": ") + (file.isEmpty && location.isEmpty ? "" : ": ")
            + message
    }
}

/// Hard limits on what readers accept; the defaults take any real checkpoint and can be raised.
public struct ParsingLimits: Sendable {
    /// Largest pickle stream (data.pkl) read, in bytes.
    public var maxPickleBytes = 1 << 30
    /// Deepest nesting of containers in a pickle, and of messages in an ONNX protobuf.
    public var maxNesting = 200
    /// Largest pickle stack, memo and mark stack.
    public var maxStackDepth = 1 << 20
    /// Most entries in a zip archive.
    public var maxZipEntries = 1 << 20
    /// Largest decompressed size of one deflated zip entry.
    public var maxInflatedBytes = 1 << 33
    /// Largest safetensors JSON header (the reference implementation's limit: 100 MB).
    public var maxSafetensorsHeader = 100_000_000
    /// Most tensors in one file.
    public var maxTensors = 1 << 20

    public init() {}
}
