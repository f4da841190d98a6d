/// A pickle virtual machine (protocols 0–5) that builds inert values and executes nothing.
///
/// Globals are looked up by name only. Callables known to be dangerous (`os.system`,
/// `builtins.eval`, `subprocess.*`, …) are refused by name as soon as the stream names them.
/// The tensor rebuild functions torch writes become `TensorRef`s; `collections.OrderedDict`
/// becomes a dict; every other call stays an inert `PickleObject`.
struct PickleMachine {
    let limits: ParsingLimits
    /// Storages named by persistent ids, by key.
    private(set) var storages: [String: StorageRef] = [:]
    /// Globals the stream named that the reader does not interpret (reported if a model needs them).
    private(set) var inertGlobals: Set<String> = []

    private var stack: [PickleValue] = []
    private var marks: [Int] = []
    private var memo: [Int: PickleValue] = [:]
    private var cursor: ByteCursor

    /// Modules whose every global is refused.
    static let refusedModules: Set<String> = [
        "os", "posix", "nt", "subprocess", "sys", "importlib", "shutil", "socket", "pty", "runpy", "pickle",
        "_pickle", "marshal", "ctypes", "code", "codeop", "webbrowser", "multiprocessing", "signal", "threading",
        "types", "functools", "operator", "pydoc", "inspect", "platform", "tempfile", "io", "asyncio", "commands",
        "popen2", "timeit", "trace", "pdb", "bdb", "cProfile", "profile", "urllib", "http", "ftplib", "telnetlib",
        "requests", "shelve", "dill", "cloudpickle", "torch.hub", "torch.jit", "torch.serialization", "torch._ops",
        "torch.ops", "numpy.testing", "site", "ensurepip", "venv", "distutils", "setuptools", "pip",
    ]
    /// Builtins that evaluate, import, reach attributes or touch files.
    static let refusedBuiltins: Set<String> = [
        "eval", "exec", "compile", "open", "__import__", "getattr", "setattr", "delattr", "globals", "locals",
        "vars", "input", "breakpoint", "exit", "quit", "help", "memoryview", "classmethod", "staticmethod",
        "property", "type", "object", "super", "apply", "execfile", "file", "reload",
    ]

    init(_ bytes: UnsafeRawBufferPointer, limits: ParsingLimits, what: String) {
        self.limits = limits
        cursor = ByteCursor(bytes, what: what)
    }

    private func fail(_ m: String, at offset: Int? = nil) -> FrontendError {
        FrontendError(.malformedPickle, at: "\(cursor.what) offset \(offset ?? cursor.offset)", m)
    }

    private func limit(_ m: String) -> FrontendError {
        FrontendError(.limitExceeded, at: "\(cursor.what) offset \(cursor.offset)", m)
    }

    // MARK: Stack

    private mutating func push(_ v: PickleValue) throws(FrontendError) {
        guard stack.count < limits.maxStackDepth else {
            throw limit("the pickle stack exceeds \(limits.maxStackDepth) items")
        }
        guard v.depth <= limits.maxNesting else {
            throw limit("containers nest deeper than \(limits.maxNesting) levels")
        }
        stack.append(v)
    }

    private mutating func pop() throws(FrontendError) -> PickleValue {
        guard let v = stack.popLast() else { throw fail("stack underflow") }
        if let m = marks.last, stack.count < m { throw fail("stack underflow past a MARK") }
        return v
    }

    private mutating func popMark() throws(FrontendError) -> [PickleValue] {
        guard let m = marks.popLast(), m <= stack.count else { throw fail("no MARK on the stack") }
        let items = Array(stack[m...])
        stack.removeSubrange(m...)
        return items
    }

    private func top() throws(FrontendError) -> PickleValue {
        guard let v = stack.last else { throw fail("stack underflow") }
        return v
    }

    /// Marks `v` as placed inside a container; checks the nesting limit.
    private func seal(_ v: PickleValue, into depth: inout Int) throws(FrontendError) {
        switch v {
        case .list(let l), .set(let l): l.sealed = true
        case .dict(let d): d.sealed = true
        case .object(let o): o.sealed = true
        default: break
        }
        depth = max(depth, v.depth + 1)
        guard depth <= limits.maxNesting else { throw limit("containers nest deeper than \(limits.maxNesting) levels") }
    }

    private func makeTuple(_ items: [PickleValue]) throws(FrontendError) -> PickleValue {
        var d = 1
        for i in items { try seal(i, into: &d) }
        return .tuple(PickleTuple(items))
    }

