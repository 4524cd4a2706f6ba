import Analysis
import Emotion
import Foundation
import Media
import Testing
import TestSupport
import Vision

/// What `training/asd/check.py` computed with the reference code.
struct ActiveSpeakerReference: Decodable {
    var speech: String
    var mfccRows: [[Float]]
    var clip: String
    var frameTime: Double
    var box: [Double]
    var step: Double
    var mfccStart: Int
    var cropFirst: [Int]
    var cropStride: Int
    var scores: [String: [Float]]

    enum CodingKeys: String, CodingKey {
        case speech, mfccRows = "mfcc_rows", clip, frameTime = "frame_time", box, step, mfccStart = "mfcc_start"
        case cropFirst = "crop_first", cropStride = "crop_stride", scores
    }

    static func load() throws -> ActiveSpeakerReference {
        let url = try #require(Bundle.module.url(forResource: "asd-reference", withExtension: "json", subdirectory: "Fixtures"))
        return try JSONDecoder().decode(ActiveSpeakerReference.self, from: Data(contentsOf: url))
    }
}

/// Train = serve for the speaker models: the Swift MFCCs, crops and ONNX scores give what the reference code gives.
@Suite(.enabled(if: TestData.available && TestData.modelsAvailable, Comment(rawValue: TestData.missingReason + " and the committed models")))
struct ActiveSpeakerServingTests {
    /// Largest MFCC difference allowed (the reference computes in float64, Swift sums in double but stores float).
    static let mfccTolerance: Float = 0.02
    /// Largest mean crop difference allowed, grey levels (FFmpeg's gray conversion in the CLI and in the library).
    static let cropTolerance = 1.5
    /// Largest speaking-score difference allowed (logits; decisions compare sums of about 2 s of them with 1.0).
    static let scoreTolerance: Float = 0.1

    let reference: ActiveSpeakerReference
    let detector: ActiveSpeakerDetector

    init() throws {
        reference = try ActiveSpeakerReference.load()
        detector = try ActiveSpeakerDetector(modelsDirectory: TestData.models)
    }

    @Test func mfccsMatchThePythonFrontEnd() throws {
        let file = try MediaFile(MediaSource(TestData.sharedData.deletingLastPathComponent().appendingPathComponent(reference.speech).path))
        let samples = try file.decodeAudio(sampleRate: 16_000).samples
        let rows = try MFCCFrontEnd().coefficients(of: samples)
        #expect(rows.count >= reference.mfccRows.count)
        var worst: Float = 0
        for (mine, theirs) in zip(rows, reference.mfccRows) {
            for (a, b) in zip(mine, theirs) { worst = max(worst, abs(a - b)) }
        }
        #expect(worst <= Self.mfccTolerance, "largest MFCC difference \(worst)")
    }

    @Test func cropsAndScoresMatchTheReferenceModule() throws {
        let clip = TestData.sharedData.deletingLastPathComponent().appendingPathComponent(reference.clip).path
        var frame: GrayImage?
        try MediaFile(MediaSource(clip)).forEachFrame(sampling: .all, range: TimeRange(start: reference.frameTime, duration: 0.2)) { decoded in
            guard decoded.timestamp >= reference.frameTime - 1e-3 else { return true }
            frame = GrayImage(width: decoded.width, height: decoded.height, pixels: decoded.pixels)
            return false
        }
        let image = try #require(frame)
        let box = reference.box
        let first = try image.centreCrop(of: detector.cropRegion(x: box[0], y: box[1], width: box[2], height: box[3]),
                                         padValue: 110, resize: 224, size: 112)
        let sampled = stride(from: 0, to: first.pixels.count, by: reference.cropStride).map { Int(first.pixels[$0]) }
        #expect(sampled.count == reference.cropFirst.count)
        let meanDifference = Double(zip(sampled, reference.cropFirst).map { abs($0 - $1) }.reduce(0, +)) / Double(sampled.count)
        #expect(meanDifference <= Self.cropTolerance, "mean crop difference \(meanDifference)")

        let window = reference.scores["rank"]?.count ?? 0
        let faces = try (0..<window).map { t in
            try detector.faceInput(image, x: box[0] + reference.step * Double(t), y: box[1], width: box[2], height: box[3])
        }
        let audio = Array(reference.mfccRows[reference.mfccStart..<(reference.mfccStart + 4 * window)])
        for (role, model) in [("rank", ActiveSpeakerDetector.Model.rank), ("presence", .presence)] {
            let scores = try detector.scores(faces: faces, audio: audio, model: model)
            let expected = try #require(reference.scores[role])
            let worst = zip(scores, expected).map { abs($0 - $1) }.max() ?? .infinity
            #expect(worst <= Self.scoreTolerance, "\(role): largest score difference \(worst)")
        }
    }

