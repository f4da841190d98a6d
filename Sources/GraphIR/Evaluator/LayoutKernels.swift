extension Kernels {
    static func transpose(_ x: FloatBuffer, perm: [Int]) -> FloatBuffer {
        let outShape = perm.map { x.shape[$0] }
        let out = FloatBuffer(shape: outShape)
        let inStrides = Shape(x.shape).strides
        let strides = perm.map { inStrides[$0] }
        let rank = outShape.count
        var idx = [Int](repeating: 0, count: rank)
        var off = 0
        let src = x.ptr
        let dst = out.ptr
        for i in 0..<out.count {
            dst[i] = src[off]
            var d = rank - 1
            while d >= 0 {
                idx[d] += 1
                off += strides[d]
                if idx[d] < outShape[d] { break }
                off -= strides[d] * idx[d]
                idx[d] = 0
                d -= 1
            }
        }
        return out
    }

    static func concat(_ xs: [FloatBuffer], axis: Int, outShape: [Int]) -> FloatBuffer {
        let out = FloatBuffer(shape: outShape)
        let inner = outShape[(axis + 1)...].reduce(1, *)
        let outer = outShape[..<axis].reduce(1, *)
        var dst = out.ptr
        for o in 0..<outer {
            for x in xs {
                let chunk = x.shape[axis] * inner
                dst.update(from: x.ptr + o * chunk, count: chunk)
                dst += chunk
            }
        }
        return out
    }

    static func slice(_ x: FloatBuffer, axis: Int, start: Int, step: Int, outShape: [Int]) -> FloatBuffer {
        let out = FloatBuffer(shape: outShape)
        let inner = x.shape[(axis + 1)...].reduce(1, *)
        let outer = x.shape[..<axis].reduce(1, *)
        let (len, outLen) = (x.shape[axis], outShape[axis])
        for o in 0..<outer {
            for j in 0..<outLen {
                (out.ptr + (o * outLen + j) * inner).update(
                    from: x.ptr + (o * len + start + j * step) * inner, count: inner)
            }
        }
        return out
    }

    static func gather(_ x: FloatBuffer, indices: [Int64], axis: Int, outShape: [Int]) -> FloatBuffer {
        let out = FloatBuffer(shape: outShape)
        let inner = x.shape[(axis + 1)...].reduce(1, *)
        let outer = x.shape[..<axis].reduce(1, *)
        let len = x.shape[axis]
        var dst = out.ptr
        for o in 0..<outer {
            for i in indices {
                let j = i < 0 ? Int(i) + len : Int(i)
                dst.update(from: x.ptr + (o * len + j) * inner, count: inner)
                dst += inner
            }
        }
        return out
    }
}
