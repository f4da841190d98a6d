import Testing

@testable import Frontends
@testable import GraphIR

@Suite struct SafetensorsTests {
    func read(_ bytes: [UInt8]) throws(FrontendError) -> StateDict {
        try CheckpointReader.read(path: temporaryFile(bytes, suffix: ".safetensors"))
    }

    @Test func readsTensorsWithoutCopying() throws {
        let sd = try read(
            makeSafetensors([
                ("a", "F32", [2, 2], floatBytes([1, 2, 3, 4])), ("b", "I64", [1], [7, 0, 0, 0, 0, 0, 0, 0]),
            ]))
        #expect(sd.format == "safetensors")
        #expect(sd["a"]!.floatArray() == [1, 2, 3, 4])
        #expect(sd["b"]!.int64Array() == [7])
        #expect(sd["a"]!.isMapped)
    }

    @Test(arguments: [
        (
            #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}"#,
            16, "duplicate key 'a'"
        ),
        (
            #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#,
            12, "overlap"
        ),
        (
            #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[12,16]}}"#,
            16, "a gap of 4 bytes"
        ),
        (#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, 8, "needs 12 bytes, data_offsets give 8"),
        (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, 4, "the file holds 4 after the header"),
        (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, 12, "4 bytes after the last tensor"),
        (#"{"a":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}}"#, 8, "unsupported dtype 'Q4'"),
        (#"{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, 8, "non-integer or negative"),
        (#"{"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,8]}}"#, 8, "overflows"),
        (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]"#, 8, "JSON"),
        (#"[1,2]"#, 0, "not a JSON object"),
    ])
    func rejectsMalformedHeaders(header: String, dataBytes: Int, message: String) {
        let h = Array(header.utf8)
        let bytes = (0..<8).map { UInt8(h.count >> (8 * $0) & 0xff) } + h + [UInt8](repeating: 0, count: dataBytes)
        let e = #expect(throws: FrontendError.self) { try read(bytes) }
        #expect(e?.description.contains(message) == true, "\(e?.description ?? "")")
    }

    @Test func rejectsHeaderLengthPastTheEnd() {
        let e = #expect(throws: FrontendError.self) { try read([100, 0, 0, 0, 0, 0, 0, 0, 0x7b, 0x7d]) }
        #expect(e?.kind == .truncated)
    }

    @Test func committedHostileFiles() {
        let over = #expect(throws: FrontendError.self) {
            try CheckpointReader.read(path: Repo.path("Tests/Fixtures/hostile/overlapping.safetensors"))
        }
        #expect(over?.description.contains("overlap") == true)
        let big = #expect(throws: FrontendError.self) {
            try CheckpointReader.read(path: Repo.path("Tests/Fixtures/hostile/oversized_header.safetensors"))
        }
        #expect(big?.description.contains("exceeds the 100000000-byte limit") == true)
    }
}

@Suite struct ContainerTests {
    @Test(arguments: [
        ("truncated_zip.pt", FrontendError.Kind.truncated, "end-of-central-directory"),
        ("corrupt_deflate.pt", .compression, "corrupt deflate stream"),
        ("wrong_crc.pt", .checksum, "CRC-32 mismatch"),
        ("pickle_posix_system.pt", .refusedGlobal, "refusing global 'posix.system'"),
        ("pickle_huge_binunicode.pt", .limitExceeded, "BINUNICODE length 4294967295"),
        ("pickle_deep_nesting.pt", .limitExceeded, "nest deeper than 200"),
        ("legacy_format.pt", .unsupportedFormat, "re-save it with a current torch"),
    ])
    func hostileCheckpoints(file: String, kind: FrontendError.Kind, message: String) {
        let path = Repo.path("Tests/Fixtures/hostile/" + file)
        let e = #expect(throws: FrontendError.self) { try CheckpointReader.read(path: path) }
        #expect(e?.kind == kind)
        #expect(e?.file == path)
        #expect(e?.description.contains(message) == true, "\(e?.description ?? "")")
    }

    @Test func deflatedZip64CheckpointReadsLikeTheStoredOne() throws {
        let sd = try CheckpointReader.read(path: Repo.path("Tests/Fixtures/valid/deflated_zip64.pt"))
        let stored = try CheckpointReader.read(path: Repo.path("Tests/Fixtures/hostile/wrong_shape.pt"))
        #expect(sd.keys == stored.keys)
        #expect(sd["features.0.0.weight"] == stored["features.0.0.weight"])
    }

    @Test func deflatedEntriesAreCheckedAgainstTheirDeclaredSize() throws {
        let pkl: [UInt8] = P.proto2 + P.dict([("a", P.tensor(key: "0", numel: 2, size: [2], stride: [1]))]) + P.stop
        let entries = [("archive/data.pkl", pkl), ("archive/data/0", floatBytes([1, 2]))]
        let ok = makeZip(entries, zip64: true, deflated: ["archive/data.pkl", "archive/data/0"])
        #expect(try CheckpointReader.read(path: temporaryFile(ok))["a"]!.floatArray() == [1, 2])
        let bomb = makeZip(entries, zip64: true, deflated: ["archive/data/0"], declared: ["archive/data/0": 1 << 32])
        let e = #expect(throws: FrontendError.self) { try CheckpointReader.read(path: temporaryFile(bomb)) }
        #expect(e?.description.contains("beyond what deflate can produce") == true, "\(e?.description ?? "")")
        let short = makeZip(entries, deflated: ["archive/data/0"], declared: ["archive/data/0": 12])
        let s = #expect(throws: FrontendError.self) { try CheckpointReader.read(path: temporaryFile(short)) }
        #expect(s?.kind == .compression)
    }

    @Test func unrecognisedAndMissingFiles() {
        let e = #expect(throws: FrontendError.self) {
            try CheckpointReader.read(path: temporaryFile(Array("hello world".utf8), suffix: ".bin"))
        }
        #expect(e?.kind == .unsupportedFormat)
        let m = #expect(throws: FrontendError.self) { try CheckpointReader.read(path: "/nonexistent/model.pt") }
        #expect(m?.kind == .io)
        #expect(m?.description.contains("/nonexistent/model.pt") == true)
    }

    @Test func torchScriptArchivesAreExplained() {
        let bytes = makeZip([
            ("m/data.pkl", [0x80, 2, 0x4e, 0x2e]), ("m/constants.pkl", [0x80, 2, 0x4e, 0x2e]), ("m/code/m.py", []),
        ])
        let e = #expect(throws: FrontendError.self) { try CheckpointReader.read(path: temporaryFile(bytes)) }
        #expect(e?.description.contains("TorchScript") == true)
    }
}
