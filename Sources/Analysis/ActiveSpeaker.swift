import Foundation
import Media
import Vision

/// The active speaker models' card (`asd.json`): their files, input contract and decision thresholds.
public struct ActiveSpeakerCard: Sendable, Codable, Equatable {
    public struct Model: Sendable, Codable, Equatable {
        public var onnx: String
        public var sha256: String
    }

    public var schema: Int
    public var name: String
    /// `rank` (which face speaks) and `presence` (whether that face speaks at all).
    public var models: [String: Model]
    public var input: [String: Double]
    public var decision: [String: Double]

    func value(_ key: String, in table: [String: Double]) throws(AnalysisError) -> Double {
        guard let value = table[key] else {
            throw AnalysisError(.invalidModelCard, reason: "\(name): '\(key)' is missing")
        }
        return value
    }
}

/// Who speaks, frame by frame, from each face's speaking scores: the pure part of the decision.
public enum SpeakerDecision {
    /// The speaking candidate of each frame: nobody without speech; the only face when one is in view; with several,
    /// the face whose `ranking` score, averaged over the speech frames within `smoothing` frames on each side, is
    /// highest, provided its `presence` score, averaged the same way, is above `threshold` (else nobody in view
    /// speaks then). Frames without speech are left out of the averages: there every face scores as not speaking.
    ///
    /// - Parameters:
    ///   - present: Per frame, the tracks in view.
    ///   - ranking: Per track, a score for each frame (`nil` where none was computed).
    ///   - presence: Per track, the presence model's score for each frame.
    ///   - speech: Per frame, whether there is speech.
    public static func candidates(present: [[Int]], ranking: [Int: [Float?]], presence: [Int: [Float?]], threshold: Float,
                                  speech: [Bool], smoothing: Int) -> [Int?] {
        func smoothed(_ values: [Float?]?, at frame: Int) -> Float? {
            guard let values, !values.isEmpty else { return nil }
            let known = (max(0, frame - smoothing)...min(values.count - 1, frame + smoothing))
                .compactMap { speech[$0] ? values[$0] : nil }
            return known.isEmpty ? nil : known.reduce(0, +) / Float(known.count)
        }
        return present.indices.map { frame -> Int? in
            guard speech[frame], !present[frame].isEmpty else { return nil }
            if present[frame].count == 1 { return present[frame][0] }
            let best = present[frame].compactMap { track in smoothed(ranking[track], at: frame).map { (track, $0) } }
                .max { $0.1 < $1.1 }
            guard let best, let confirmation = smoothed(presence[best.0], at: frame), confirmation > threshold else { return nil }
            return best.0
        }
    }

    /// Each track's share of the speech frames in which it is the candidate.
    public static func shares(_ candidates: [Int?], speech: [Bool]) -> [Int: Double] {
        let total = speech.filter { $0 }.count
        guard total > 0 else { return [:] }
        var counts: [Int: Int] = [:]
        for case let track? in candidates { counts[track, default: 0] += 1 }
        return counts.mapValues { Double($0) / Double(total) }
    }

    /// The track that speaks most (ties: the lower track number), `nil` when nobody does.
    public static func speaker(_ shares: [Int: Double]) -> Int? {
        shares.filter { $0.value > 0 }.max { ($0.value, -$0.key) < ($1.value, -$1.key) }?.key
    }

    /// Frames with speech, from 10 ms MFCC frames' log energies (coefficient 0): louder than the 95th percentile
    /// less `range` (natural log units), widened by `margin` audio frames each side.
    public static func speechFrames(logEnergies: [Float], range: Float, margin: Int) -> [Bool] {
        guard !logEnergies.isEmpty else { return [] }
        let sorted = logEnergies.sorted()
        let floor = sorted[min(sorted.count - 1, sorted.count * 95 / 100)] - range
        let loud = logEnergies.map { $0 >= floor }
        return loud.indices.map { index in
            loud[max(0, index - margin)...min(loud.count - 1, index + margin)].contains(true)
        }
    }
}

/// What the active speaker pass found in a clip.
public struct SpeakerTimeline: Sendable, Equatable {
    public var status: SpeakerStatus
    /// The track that speaks most, `nil` with no visible speaker.
    public var speaker: Int?
    /// Per track, the share of the clip's speech during which it speaks.
    public var speaking: [Int: Double]
    /// Seconds spent: `speaker_decode` (audio and 25 fps frames), `speaker_inference`.
    public var timings: [String: Double]
}

