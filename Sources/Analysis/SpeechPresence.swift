import Foundation
import Media

/// Whether audio holds speech, decided from the audio itself: voiced frames (a periodic signal in the range of
/// voice pitch) whose pitch keeps moving, as a voice's does and a tone's, a hum's or an instrument note's does not.
///
/// The audio is high-passed at 60 Hz; per 40 ms frame (hop 20 ms) the detector measures periodicity with YIN's
/// normalised difference function at lags of 2 to 16.7 ms (500 to 60 Hz), computed from the autocorrelation by FFT.
/// A frame is voiced when its periodicity reaches ``Thresholds/voicing`` and the frame is loud enough. The audio holds speech when it has at least ``Thresholds/voicedSeconds`` of voiced frames and
/// the median pitch change between neighbouring voiced frames reaches ``Thresholds/pitchMotion`` semitones.
///
/// Owns its FFTs; not thread-safe — give each thread its own instance.
public final class SpeechPresenceDetector {
    /// The decision thresholds. The defaults were measured on RAVDESS speech (actors 1-16) against generated
    /// non-speech (`scripts/speech-presence`), then checked on actors 17-20 and a second generated set.
    public struct Thresholds: Sendable, Equatable {
        /// Periodicity, 1 - YIN's normalised difference (0...1), from which a frame counts as voiced.
        public var voicing: Float = 0.6
        /// Least frame level, dB relative to full scale (mean square), for a frame to count at all.
        public var frameLevel: Float = -80
        /// Least level relative to the loudest frame, dB.
        public var relativeLevel: Float = -50
        /// Least voiced time, seconds.
        public var voicedSeconds: Double = 0.15
        /// Least median pitch change between neighbouring voiced frames, semitones.
        public var pitchMotion: Double = 0.07
        /// Least voiced runs per voiced second (speech stops and starts voicing with its syllables).
        public var runRate: Double = 0.6
        /// Fewest periodic frames in a row that make a voiced run.
        public var shortestRun: Int = 3

        public init() {}
    }

    /// What the detector measured on a span of audio.
    public struct Evidence: Sendable, Codable, Equatable, CustomStringConvertible {
        /// Seconds of voiced frames.
        public var voicedSeconds: Double
        /// Voiced frames over all frames.
        public var voicedFraction: Double
        /// Median absolute pitch change between neighbouring voiced frames, semitones (0 when fewer than two).
        public var pitchMotion: Double
        /// Median pitch of the voiced frames, Hz (0 when none).
        public var medianPitch: Double
        /// Runs of consecutive voiced frames per voiced second: syllables make speech start and stop its voicing
        /// several times a second, where held notes and tones stay voiced.
        public var voicedRunRate: Double
        /// The decision.
        public var isSpeech: Bool

        public var description: String {
            let voiced = (voicedSeconds * 100).rounded() / 100
            let motion = (pitchMotion * 1000).rounded() / 1000
            return "\(voiced) s voiced (\(Int((voicedFraction * 100).rounded())) % of frames), pitch motion \(motion) semitones"
        }
    }

    public let sampleRate: Int
    public let thresholds: Thresholds
    private let frameLength: Int
    private let hopLength: Int
    private let minimumLag: Int
    private let maximumLag: Int
    /// One-pole high-pass coefficient (60 Hz): rumble, hum's fundamental and brown noise would otherwise look periodic.
    private let highPass: Float
    private let spectrumFFT: RealFFT
    private let correlationFFT: RealFFT
    private var power: [Float]
    private var mirrored: [Float]
    private var correlation: [Float]
    private var difference: [Float]

    /// A detector for audio at `sampleRate` (the speech front end's rate).
    public init(sampleRate: Int = 16_000, thresholds: Thresholds = Thresholds()) throws(MediaError) {
        self.sampleRate = sampleRate
        self.thresholds = thresholds
        frameLength = sampleRate / 25
        hopLength = sampleRate / 50
        minimumLag = sampleRate / 500
        maximumLag = sampleRate * 10 / 600
        highPass = Float(exp(-2 * Double.pi * 60 / Double(sampleRate)))
        var fftSize = 1
        while fftSize < 2 * frameLength { fftSize *= 2 }
        spectrumFFT = try RealFFT(size: fftSize)
        correlationFFT = try RealFFT(size: fftSize)
        power = [Float](repeating: 0, count: fftSize / 2 + 1)
        mirrored = [Float](repeating: 0, count: fftSize)
        correlation = [Float](repeating: 0, count: fftSize / 2 + 1)
        difference = [Float](repeating: 1, count: maximumLag + 2)
    }

