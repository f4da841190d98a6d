import Testing

@testable import Frontends
@testable import GraphIR

@Suite struct PickleTests {
    func read(_ pickle: [UInt8], storages: [(String, [UInt8])] = [], zip64: Bool = false) throws(FrontendError)
        -> StateDict
    {
        try CheckpointReader.read(path: temporaryFile(makeCheckpoint(pickle: pickle, storages: storages, zip64: zip64)))
    }

    @Test func readsTensorsWithOffsetsAndStrides() throws {
        let data = floatBytes((0..<12).map(Float.init))
        let pkl =
            P.proto2
            + P.dict([
                ("a", P.tensor(key: "0", numel: 12, size: [3, 4], stride: [4, 1])),
                ("t", P.tensor(key: "0", numel: 12, size: [4, 3], stride: [1, 4])),  // a transposed view
                ("o", P.tensor(key: "0", numel: 12, offset: 5, size: [2], stride: [1])),
            ]) + P.stop
        for zip64 in [false, true] {
            let sd = try read(pkl, storages: [("0", data)], zip64: zip64)
            #expect(sd.keys == ["a", "t", "o"])
            #expect(sd["a"]!.floatArray() == (0..<12).map(Float.init))
            #expect(sd["t"]!.shape.dims == [4, 3])
            #expect(sd["t"]!.floatArray() == [0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11])
            #expect(sd["o"]!.floatArray() == [5, 6])
            #expect(sd["a"]!.isMapped)
        }
    }

    @Test func readsHalfAndBFloat16() throws {
        let half: [UInt8] = [0x00, 0x3c, 0x00, 0xc0]  // 1.0, -2.0
        let bf: [UInt8] = [0x80, 0x3f, 0x40, 0x40]  // 1.0, 3.0
        let pkl =
            P.proto2
            + P.dict([
                ("h", P.tensor(key: "0", numel: 2, size: [2], stride: [1], storage: "HalfStorage")),
                ("b", P.tensor(key: "1", numel: 2, size: [2], stride: [1], storage: "BFloat16Storage")),
            ]) + P.stop
        let sd = try read(pkl, storages: [("0", half), ("1", bf)])
        #expect(sd["h"]!.floatArray() == [1, -2])
        #expect(sd["b"]!.floatArray() == [1, 3])
    }

    @Test(arguments: [
        ("posix", "system"), ("os", "system"), ("nt", "system"), ("builtins", "eval"), ("builtins", "exec"),
        ("__builtin__", "getattr"), ("subprocess", "Popen"), ("subprocess", "check_output"),
        ("importlib", "import_module"),
        ("os.path", "join"), ("runpy", "run_path"), ("torch.hub", "load"),
    ])
    func refusesDangerousGlobals(module: String, name: String) {
        let pkl = P.proto2 + P.global(module, name) + P.tupleOf([P.str("echo pwned")]) + P.reduce + P.stop
        let e = #expect(throws: FrontendError.self) { try read(pkl) }
        #expect(e?.kind == .refusedGlobal)
        #expect(e?.message.contains("refusing global '\(module).\(name)'") == true)
    }

    @Test func refusesDangerousGlobalsThroughStackGlobal() {
        let pkl: [UInt8] =
            P.proto2 + P.str("builtins") + P.str("eval") + [0x93] + P.tupleOf([P.str("1")]) + P.reduce + P.stop
        let e = #expect(throws: FrontendError.self) { try read(pkl) }
        #expect(e?.message.contains("'builtins.eval'") == true)
    }

    @Test func unknownGlobalsStayInert() throws {
        // a Lightning-style checkpoint with an argparse.Namespace among its hyper-parameters
        let ns =
            P.global("argparse", "Namespace") + P.tupleOf([]) + [0x81] + P.emptyDict + P.str("lr") + [
                0x47, 0x3f, 0x50, 0x62, 0x4d, 0xd2, 0xf1, 0xa9, 0xfc,
            ] + [0x73, 0x62]
        let pkl =
            P.proto2 + P.emptyDict + P.mark
            + P.str("hyper_parameters") + ns
            + P.str("state_dict") + P.dict([("w", P.tensor(key: "0", numel: 1, size: [1], stride: [1]))])
            + P.setitems + P.stop
        let sd = try read(pkl, storages: [("0", floatBytes([2]))])
        #expect(sd.path == ["state_dict"])
        #expect(sd.inertGlobals.contains("argparse.Namespace"))
        #expect(sd["w"]!.floatArray() == [2])
    }

    @Test func nestingIsBounded() {
        let pkl = P.proto2 + [UInt8](repeating: 0x5d, count: 1000) + [UInt8](repeating: 0x61, count: 999) + P.stop
        let e = #expect(throws: FrontendError.self) { try read(pkl) }
        #expect(e?.kind == .limitExceeded)
    }

    @Test func mutatingANestedContainerIsRefused() {
        // l = []; outer = [l]; l.append(l) through the memo: a cycle
        let pkl: [UInt8] = P.proto2 + [0x5d, 0x71, 0, 0x5d, 0x68, 0, 0x61, 0x68, 0, 0x68, 0, 0x61, 0x30] + P.stop
        let e = #expect(throws: FrontendError.self) { try read(pkl) }
        #expect(e?.kind == .malformedPickle)
    }

    @Test(arguments: [
        ([0x80, 2, 0x58, 0xff, 0xff, 0xff, 0x7f, 0x61, 0x2e] as [UInt8], "BINUNICODE length"),
        ([0x80, 2, 0x68, 5, 0x2e], "memo key 5"),
        ([0x80, 2, 0x61, 0x2e], "stack underflow"),
        ([0x80, 2, 0x4e, 0x4e, 0x2e], "STOP with 2 items"),
        ([0x80, 2, 0xff], "unknown opcode"),
        ([0x80, 2, 0x4e], "needs 1 more bytes"),
        ([0x80, 2, 0x82, 1, 0x2e], "extension registry"),
    ])
    func malformedStreamsFailCleanly(pkl: [UInt8], message: String) {
        let e = #expect(throws: FrontendError.self) { try read(pkl) }
        #expect(e?.description.contains(message) == true, "\(e?.description ?? "")")
    }

    @Test func tensorViewsOutsideTheirStorageAreRejected() {
        let pkl = P.proto2 + P.dict([("a", P.tensor(key: "0", numel: 4, offset: 2, size: [4], stride: [1]))]) + P.stop
        let e = #expect(throws: FrontendError.self) { try read(pkl, storages: [("0", floatBytes([0, 1, 2, 3]))]) }
        #expect(e?.kind == .malformedTensor)
        let pkl2 = P.proto2 + P.dict([("a", P.tensor(key: "0", numel: 8, size: [4], stride: [1]))]) + P.stop
        let e2 = #expect(throws: FrontendError.self) { try read(pkl2, storages: [("0", floatBytes([0, 1, 2, 3]))]) }
        #expect(e2?.description.contains("holds 16 bytes but declares 8") == true)
    }
}