/// Finds which visible face speaks. Where two or more faces are in view, both Light-ASD models score every face at
/// 25 frames per second with the clip's MFCCs: `asd-rank.onnx` (fine-tuned on TalkSet: ranks the speaker first, but
/// calls any lip movement speaking) and `asd-presence.onnx` (trained on AVA-ActiveSpeaker: follows the sync of lips
/// and voice). In each speech frame the face with the highest sum of the two (averaged over about 2 s) speaks,
/// provided its presence score clears the card's threshold, so that a voice-over is not pinned on a face whose lips
/// happen to move.
///
/// Owns its networks; not thread-safe.
public final class ActiveSpeakerDetector {
    public let card: ActiveSpeakerCard
    private let rankPath: String
    private let presencePath: String
    /// The networks, loaded on first use: most clips show one face at a time and never need them.
    private var networks: (rank: NeuralNetwork, presence: NeuralNetwork)?
    private let mfcc: MFCCFrontEnd
    private let speechPresence: SpeechPresenceDetector
    private let frameRate: Double
    private let window: Int
    private let cropSize: Int
    private let cropScale: Double
    private let padValue: UInt8
    private let pixelMean: Float
    private let pixelStd: Float
    private let presenceThreshold: Float
    private let smoothing: Int

    /// Reads the card (`asd.json`) in `directory` and checks both models are there; they are loaded when first needed.
    public init(modelsDirectory directory: URL, cardFile: String = "asd.json") throws {
        let url = directory.appendingPathComponent(cardFile)
        do {
            card = try JSONDecoder().decode(ActiveSpeakerCard.self, from: Data(contentsOf: url))
        } catch {
            throw AnalysisError(.invalidModelCard, reason: "\(url.path): \(error)")
        }
        guard let rankModel = card.models["rank"], let presenceModel = card.models["presence"] else {
            throw AnalysisError(.invalidModelCard, reason: "\(card.name): needs a 'rank' and a 'presence' model")
        }
        rankPath = directory.appendingPathComponent(rankModel.onnx).path
        presencePath = directory.appendingPathComponent(presenceModel.onnx).path
        for path in [rankPath, presencePath] where !FileManager.default.fileExists(atPath: path) {
            throw AnalysisError(.invalidModelCard, reason: "\(card.name): \(path) is missing")
        }
        var parameters = MFCCFrontEnd.Parameters()
        parameters.sampleRate = Int(try card.value("sample_rate", in: card.input))
        parameters.windowLength = Int(try card.value("window_length", in: card.input))
        parameters.hopLength = Int(try card.value("hop_length", in: card.input))
        parameters.fftSize = Int(try card.value("fft_size", in: card.input))
        parameters.melFilters = Int(try card.value("mel_filters", in: card.input))
        parameters.coefficients = Int(try card.value("mfcc_count", in: card.input))
        parameters.preemphasis = try card.value("preemphasis", in: card.input)
        parameters.lifter = try card.value("lifter", in: card.input)
        mfcc = try MFCCFrontEnd(parameters: parameters)
        speechPresence = try SpeechPresenceDetector(sampleRate: parameters.sampleRate)
        frameRate = try card.value("frame_rate", in: card.input)
        window = Int(try card.value("window", in: card.input))
        cropSize = Int(try card.value("crop_size", in: card.input))
        cropScale = try card.value("crop_scale", in: card.input)
        padValue = UInt8(try card.value("pad_value", in: card.input))
        pixelMean = Float(try card.value("pixel_mean", in: card.input))
        pixelStd = Float(try card.value("pixel_std", in: card.input))
        presenceThreshold = Float(try card.value("presence_threshold", in: card.decision))
        smoothing = Int(try card.value("score_smoothing", in: card.decision)) / 2
        guard window > 0, cropSize > 0, frameRate > 0, parameters.hopLength > 0 else {
            throw AnalysisError(.invalidModelCard, reason: "\(card.name): inconsistent input parameters")
        }
    }

    /// Audio frames (MFCC rows) per video frame.
    private var audioFramesPerVideoFrame: Int {
        Int((Double(mfcc.parameters.sampleRate) / Double(mfcc.parameters.hopLength) / frameRate).rounded())
    }

    /// The region the models' crop is taken from, around a face box (pixels): a square of 2.8 half-sides centred
    /// 0.4 half-sides below the box's centre, as the models were trained. The centre half of it is what they see.
    public func cropRegion(x: Double, y: Double, width: Double, height: Double) -> Box {
        let half = max(width, height) / 2
        let centreX = x + width / 2, centreY = y + height / 2
        let top = Int(centreY - half), bottom = Int(centreY + half * (1 + 2 * cropScale))
        let left = Int(centreX - half * (1 + cropScale)), right = Int(centreX + half * (1 + cropScale))
        return Box(x: left, y: top, width: max(1, right - left), height: max(1, bottom - top))
    }