    private func append(_ items: [PickleValue], to target: PickleValue) throws(FrontendError) {
        switch target {
        case .list(let l), .set(let l):
            guard !l.sealed else {
                throw fail("a list is modified after being nested (recursive structures are not read)")
            }
            // a local depth: sealing the list itself while its depth is borrowed inout would be an
            // exclusivity violation
            var depth = l.depth
            for i in items { try seal(i, into: &depth) }
            // sealing an item sealed this list: the list was appended to itself
            guard !l.sealed else { throw fail("a list is appended to itself (recursive structures are not read)") }
            l.depth = depth
            l.items += items
        case .object(let o):
            // list subclasses: kept inert
            guard !o.sealed else { throw fail("an object is modified after being nested") }
        default:
            throw fail("APPEND to \(target.kindName)")
        }
    }

    private func setItems(_ kv: [PickleValue], in target: PickleValue) throws(FrontendError) {
        guard kv.count % 2 == 0 else { throw fail("SETITEMS with an odd number of items") }
        switch target {
        case .dict(let d):
            guard !d.sealed else {
                throw fail("a dict is modified after being nested (recursive structures are not read)")
            }
            var i = 0
            var depth = d.depth
            while i < kv.count {
                try seal(kv[i], into: &depth)
                try seal(kv[i + 1], into: &depth)
                guard !d.sealed else { throw fail("a dict is put inside itself (recursive structures are not read)") }
                d.entries.append((kv[i], kv[i + 1]))
                i += 2
            }
            d.depth = depth
        case .object(let o):
            guard !o.sealed else { throw fail("an object is modified after being nested") }
        default:
            throw fail("SETITEM on \(target.kindName)")
        }
    }

    // MARK: Reading

    private mutating func lengthPrefixed(_ n: Int, _ op: String) throws(FrontendError) -> UnsafeRawBufferPointer {
        guard n >= 0, n <= cursor.remaining else {
            throw limit("\(op) length \(n) exceeds the \(cursor.remaining) bytes left in the pickle")
        }
        return try cursor.slice(n)
    }

    private mutating func text() throws(FrontendError) -> String {
        String(decoding: try cursor.line(), as: UTF8.self)
    }

    private func utf8(_ b: UnsafeRawBufferPointer, _ op: String) throws(FrontendError) -> String {
        guard let s = String(validating: b, as: UTF8.self) else { throw fail("\(op) is not valid UTF-8") }
        return s
    }

    private mutating func memoPut(_ key: Int, _ v: PickleValue) throws(FrontendError) {
        guard memo.count < limits.maxStackDepth || memo[key] != nil else {
            throw limit("the pickle memo exceeds \(limits.maxStackDepth) entries")
        }
        memo[key] = v
    }

    private func memoGet(_ key: Int) throws(FrontendError) -> PickleValue {
        guard let v = memo[key] else { throw fail("memo key \(key) was never stored") }
        return v
    }

