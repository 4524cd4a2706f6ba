import Analysis
import ArgumentParser
import Emotion
import Foundation
import Media

/// Where the models live; shared by every command that loads one.
public struct ModelOptions: ParsableArguments {
    @Option(name: .customLong("models"), help: "Folder with the model cards and ONNX files (default: $ER_MODELS_DIR, ./Models, or next to the executable).")
    public var directory: String?

    public init() {}

    /// The resolved models folder.
    public func resolve() throws -> URL {
        try ModelDirectory.resolve(directory)
    }
}

/// How the video stream samples frames; shared by the commands that read video.
public struct SamplingOptions: ParsableArguments {
    @Option(name: .customLong("fps"), help: "Frames per second of video to read faces in (searched at most every 0.15 s).")
    public var framesPerSecond = FaceEmotionRecognizer.framesPerSecond

    @Flag(name: .customLong("reference-sampling"), help: "Sample like the reference project: every 3rd frame after the first 20 (overrides --fps).")
    public var referenceSampling = false

    public init() {}

    public func validate() throws {
        guard framesPerSecond > 0 else { throw ValidationError("--fps must be positive") }
    }

    public var sampling: FrameSampling { referenceSampling ? .reference : .rate(framesPerSecond: framesPerSecond) }
}

extension EvaluationProtocol: ExpressibleByArgument {}
