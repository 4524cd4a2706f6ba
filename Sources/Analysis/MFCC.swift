import Foundation
import Media

/// Mel-frequency cepstral coefficients as `python_speech_features.mfcc` computes them with its defaults (the
/// active speaker models' audio front end): pre-emphasis, rectangular 25 ms frames every 10 ms (the last one
/// zero-padded), power spectrum of a zero-padded FFT divided by its size, a triangular mel filterbank on FFT bins,
/// log, orthonormal DCT-II, sinusoidal liftering, and the first coefficient replaced by the log frame energy.
///
/// Samples are taken on the 16-bit integer scale the reference read its WAV files at. Owns its FFT; not
/// thread-safe.
public final class MFCCFrontEnd {
    public struct Parameters: Sendable, Equatable {
        public var sampleRate = 16_000
        public var windowLength = 400
        public var hopLength = 160
        public var fftSize = 512
        public var melFilters = 26
        public var coefficients = 13
        public var preemphasis = 0.97
        public var lifter = 22.0

        public init() {}
    }

    public let parameters: Parameters
    private let fft: RealFFT
    /// `melFilters` rows of `fftSize / 2 + 1` weights.
    private let filterbank: [[Double]]
    private let dct: [[Double]]
    private let lift: [Double]

    public init(parameters: Parameters = .init()) throws(MediaError) {
        self.parameters = parameters
        fft = try RealFFT(size: parameters.fftSize)
        filterbank = Self.filterbank(parameters)
        let count = parameters.melFilters
        dct = (0..<parameters.coefficients).map { k in
            let scale = (k == 0 ? 1.0 : 2.0).squareRoot() / Double(count).squareRoot()
            return (0..<count).map { n in scale * cos(Double.pi * Double(k) * Double(2 * n + 1) / Double(2 * count)) }
        }
        lift = (0..<parameters.coefficients).map { 1 + parameters.lifter / 2 * sin(Double.pi * Double($0) / parameters.lifter) }
    }

    /// `coefficients` values per frame, one frame per `hopLength` samples, for samples in -1...1.
    public func coefficients(of samples: [Float]) -> [[Float]] {
        let p = parameters
        guard !samples.isEmpty else { return [] }
        var emphasised = [Float](repeating: 0, count: samples.count)
        emphasised[0] = samples[0] * 32768
        for index in 1..<samples.count {
            emphasised[index] = (samples[index] - Float(p.preemphasis) * samples[index - 1]) * 32768
        }
        let frameCount = samples.count <= p.windowLength ? 1 : 1 + Int((Double(samples.count - p.windowLength) / Double(p.hopLength)).rounded(.up))
        let padded = (frameCount - 1) * p.hopLength + p.windowLength
        emphasised += [Float](repeating: 0, count: max(0, padded - samples.count))
        var power = [Float](repeating: 0, count: p.fftSize / 2 + 1)
        var frames: [[Float]] = []
        frames.reserveCapacity(frameCount)
        for frame in 0..<frameCount {
            let start = frame * p.hopLength
            emphasised.withUnsafeBufferPointer { buffer in
                power.withUnsafeMutableBufferPointer { fft.powerSpectrum(of: UnsafeBufferPointer(rebasing: buffer[start..<(start + p.windowLength)]), into: $0) }
            }
            var energy = 0.0
            for value in power { energy += Double(value) / Double(p.fftSize) }
            let logMel = filterbank.map { weights in
                var sum = 0.0
                for (bin, weight) in weights.enumerated() where weight != 0 { sum += weight * Double(power[bin]) / Double(p.fftSize) }
                return log(sum == 0 ? Double.ulpOfOne : sum)
            }
            var cepstrum = dct.enumerated().map { k, row in
                var sum = 0.0
                for (n, value) in logMel.enumerated() { sum += row[n] * value }
                return Float(sum * lift[k])
            }
            cepstrum[0] = Float(log(energy == 0 ? Double.ulpOfOne : energy))
            frames.append(cepstrum)
        }
        return frames
    }

    private static func filterbank(_ p: Parameters) -> [[Double]] {
        func mel(_ hertz: Double) -> Double { 2595 * log10(1 + hertz / 700) }
        func hertz(_ mel: Double) -> Double { 700 * (pow(10, mel / 2595) - 1) }
        let top = mel(Double(p.sampleRate) / 2)
        let bins = (0..<(p.melFilters + 2)).map { index in
            (Double(p.fftSize + 1) * hertz(top * Double(index) / Double(p.melFilters + 1)) / Double(p.sampleRate)).rounded(.down)
        }
        return (0..<p.melFilters).map { j in
            var weights = [Double](repeating: 0, count: p.fftSize / 2 + 1)
            for bin in Int(bins[j])..<Int(bins[j + 1]) { weights[bin] = (Double(bin) - bins[j]) / (bins[j + 1] - bins[j]) }
            for bin in Int(bins[j + 1])..<Int(bins[j + 2]) { weights[bin] = (bins[j + 2] - Double(bin)) / (bins[j + 2] - bins[j + 1]) }
            return weights
        }
    }
}