    /// Runs the machine to STOP and returns the unpickled value.
    mutating func run() throws(FrontendError) -> PickleValue {
        while true {
            let at = cursor.offset
            let op = try cursor.u8()
            switch op {
            case 0x80: _ = try cursor.u8()  // PROTO
            case 0x95: _ = try cursor.u64()  // FRAME
            case 0x2e:  // STOP
                guard stack.count == 1, marks.isEmpty else {
                    throw fail("STOP with \(stack.count) items on the stack", at: at)
                }
                return stack[0]
            case 0x28:
                marks.append(stack.count)  // MARK
                guard marks.count <= limits.maxStackDepth else { throw limit("too many MARKs") }
            case 0x30: _ = try pop()  // POP
            case 0x31: _ = try popMark()  // POP_MARK
            case 0x32: try push(try top())  // DUP
            case 0x4e: try push(.none)
            case 0x88: try push(.bool(true))
            case 0x89: try push(.bool(false))
            case 0x49:  // INT
                let t = try text()
                if t == "01" {
                    try push(.bool(true))
                } else if t == "00" {
                    try push(.bool(false))
                } else {
                    guard let v = Int64(t) else { throw fail("bad INT '\(t.prefix(40))'", at: at) }
                    try push(.int(v))
                }
            case 0x4a: try push(.int(Int64(try cursor.i32())))  // BININT
            case 0x4b: try push(.int(Int64(try cursor.u8())))  // BININT1
            case 0x4d: try push(.int(Int64(try cursor.u16())))  // BININT2
            case 0x4c:  // LONG
                var t = try text()
                if t.hasSuffix("L") { t.removeLast() }
                if let v = Int64(t) {
                    try push(.int(v))
                } else {
                    guard t.count < 10_000, t.allSatisfy({ $0.isNumber || $0 == "-" }) else {
                        throw fail("bad LONG", at: at)
                    }
                    try push(.bigInt(Array(t.utf8)))
                }
            case 0x8a: try pushLong(try lengthPrefixed(Int(try cursor.u8()), "LONG1"))
            case 0x8b: try pushLong(try lengthPrefixed(Int(try cursor.i32()), "LONG4"))
            case 0x46:  // FLOAT
                let t = try text()
                guard let v = Double(t) else { throw fail("bad FLOAT", at: at) }
                try push(.float(v))
            case 0x47: try push(.float(try cursor.f64BigEndian()))  // BINFLOAT
            case 0x53:  // STRING (quoted repr)
                var t = try text()
                guard t.count >= 2, let q = t.first, (q == "'" || q == "\""), t.last == q else {
                    throw fail("bad STRING", at: at)
                }
                t = String(t.dropFirst().dropLast())
                try push(.string(t))
            case 0x54: try push(.bytes(Array(try lengthPrefixed(Int(try cursor.i32()), "BINSTRING"))))
            case 0x55: try push(.bytes(Array(try lengthPrefixed(Int(try cursor.u8()), "SHORT_BINSTRING"))))
            case 0x56: try push(.string(try text()))  // UNICODE (raw-unicode-escape; escapes kept)
            case 0x58:
                try push(.string(try utf8(try lengthPrefixed(Int(try cursor.u32()), "BINUNICODE"), "BINUNICODE")))
            case 0x8c:
                try push(
                    .string(try utf8(try lengthPrefixed(Int(try cursor.u8()), "SHORT_BINUNICODE"), "SHORT_BINUNICODE")))
            case 0x8d:
                try push(.string(try utf8(try lengthPrefixed(try big(try cursor.u64()), "BINUNICODE8"), "BINUNICODE8")))
            case 0x42: try push(.bytes(Array(try lengthPrefixed(Int(try cursor.u32()), "BINBYTES"))))
            case 0x43: try push(.bytes(Array(try lengthPrefixed(Int(try cursor.u8()), "SHORT_BINBYTES"))))
            case 0x8e: try push(.bytes(Array(try lengthPrefixed(try big(try cursor.u64()), "BINBYTES8"))))
            case 0x96: try push(.bytes(Array(try lengthPrefixed(try big(try cursor.u64()), "BYTEARRAY8"))))
            case 0x29: try push(.tuple(PickleTuple([])))  // EMPTY_TUPLE
            case 0x74: try push(try makeTuple(try popMark()))  // TUPLE
            case 0x85:
                let a = try pop()
                try push(try makeTuple([a]))
            case 0x86:
                let b = try pop()
                let a = try pop()
                try push(try makeTuple([a, b]))
            case 0x87:
                let c = try pop()
                let b = try pop()
                let a = try pop()
                try push(try makeTuple([a, b, c]))
            case 0x5d: try push(.list(PickleList()))  // EMPTY_LIST
            case 0x61:  // APPEND
                let v = try pop()
                try append([v], to: try top())
            case 0x65:  // APPENDS
                let items = try popMark()
                try append(items, to: try top())
            case 0x6c:  // LIST
                let l = PickleList()
                let items = try popMark()
                try append(items, to: .list(l))
                try push(.list(l))
            case 0x7d: try push(.dict(PickleDict()))  // EMPTY_DICT
            case 0x64:  // DICT
                let d = PickleDict()
                try setItems(try popMark(), in: .dict(d))
                try push(.dict(d))
            case 0x73:  // SETITEM
                let v = try pop()
                let k = try pop()
                try setItems([k, v], in: try top())
            case 0x75:  // SETITEMS
                let kv = try popMark()
                try setItems(kv, in: try top())
            case 0x8f: try push(.set(PickleList()))  // EMPTY_SET
            case 0x90:  // ADDITEMS
                let items = try popMark()
                try append(items, to: try top())
            case 0x91:  // FROZENSET
                let l = PickleList()
                try append(try popMark(), to: .set(l))
                try push(.set(l))
            case 0x63:  // GLOBAL
                let module = try text()
                let name = try text()
                try push(try global(module, name, at: at))
            case 0x93:  // STACK_GLOBAL
                let name = try pop()
                let module = try pop()
                guard let m = module.string, let n = name.string else {
                    throw fail("STACK_GLOBAL needs two strings", at: at)
                }
                try push(try global(m, n, at: at))
            case 0x52:  // REDUCE
                let args = try pop()
                let callable = try pop()
                try push(try call(callable, args, at: at))
            case 0x81:  // NEWOBJ
                let args = try pop()
                let cls = try pop()
                try push(try call(cls, args, at: at))
            case 0x92:  // NEWOBJ_EX
                _ = try pop()
                let args = try pop()
                let cls = try pop()
                try push(try call(cls, args, at: at))
            case 0x6f:  // OBJ
                var items = try popMark()
                guard !items.isEmpty else { throw fail("OBJ without a class", at: at) }
                let cls = items.removeFirst()
                try push(try call(cls, try makeTuple(items), at: at))
            case 0x69:  // INST
                let module = try text()
                let name = try text()
                let g = try global(module, name, at: at)
                try push(try call(g, try makeTuple(try popMark()), at: at))
            case 0x62:  // BUILD
                let state = try pop()
                if case .object(let o) = try top() {
                    guard !o.sealed else { throw fail("BUILD on an object after it was nested", at: at) }
                    var d = o.depth
                    try seal(state, into: &d)
                    o.depth = d
                    o.state = state
                }
            // dicts (OrderedDict attributes such as `_metadata`) and tensors: state is not needed
            case 0x50:  // PERSID
                try push(try persistent(.string(try text()), at: at))
            case 0x51:  // BINPERSID
                try push(try persistent(try pop(), at: at))
            case 0x67:  // GET
                let t = try text()
                guard let k = Int(t) else { throw fail("bad GET key", at: at) }
                try push(try memoGet(k))
            case 0x68: try push(try memoGet(Int(try cursor.u8())))
            case 0x6a: try push(try memoGet(Int(try cursor.u32())))
            case 0x70:  // PUT
                let t = try text()
                guard let k = Int(t) else { throw fail("bad PUT key", at: at) }
                try memoPut(k, try top())
            case 0x71: try memoPut(Int(try cursor.u8()), try top())
            case 0x72: try memoPut(Int(try cursor.u32()), try top())
            case 0x94: try memoPut(memo.count, try top())  // MEMOIZE
            case 0x82, 0x83, 0x84:
                throw FrontendError(
                    .refusedGlobal, at: "\(cursor.what) offset \(at)",
                    "refusing the copyreg extension registry (EXT opcodes)")
            case 0x97, 0x98:
                throw fail("out-of-band buffers (protocol 5) are not supported", at: at)
            default:
                throw fail("unknown opcode 0x\(String(op, radix: 16))", at: at)
            }
        }
    }

