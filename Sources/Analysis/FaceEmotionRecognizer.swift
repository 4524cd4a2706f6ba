import Emotion
import Foundation
import Media
import Vision

/// What the face stream found in one clip (or one span of it).
public struct FaceAnalysis: Sendable, Codable, Equatable {
    /// The clip's prediction from the frames showing the clip's face.
    public var prediction: StreamPrediction
    /// Frames decoded, frames sampled for face search, and sampled frames where the clip's face was found.
    public var framesDecoded: Int
    public var framesSampled: Int
    public var facesFound: Int
    /// Most faces seen in one sampled frame (the clip's face is the largest and most persistent of them).
    public var facesSeen: Int
    /// Clockwise display rotation applied to the frames (0, 90, 180, 270).
    public var rotation: Int
    /// Median height of the clip's face as a fraction of the (upright) frame height.
    public var faceHeightFraction: Double
    /// The clip's face in each frame where it was found (model outputs, detector score, size).
    public var frames: [FrameEvidence]
    /// Seconds spent per stage: `decode`, `face_detection`, `alignment`, `inference`, and with several faces in view
    /// `speaker_decode` and `speaker_inference`.
    public var timings: [String: Double]
    /// Every face followed through the clip, each with its own result, in order of first appearance.
    public var faces: [FaceTrackResult]
    /// The track `prediction` comes from: the speaker's face, or (no speech, one face, no speaker model) the largest
    /// and most persistent one.
    public var track: Int
    /// The track of the face that speaks most, `nil` when none in view does or it was not decided.
    public var speaker: Int?
    /// How the speaker was decided; `notVisible` means the voice belongs to nobody in view.
    public var speakerStatus: SpeakerStatus
}

/// Facial emotion recognition: sampled gray frames (upright), YuNet faces tracked through the clip, landmark
/// alignment to the framing the model was trained on, the ONNX model per face, frames aggregated into clip logits.
///
/// Owns its detector and network; not thread-safe — give each thread its own instance.
public final class FaceEmotionRecognizer {
    /// Frames of video read per second unless told otherwise: enough that a posed expression of 200 ms is two or
    /// three of them (the `apex` aggregation), with faces searched in every other one (`FaceSearch.searchSpacing`).
    public static let framesPerSecond = 10.0

    public let card: ModelCard
    public let mapping: [String: EmotionLabel]
    public let aligner: FaceAligner
    public var search: FaceSearch
    /// How frame outputs become clip logits (the card's choice).
    public var aggregation: FrameAggregation
    /// Decides which face speaks when several are in view (`nil`: the models are not installed).
    public let speakers: ActiveSpeakerDetector?
    private let detector: FaceDetector
    private let network: NeuralNetwork
    private let scale: Float
    private let offset: Float

    /// Loads the card (`fer.json` by default), its model and the face detector named by the card; `head` picks one
    /// of a multi-head model's heads (default: the card's served head).
    /// The active speaker card (`asd.json`) is loaded when the directory has it.
    public init(modelsDirectory directory: URL, cardFile: String = "fer.json", search: FaceSearch = .init(), head: String? = nil,
                speakerCardFile: String = "asd.json") throws {
        card = try ModelCard.load(cardFile, in: directory)
        guard card.task == .face else {
            throw AnalysisError(.invalidModelCard, reason: "\(cardFile) describes a \(card.task.rawValue) model, not a face model")
        }
        guard let alignment = card.alignment, alignment.template.count == 5, alignment.template.allSatisfy({ $0.count == 2 }),
              alignment.size > 0 else {
            throw AnalysisError(.invalidModelCard, reason: "\(card.name): a face card needs an alignment with a size and five template points")
        }
        headOffset = try card.headOffset(head)
        self.head = head ?? card.servedHead ?? card.heads?.first
        let mapping = try card.canonicalMapping()
        self.mapping = mapping
        neutralIndex = card.labels.firstIndex { mapping[$0] == .neutral }
        aligner = FaceAligner(size: alignment.size, template: alignment.template.map { Point(x: $0[0], y: $0[1]) })
        scale = Float(try card.parameter("scale"))
        offset = Float(try card.parameter("offset"))
        aggregation = card.aggregation ?? .meanLogits
        self.search = search
        detector = try FaceDetector(onnxPath: directory.appendingPathComponent(alignment.detector).path)
        network = try NeuralNetwork(onnxPath: directory.appendingPathComponent(card.onnx).path)
        let speakerCard = directory.appendingPathComponent(speakerCardFile)
        speakers = FileManager.default.fileExists(atPath: speakerCard.path)
            ? try ActiveSpeakerDetector(modelsDirectory: directory, cardFile: speakerCardFile) : nil
    }

