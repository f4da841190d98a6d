import CKernels
import GraphIR

/// `<prefix>_preprocess`: the model's stored preprocessing (`fk_preprocess_u8`, the kernel
/// `fkdc preprocess` runs) on camera frames or decoded images, straight into `_run`'s input.
extension Emission {
    /// The preprocessing, when the model takes a 3-channel image of the size it produces.
    var preprocessing: (parameters: fk_preprocessing, summary: String)? {
        guard let pre = preprocess else { return nil }
        let x = g.values[g.inputs[0]].shape.dims
        guard x.count == 4, x[1] == 3, Int(pre.parameters.out_h) == x[2], Int(pre.parameters.out_w) == x[3] else {
            return nil
        }
        return pre
    }

    func preprocessHeader() -> String {
        guard let pre = preprocessing else { return "" }
        return """

            /* Preprocessing as compiled (fkdc preprocess gives the same floats): \(pre.summary).
             * pixels: width x height, rows `stride` bytes apart, as \(upper)_FORMAT_RGB, _BGR, _RGBA (8 bits a
             * channel) or _NV12 (a luma plane, then interleaved U, V at half resolution, both `stride` a
             * row; BT.601 limited range); input: \(upper)_INPUT_SIZE floats for \(p)_run. scratch:
             * \(p)_preprocess_scratch_bytes(width, height) bytes, 64-byte aligned. Returns 0, or −1 when an
             * argument is NULL or out of range, or the image does not preprocess to the model's size. */
            #define \(upper)_FORMAT_RGB \(FK_FORMAT_RGB)
            #define \(upper)_FORMAT_BGR \(FK_FORMAT_BGR)
            #define \(upper)_FORMAT_RGBA \(FK_FORMAT_RGBA)
            #define \(upper)_FORMAT_NV12 \(FK_FORMAT_NV12)
            size_t \(p)_preprocess_scratch_bytes(int width, int height);
            int \(p)_preprocess(const uint8_t *pixels, int width, int height, int stride, int format, float *input,
                                void *scratch);

            """
    }

    /// `fk_preprocessing`'s C initializer (`{resize, …, align, {order}, {mean}, {std}, pad}`), for
    /// generated C and CUDA.
    static func initializer(_ q: fk_preprocessing) -> String {
        let ints = [
            q.resize, q.resize_h, q.resize_w, q.crop_h, q.crop_w, q.out_h, q.out_w, q.filter, q.pipeline, q.align,
        ]
        let order = [q.order.0, q.order.1, q.order.2].map(String.init).joined(separator: ", ")
        let mean = [q.mean.0, q.mean.1, q.mean.2].map(cFloat).joined(separator: ", ")
        let std = [q.std.0, q.std.1, q.std.2].map(cFloat).joined(separator: ", ")
        return "{\(ints.map(String.init).joined(separator: ", ")), {\(order)}, {\(mean)}, {\(std)}, \(cFloat(q.pad))}"
    }

    /// The stored parameters and the two entry points (call after the kernels are chosen).
    func preprocessSource() -> String {
        guard let pre = preprocessing else { return "" }
        return """
            /* \(pre.summary) */
            static const fk_preprocessing \(p)_preprocessing = \(Self.initializer(pre.parameters));

            size_t \(p)_preprocess_scratch_bytes(int width, int height)
            {
                return fk_preprocess_scratch(&\(p)_preprocessing, width, height);
            }

            int \(p)_preprocess(const uint8_t *pixels, int width, int height, int stride, int format, float *input,
                                void *scratch)
            {
                const int bpp = format == \(FK_FORMAT_RGBA) ? 4 : format == \(FK_FORMAT_NV12) ? 1 : 3;
                if (pixels == NULL || input == NULL || scratch == NULL || (uintptr_t)scratch % 64 != 0) return -1;
                if (width <= 0 || stride / bpp < width) return -1;
                return fk_preprocess_u8(pixels, width, height, (size_t)stride, format, &\(p)_preprocessing, input, scratch);
            }


            """
    }
}