    private func big(_ v: UInt64) throws(FrontendError) -> Int {
        guard let n = Int(exactly: v) else { throw limit("length \(v) is out of range") }
        return n
    }

    private mutating func pushLong(_ b: UnsafeRawBufferPointer) throws(FrontendError) {
        if b.count <= 8 {
            var v: UInt64 = 0
            for (i, x) in b.enumerated() { v |= UInt64(x) << (8 * UInt64(i)) }
            if b.count > 0, b.count < 8, b[b.count - 1] & 0x80 != 0 { v |= ~0 << (8 * UInt64(b.count)) }
            try push(.int(Int64(bitPattern: v)))
        } else {
            try push(.bigInt(Array(b)))
        }
    }

    // MARK: Globals and calls

    static func isRefused(module: String, name: String) -> Bool {
        let root = module.split(separator: ".").first.map(String.init) ?? module
        if refusedModules.contains(module) || refusedModules.contains(root) { return true }
        if refusedModules.contains(where: { module.hasPrefix($0 + ".") }) { return true }
        if (module == "builtins" || module == "__builtin__") && refusedBuiltins.contains(name) { return true }
        return false
    }

    private mutating func global(_ module: String, _ name: String, at: Int) throws(FrontendError) -> PickleValue {
        guard module.utf8.count < 256, name.utf8.count < 256 else { throw fail("global name too long", at: at) }
        if Self.isRefused(module: module, name: name) {
            throw FrontendError(
                .refusedGlobal, at: "\(cursor.what) offset \(at)",
                "refusing global '\(module).\(name)' (checkpoints may only reference tensor rebuild functions and plain containers)"
            )
        }
        return .global(module: module, name: name)
    }

