import Testing

@testable import GraphIR
@testable import Passes

/// The pattern driver's def-use index, updated in place by rewrites, must equal one built afresh.
@Suite struct DefUseTests {
    static let text = """
        graph @g {
          input %x : f32[1,2,2,2]
          const %w : f32[2,2,1,1] = dense<[1.0, 0.0, 0.0, 1.0]>
          const %w2 : f32[2,2,1,1] = dense<[2.0, 0.0, 0.0, 2.0]>
          %c : f32[1,2,2,2] = conv2d(%x, %w) {stride=[1,1], pad=[0,0,0,0], dilation=[1,1], groups=1} @"c"
          %r : f32[1,2,2,2] = relu(%c) @"r"
          %i : f32[1,2,2,2] = identity(%r) @"i"
          %o : f32[1,2,2,2] = add(%i, %i) @"o"
          output %o
        }
        """

    func same(_ a: DefUse, _ b: DefUse, count: Int) -> Bool {
        (0..<count).allSatisfy { a.producer(of: $0) == b.producer(of: $0) && a.readers(of: $0) == b.readers(of: $0) }
    }

    @Test func incrementalUpdatesMatchARebuild() throws {
        var g = try IRParser().parse(Self.text)
        func id(_ name: String) -> ValueID { g.values.firstIndex { $0.name == name }! }
        var uses = DefUse(g)
        #expect(uses.producer(of: id("r")) == 1 && uses.readers(of: id("i")) == [3])
        #expect(!uses.hasSingleUse(id("i"), in: g) && uses.hasSingleUse(id("c"), in: g))
        uses.replaceAllUses(of: id("i"), with: id("r"), in: &g)
        #expect(same(uses, DefUse(g), count: g.values.count))
        #expect(g.nodes[3].inputs == [id("r"), id("r")])
        uses.replaceAllUses(of: id("r"), with: id("r"), in: &g)
        #expect(same(uses, DefUse(g), count: g.values.count))
        uses.setInputs([id("x"), id("w2")], of: 0, in: &g)
        #expect(same(uses, DefUse(g), count: g.values.count))
        #expect(uses.readers(of: id("w")).isEmpty && uses.readers(of: id("w2")) == [0])
        // a constant added by a rewrite: beyond the index until used, then tracked
        let c = g.addConstant(name: uses.freshName("w"), Tensor(shape: Shape([2, 2, 1, 1]), floats: [1, 1, 1, 1]))
        #expect(g.values[c].name == "w.1" && uses.freshName("w") == "w.2")
        uses.setInputs([id("x"), c], of: 0, in: &g)
        #expect(same(uses, DefUse(g), count: g.values.count))
        try g.verify()
    }
}
