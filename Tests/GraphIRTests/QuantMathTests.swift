import Testing

@testable import GraphIR

@Suite struct QuantMathTests {
    @Test func sqrdmulhEdgeCases() {
        #expect(QuantMath.sqrdmulh(0, 1 << 30) == 0)
        #expect(QuantMath.sqrdmulh(.min, .min) == .max)  // the one 64-bit overflow saturates
        #expect(QuantMath.sqrdmulh(1 << 30, 1 << 30) == 1 << 29)
        #expect(QuantMath.sqrdmulh(.max, .max) == Int32.max - 1)
        #expect(QuantMath.sqrdmulh(.min, .max) == Int32.min + 1)
        // the rounding tie: exactly one half rounds up (towards +∞)
        #expect(QuantMath.sqrdmulh(1, 1 << 30) == 1)
        #expect(QuantMath.sqrdmulh(-1, 1 << 30) == 0)
        #expect(QuantMath.sqrdmulh(3, 1 << 30) == 2)
        #expect(QuantMath.sqrdmulh(-3, 1 << 30) == -1)
    }

    @Test func roundingShifts() {
        #expect(QuantMath.rshr(12345, 0) == 12345)
        #expect(QuantMath.rshr(5, 1) == 3)
        #expect(QuantMath.rshr(-5, 1) == -2)
        #expect(QuantMath.rshr(.max, 31) == 1)
        #expect(QuantMath.rshr(.min, 31) == -1)
        #expect(QuantMath.rshr(.max, 1) == 1 << 30)  // the 64-bit sum does not overflow
        #expect(QuantMath.sqshl(3, 0) == 3)
        #expect(QuantMath.sqshl(1 << 30, 2) == .max)
        #expect(QuantMath.sqshl(-(1 << 30), 2) == .min)
        #expect(QuantMath.sqshl(-5, 3) == -40)
    }

    @Test(arguments: [0.5, 0.75, 1.0, 1.5, 3.0e-3, 1.0e-6, 0.999_999_999_9, 12.5])
    func requantizerRepresentsTheReal(real: Double) {
        let q = Requantizer(real: real)
        #expect(q.multiplier >= 1 << 30)
        #expect(abs(q.real - real) <= real * 1e-9)
    }

    @Test func requantizerEdgeCases() {
        #expect(Requantizer(real: 0).multiplier == 0)
        #expect(Requantizer(real: .nan).multiplier == 0)
        let one = Requantizer(real: 1)
        #expect(one == Requantizer(multiplier: 1 << 30, leftShift: 1, rightShift: 0))
        let tiny = Requantizer(real: 1e-12)  // would need a right shift past 31
        #expect(tiny.rightShift == 31)
        #expect(QuantMath.requantize(1 << 30, tiny, zeroPoint: 0, lo: -128, hi: 127) == 0)
        // a multiplier rounding up to 2^31 moves to the next power of two
        let r = Requantizer(real: 0.999_999_999_99)
        #expect(r == Requantizer(multiplier: 1 << 30, leftShift: 1, rightShift: 0))
    }

    @Test func requantizeAppliesZeroPointAndClamp() {
        let half = Requantizer(real: 0.5)
        #expect(QuantMath.requantize(10, half, zeroPoint: 3, lo: -128, hi: 127) == 8)
        #expect(QuantMath.requantize(11, half, zeroPoint: 0, lo: -128, hi: 127) == 6)  // 5.5 → 6
        #expect(QuantMath.requantize(-11, half, zeroPoint: 0, lo: -128, hi: 127) == -5)  // −5.5 → −5
        #expect(QuantMath.requantize(.max, half, zeroPoint: 0, lo: -128, hi: 127) == 127)
        #expect(QuantMath.requantize(.min, half, zeroPoint: 0, lo: -128, hi: 127) == -128)
        #expect(QuantMath.requantize(0, half, zeroPoint: -20, lo: -10, hi: 127) == -10)  // a fused ReLU's clamp
    }

    @Test func parameters() {
        let p = QuantMath.activationParams(min: 0, max: 6)
        #expect(p.zeroPoints == [-128])
        #expect(abs(p.scales[0] - 6 / 255) < 1e-9)
        #expect(QuantMath.quantize(0, scale: p.scales[0], zeroPoint: -128) == -128)  // zero is exact
        let s = QuantMath.activationParams(min: 2, max: 3)  // widened to include 0
        #expect(s.zeroPoints == [-128])
        let (q, scales) = QuantMath.quantizeWeights([0.5, -1, 0.25, 0, 0, 0], channels: 2)
        #expect(q == [64, -127, 32, 0, 0, 0])
        #expect(scales == [1 / 127, 1])
        #expect(QuantMath.quantizeBias([1], inputScale: 0.5, weightScales: [0.25]) == [8])
        #expect(QuantMath.quantize(.infinity, scale: 1, zeroPoint: 0) == 127)
        #expect(QuantMath.quantize(-1e30, scale: 1, zeroPoint: 0) == -128)
    }
}
