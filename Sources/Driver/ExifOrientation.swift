/// EXIF orientation (`--exif-orientation`): the tag 0x0112 of a JPEG's APP1 "Exif" segment or a
/// PNG's eXIf chunk, and the pixels turned upright as PIL's `ImageOps.exif_transpose` turns them.
/// Off by default: PIL's `Image.open` (ImageFolder's loader) and torchvision's `decode_jpeg`
/// leave the pixels as stored, so a model trained through them saw them unrotated.
enum ExifOrientation {
    /// The orientation 1…8 a file's bytes declare, or 1 (as stored) when they declare none or
    /// something unreadable. Every offset is checked against the bytes.
    static func of(_ b: UnsafeRawBufferPointer) -> Int {
        if b.count >= 4, b[0] == 0xFF, b[1] == 0xD8 { return jpeg(b) }
        if b.count >= 8, b[0] == 0x89, b[1] == 0x50, b[2] == 0x4E, b[3] == 0x47 { return png(b) }
        return 1
    }

    static func jpeg(_ b: UnsafeRawBufferPointer) -> Int {
        var i = 2
        while i + 4 <= b.count, b[i] == 0xFF {
            let marker = b[i + 1]
            if marker == 0xD9 || marker == 0xDA { break }  // end of image, start of scan: no EXIF before
            let length = Int(b[i + 2]) << 8 | Int(b[i + 3])
            guard length >= 2, i + 2 + length <= b.count else { break }
            let body = i + 4
            if marker == 0xE1, length >= 8, b[body] == 0x45, b[body + 1] == 0x78, b[body + 2] == 0x69,
                b[body + 3] == 0x66, b[body + 4] == 0, b[body + 5] == 0
            {
                return tiff(b, from: body + 6, to: i + 2 + length)
            }
            i += 2 + length
        }
        return 1
    }

    static func png(_ b: UnsafeRawBufferPointer) -> Int {
        var i = 8
        while i + 12 <= b.count {
            let length = (0..<4).reduce(0) { $0 << 8 | Int(b[i + $1]) }
            guard length <= b.count - i - 12 else { break }
            if b[i + 4] == 0x65, b[i + 5] == 0x58, b[i + 6] == 0x49, b[i + 7] == 0x66 {  // eXIf
                return tiff(b, from: i + 8, to: i + 8 + length)
            }
            if b[i + 4] == 0x49, b[i + 5] == 0x44, b[i + 6] == 0x41, b[i + 7] == 0x54 { break }  // IDAT
            i += 12 + length
        }
        return 1
    }

    /// Tag 0x0112 (SHORT) of IFD0 of the TIFF structure in b[start..<end].
    static func tiff(_ b: UnsafeRawBufferPointer, from start: Int, to end: Int) -> Int {
        guard end - start >= 8 else { return 1 }
        let little: Bool
        if b[start] == 0x49, b[start + 1] == 0x49 {
            little = true
        } else if b[start] == 0x4D, b[start + 1] == 0x4D {
            little = false
        } else {
            return 1
        }
        func u16(_ o: Int) -> Int? {
            guard o >= start, o + 2 <= end else { return nil }
            return little ? Int(b[o]) | Int(b[o + 1]) << 8 : Int(b[o]) << 8 | Int(b[o + 1])
        }
        func u32(_ o: Int) -> Int? {
            guard let a = u16(o), let c = u16(o + 2) else { return nil }
            return little ? a | c << 16 : a << 16 | c
        }
        guard let ifd = u32(start + 4), ifd <= end - start, let count = u16(start + ifd) else { return 1 }
        for k in 0..<count {
            let e = start + ifd + 2 + 12 * k
            guard let tag = u16(e) else { return 1 }
            if tag == 0x0112 {
                guard u16(e + 2) == 3, let v = u16(e + 8), (1...8).contains(v) else { return 1 }
                return v
            }
        }
        return 1
    }

    /// Packed RGB `px` (w × h) upright for `orientation`: the new pixels and size.
    static func apply(_ orientation: Int, _ px: UnsafePointer<UInt8>, width w: Int, height h: Int) -> (
        pixels: [UInt8], width: Int, height: Int
    ) {
        let swaps = orientation >= 5
        let (ow, oh) = swaps ? (h, w) : (w, h)
        var out = [UInt8](repeating: 0, count: w * h * 3)
        for y in 0..<oh {
            for x in 0..<ow {
                // the stored pixel that lands at (x, y) of the upright image
                let (sx, sy): (Int, Int)
                switch orientation {
                case 2: (sx, sy) = (w - 1 - x, y)  // mirrored
                case 3: (sx, sy) = (w - 1 - x, h - 1 - y)  // rotated 180°
                case 4: (sx, sy) = (x, h - 1 - y)  // mirrored vertically
                case 5: (sx, sy) = (y, x)  // transposed
                case 6: (sx, sy) = (y, h - 1 - x)  // stored rotated 90° counter-clockwise
                case 7: (sx, sy) = (w - 1 - y, h - 1 - x)  // transversed
                case 8: (sx, sy) = (w - 1 - y, x)  // stored rotated 90° clockwise
                default: (sx, sy) = (x, y)
                }
                for c in 0..<3 { out[(y * ow + x) * 3 + c] = px[(sy * w + sx) * 3 + c] }
            }
        }
        return (out, ow, oh)
    }
}