    /// Index of the output that maps to `neutral`, the baseline of the departure aggregations.
    public let neutralIndex: Int?
    /// The head whose logits this recognizer gives (`nil` for a one-head model).
    public let head: String?
    private let headOffset: Int

    /// The model's whole output for one aligned crop (`aligner.size` square): every head's logits in card order.
    public func outputs(forAligned crop: GrayImage) throws -> [Float] {
        guard crop.width == aligner.size, crop.height == aligner.size else {
            throw AnalysisError(.emptyInput, reason: "an aligned crop is \(aligner.size)x\(aligner.size), not \(crop.width)x\(crop.height)")
        }
        let input = crop.pixels.map { Float($0) * scale + offset }
        let output = try network.forward(input, shape: [1, 1, aligner.size, aligner.size])
        guard output.count == card.outputCount else {
            throw AnalysisError(.unexpectedOutput, reason: "\(card.name) gave \(output.count) outputs, its card describes \(card.outputCount)")
        }
        return output
    }

    /// The logits of this recognizer's head for one aligned crop.
    public func logits(forAligned crop: GrayImage) throws -> [Float] {
        Array(try outputs(forAligned: crop)[headOffset..<headOffset + card.labels.count])
    }

    /// A prediction from clip (or image) logits, calibrated by the card's temperature.
    public func prediction(logits: [Float]) -> StreamPrediction {
        card.prediction(logits: logits, mapping: mapping)
    }

    /// The aligned crop of a face image: a tight face crop (the FER2013 kind, at most 96 px a side) is padded by
    /// half its size with mid-gray and searched at 3x (as training prepared its images), and keeps its own framing
    /// when no face is found; a larger image is searched like a video frame and must show a face.
    public func alignedFace(inImage image: GrayImage) throws -> GrayImage {
        if max(image.width, image.height) <= 96 {
            let pad = max(image.width, image.height) / 2
            let canvas = image.padded(by: pad, value: 128)
            let faces = try detector.faces(in: canvas, searchSize: canvas.width * 3)
            if let face = faces.max(by: { $0.area < $1.area }) {
                return try aligner.crop(image, landmarks: face.landmarks.map { Point(x: $0.x - Double(pad), y: $0.y - Double(pad)) })
            }
            let factor = Double(aligner.size) / Double(max(image.width, image.height))
            return try aligner.warp(image, AffineTransform([factor, 0, 0, 0, factor, 0]))
        }
        guard let face = try FaceTracker(detector: detector, search: search).faces(in: image, at: 0).max(by: { $0.face.area < $1.face.area })?.face else {
            throw StreamFailure(code: StreamFailure.noFace, reason: "no face found in the image")
        }
        return try aligner.crop(image, landmarks: face.landmarks)
    }

    /// The prediction for one face image (see `alignedFace(inImage:)`).
    public func predict(faceImage image: GrayImage) throws -> StreamPrediction {
        prediction(logits: try logits(forAligned: try alignedFace(inImage: image)))
    }