    /// One frame's model input for a face: the crop's pixels, normalised.
    public func faceInput(_ image: GrayImage, x: Double, y: Double, width: Double, height: Double) throws -> [Float] {
        let crop = try image.centreCrop(of: cropRegion(x: x, y: y, width: width, height: height), padValue: padValue,
                                        resize: 2 * cropSize, size: cropSize)
        return crop.pixels.map { (Float($0) / 255 - pixelMean) / pixelStd }
    }

    /// Speaking scores (logits, > 0: speaking) of consecutive frames of one face: `faces` holds each frame's
    /// normalised crop, `audio` its MFCC rows (`audioFramesPerVideoFrame` per frame). Runs fixed windows one after
    /// another, the last aligned to the end (frames two windows share get the mean of both); a sequence shorter than
    /// a window is padded with its last frame.
    public func scores(faces: [[Float]], audio: [[Float]], model: Model) throws -> [Float] {
        let count = faces.count
        let perFrame = audioFramesPerVideoFrame
        guard count > 0, audio.count == count * perFrame else {
            throw AnalysisError(.emptyInput, reason: "\(count) face frames need \(count * perFrame) MFCC rows, not \(audio.count)")
        }
        var starts = Array(stride(from: 0, to: max(1, count - window), by: window))
        if count > window, starts.last != count - window { starts.append(count - window) }
        var sums = [Float](repeating: 0, count: count)
        var counts = [Float](repeating: 0, count: count)
        let pixels = cropSize * cropSize
        let coefficients = mfcc.parameters.coefficients
        for start in starts {
            let frames = (0..<window).map { min(start + $0, count - 1) }
            var faceTensor = [Float]()
            faceTensor.reserveCapacity(window * pixels)
            for frame in frames { faceTensor += faces[frame] }
            var audioTensor = [Float](repeating: 0, count: coefficients * window * perFrame)
            for (column, frame) in frames.enumerated() {
                for offset in 0..<perFrame {
                    let row = audio[frame * perFrame + offset]
                    for coefficient in 0..<coefficients {
                        audioTensor[coefficient * window * perFrame + column * perFrame + offset] = row[coefficient]
                    }
                }
            }
            let output = try network(model).forward([
                ("faces", faceTensor, [window, 1, cropSize, cropSize]),
                ("mfcc", audioTensor, [1, 1, coefficients, window * perFrame]),
            ])
            guard output.count == window else {
                throw AnalysisError(.unexpectedOutput, reason: "\(card.name) gave \(output.count) scores for a window of \(window)")
            }
            for (index, frame) in frames.enumerated() where start + index < count {
                sums[frame] += output[index]
                counts[frame] += 1
            }
        }
        return zip(sums, counts).map { $1 > 0 ? $0 / $1 : 0 }
    }

    private func network(_ model: Model) throws -> NeuralNetwork {
        if networks == nil {
            networks = (try NeuralNetwork(onnxPath: rankPath), try NeuralNetwork(onnxPath: presencePath))
        }
        return model == .rank ? networks!.rank : networks!.presence
    }

    /// The two models: `rank` says which face speaks, `presence` whether it speaks at all.
    public enum Model: Sendable {
        case rank, presence
    }

