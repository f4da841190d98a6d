/// A box of elements copied from one buffer to another through strides (in elements):
/// y[destination + Σ i_k·destinationStrides[k]] = x[source + Σ i_k·sourceStrides[k]] for every
/// index i < counts. The layout ops (transpose, slice, each input of a concat) as every backend
/// runs them: the float32 C kernels on row-major buffers, the int8 evaluator on NCHW codes, the
/// int8 C and CUDA kernels on each value's own layout (channel-last maps).
public struct StridedCopy: Sendable, Equatable {
    public var counts: [Int]
    public var source: Int
    public var sourceStrides: [Int]
    public var destination: Int
    public var destinationStrides: [Int]

    public init(counts: [Int], source: Int, sourceStrides: [Int], destination: Int, destinationStrides: [Int]) {
        self.counts = counts
        self.source = source
        self.sourceStrides = sourceStrides
        self.destination = destination
        self.destinationStrides = destinationStrides
    }

    public var elementCount: Int { counts.reduce(1, *) }

    /// The copies `op` makes, one per input (in order), from inputs of `inputs` dims to an
    /// output of `output` dims, each value's strides per logical axis given by `strides` (called
    /// with the input's index, or nil for the output, and its dims); nil for other ops.
    public static func of(_ op: Op, inputs: [[Int]], output: [Int], strides: (Int?, [Int]) -> [Int]) -> [StridedCopy]? {
        let ys = strides(nil, output)
        switch op {
        case .transpose(let perm):
            guard inputs.count == 1, perm.count == inputs[0].count, perm.count == output.count else { return nil }
            let xs = strides(0, inputs[0])
            return [
                StridedCopy(
                    counts: output, source: 0, sourceStrides: perm.map { xs[$0] }, destination: 0,
                    destinationStrides: ys)
            ]
        case .slice(let axis, let start, let end, let step):
            guard inputs.count == 1, let ax = ShapeInference.axis(axis, rank: inputs[0].count), step > 0 else {
                return nil
            }
            let (s, _) = ShapeInference.sliceBounds(start: start, end: end, dim: inputs[0][ax])
            var xs = strides(0, inputs[0])
            let offset = s * xs[ax]
            xs[ax] *= step
            return [
                StridedCopy(counts: output, source: offset, sourceStrides: xs, destination: 0, destinationStrides: ys)
            ]
        case .concat(let axis):
            guard let ax = ShapeInference.axis(axis, rank: output.count) else { return nil }
            var at = 0
            var copies: [StridedCopy] = []
            for (i, d) in inputs.enumerated() {
                guard d.count == output.count else { return nil }
                copies.append(
                    StridedCopy(
                        counts: d, source: 0, sourceStrides: strides(i, d), destination: at * ys[ax],
                        destinationStrides: ys))
                at += d[ax]
            }
            return copies
        default:
            return nil
        }
    }

    /// The same elements with axes of one element dropped, the rest ordered by destination
    /// stride (largest first, so writes run forward) and axes contiguous in both buffers merged:
    /// what a kernel loops over. At least one axis.
    public func simplified() -> StridedCopy {
        var axes = counts.indices.filter { counts[$0] != 1 }
        if counts.contains(0) { axes = [] }
        axes.sort { destinationStrides[$0] > destinationStrides[$1] }
        var c: [Int] = []
        var xs: [Int] = []
        var ys: [Int] = []
        for a in axes {
            if let last = c.indices.last, xs[last] == counts[a] * sourceStrides[a],
                ys[last] == counts[a] * destinationStrides[a]
            {
                c[last] *= counts[a]
                xs[last] = sourceStrides[a]
                ys[last] = destinationStrides[a]
            } else {
                c.append(counts[a])
                xs.append(sourceStrides[a])
                ys.append(destinationStrides[a])
            }
        }
        if c.isEmpty { (c, xs, ys) = ([counts.contains(0) ? 0 : 1], [1], [1]) }
        return StridedCopy(
            counts: c, source: source, sourceStrides: xs, destination: destination, destinationStrides: ys)
    }

    /// Calls `body(sourceIndex, destinationIndex)` for every element, the last axis fastest.
    public func forEach(_ body: (Int, Int) -> Void) {
        let rank = counts.count
        guard !counts.contains(0) else { return }
        guard rank > 0 else { return body(source, destination) }
        var idx = [Int](repeating: 0, count: rank)
        var (xo, yo) = (source, destination)
        while true {
            body(xo, yo)
            var d = rank - 1
            while true {
                idx[d] += 1
                xo += sourceStrides[d]
                yo += destinationStrides[d]
                if idx[d] < counts[d] { break }
                xo -= sourceStrides[d] * counts[d]
                yo -= destinationStrides[d] * counts[d]
                idx[d] = 0
                if d == 0 { return }
                d -= 1
            }
        }
    }
}
