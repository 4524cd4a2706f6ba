import Analysis
import Emotion
import Foundation
import Media

/// Which media a worker may open: local files under `roots` (all when empty) and URLs with allowed schemes.
public struct MediaPolicy: Sendable, Equatable {
    public var roots: [String]
    public var protocols: [String]

    public init(roots: [String] = [], protocols: [String] = ["file", "http", "https"]) {
        self.roots = roots.map { URL(fileURLWithPath: $0).standardizedFileURL.resolvingSymlinksInPath().path }
        self.protocols = protocols
    }

    /// The open options to use, or a failure when `source` is outside the policy.
    func check(_ source: MediaSource) -> Result<MediaOpenOptions, StreamFailure> {
        let transport = ["tcp", "tls", "crypto"]
        // A file: URL Foundation cannot parse has no path to check against the roots: refuse it rather than let
        // FFmpeg interpret it.
        if source.scheme == "file", source.localPath == nil {
            return .failure(StreamFailure(code: "forbidden_source", reason: "\(source.location) is not a usable file URL"))
        }
        if let path = source.localPath {
            guard protocols.contains("file") else {
                return .failure(StreamFailure(code: "forbidden_source", reason: "local files are not allowed"))
            }
            let resolved = URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path
            if !roots.isEmpty, !roots.contains(where: { resolved == $0 || resolved.hasPrefix($0.hasSuffix("/") ? $0 : $0 + "/") }) {
                return .failure(StreamFailure(code: "forbidden_source", reason: "\(path) is outside the allowed media roots"))
            }
            return .success(MediaOpenOptions(allowedProtocols: ["file"]))
        }
        guard let scheme = source.scheme, protocols.contains(scheme) else {
            return .failure(StreamFailure(code: "forbidden_source", reason: "scheme '\(source.scheme ?? "?")' is not allowed"))
        }
        return .success(MediaOpenOptions(allowedProtocols: protocols + transport))
    }
}

/// Turns a job into a result. One instance per processing thread (it owns a model).
public protocol JobProcessor: AnyObject {
    /// The model the results come from.
    var model: ModelIdentity { get }
    /// Analyses the job's stream within `deadline`; never throws — failures become failed or absent results
    /// (a job past its deadline fails with `timeout`).
    func process(_ job: JobMessage, worker: String, deadline: MediaDeadline) -> ResultMessage
}

extension JobProcessor {
    /// The result for an error thrown while analysing.
    func failure(_ job: JobMessage, _ error: any Error, worker: String) -> ResultMessage {
        let failure = StreamFailure(error)
        var result = ResultMessage(job: job, outcome: failure.meansAbsent ? .absent : .failed, model: model, worker: worker)
        result.error = ResultMessage.Failure(code: failure.code, reason: failure.reason)
        return result
    }
}

extension ResultMessage {
    /// The result, or a failed one (`invalid_model_output`) when the model's numbers are not finite: JSON cannot
    /// carry a NaN, and a message that cannot be encoded would reach Fusion empty and leave its clip queued.
    func requiringFiniteOutput(_ job: JobMessage) -> ResultMessage {
        let numbers = (logits ?? []) + (probabilities ?? []) + (faces ?? []).flatMap { $0.prediction.logits + $0.prediction.probabilities }
        guard numbers.contains(where: { !$0.isFinite }) else { return self }
        var failed = ResultMessage(job: job, outcome: .failed, model: model, worker: worker)
        failed.timings = timings
        failed.error = Failure(code: "invalid_model_output", reason: "the model produced non-finite logits")
        return failed
    }
}

extension JobMessage {
    /// The span to decode: the job's window of a long clip, or the whole clip.
    var range: TimeRange? { segment.map { TimeRange(start: $0.start, duration: $0.duration) } }
}

extension ModelIdentity {
    init(_ card: ModelCard) {
        self.init(name: card.name, sha256: card.sha256, fusionWeight: card.fusionWeight)
    }
}

/// The audio worker's processing: speech emotion recognition.
public final class SpeechJobProcessor: JobProcessor {
    let recognizer: SpeechEmotionRecognizer
    let policy: MediaPolicy
    public let model: ModelIdentity

    public init(modelsDirectory: URL, policy: MediaPolicy) throws {
        recognizer = try SpeechEmotionRecognizer(modelsDirectory: modelsDirectory)
        self.policy = policy
        model = ModelIdentity(recognizer.card)
    }

    public func process(_ job: JobMessage, worker: String, deadline: MediaDeadline) -> ResultMessage {
        let source = MediaSource(job.source)
        do {
            var options = try policy.check(source).get()
            options.deadline = deadline
            let analysis = try recognizer.analyze(source, range: job.range, options: options)
            var result = ResultMessage(job: job, outcome: .ok, model: model, worker: worker)
            result.labels = analysis.prediction.labels
            result.logits = analysis.prediction.logits
            result.probabilities = analysis.prediction.probabilities
            result.mediaSeconds = analysis.duration
            result.timings = analysis.timings
            return result.requiringFiniteOutput(job)
        } catch {
            return failure(job, error, worker: worker)
        }
    }
}

/// The video worker's processing: face search and facial emotion recognition.
public final class FaceJobProcessor: JobProcessor {
    let recognizer: FaceEmotionRecognizer
    let policy: MediaPolicy
    let sampling: FrameSampling
    public let model: ModelIdentity

    public init(modelsDirectory: URL, policy: MediaPolicy, sampling: FrameSampling) throws {
        recognizer = try FaceEmotionRecognizer(modelsDirectory: modelsDirectory)
        self.policy = policy
        self.sampling = sampling
        model = ModelIdentity(recognizer.card)
    }

    public func process(_ job: JobMessage, worker: String, deadline: MediaDeadline) -> ResultMessage {
        let source = MediaSource(job.source)
        do {
            var options = try policy.check(source).get()
            options.deadline = deadline
            let analysis = try recognizer.analyze(source, sampling: sampling, range: job.range, options: options)
            var result = ResultMessage(job: job, outcome: .ok, model: model, worker: worker)
            result.labels = analysis.prediction.labels
            result.logits = analysis.prediction.logits
            result.probabilities = analysis.prediction.probabilities
            result.framesDecoded = analysis.framesDecoded
            result.framesSampled = analysis.framesSampled
            result.facesFound = analysis.facesFound
            result.facesSeen = analysis.facesSeen
            result.rotation = analysis.rotation
            result.faceHeight = analysis.faceHeightFraction
            result.faces = analysis.faces
            result.track = analysis.track
            result.speaker = analysis.speaker
            result.speakerStatus = analysis.speakerStatus.rawValue
            result.timings = analysis.timings
            return result.requiringFiniteOutput(job)
        } catch {
            return failure(job, error, worker: worker)
        }
    }
}
