import Testing

@testable import Codegen
@testable import Driver
@testable import GraphIR
@testable import Passes

/// Settings the CLI used to check by hand are the library's to refuse: a caller of the library
/// gets the same errors as `fkdc`, never a trap.
@Suite struct LibraryValidationTests {
    @Test(arguments: [(Calibrator.Method.entropy, 99.99, 0), (.percentile, 99.99, 15), (.percentile, 12.0, 2048)])
    func calibratorRefusesBadSettings(method: Calibrator.Method, percentile: Double, bins: Int) throws {
        var g = Graph(name: "t")
        let x = g.addInput(name: "x", shape: Shape([1, 2]))
        g.outputs = [try g.addNode(name: "r", op: .relu, inputs: [x])]
        let c = Calibrator(method: method, percentile: percentile, bins: bins)
        #expect(c.invalidity != nil)
        #expect(throws: IRError.self) {
            try c.calibrate(g, batches: [Tensor(shape: Shape([1, 2]), floats: [1, -1])])
        }
        #expect(Calibrator(method: method).invalidity == nil)
    }

    @Test func emitterRefusesAPrefixThatIsNotACIdentifier() throws {
        let t = try #require(TargetProfile.named("generic-c"))
        for bad in ["", "1model", "my-model", "mödel", String(repeating: "a", count: 65)] {
            #expect(throws: CodegenError.self) { try CEmitter(prefix: bad, target: t) }
        }
        for good in ["model", "_m", "fundus_v2", String(repeating: "a", count: 64)] {
            #expect(try CEmitter(prefix: good, target: t).prefix == good)
        }
    }

    @Test func compilerRefusesSequentialCalibrationWithoutData() throws {
        let m = try ModelLoader.load(path: Repo.path("samples/resnet10_c3_f16.pt"))
        var o = CompileOptions(output: "/nonexistent/never-written")
        o.quantize.sequential = true
        #expect(throws: DriverError.self) { try Compiler.run(m, options: o) }
        o.quantize.sequential = false
        o.name = "bad name"
        #expect(throws: DriverError.self) { try Compiler.run(m, options: o) }
    }
}