    private mutating func call(_ callable: PickleValue, _ args: PickleValue, at: Int) throws(FrontendError)
        -> PickleValue
    {
        guard case .global(let m, let n) = callable else {
            return .object(PickleObject(callableName: "<\(callable.kindName)>", args: args))
        }
        let a = args.items ?? []
        switch (m, n) {
        case ("collections", "OrderedDict"), ("builtins", "dict"), ("__builtin__", "dict"):
            let d = PickleDict()
            if let pairs = a.first?.items {
                var kv: [PickleValue] = []
                for p in pairs {
                    guard let two = p.items, two.count == 2 else {
                        throw fail("\(m).\(n) needs key/value pairs", at: at)
                    }
                    kv += two
                }
                try setItems(kv, in: .dict(d))
            }
            return .dict(d)
        case ("builtins", "list"), ("__builtin__", "list"), ("builtins", "set"), ("builtins", "frozenset"):
            let l = PickleList()
            if let items = a.first?.items { try append(items, to: .list(l)) }
            return n == "list" ? .list(l) : .set(l)
        case ("builtins", "tuple"), ("torch", "Size"):
            return try makeTuple(a.first?.items ?? [])
        case ("_codecs", "encode"):
            guard let s = a.first?.string else { throw fail("_codecs.encode needs a string", at: at) }
            // latin-1: each scalar below 256 is one byte
            return .bytes(s.unicodeScalars.map { UInt8(truncatingIfNeeded: $0.value) })
        case ("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_tensor"):
            return .tensor(try rebuildTensor(a, at: at))
        case ("torch._utils", "_rebuild_parameter"), ("torch._utils", "_rebuild_parameter_with_state"):
            guard let data = a.first, case .tensor = data else { throw fail("\(n) needs a tensor", at: at) }
            return data
        case ("torch._tensor", "_rebuild_from_type_v2"), ("torch._tensor", "_rebuild_from_type"):
            guard a.count >= 3 else { throw fail("\(n) needs (func, type, args)", at: at) }
            return try call(a[0], a[2], at: at)
        default:
            inertGlobals.insert("\(m).\(n)")
            return .object(PickleObject(callableName: "\(m).\(n)", args: args))
        }
    }

    /// `_rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])`.
    private func rebuildTensor(_ a: [PickleValue], at: Int) throws(FrontendError) -> TensorRef {
        guard a.count >= 4, case .storage(let s) = a[0], let off = a[1].int, let size = a[2].items,
            let stride = a[3].items
        else { throw fail("_rebuild_tensor_v2 arguments are not (storage, offset, size, stride, …)", at: at) }
        var dims: [Int] = []
        var strides: [Int] = []
        for d in size {
            guard let v = d.int, let i = Int(exactly: v), i >= 0 else {
                throw fail("tensor size holds a non-integer or negative", at: at)
            }
            dims.append(i)
        }
        for d in stride {
            guard let v = d.int, let i = Int(exactly: v), i >= 0 else {
                throw fail("tensor stride holds a non-integer or negative", at: at)
            }
            strides.append(i)
        }
        guard dims.count == strides.count, dims.count <= 16, let o = Int(exactly: off), o >= 0 else {
            throw fail("tensor size \(dims) and stride \(strides) disagree, or the offset is negative", at: at)
        }
        return TensorRef(storage: s, offset: o, size: dims, stride: strides)
    }

    /// `('storage', <torch.XStorage>, key, location, numel)`.
    private mutating func persistent(_ pid: PickleValue, at: Int) throws(FrontendError) -> PickleValue {
        guard let t = pid.items, t.count == 5, t[0].string == "storage", case .global(let m, let cls) = t[1],
            m == "torch", let key = t[2].string, let numel = t[4].int, let count = Int(exactly: numel), count >= 0
        else { throw fail("persistent id is not a torch storage reference", at: at) }
        guard let dtype = TorchDType(storageClass: cls) else {
            throw FrontendError(
                .unsupportedFormat, at: "\(cursor.what) offset \(at)", "unsupported storage type torch.\(cls)")
        }
        guard !key.isEmpty, key.count < 64, key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
            throw fail("storage key '\(key.prefix(40))' is not a plain name", at: at)
        }
        let ref = StorageRef(key: key, dtype: dtype, count: count)
        if let old = storages[key] {
            guard old.dtype == dtype, old.count == count else {
                throw fail("storage \(key) is declared twice differently", at: at)
            }
        }
        storages[key] = ref
        return .storage(ref)
    }
}
