import Foundation
import Media

/// The speech model's front end: log-mel spectrogram, choice of the most energetic window, normalisation.
///
/// It mirrors `training/ser/frontend.py` exactly (the parameters come from the model card); a test on real
/// clips checks the two agree.
public final class SpeechFrontEnd {
    public struct Parameters: Sendable, Equatable {
        public var sampleRate: Int
        public var frameLength: Int
        public var hopLength: Int
        public var fftSize: Int
        public var melBands: Int
        public var minimumFrequency: Double
        public var maximumFrequency: Double
        public var logOffset: Double
        /// Frames in the model's input window.
        public var frames: Int
        public var normEpsilon: Double

        /// Reads the parameters from a speech model card's `input`.
        public init(card: ModelCard) throws(AnalysisError) {
            sampleRate = Int(try card.parameter("sample_rate"))
            frameLength = Int(try card.parameter("frame_length"))
            hopLength = Int(try card.parameter("hop_length"))
            fftSize = Int(try card.parameter("n_fft"))
            melBands = Int(try card.parameter("n_mels"))
            minimumFrequency = try card.parameter("fmin")
            maximumFrequency = try card.parameter("fmax")
            logOffset = try card.parameter("log_offset")
            frames = Int(try card.parameter("frames"))
            normEpsilon = try card.parameter("norm_epsilon")
            guard frameLength > 0, frameLength <= fftSize, hopLength > 0, melBands > 0, frames > 0,
                  fftSize & (fftSize - 1) == 0 else {
                throw AnalysisError(.invalidModelCard, reason: "\(card.name): inconsistent front-end parameters")
            }
        }
    }

    /// The log-mel window selected from a clip, before and after normalisation.
    public struct Window: Sendable {
        /// First frame of the window in the clip's frame sequence.
        public var start: Int
        /// Frames the whole clip has.
        public var clipFrames: Int
        /// Mean and standard deviation of the window before normalisation.
        public var mean: Double
        public var standardDeviation: Double
        /// `melBands x frames` normalised values, mel band major (row = band, column = time).
        public var values: [Float]
    }

    public let parameters: Parameters
    private let fft: RealFFT
    private let window: [Float]
    /// `melBands` rows of `fftSize / 2 + 1` weights.
    private let filterbank: [[Float]]
    /// For each band, the range of FFT bins with non-zero weight.
    private let filterSpans: [Range<Int>]

    public init(parameters: Parameters) throws(MediaError) {
        self.parameters = parameters
        fft = try RealFFT(size: parameters.fftSize)
        window = (0..<parameters.frameLength).map { n in
            Float(0.5 - 0.5 * cos(2 * Double.pi * Double(n) / Double(parameters.frameLength)))
        }
        filterbank = Self.melFilterbank(parameters)
        filterSpans = filterbank.map { weights in
            let first = weights.firstIndex { $0 > 0 } ?? 0
            let last = weights.lastIndex { $0 > 0 } ?? -1
            return first..<(last + 1)
        }
    }

    /// HTK-scale triangular filters between `minimumFrequency` and `maximumFrequency`, unnormalised.
    static func melFilterbank(_ p: Parameters) -> [[Float]] {
        func mel(_ hertz: Double) -> Double { 2595 * log10(1 + hertz / 700) }
        func hertz(_ mel: Double) -> Double { 700 * (pow(10, mel / 2595) - 1) }
        let low = mel(p.minimumFrequency)
        let high = mel(p.maximumFrequency)
        let points = (0..<(p.melBands + 2)).map { hertz(low + (high - low) * Double($0) / Double(p.melBands + 1)) }
        let bins = p.fftSize / 2 + 1
        return (0..<p.melBands).map { band in
            let (lower, centre, upper) = (points[band], points[band + 1], points[band + 2])
            return (0..<bins).map { bin in
                let frequency = Double(bin) * Double(p.sampleRate) / Double(p.fftSize)
                let rising = (frequency - lower) / (centre - lower)
                let falling = (upper - frequency) / (upper - centre)
                return Float(max(0, min(rising, falling)))
            }
        }
    }

    /// Log-mel frames of a clip (frame major) and each frame's linear mel energy.
    public func logMel(_ samples: [Float]) -> (frames: [[Float]], energies: [Double]) {
        let p = parameters
        guard samples.count >= p.frameLength else { return ([], []) }
        let count = 1 + (samples.count - p.frameLength) / p.hopLength
        var frames: [[Float]] = []
        frames.reserveCapacity(count)
        var energies: [Double] = []
        energies.reserveCapacity(count)
        var windowed = [Float](repeating: 0, count: p.frameLength)
        var power = [Float](repeating: 0, count: p.fftSize / 2 + 1)
        samples.withUnsafeBufferPointer { all in
            for index in 0..<count {
                let offset = index * p.hopLength
                for n in 0..<p.frameLength { windowed[n] = all[offset + n] * window[n] }
                windowed.withUnsafeBufferPointer { frame in
                    power.withUnsafeMutableBufferPointer { fft.powerSpectrum(of: frame, into: $0) }
                }
                var bands = [Float](repeating: 0, count: p.melBands)
                var energy = 0.0
                for band in 0..<p.melBands {
                    var sum: Float = 0
                    let weights = filterbank[band]
                    for bin in filterSpans[band] { sum += weights[bin] * power[bin] }
                    energy += Double(sum)
                    bands[band] = Float(log(Double(sum) + p.logOffset))
                }
                frames.append(bands)
                energies.append(energy)
            }
        }
        return (frames, energies)
    }

    /// The model input for a clip: the `frames`-long window with the most energy (padded when shorter),
    /// normalised to zero mean and unit variance.
    public func window(for samples: [Float]) -> Window {
        let p = parameters
        let (frames, energies) = logMel(samples)
        var start = 0
        if frames.count > p.frames {
            var cumulative = [0.0]
            cumulative.reserveCapacity(energies.count + 1)
            for energy in energies { cumulative.append(cumulative.last! + energy) }
            var best = -Double.infinity
            for candidate in 0...(frames.count - p.frames) {
                let total = cumulative[candidate + p.frames] - cumulative[candidate]
                if total > best {
                    best = total
                    start = candidate
                }
            }
        }
        let padding = Float(log(p.logOffset))
        var values = [Float](repeating: padding, count: p.melBands * p.frames)
        for column in 0..<min(p.frames, frames.count - start) {
            let frame = frames[start + column]
            for band in 0..<p.melBands { values[band * p.frames + column] = frame[band] }
        }
        var sum = 0.0
        for value in values { sum += Double(value) }
        let mean = sum / Double(values.count)
        var squares = 0.0
        for value in values { squares += (Double(value) - mean) * (Double(value) - mean) }
        let deviation = (squares / Double(values.count)).squareRoot()
        let scale = 1 / (deviation + p.normEpsilon)
        let normalised = values.map { Float((Double($0) - mean) * scale) }
        return Window(start: start, clipFrames: frames.count, mean: mean, standardDeviation: deviation, values: normalised)
    }
}
