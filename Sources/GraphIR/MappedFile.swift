#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A read-only memory mapping of a whole file. Tensors can point into it, so a
/// large checkpoint is neither read into memory nor copied.
public final class MappedFile: @unchecked Sendable {
    public let path: String
    public let count: Int
    private let base: UnsafeMutableRawPointer?

    public enum OpenError: Error, Sendable, CustomStringConvertible {
        case cannotOpen(path: String, reason: String)

        /// The reason alone: callers put the path in front.
        public var description: String {
            switch self {
            case .cannotOpen(_, let reason): reason
            }
        }
    }

    /// Maps the regular file at `path`. A FIFO, device, socket or directory is refused without
    /// blocking: the file is opened non-blocking (a FIFO with no writer would otherwise hang
    /// `open`) and checked with `fstat` before anything is read.
    public init(path: String) throws(OpenError) {
        self.path = path
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw .cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            throw .cannotOpen(path: path, reason: String(cString: strerror(errno)))
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            let kind =
                switch st.st_mode & S_IFMT {
                case S_IFDIR: "a directory"
                case S_IFIFO: "a FIFO"
                case S_IFCHR, S_IFBLK: "a device"
                case S_IFSOCK: "a socket"
                default: "not a regular file"
                }
            throw .cannotOpen(path: path, reason: "\(kind), not a regular file (only regular files are read)")
        }
        count = Int(st.st_size)
        if count == 0 {
            base = nil
            return
        }
        let p = mmap(nil, count, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let p, p != MAP_FAILED else {
            throw .cannotOpen(path: path, reason: "mmap failed: " + String(cString: strerror(errno)))
        }
        base = p
    }

    deinit {
        if let base { munmap(base, count) }
    }

    /// The mapped bytes. Valid while this object is alive.
    public var bytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base.map { UnsafeRawPointer($0) }, count: count)
    }
}
