import CKernels
import GraphIR

/// How generated C holds its weights.
///
/// Embedded (the default): every array is `static const` in `model.c`. External (`--weights
/// external`): the large arrays (int8 weights, float32 weights and constants) are not in the C;
/// `<prefix>_prepare` unpacks them from the `.fkdc` the caller maps into a caller buffer of
/// `<PREFIX>_PACKED_BYTES`, in the kernels' layouts, and each run reads them there. Biases (their
/// input zero point folded in) and requantization tables stay in the C: they are derived, and
/// small.
public struct ExternalWeights: Sendable {
    /// Where each constant's data starts in the `.fkdc` file, by value name (`FkdcFile.layout`).
    public var offsets: [String: Int]
    public var fileBytes: Int
    /// The file's CRC-32 (its header field): `_prepare` accepts only the file the C was made with.
    public var crc: UInt32

    public init(offsets: [String: Int], fileBytes: Int, crc: UInt32) {
        self.offsets = offsets
        self.fileBytes = fileBytes
        self.crc = crc
    }

    /// The offsets, size and CRC-32 of a `.fkdc` file's bytes from `FkdcFile.layout`.
    public init(layout: (bytes: [UInt8], offsets: [String: Int])) {
        let b = layout.bytes
        let at = FkdcFile.crcOffset
        self.init(
            offsets: layout.offsets, fileBytes: b.count,
            crc: UInt32(b[at]) | UInt32(b[at + 1]) << 8 | UInt32(b[at + 2]) << 16 | UInt32(b[at + 3]) << 24)
    }
}

/// A weight tensor's layout in the kernels, as strided copies from the IR's row-major layout:
/// one description gives both the embedded array and the C that unpacks the external one.
/// The int8 1×1 (and linear) kernel for weights [O, K] and its layout. NEON targets take rows of
/// bytes (`fk_pointwise_dot`), the others quads of inputs (`fk_pointwise_quad`, VPDPBUSD where
/// the compiler targets VNNI), both summing two products in 16 bits, so only without a −128
/// weight; with one, pairs widened to 16 bits (`fk_pointwise`). The emitter and fkdc's own
/// evaluator (`CKernelLayers`) choose here.
enum PointwiseKernel {
    case pairs, quads, rows

    init(weights: Tensor, neon: Bool) {
        self = weights.bytes.contains(0x80) ? .pairs : neon ? .rows : .quads
    }

    var name: String {
        switch self {
        case .pairs: "fk_pointwise"
        case .quads: "fk_pointwise_quad"
        case .rows: "fk_pointwise_dot"
        }
    }

    func layout(o: Int, k: Int) -> WeightLayout {
        switch self {
        case .pairs: .pairs(rows: o, cols: k)
        case .quads: .quads(rows: o, cols: k)
        case .rows: .dotRows(o: o, cg: k, kk: 1, stride: k)
        }
    }
}

enum WeightLayout {
    /// [rows][cols] → [cols/2][rows][2], input-channel pairs (a zero pads an odd count): `fk_pointwise`.
    case pairs(rows: Int, cols: Int)
    /// [rows][cols] → [cols/4][rows][4], input-channel quads (zeros pad the last): `fk_pointwise_quad`.
    case quads(rows: Int, cols: Int)
    /// [C][kk] → [kk][C]: `fk_depthwise`.
    case depthwise(channels: Int, kk: Int)
    /// [O][Cg][kk] → [kk][Cg][O]: `fk_conv_dense`.
    case dense(o: Int, cg: Int, kk: Int)
    /// [O][Cg][kk] → [O][kk][Cg]: `fk_conv`.
    case general(o: Int, cg: Int, kk: Int)
    /// [O][Cg][kk] → rows of `stride` bytes holding [kk][Cg], zero-padded, each group of four rows
    /// with its first stride − stride % 16 columns as [·/16][4][16] and the rest as [4][stride % 16];
    /// the last O % 4 rows plain: `fk_pointwise_dot` (kk = 1, stride = Cg) and `fk_conv_dot`.
    case dotRows(o: Int, cg: Int, kk: Int, stride: Int)
    /// [rows][cols] → [cols][rows]: `fk_gemm_f32`.
    case transposed(rows: Int, cols: Int)
    case identity(count: Int)

    /// dst[dst + Σ i·ds] = src[src + Σ i·ss] over `dims` (element offsets and strides).
    struct Copy {
        var src: Int
        var dims: [Int]
        var ss: [Int]
        var dst: Int
        var ds: [Int]
    }

    var count: Int {
        switch self {
        case .pairs(let r, let c): (c + 1) / 2 * r * 2
        case .quads(let r, let c): (c + 3) / 4 * r * 4
        case .depthwise(let c, let kk): c * kk
        case .dense(let o, let cg, let kk), .general(let o, let cg, let kk): o * cg * kk
        case .dotRows(let o, _, _, let stride): o * stride
        case .transposed(let r, let c): r * c
        case .identity(let n): n
        }
    }

