import Dispatch

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Work over samples (or layers' row blocks) on several threads with results in index order, so
/// that what is reduced from them (sums, counts) comes out the same for any thread count. Each
/// thread builds its own state once (`state`, e.g. an evaluator); OpenBLAS runs on one thread
/// inside each (`Quantizer.run`).
public enum Parallel {
    /// The online processors.
    public static var processors: Int { max(Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))), 1) }

    /// `body(&state, i)` for every i in 0..<count, on up to `threads` threads (thread t takes
    /// t, t + threads, …); the results in index order. The error of the lowest failing index is
    /// thrown. `done` is called with the number finished so far, from one thread at a time.
    public static func map<State, T, E: Error>(
        _ count: Int, threads: Int, state: @Sendable () -> State,
        done: (@Sendable (Int) -> Void)? = nil,
        _ body: @Sendable (inout State, Int) throws(E) -> T
    ) throws(E) -> [T] {
        let n = max(min(threads, count), 1)
        let out = Results<T, E>(count)
        DispatchQueue.concurrentPerform(iterations: n) { t in
            var s = state()
            var i = t
            while i < count {
                do throws(E) { out.set(i, .success(try body(&s, i))) } catch { out.set(i, .failure(error)) }
                if let done { out.finished(done) }
                i += n
            }
        }
        return try out.values()
    }

    /// One slot per index, each written by one thread only.
    final class Results<T, E: Error>: @unchecked Sendable {
        let slots: UnsafeMutablePointer<Result<T, E>?>
        let count: Int
        private var lock = pthread_mutex_t()
        private var finishedCount = 0

        init(_ count: Int) {
            self.count = count
            slots = .allocate(capacity: max(count, 1))
            slots.initialize(repeating: nil, count: max(count, 1))
            pthread_mutex_init(&lock, nil)
        }

        deinit {
            slots.deinitialize(count: max(count, 1))
            slots.deallocate()
            pthread_mutex_destroy(&lock)
        }

        func set(_ i: Int, _ r: Result<T, E>) { slots[i] = r }

        func finished(_ report: (Int) -> Void) {
            pthread_mutex_lock(&lock)
            finishedCount += 1
            report(finishedCount)
            pthread_mutex_unlock(&lock)
        }

        /// Every slot is set once `concurrentPerform` returns.
        func values() throws(E) -> [T] {
            var v: [T] = []
            v.reserveCapacity(count)
            for i in 0..<count {
                switch slots[i] {
                case .success(let x)?: v.append(x)
                case .failure(let e)?: throw e
                case nil: continue
                }
            }
            return v
        }
    }
}
