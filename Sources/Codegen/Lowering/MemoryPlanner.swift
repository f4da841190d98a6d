/// Places buffers in one workspace: each block lives from the step that defines it to the last
/// step that reads it, and two blocks live at the same step never overlap. Largest first, each
/// at the lowest offset clear of the blocks it shares a step with (first fit); offsets are
/// multiples of `alignment`. Deterministic: equal sizes go in block order.
public struct MemoryPlanner: Sendable {
    public struct Block: Sendable {
        public var bytes: Int
        /// The first and last step that touch it.
        public var first: Int
        public var last: Int
        public init(bytes: Int, first: Int, last: Int) {
            self.bytes = bytes
            self.first = first
            self.last = max(last, first)
        }
    }

    public var alignment = 16

    public init() {}

    /// Each block's offset, and the workspace size.
    public func place(_ blocks: [Block], steps: Int) -> (offsets: [Int], bytes: Int) {
        let order = blocks.indices.sorted { (blocks[$0].bytes, -$0) > (blocks[$1].bytes, -$1) }
        var offsets = [Int](repeating: 0, count: blocks.count)
        var sizes = [Int](repeating: 0, count: blocks.count)
        var total = 0
        // the blocks placed so far that are live at each step: a new block's possible clashes
        // are found through its own lifetime, not by testing every block placed
        var liveAt = [[Int]](repeating: [], count: steps + 1)
        var seenBy = [Int](repeating: -1, count: blocks.count)
        var rank = [Int](repeating: 0, count: blocks.count)
        for (k, b) in order.enumerated() {
            rank[b] = k
            let bytes = (blocks[b].bytes + alignment - 1) / alignment * alignment
            let life = blocks[b].first...min(blocks[b].last, steps)
            var found: [Int] = []
            for t in life {
                for p in liveAt[t] where seenBy[p] != b {
                    seenBy[p] = b
                    found.append(p)
                }
            }
            let clashes = found.sorted { (offsets[$0], rank[$0]) < (offsets[$1], rank[$1]) }
            // first fit; an earlier block may overlap after moving past a later one: retry until clear
            var offset = 0
            var moved = true
            while moved {
                moved = false
                for c in clashes where offset + bytes > offsets[c] && offset < offsets[c] + sizes[c] {
                    offset = offsets[c] + sizes[c]
                    moved = true
                }
            }
            for t in life { liveAt[t].append(b) }
            offsets[b] = offset
            sizes[b] = bytes
            total = max(total, offset + bytes)
        }
        return (offsets, total)
    }
}
