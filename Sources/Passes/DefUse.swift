import GraphIR

/// Who defines and who reads each value, computed once per sweep of the pattern driver instead of
/// once per node: without it, every pattern asking for a producer or a user count made a pass
/// over a 20,000-node chain quadratic. Patterns that rewrite through `replaceAllUses`,
/// `setInputs` and `freshName` (and add constants) keep it current; any other change makes the
/// driver recompute it.
struct DefUse: Sendable {
    /// The node defining each value (nil for inputs, constants and dead values).
    private(set) var producers: [Int?]
    /// The nodes reading each value, ascending, each once.
    private(set) var readers: [[Int]]

    /// Every value name in the graph, and those handed out by `freshName` since.
    private var names: NameSet

    init(_ g: Graph) {
        names = NameSet(g.values.map(\.name))
        producers = [Int?](repeating: nil, count: g.values.count)
        readers = [[Int]](repeating: [], count: g.values.count)
        for (i, n) in g.nodes.enumerated() {
            for o in n.outputs where producers.indices.contains(o) { producers[o] = i }
            for v in n.inputs where readers.indices.contains(v) && readers[v].last != i { readers[v].append(i) }
        }
    }

    func producer(of v: ValueID) -> Int? { producers.indices.contains(v) ? producers[v] : nil }

    func readers(of v: ValueID) -> [Int] { readers.indices.contains(v) ? readers[v] : [] }

    /// Whether `v` is read by exactly one node, once, and is not a graph output.
    func hasSingleUse(_ v: ValueID, in g: Graph) -> Bool {
        let r = readers(of: v)
        return r.count == 1 && !g.outputs.contains(v) && g.nodes[r[0]].inputs.filter { $0 == v }.count == 1
    }

    /// `Graph.freshName` without a pass over every value: a name not used yet, from `base`.
    mutating func freshName(_ base: String) -> String { names.fresh(base) }

    private mutating func grow(to v: ValueID) {
        if v >= readers.count {
            readers += [[Int]](repeating: [], count: v + 1 - readers.count)
            producers += [Int?](repeating: nil, count: v + 1 - producers.count)
        }
    }

    /// `Graph.replaceAllUses` touching only the readers of `old`.
    mutating func replaceAllUses(of old: ValueID, with new: ValueID, in g: inout Graph) {
        guard old != new else { return }
        grow(to: max(old, new))
        for i in readers[old] { g.nodes[i].inputs = g.nodes[i].inputs.map { $0 == old ? new : $0 } }
        if g.outputs.contains(old) { g.outputs = g.outputs.map { $0 == old ? new : $0 } }
        readers[new] = Array(Set(readers[new] + readers[old])).sorted()
        readers[old] = []
    }

    /// Sets the inputs of node `i`, keeping the readers of the old and new inputs current.
    mutating func setInputs(_ inputs: [ValueID], of i: Int, in g: inout Graph) {
        for v in Set(g.nodes[i].inputs) where readers.indices.contains(v) { readers[v].removeAll { $0 == i } }
        g.nodes[i].inputs = inputs
        for v in Set(inputs) {
            grow(to: v)
            let k = readers[v].firstIndex { $0 > i } ?? readers[v].count
            readers[v].insert(i, at: k)
        }
    }
}
