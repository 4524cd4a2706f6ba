import Foundation

/// The two analysis streams.
public enum StreamKind: String, Sendable, Codable, CaseIterable {
    case audio, video
}

/// A request to analyse one clip's stream: published by the Coordinator, consumed by a worker.
public struct JobMessage: Sendable, Codable, Equatable {
    /// The message format version this build writes and reads.
    public static let currentSchema = 1

    public var schema: Int
    /// Unique per publish; a redelivery carries the same id.
    public var jobID: UUID
    public var clipID: Int64
    public var batchID: Int64
    /// Path or URL of the media.
    public var source: String
    public var stream: StreamKind
    /// 1 for the first submission, higher when the Coordinator resubmits.
    public var attempt: Int
    /// The window of a long clip this job covers (`nil`: the whole clip).
    public var segment: Segment?

    enum CodingKeys: String, CodingKey {
        case schema, jobID = "job_id", clipID = "clip_id", batchID = "batch_id", source, stream, attempt, segment
    }

    public init(jobID: UUID = UUID(), clipID: Int64, batchID: Int64, source: String, stream: StreamKind, attempt: Int = 1,
                segment: Segment? = nil) {
        schema = Self.currentSchema
        self.jobID = jobID
        self.clipID = clipID
        self.batchID = batchID
        self.source = source
        self.stream = stream
        self.attempt = attempt
        self.segment = segment
    }
}

/// The model that produced a result.
public struct ModelIdentity: Sendable, Codable, Equatable {
    public var name: String
    public var sha256: String
    /// The stream's weight in late fusion, from the model card.
    public var fusionWeight: Double

    enum CodingKeys: String, CodingKey {
        case name, sha256, fusionWeight = "fusion_weight"
    }

    public init(name: String, sha256: String, fusionWeight: Double) {
        self.name = name
        self.sha256 = sha256
        self.fusionWeight = fusionWeight
    }
}

/// How a stream ended for a clip.
public enum StreamOutcome: String, Sendable, Codable {
    /// The model answered.
    case ok
    /// The stream is not there (no track, silent track, no face): fusion uses the other one.
    case absent
    /// The stream could not be processed (broken file, model error).
    case failed
}

/// A worker's answer for one job: published to the results queue, consumed by Fusion.
public struct ResultMessage: Sendable, Codable, Equatable {
    public static let currentSchema = 1

    /// Why a stream has no prediction.
    public struct Failure: Sendable, Codable, Equatable {
        public var code: String
        public var reason: String

        public init(code: String, reason: String) {
            self.code = code
            self.reason = reason
        }
    }

    public var schema: Int
    public var jobID: UUID
    public var clipID: Int64
    public var batchID: Int64
    public var source: String
    public var stream: StreamKind
    public var attempt: Int
    /// The window this result covers (`nil`: the whole clip).
    public var segment: Segment?
    public var outcome: StreamOutcome
    public var model: ModelIdentity
    /// The model's labels, raw logits and canonical probabilities (`outcome == .ok` only).
    public var labels: [String]?
    public var logits: [Float]?
    public var probabilities: [Float]?
    public var error: Failure?
    /// Video counts (`nil` for audio).
    public var framesDecoded: Int?
    public var framesSampled: Int?
    public var facesFound: Int?
    /// Most faces in one sampled frame, display rotation (degrees clockwise) and the face's height as a share of
    /// the frame height (video only).
    public var facesSeen: Int?
    public var rotation: Int?
    public var faceHeight: Double?
    /// Every face the video stream followed (video only).
    public var faces: [FaceTrackResult]?
    /// The face track the result is from: the speaker's face, or the largest and most persistent one (video only).
    public var track: Int?
    /// The speaking face's track (`nil`: none in view speaks, or not decided) and how it was decided (video only).
    /// With one face in view at a time (`single_face`) the worker cannot tell: Fusion names `track` once the audio
    /// stream has found speech.
    public var speaker: Int?
    public var speakerStatus: String?
    /// Seconds of media analysed.
    public var mediaSeconds: Double?
    /// Seconds per stage.
    public var timings: [String: Double]
    /// `host:pid` of the worker.
    public var worker: String

    enum CodingKeys: String, CodingKey {
        case schema, jobID = "job_id", clipID = "clip_id", batchID = "batch_id", source, stream, attempt, segment, outcome, model
        case labels, logits, probabilities, error, framesDecoded = "frames_decoded", framesSampled = "frames_sampled"
        case facesFound = "faces_found", facesSeen = "faces_seen", rotation, faceHeight = "face_height"
        case mediaSeconds = "media_seconds", timings, worker, faces, track, speaker
        case speakerStatus = "speaker_status"
    }