    /// Decodes sampled frames of `source`, follows its faces, predicts each face's emotion and the clip's from the face
    /// that speaks (where several faces are in view at once, the active speaker models decide, from the audio too).
    ///
    /// - Throws: `MediaError` for unreadable media, `StreamFailure` with code `no_face` when no sampled frame
    ///   shows a face, `VisionError`/`AnalysisError` for model failures.
    public func analyze(
        _ source: MediaSource,
        sampling: FrameSampling = .rate(framesPerSecond: FaceEmotionRecognizer.framesPerSecond),
        range: TimeRange? = nil,
        options: MediaOpenOptions = .init()
    ) throws -> FaceAnalysis {
        let clock = ContinuousClock()
        let started = clock.now
        var detection = Duration.zero
        var alignment = Duration.zero
        var inference = Duration.zero
        var evidence: [Int: [FrameEvidence]] = [:]
        var paths: [Int: TrackPath] = [:]
        var sampled = 0
        var frameHeight = 0
        var frameWidth = 0
        var videoOnly = options
        videoOnly.streams = [.video]
        let file = try MediaFile(source, options: videoOnly)
        let tracker = FaceTracker(detector: detector, search: search)
        let decoded = try file.forEachFrame(sampling: sampling, range: range) { frame in
            sampled += 1
            frameHeight = frame.height
            frameWidth = frame.width
            let image = GrayImage(width: frame.width, height: frame.height, pixels: frame.pixels)
            var mark = clock.now
            let faces = try tracker.faces(in: image, at: frame.timestamp)
            detection += clock.now - mark
            for (track, face) in faces {
                mark = clock.now
                let crop = try aligner.crop(image, landmarks: face.landmarks)
                alignment += clock.now - mark
                mark = clock.now
                let logits = try logits(forAligned: crop)
                inference += clock.now - mark
                evidence[track, default: []].append(FrameEvidence(logits: logits, detectionScore: face.score, faceSize: face.height,
                                                                   time: frame.timestamp))
                // A track's path holds the frames where it was searched for and found (the active speaker models
                // interpolate between them); a face carried over between searches adds only its reading.
                guard tracker.searchedLastFrame else { continue }
                paths[track, default: TrackPath(track: track)].times.append(frame.timestamp)
                paths[track]!.faces.append(face)
            }
            return true
        }
        let faces = paths.values.sorted { $0.track < $1.track }.compactMap { path -> FaceTrackResult? in
            guard let logits = aggregation.clipLogits(evidence[path.track] ?? [], neutral: neutralIndex) else { return nil }
            return FaceTrackResult(track: path.track, box: path.medianBox(frameWidth: frameWidth, frameHeight: frameHeight),
                                   start: path.start, end: path.end, frames: path.faces.count, speaking: nil,
                                   prediction: prediction(logits: logits))
        }
        guard let primary = tracker.primary, faces.contains(where: { $0.track == primary.id }) else {
            throw StreamFailure(code: StreamFailure.noFace,
                                reason: sampled == 0 ? "no frame was decoded" : "no face found in \(sampled) sampled frames")
        }
        var timeline = SpeakerTimeline(status: .singleFace, speaker: nil, speaking: [:], timings: [:])
        let tracked = paths.values.filter { !$0.faces.isEmpty }
        if let speakers, Self.overlapInTime(tracked) {
            timeline = try speakers.findSpeaker(in: source, range: range, options: options, paths: tracked)
        } else if speakers == nil, tracked.count > 1 {
            timeline.status = .unknown
        }
        let chosen = timeline.speaker ?? primary.id
        let frames = evidence[chosen] ?? []
        let sizes = frames.map(\.faceSize).sorted()
        let total = clock.now - started
        let speakerTime = timeline.timings.values.reduce(0, +)
        return FaceAnalysis(
            prediction: faces.first { $0.track == chosen }!.prediction,
            framesDecoded: decoded,
            framesSampled: sampled,
            facesFound: frames.count,
            facesSeen: tracker.mostFacesInOneFrame,
            rotation: file.info.video?.rotation ?? 0,
            faceHeightFraction: frameHeight > 0 ? sizes[sizes.count / 2] / Double(frameHeight) : 0,
            frames: frames,
            timings: [
                "decode": (total - detection - alignment - inference).seconds - speakerTime,
                "face_detection": detection.seconds,
                "alignment": alignment.seconds,
                "inference": inference.seconds,
            ].merging(timeline.timings) { $1 },
            faces: faces.map { face in
                var face = face
                if timeline.status == .detected || timeline.status == .notVisible {
                    face.speaking = ((timeline.speaking[face.track] ?? 0) * 1000).rounded() / 1000
                }
                return face
            },
            track: chosen,
            speaker: timeline.speaker,
            speakerStatus: timeline.status
        )
    }

    /// Whether two of the tracks were in view together for at least two sampled frames' time.
    static func overlapInTime(_ paths: [TrackPath]) -> Bool {
        for (index, a) in paths.enumerated() {
            for b in paths[(index + 1)...] where min(a.end, b.end) - max(a.start, b.start) >= 0.3 { return true }
        }
        return false
    }
}
