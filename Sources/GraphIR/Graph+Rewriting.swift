/// Helpers for passes that rewrite graphs in place.
extension Graph {
    /// For each value, the indices of the nodes that read it (in node order).
    public func users() -> [[Int]] {
        var u = [[Int]](repeating: [], count: values.count)
        for (i, n) in nodes.enumerated() { for v in n.inputs where u[v].last != i { u[v].append(i) } }
        return u
    }

    /// The index of the node defining `v`, if a node does.
    public func producer(of v: ValueID) -> Int? {
        nodes.firstIndex { $0.outputs.contains(v) }
    }

    /// Whether `v` is read by exactly one node and is not a graph output.
    public func hasSingleUse(_ v: ValueID, users: [[Int]]) -> Bool {
        users[v].count == 1 && !outputs.contains(v) && nodes[users[v][0]].inputs.filter { $0 == v }.count == 1
    }

    /// Makes every reader of `old` (and the graph outputs) read `new` instead.
    public mutating func replaceAllUses(of old: ValueID, with new: ValueID) {
        for i in nodes.indices where nodes[i].inputs.contains(old) {
            nodes[i].inputs = nodes[i].inputs.map { $0 == old ? new : $0 }
        }
        outputs = outputs.map { $0 == old ? new : $0 }
    }

    /// A value name not used yet, starting from `base`. A scan, not a set: no allocation or
    /// hashing per call, so a pass that names one value per node stays cheap on long chains
    /// (pattern rewrites use `DefUse.freshName`, which keeps a set for the whole sweep).
    public func freshName(_ base: String) -> String {
        func taken(_ n: String) -> Bool { values.contains { $0.name == n } }
        if !taken(base) { return base }
        var i = 1
        while taken("\(base).\(i)") { i += 1 }
        return "\(base).\(i)"
    }

    /// Removes nodes whose results nothing reads (graph outputs count as read), constants no
    /// node reads, and values nothing defines; returns how many nodes were removed. Unchanged
    /// constants keep their storage (nothing is copied).
    @discardableResult
    public mutating func removeDeadCode() -> Int {
        var live = Set(outputs)
        var keep = [Bool](repeating: false, count: nodes.count)
        for i in stride(from: nodes.count - 1, through: 0, by: -1) where nodes[i].outputs.contains(where: live.contains)
        {
            keep[i] = true
            live.formUnion(nodes[i].inputs)
        }
        let before = nodes.count
        nodes = nodes.indices.filter { keep[$0] }.map { nodes[$0] }
        for id in constants.keys where !live.contains(id) { constants[id] = nil }
        self = canonicalized()
        return before - nodes.count
    }
}

/// A set of value names that hands out fresh ones: `base`, else `base.1`, `base.2`, … (for
/// builders and passes that name many values, where `Graph.freshName`'s scan would add up).
public struct NameSet: Sendable {
    private var taken: Set<String>

    public init(_ names: some Sequence<String> = []) { taken = Set(names) }

    /// A name not taken yet (from `base`, or "v" when it is empty), now taken.
    public mutating func fresh(_ base: String) -> String {
        let b = base.isEmpty ? "v" : base
        var n = b
        var i = 1
        while taken.contains(n) {
            n = "\(b).\(i)"
            i += 1
        }
        taken.insert(n)
        return n
    }
}