    @Test func shortSequencesArePaddedAndLongOnesWindowed() throws {
        let reference = self.reference
        let face = [Float](repeating: 0.1, count: 112 * 112)
        for count in [1, 30, 50, 77, 120] {
            let audio = (0..<(4 * count)).map { reference.mfccRows[($0 + reference.mfccStart) % reference.mfccRows.count] }
            let scores = try detector.scores(faces: Array(repeating: face, count: count), audio: audio, model: .rank)
            #expect(scores.count == count && scores.allSatisfy(\.isFinite), "\(count) frames")
        }
        #expect(throws: AnalysisError.self) { try detector.scores(faces: [face], audio: [], model: .rank) }
    }
}

/// The pure parts of the speaker decision and of face tracks.
struct SpeakerDecisionTests {
    @Test func oneFaceInViewSpeaksWheneverThereIsSpeech() {
        let candidates = SpeakerDecision.candidates(present: [[3], [3], [], [3]], ranking: [:], presence: [:], threshold: 1,
                                                    speech: [true, false, true, true], smoothing: 2)
        #expect(candidates == [3, nil, nil, 3])
    }

    @Test func theBestRankedFaceSpeaksIfItsPresenceClearsTheThreshold() {
        let present = Array(repeating: [0, 1], count: 4)
        let speech = [true, true, true, true]
        let ranking: [Int: [Float?]] = [0: [1, 1, 1, 1], 1: [3, 3, 3, 3]]
        let confident: [Int: [Float?]] = [0: [0, 0, 0, 0], 1: [2, 2, 2, 2]]
        #expect(SpeakerDecision.candidates(present: present, ranking: ranking, presence: confident, threshold: 1,
                                           speech: speech, smoothing: 1) == [1, 1, 1, 1])
        // The same ranking, but the best face's lips do not follow the voice: nobody in view speaks.
        let doubtful: [Int: [Float?]] = [0: [0, 0, 0, 0], 1: [0.5, 0.5, 0.5, 0.5]]
        #expect(SpeakerDecision.candidates(present: present, ranking: ranking, presence: doubtful, threshold: 1,
                                           speech: speech, smoothing: 1) == [nil, nil, nil, nil])
    }

    @Test func averagesSkipFramesWithoutSpeech() {
        // Frame 1 has no speech and a score that would flip the decision if it were averaged in.
        let ranking: [Int: [Float?]] = [0: [2, 100, 2], 1: [3, -100, 3]]
        let presence: [Int: [Float?]] = [0: [2, 2, 2], 1: [2, 2, 2]]
        let candidates = SpeakerDecision.candidates(present: Array(repeating: [0, 1], count: 3), ranking: ranking,
                                                    presence: presence, threshold: 1, speech: [true, false, true], smoothing: 1)
        #expect(candidates == [1, nil, 1])
    }

    @Test func sharesAndTheSpeaker() {
        let speech = [true, true, true, true, false]
        let shares = SpeakerDecision.shares([0, 1, 1, nil, nil], speech: speech)
        #expect(shares == [0: 0.25, 1: 0.5])
        #expect(SpeakerDecision.speaker(shares) == 1)
        #expect(SpeakerDecision.speaker([2: 0.5, 1: 0.5]) == 1)
        #expect(SpeakerDecision.speaker([:]) == nil)
        #expect(SpeakerDecision.shares([nil], speech: [false]).isEmpty)
    }

    @Test func speechFramesFollowTheLoudPartWithAMargin() {
        let energies: [Float] = [0, 0, 0, 0, 10, 10, 10, 0, 0, 0, 0]
        let speech = SpeakerDecision.speechFrames(logEnergies: energies, range: 5, margin: 1)
        #expect(speech == [false, false, false, true, true, true, true, true, false, false, false])
    }

    @Test func trackBoxesAreInterpolatedAndGapsLeftOut() {
        var path = TrackPath(track: 0)
        for (time, x) in [(0.0, 100.0), (0.2, 120.0), (2.0, 300.0)] {
            path.times.append(time)
            path.faces.append(DetectedFace(x: x, y: 50, width: 40, height: 60, score: 0.9, landmarks: []))
        }
        let middle = path.box(at: 0.1, maximumGap: 1)
        #expect(abs((middle?.x ?? 0) - 110) < 1e-9)
        #expect(path.box(at: 1.0, maximumGap: 1) == nil)  // lost between 0.2 s and 2.0 s
        #expect(path.box(at: 2.5, maximumGap: 1) == nil)
        #expect(path.box(at: 2.0, maximumGap: 1)?.x == 300)
        #expect(path.medianBox(frameWidth: 400, frameHeight: 100) == [0.3, 0.5, 0.1, 0.6])
    }

    @Test(.enabled(if: TestData.modelsAvailable, "needs the committed models"))
    func theCropRegionIsTheModelsFraming() throws {
        let detector = try ActiveSpeakerDetector(modelsDirectory: TestData.models)
        // Half-size 50 (the box's larger side), centre (150, 120): rows 70 to 210, columns 80 to 220.
        let region = detector.cropRegion(x: 110, y: 70, width: 80, height: 100)
        #expect(region == Box(x: 80, y: 70, width: 140, height: 140))
    }
}