    /// A result for `job` with no prediction yet; fill in the outcome's fields.
    public init(job: JobMessage, outcome: StreamOutcome, model: ModelIdentity, worker: String) {
        schema = Self.currentSchema
        jobID = job.jobID
        clipID = job.clipID
        batchID = job.batchID
        source = job.source
        stream = job.stream
        attempt = job.attempt
        segment = job.segment
        self.outcome = outcome
        self.model = model
        timings = [:]
        self.worker = worker
    }

    /// The stream's prediction rebuilt from the message (`nil` unless `outcome == .ok`).
    public var prediction: StreamPrediction? {
        guard outcome == .ok, let labels, let logits, let probabilities,
              labels.count == logits.count, probabilities.count == EmotionLabel.allCases.count else { return nil }
        return StreamPrediction(labels: labels, logits: logits, probabilities: probabilities)
    }
}

/// Why a message body was refused.
public struct MessageDecodingError: Error, Sendable, Equatable, CustomStringConvertible {
    public var reason: String

    public init(reason: String) {
        self.reason = reason
    }

    public var description: String { reason }
}

/// Encodes and decodes messages, checking the schema version and size.
public enum MessageCodec {
    /// Encodes a message as compact JSON.
    public static func encode<Message: Encodable>(_ message: Message) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding our own Codable values cannot fail.
        return [UInt8]((try? encoder.encode(message)) ?? Data())
    }

    /// Decodes a job, refusing other schema versions and bodies over `limit` bytes.
    /// A job's window must be finite: start at or after 0, positive length.
    public static func decodeJob(_ body: [UInt8], limit: Int) throws(MessageDecodingError) -> JobMessage {
        let job = try decode(JobMessage.self, body, limit: limit, schema: JobMessage.currentSchema)
        if let segment = job.segment,
           !(segment.start.isFinite && segment.start >= 0 && segment.duration.isFinite && segment.duration > 0) {
            throw MessageDecodingError(reason: "segment \(segment.index) has start \(segment.start) and length \(segment.duration)")
        }
        return job
    }

    /// Decodes a result, refusing other schema versions and bodies over `limit` bytes.
    ///
    /// - Parameter checkingPrediction: Also refuse an `ok` result whose labels, logits and probabilities do not hold
    ///   together (`checkPrediction`; false: only the envelope, to say which clip a broken result was for).
    public static func decodeResult(_ body: [UInt8], limit: Int, checkingPrediction: Bool = true) throws(MessageDecodingError) -> ResultMessage {
        let result = try decode(ResultMessage.self, body, limit: limit, schema: ResultMessage.currentSchema)
        if checkingPrediction { try checkPrediction(result) }
        return result
    }

    /// Refuses an `ok` result whose labels, logits and probabilities do not hold together.
    public static func checkPrediction(_ result: ResultMessage) throws(MessageDecodingError) {
        if result.outcome == .ok, result.prediction == nil {
            throw MessageDecodingError(reason: "an ok result must carry labels, logits and 7 probabilities of matching sizes")
        }
    }

    private struct Header: Decodable { var schema: Int }

    private static func decode<Message: Decodable>(_ type: Message.Type, _ body: [UInt8], limit: Int, schema: Int) throws(MessageDecodingError) -> Message {
        guard body.count <= limit else {
            throw MessageDecodingError(reason: "message of \(body.count) bytes exceeds the \(limit)-byte limit")
        }
        let data = Data(body)
        let decoder = JSONDecoder()
        let header: Header
        do {
            header = try decoder.decode(Header.self, from: data)
        } catch {
            throw MessageDecodingError(reason: "not a message: \(describe(error))")
        }
        guard header.schema == schema else {
            throw MessageDecodingError(reason: "unknown schema version \(header.schema) (this build reads \(schema))")
        }
        do {
            return try decoder.decode(type, from: data)
        } catch {
            throw MessageDecodingError(reason: "malformed \(type): \(describe(error))")
        }
    }

    private static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): "missing field '\(key.stringValue)'"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            "bad value at '\(context.codingPath.map(\.stringValue).joined(separator: "."))'"
        case DecodingError.dataCorrupted(let context):
            context.codingPath.isEmpty ? "invalid JSON" : "bad value at '\(context.codingPath.map(\.stringValue).joined(separator: "."))'"
        default: "\(error)"
        }
    }
}
