import Emotion
import Foundation
import Media
import Vision

/// What the face stream found in one clip (or one span of it).
public struct FaceAnalysis: Sendable, Codable, Equatable {
    /// The clip's prediction from the frames with a face.
    public var prediction: StreamPrediction
    /// Frames decoded, frames sampled for face search, and sampled frames where a face was found.
    public var framesDecoded: Int
    public var framesSampled: Int
    public var facesFound: Int
    /// Seconds spent per stage: `decode`, `face_detection`, `crop_resize`, `inference`.
    public var timings: [String: Double]
}

/// Facial emotion recognition: sampled gray frames, Haar face search, crop, ONNX model per face,
/// frame logits averaged into clip logits.
///
/// Owns its detector and network; not thread-safe — give each thread its own instance.
public final class FaceEmotionRecognizer {
    public let card: ModelCard
    public let mapping: [String: EmotionLabel]
    public let detector: FaceDetector
    private let network: NeuralNetwork
    private let inputWidth: Int
    private let inputHeight: Int
    private let scale: Float
    private let offset: Float
    /// Margin added around a detected face before cropping, as a fraction of the box (horizontal, vertical).
    public let cropMargin: (horizontal: Double, vertical: Double)
    /// Sampled frames that reuse the last face box before the face is searched for again (around the box first,
    /// then the whole frame). 0 searches every sampled frame.
    public var reuseFaceBoxFrames = 2

    /// Loads the card (`fer.json` by default), its model and the face cascade.
    public init(
        modelsDirectory directory: URL,
        cardFile: String = "fer.json",
        cascadePath: String = FaceDetector.defaultCascadePath,
        detection: FaceDetector.Configuration = .init()
    ) throws {
        card = try ModelCard.load(cardFile, in: directory)
        guard card.task == .face else {
            throw AnalysisError(.invalidModelCard, reason: "\(cardFile) describes a \(card.task.rawValue) model, not a face model")
        }
        mapping = try card.canonicalMapping()
        inputWidth = Int(try card.parameter("width"))
        inputHeight = Int(try card.parameter("height"))
        scale = Float(try card.parameter("scale"))
        offset = Float(try card.parameter("offset"))
        cropMargin = (card.input["crop_margin_x"] ?? 0.1, card.input["crop_margin_y"] ?? 0.1)
        detector = try FaceDetector(cascadePath: cascadePath, configuration: detection)
        network = try NeuralNetwork(onnxPath: directory.appendingPathComponent(card.onnx).path)
    }

    /// The model input for a face image: resized to the model's size and scaled.
    public func input(for face: GrayImage) throws -> [Float] {
        guard face.width > 0, face.height > 0 else {
            throw AnalysisError(.emptyInput, reason: "the face image is empty")
        }
        let sized = (face.width == inputWidth && face.height == inputHeight)
            ? face : try face.resized(width: inputWidth, height: inputHeight, interpolation: .linear)
        return sized.pixels.map { Float($0) * scale + offset }
    }

    /// The model's logits for one face image (already cropped to the face).
    public func logits(forFace face: GrayImage) throws -> [Float] {
        let output = try network.forward(try input(for: face), shape: [1, 1, inputHeight, inputWidth])
        guard output.count == card.labels.count else {
            throw AnalysisError(.unexpectedOutput, reason: "\(card.name) gave \(output.count) outputs for \(card.labels.count) labels")
        }
        return output
    }

    /// The prediction for one face image.
    public func predict(face: GrayImage) throws -> StreamPrediction {
        StreamPrediction(labels: card.labels, logits: try logits(forFace: face), mapping: mapping)
    }

    /// The crop of `frame` around `box`, with the card's margin.
    public func crop(_ frame: GrayImage, around box: Box) -> GrayImage {
        let grown = Box(
            x: box.x - Int(Double(box.width) * cropMargin.horizontal),
            y: box.y - Int(Double(box.height) * cropMargin.vertical),
            width: box.width + 2 * Int(Double(box.width) * cropMargin.horizontal),
            height: box.height + 2 * Int(Double(box.height) * cropMargin.vertical)
        )
        return frame.cropped(to: grown)
    }

    /// Decodes sampled frames of `source`, finds the largest face in each and predicts the clip.
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
        var cropping = Duration.zero
        var inference = Duration.zero
        var frameLogits: [[Float]] = []
        var sampled = 0
        var lastFace: Box?
        var framesSinceSearch = 0
        var videoOnly = options
        videoOnly.streams = [.video]
        let file = try MediaFile(source, options: videoOnly)
        let decoded = try file.forEachFrame(sampling: sampling, range: range) { frame in
            sampled += 1
            let image = GrayImage(width: frame.width, height: frame.height, pixels: frame.pixels)
            var mark = clock.now
            var face: Box?
            if let previous = lastFace, framesSinceSearch < reuseFaceBoxFrames {
                face = previous
                framesSinceSearch += 1
            } else {
                face = try lastFace.flatMap { previous throws(VisionError) in try detector.largestFace(in: image, near: previous) }
                if face == nil { face = try detector.largestFace(in: image) }
                framesSinceSearch = 0
            }
            lastFace = face
            detection += clock.now - mark
            guard let face else { return true }
            mark = clock.now
            let input = try self.input(for: crop(image, around: face))
            cropping += clock.now - mark
            mark = clock.now
            let output = try network.forward(input, shape: [1, 1, inputHeight, inputWidth])
            inference += clock.now - mark
            guard output.count == card.labels.count else {
                throw AnalysisError(.unexpectedOutput, reason: "\(card.name) gave \(output.count) outputs for \(card.labels.count) labels")
            }
            frameLogits.append(output)
            return true
        }
        guard let logits = clipLogits(frames: frameLogits) else {
            throw StreamFailure(code: StreamFailure.noFace,
                                reason: sampled == 0 ? "no frame was decoded" : "no face found in \(sampled) sampled frames")
        }
        let total = clock.now - started
        return FaceAnalysis(
            prediction: StreamPrediction(labels: card.labels, logits: logits, mapping: mapping),
            framesDecoded: decoded,
            framesSampled: sampled,
            facesFound: frameLogits.count,
            timings: [
                "decode": (total - detection - cropping - inference).seconds,
                "face_detection": detection.seconds,
                "crop_resize": cropping.seconds,
                "inference": inference.seconds,
            ]
        )
    }
}