    /// Measures `samples` (mono, at ``sampleRate``) and decides.
    public func evidence(for samples: [Float]) -> Evidence {
        var filtered = [Float](repeating: 0, count: samples.count)
        var previousInput: Float = samples.first ?? 0, previousOutput: Float = 0
        for index in samples.indices {
            previousOutput = highPass * (previousOutput + samples[index] - previousInput)
            previousInput = samples[index]
            filtered[index] = previousOutput
        }
        var squares = [Double](repeating: 0, count: filtered.count + 1)
        for index in filtered.indices { squares[index + 1] = squares[index] + Double(filtered[index] * filtered[index]) }
        let count = samples.count < frameLength ? 0 : (samples.count - frameLength) / hopLength + 1
        let levels = (0..<count).map { index in
            let start = index * hopLength
            let meanSquare = (squares[start + frameLength] - squares[start]) / Double(frameLength)
            return 10 * Float(log10(meanSquare + 1e-12))
        }
        let loudest = levels.max() ?? -120
        let floor = max(thresholds.frameLevel, loudest + thresholds.relativeLevel)
        // Periodicity only where a frame is loud enough to count (pauses cost nothing).
        var peaks = [(value: Float, lag: Double)](repeating: (0, Double(maximumLag)), count: count)
        for index in 0..<count where levels[index] >= floor {
            let start = index * hopLength
            filtered.withUnsafeBufferPointer { autocorrelate(UnsafeBufferPointer(rebasing: $0[start..<(start + frameLength)])) }
            peaks[index] = period(frameStart: start, squares: squares)
        }
        let periodic = (0..<count).map { levels[$0] >= floor && peaks[$0].value >= thresholds.voicing }
        // Voiced runs: periodic frames in a row, at least `thresholds.shortestRun` of them (noise is periodic
        // now and then for a frame or two; a syllable's vowel lasts longer).
        var runs: [Range<Int>] = []
        var index = 0
        while index < count {
            guard periodic[index] else { index += 1; continue }
            var end = index
            while end < count, periodic[end] { end += 1 }
            if end - index >= thresholds.shortestRun { runs.append(index..<end) }
            index = end
        }
        var pitches = [Double]()
        var motions = [Double]()
        for run in runs {
            for frame in run {
                pitches.append(Double(sampleRate) / peaks[frame].lag)
                if frame > run.lowerBound { motions.append(abs(12 * log2(peaks[frame - 1].lag / peaks[frame].lag))) }
            }
        }
        let voicedSeconds = Double(pitches.count * hopLength) / Double(sampleRate)
        let pitchMotion = median(motions)
        let runRate = voicedSeconds > 0 ? Double(runs.count) / voicedSeconds : 0
        return Evidence(
            voicedSeconds: voicedSeconds,
            voicedFraction: count == 0 ? 0 : Double(pitches.count) / Double(count),
            pitchMotion: pitchMotion,
            medianPitch: median(pitches),
            voicedRunRate: runRate,
            isSpeech: voicedSeconds >= thresholds.voicedSeconds && pitchMotion >= thresholds.pitchMotion
                && runRate >= thresholds.runRate
        )
    }

    /// Autocorrelation r(τ) = Σ x[j] x[j+τ] of a frame into `correlation`, from its power spectrum (the FFT is at
    /// least twice the frame, so the circular correlation equals the linear one at the lags used).
    private func autocorrelate(_ frame: UnsafeBufferPointer<Float>) {
        power.withUnsafeMutableBufferPointer { spectrumFFT.powerSpectrum(of: frame, into: $0) }
        let size = mirrored.count
        for bin in 0...(size / 2) { mirrored[bin] = power[bin] }
        for bin in 1..<(size / 2) { mirrored[size - bin] = power[bin] }
        mirrored.withUnsafeBufferPointer { input in
            correlation.withUnsafeMutableBufferPointer { correlationFFT.realPart(of: input, into: $0) }
        }
    }

    /// The frame's periodicity and period by YIN (de Cheveigné and Kawahara, 2002): the difference function
    /// d(τ) = Σ (x[j] - x[j+τ])² over the frame, divided by its running mean, is near 0 at the period of a
    /// periodic frame and near 1 or above for noise. The first lag in the pitch range below 0.3 (else the deepest)
    /// is refined to its local minimum and by parabolic interpolation; the returned value is 1 - d'(τ).
    private func period(frameStart start: Int, squares: [Double]) -> (value: Float, lag: Double) {
        let scale = 1 / Float(mirrored.count)
        var runningSum: Float = 0
        for lag in 1...(maximumLag + 1) {
            let head = squares[start + frameLength - lag] - squares[start]
            let tail = squares[start + frameLength] - squares[start + lag]
            let value = max(0, Float(head + tail) - 2 * correlation[lag] * scale)
            runningSum += value
            difference[lag] = runningSum > 0 ? value * Float(lag) / runningSum : 1
        }
        var chosen: Int
        if let first = (minimumLag...maximumLag).first(where: { difference[$0] < 0.3 }) {
            chosen = first
            while chosen < maximumLag, difference[chosen + 1] < difference[chosen] { chosen += 1 }
        } else {
            chosen = (minimumLag...maximumLag).min { difference[$0] < difference[$1] } ?? minimumLag
        }
        let left = difference[chosen - 1], value = difference[chosen], right = difference[chosen + 1]
        let curvature = left - 2 * value + right
        let shift = curvature > 0 ? Double(0.5 * (left - right) / curvature) : 0
        return (max(0, 1 - value), Double(chosen) + max(-0.5, min(0.5, shift)))
    }

    private func median(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }
}