    var copies: [Copy] {
        let all: [Copy]
        switch self {
        case .pairs(let o, let k):
            let p = (k + 1) / 2
            var c = [Copy(src: 0, dims: [k / 2, o, 2], ss: [2, k, 1], dst: 0, ds: [2 * o, 2, 1])]
            if k % 2 == 1 { c.append(Copy(src: k - 1, dims: [o], ss: [k], dst: (p - 1) * o * 2, ds: [2])) }
            all = c
        case .quads(let o, let k):
            var c = [Copy(src: 0, dims: [k / 4, o, 4], ss: [4, k, 1], dst: 0, ds: [4 * o, 4, 1])]
            if k % 4 != 0 {
                c.append(Copy(src: k / 4 * 4, dims: [o, k % 4], ss: [k, 1], dst: k / 4 * o * 4, ds: [4, 1]))
            }
            all = c
        case .depthwise(let c, let kk):
            all = [Copy(src: 0, dims: [kk, c], ss: [1, kk], dst: 0, ds: [c, 1])]
        case .dense(let o, let cg, let kk):
            all = [Copy(src: 0, dims: [kk, cg, o], ss: [1, kk, cg * kk], dst: 0, ds: [cg * o, o, 1])]
        case .general(let o, let cg, let kk):
            all = [Copy(src: 0, dims: [o, kk, cg], ss: [cg * kk, 1, kk], dst: 0, ds: [kk * cg, cg, 1])]
        case .dotRows(let o, let cg, let kk, let stride):
            all = Self.dotRowCopies(o: o, cg: cg, kk: kk, stride: stride)
        case .transposed(let r, let c):
            all = [Copy(src: 0, dims: [c, r], ss: [1, c], dst: 0, ds: [r, 1])]
        case .identity(let n):
            all = [Copy(src: 0, dims: [n], ss: [1], dst: 0, ds: [1])]
        }
        return all.filter { !$0.dims.contains(0) }
    }

    /// `dotRows`: the groups of four rows by runs of a window position's channels that stay in one
    /// 16-column block (one copy of all of them where kk = 1), then the last O % 4 rows.
    static func dotRowCopies(o: Int, cg: Int, kk: Int, stride s: Int) -> [Copy] {
        let (groups, k16) = (o / 4, s - s % 16)
        let rowBytes = cg * kk
        var c: [Copy] = []
        if kk == 1 && s == cg {
            c.append(
                Copy(
                    src: 0, dims: [groups, k16 / 16, 4, 16], ss: [4 * cg, 16, cg, 1], dst: 0, ds: [4 * s, 64, 16, 1]))
            let rest = cg - k16
            if rest > 0 {
                c.append(
                    Copy(
                        src: k16, dims: [groups, 4, rest], ss: [4 * cg, cg, 1], dst: 4 * k16, ds: [4 * s, s - k16, 1]))
            }
        } else {
            for t in 0..<kk {
                var ch = 0
                while ch < cg {
                    let col = t * cg + ch
                    let run = col < k16 ? min(cg - ch, 16 - col % 16) : cg - ch
                    let (dst, rowStride) =
                        col < k16 ? (4 * (col - col % 16) + col % 16, 16) : (4 * k16 + col - k16, s - k16)
                    c.append(
                        Copy(
                            src: ch * kk + t, dims: [groups, 4, run], ss: [4 * rowBytes, rowBytes, kk], dst: dst,
                            ds: [4 * s, rowStride, 1]))
                    ch += run
                }
            }
        }
        c.append(
            Copy(
                src: groups * 4 * rowBytes, dims: [o % 4, kk, cg], ss: [rowBytes, 1, kk], dst: groups * 4 * s,
                ds: [s, cg, 1]))
        return c
    }

    /// The array in this layout (positions no copy writes stay `zero`).
    func apply<T>(_ a: [T], zero: T) -> [T] {
        var out = [T](repeating: zero, count: count)
        for c in copies {
            var idx = [Int](repeating: 0, count: c.dims.count)
            for _ in 0..<c.dims.reduce(1, *) {
                var s = c.src
                var d = c.dst
                for (j, i) in idx.enumerated() {
                    s += i * c.ss[j]
                    d += i * c.ds[j]
                }
                out[d] = a[s]
                var j = idx.count - 1
                while j >= 0 {
                    idx[j] += 1
                    if idx[j] < c.dims[j] { break }
                    idx[j] = 0
                    j -= 1
                }
            }
        }
        return out
    }
}

extension Emission {
    /// A weight array for a kernel: `static const` in the C, or with external weights a pointer
    /// into the packed buffer that `_prepare` fills from the `.fkdc` (the constant `source`).
    mutating func weights(_ source: ValueID, _ layout: WeightLayout, for n: Node) throws(CodegenError) -> String {
        guard let t = g.constants[source] else { throw fail(n, "needs constant weights") }
        let (type, size) = t.dtype == .int8 ? ("int8_t", 1) : ("float", 4)
        guard t.dtype == .int8 || t.dtype == .float32 else { throw fail(n, "weights of \(t.dtype.rawValue)") }
        guard let ext = external else {
            if t.dtype == .int8 {
                return array("int8_t", "w", layout.apply(t.int64ArrayExact().map { Int8($0) }, zero: 0))
            }
            return floatArray("w", layout.apply(t.floatArray(), zero: 0))
        }
        guard let fileOffset = ext.offsets[g.values[source].name] else {
            throw fail(n, "weights '\(g.values[source].name)' are not in the .fkdc")
        }
        let name = name("w")
        let offset = (packedBytes + 15) / 16 * 16
        packedBytes = offset + layout.count * size
        constants.append("#define \(name) ((const \(type) *)(wts + \(offset)))")
        for c in layout.copies {
            pack.append(
                "    fk_pack(f + \(fileOffset + c.src * size), p + \(offset + c.dst * size), \(size), \(c.dims.count), \(Self.ints(c.dims)), \(Self.ints(c.ss)), \(Self.ints(c.ds)));"
            )
        }
        return name
    }
}
