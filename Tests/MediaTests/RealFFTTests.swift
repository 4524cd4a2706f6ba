import Foundation
import Media
import Testing

@Suite struct RealFFTTests {
    @Test func powerSpectrumMatchesADirectDFT() throws {
        let size = 64
        let fft = try RealFFT(size: size)
        let samples: [Float] = (0..<50).map { Float(sin(Double($0) * 0.7) + 0.3 * cos(Double($0) * 2.1)) }
        var power = [Float](repeating: 0, count: size / 2 + 1)
        samples.withUnsafeBufferPointer { input in
            power.withUnsafeMutableBufferPointer { fft.powerSpectrum(of: input, into: $0) }
        }
        for bin in 0...(size / 2) {
            var real = 0.0
            var imaginary = 0.0
            for (n, sample) in samples.enumerated() {
                let angle = -2 * Double.pi * Double(bin * n) / Double(size)
                real += Double(sample) * cos(angle)
                imaginary += Double(sample) * sin(angle)
            }
            let expected = real * real + imaginary * imaginary
            #expect(abs(Double(power[bin]) - expected) <= 1e-3 * max(1, expected), "bin \(bin)")
        }
    }
}