    /// Decides who speaks in `source` (within `range`), given the face tracks found at the sampled frames.
    ///
    /// With no audio or no speech (`SpeechPresenceDetector`) the status says so; with one face in view at a time that
    /// face speaks; where two or more are in view the clip is decoded again at 25 frames per second over that span
    /// and the models decide.
    public func findSpeaker(in source: MediaSource, range: TimeRange?, options: MediaOpenOptions, paths: [TrackPath]) throws -> SpeakerTimeline {
        let clock = ContinuousClock()
        var decode = Duration.zero
        var inference = Duration.zero
        var mark = clock.now
        var audioOnly = options
        audioOnly.streams = [.audio]
        let audioFile = try MediaFile(source, options: audioOnly)
        guard audioFile.info.audio != nil else {
            return SpeakerTimeline(status: .unknown, speaker: nil, speaking: [:], timings: [:])
        }
        let samples = try audioFile.decodeAudio(sampleRate: mfcc.parameters.sampleRate, range: range).samples
        let audioStart = range?.start ?? 0
        let coefficients = mfcc.coefficients(of: samples)
        decode += clock.now - mark
        let audioRate = Double(mfcc.parameters.sampleRate) / Double(mfcc.parameters.hopLength)
        let speechByAudioFrame = SpeakerDecision.speechFrames(logEnergies: coefficients.map { $0[0] }, range: 6.9,
                                                              margin: Int(audioRate / 10))
        guard speechByAudioFrame.contains(true), speechPresence.evidence(for: samples).isSpeech else {
            return SpeakerTimeline(status: .noSpeech, speaker: nil, speaking: [:], timings: ["speaker_decode": decode.seconds])
        }
        // The 25 fps grid over the audio; each grid frame's tracks in view.
        let maximumGap = 1.0
        let gridCount = Int(Double(coefficients.count) / audioRate * frameRate)
        let gridTimes = (0..<gridCount).map { audioStart + Double($0) / frameRate }
        let present = gridTimes.map { time in paths.filter { $0.box(at: time, maximumGap: maximumGap) != nil }.map(\.track) }
        let speech = gridTimes.map { time -> Bool in
            let index = Int(((time - audioStart) * audioRate).rounded())
            return index < speechByAudioFrame.count && speechByAudioFrame[index]
        }
        var rankingScores: [Int: [Float?]] = [:]
        var presenceScores: [Int: [Float?]] = [:]
        var inputs: [Int: (frames: [Int], faces: [[Float]], audio: [[Float]])] = [:]
        let crowded = present.indices.filter { present[$0].count >= 2 }
        if let first = crowded.first, let last = crowded.last {
            // Decode the crowded span again at the models' frame rate and crop every face in view.
            mark = clock.now
            var videoOnly = options
            videoOnly.streams = [.video]
            let videoFile = try MediaFile(source, options: videoOnly)
            let spanStart = gridTimes[first] - 0.5 / frameRate
            let span = TimeRange(start: max(0, spanStart), duration: gridTimes[last] - spanStart + 1 / frameRate)
            let perFrame = audioFramesPerVideoFrame
            try videoFile.forEachFrame(sampling: .rate(framesPerSecond: frameRate), range: span) { frame in
                let gridIndex = Int(((frame.timestamp - audioStart) * frameRate).rounded())
                guard gridIndex >= first, gridIndex <= last, present[gridIndex].count >= 2 else { return gridIndex <= last }
                let image = GrayImage(width: frame.width, height: frame.height, pixels: frame.pixels)
                let audioIndex = Int(((frame.timestamp - audioStart) * audioRate).rounded())
                let rows = (0..<perFrame).map { coefficients[min(max(0, audioIndex + $0), coefficients.count - 1)] }
                for path in paths where present[gridIndex].contains(path.track) {
                    guard let box = path.box(at: frame.timestamp, maximumGap: maximumGap) else { continue }
                    let face = try faceInput(image, x: box.x, y: box.y, width: box.width, height: box.height)
                    inputs[path.track, default: ([], [], [])].frames.append(gridIndex)
                    inputs[path.track]!.faces.append(face)
                    inputs[path.track]!.audio += rows
                }
                return true
            }
            decode += clock.now - mark
            mark = clock.now
            for (track, input) in inputs {
                let rankValues = try scores(faces: input.faces, audio: input.audio, model: .rank)
                let presenceValues = try scores(faces: input.faces, audio: input.audio, model: .presence)
                var ranking = [Float?](repeating: nil, count: gridCount)
                var confirming = [Float?](repeating: nil, count: gridCount)
                for (index, frame) in input.frames.enumerated() {
                    ranking[frame] = rankValues[index] + presenceValues[index]
                    confirming[frame] = presenceValues[index]
                }
                rankingScores[track] = ranking
                presenceScores[track] = confirming
            }
            inference += clock.now - mark
        }
        let candidates = SpeakerDecision.candidates(present: present, ranking: rankingScores, presence: presenceScores,
                                                    threshold: presenceThreshold, speech: speech, smoothing: smoothing)
        let speaking = SpeakerDecision.shares(candidates, speech: speech)
        let speaker = SpeakerDecision.speaker(speaking)
        let crowdedSpeech = crowded.contains { speech[$0] }
        let status: SpeakerStatus = speaker == nil ? .notVisible : crowdedSpeech ? .detected : .singleFace
        return SpeakerTimeline(status: status, speaker: speaker, speaking: speaking,
                               timings: ["speaker_decode": decode.seconds, "speaker_inference": inference.seconds])
    }
}
