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
    /// Seconds spent per stage: `decode`, `face_detection`, `alignment`, `inference`.
    public var timings: [String: Double]
}

/// Facial emotion recognition: sampled gray frames (upright), YuNet faces tracked through the clip, landmark
/// alignment to the framing the model was trained on, the ONNX model per face, frames aggregated into clip logits.
///
/// Owns its detector and network; not thread-safe — give each thread its own instance.
public final class FaceEmotionRecognizer {
    public let card: ModelCard
    public let mapping: [String: EmotionLabel]
    public let aligner: FaceAligner
    public var search: FaceSearch
    /// How frame outputs become clip logits (the card's choice).
    public var aggregation: FrameAggregation
    private let detector: FaceDetector
    private let network: NeuralNetwork
    private let scale: Float
    private let offset: Float

    /// Loads the card (`fer.json` by default), its model and the face detector named by the card; `head` picks one
    /// of a multi-head model's heads (default: the card's served head).
    public init(modelsDirectory directory: URL, cardFile: String = "fer.json", search: FaceSearch = .init(), head: String? = nil) throws {
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
        guard let face = try FaceTracker(detector: detector, search: search).faces(in: image).max(by: { $0.face.area < $1.face.area })?.face else {
            throw StreamFailure(code: StreamFailure.noFace, reason: "no face found in the image")
        }
        return try aligner.crop(image, landmarks: face.landmarks)
    }

    /// The prediction for one face image (see `alignedFace(inImage:)`).
    public func predict(faceImage image: GrayImage) throws -> StreamPrediction {
        prediction(logits: try logits(forAligned: try alignedFace(inImage: image)))
    }

    /// Decodes sampled frames of `source`, follows its faces and predicts the clip from its main face.
    ///
    /// - Throws: `MediaError` for unreadable media, `StreamFailure` with code `no_face` when no sampled frame
    ///   shows a face, `VisionError`/`AnalysisError` for model failures.
    public func analyze(
        _ source: MediaSource,
        sampling: FrameSampling = .rate(framesPerSecond: 5),
        range: TimeRange? = nil,
        options: MediaOpenOptions = .init()
    ) throws -> FaceAnalysis {
        let clock = ContinuousClock()
        let started = clock.now
        var detection = Duration.zero
        var alignment = Duration.zero
        var inference = Duration.zero
        var evidence: [Int: [FrameEvidence]] = [:]
        var sampled = 0
        var frameHeight = 0
        var videoOnly = options
        videoOnly.streams = [.video]
        let file = try MediaFile(source, options: videoOnly)
        let tracker = FaceTracker(detector: detector, search: search)
        let decoded = try file.forEachFrame(sampling: sampling, range: range) { frame in
            sampled += 1
            frameHeight = frame.height
            let image = GrayImage(width: frame.width, height: frame.height, pixels: frame.pixels)
            var mark = clock.now
            let faces = try tracker.faces(in: image)
            detection += clock.now - mark
            for (track, face) in faces {
                mark = clock.now
                let crop = try aligner.crop(image, landmarks: face.landmarks)
                alignment += clock.now - mark
                mark = clock.now
                let logits = try logits(forAligned: crop)
                inference += clock.now - mark
                evidence[track, default: []].append(FrameEvidence(logits: logits, detectionScore: face.score, faceSize: face.height))
            }
            return true
        }
        guard let primary = tracker.primary, let frames = evidence[primary.id], let logits = aggregation.clipLogits(frames, neutral: neutralIndex) else {
            throw StreamFailure(code: StreamFailure.noFace,
                                reason: sampled == 0 ? "no frame was decoded" : "no face found in \(sampled) sampled frames")
        }
        let sizes = frames.map(\.faceSize).sorted()
        let total = clock.now - started
        return FaceAnalysis(
            prediction: prediction(logits: logits),
            framesDecoded: decoded,
            framesSampled: sampled,
            facesFound: frames.count,
            facesSeen: tracker.mostFacesInOneFrame,
            rotation: file.info.video?.rotation ?? 0,
            faceHeightFraction: frameHeight > 0 ? sizes[sizes.count / 2] / Double(frameHeight) : 0,
            frames: frames,
            timings: [
                "decode": (total - detection - alignment - inference).seconds,
                "face_detection": detection.seconds,
                "alignment": alignment.seconds,
                "inference": inference.seconds,
            ]
        )
    }
}
