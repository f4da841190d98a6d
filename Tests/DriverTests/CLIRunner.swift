import Foundation

/// Runs the built `fkdc` executable as a user would, with a deadline: a run past it is killed and
/// reported as a hang.
enum CLI {
    struct Result {
        var code: Int32
        /// The signal that ended the process, if one did (a trap is SIGILL, an abort SIGABRT).
        var signal: Int32?
        var out: String
        var err: String
        var seconds: Double
        var hung: Bool
        /// The largest resident set of any child process so far (getrusage's high-water mark), bytes.
        var peakChildBytes: Int
    }

    static let binary: String? = {
        for config in ["debug", "release"] {
            let p = Repo.path(".build/\(config)/fkdc")
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }()

    /// Output goes to files, not pipes, so a child that hangs cannot also block the reader.
    static func run(_ args: [String], timeout: Double = 60) throws -> Result {
        let dir = NSTemporaryDirectory() + "fkdc-cli-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = FileManager.default.createFile(atPath: dir + "/out", contents: nil)
        _ = FileManager.default.createFile(atPath: dir + "/err", contents: nil)
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: dir + "/out"))
        let err = try FileHandle(forWritingTo: URL(fileURLWithPath: dir + "/err"))
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary!)
        p.arguments = args
        p.currentDirectoryURL = URL(fileURLWithPath: Repo.root)
        p.standardOutput = out
        p.standardError = err
        var env = ProcessInfo.processInfo.environment
        env["SWIFT_BACKTRACE"] = "enable=no"
        p.environment = env
        let start = Date()
        try p.run()
        var hung = false
        while p.isRunning {
            if Date().timeIntervalSince(start) > timeout {
                hung = true
                p.terminate()
                break
            }
            usleep(5000)
        }
        p.waitUntilExit()
        let seconds = Date().timeIntervalSince(start)
        try out.close()
        try err.close()
        let o = (try? String(contentsOfFile: dir + "/out", encoding: .utf8)) ?? ""
        let e = (try? String(contentsOfFile: dir + "/err", encoding: .utf8)) ?? ""
        let signal = p.terminationReason == .uncaughtSignal ? p.terminationStatus : nil
        var usage = rusage()
        getrusage(RUSAGE_CHILDREN.rawValue, &usage)
        return Result(
            code: p.terminationStatus, signal: signal, out: o, err: e, seconds: seconds, hung: hung,
            peakChildBytes: usage.ru_maxrss * 1024)
    }
}
