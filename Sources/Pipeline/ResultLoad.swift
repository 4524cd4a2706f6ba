import Emotion
import Foundation
import Messaging
import Store

/// What a result load run measured.
public struct ResultLoadReport: Sendable {
    public var clips: Int
    public var results: Int
    /// Seconds to publish every result (with publisher confirms).
    public var publishSeconds: Double
    /// Seconds from the first publish until every clip of the batch was fused and stored.
    public var storeSeconds: Double

    public var publishedPerSecond: Double { Double(results) / max(publishSeconds, 1e-9) }
    public var storedPerSecond: Double { Double(results) / max(storeSeconds, 1e-9) }
}

/// A load generator for sizing a stack: registers `clips` clips in a batch of their own (marked published, so no
/// feeder hands them to workers), publishes a well-formed audio and video result for each straight to
/// `er.results`, as workers would, and measures how fast the running Fusion processes store and fuse them.
public func runResultLoad(clips: Int, batch: String, databaseURL: DatabaseURL, broker brokerURL: BrokerURL,
                          timeout: Duration = .seconds(3600)) throws -> ResultLoadReport {
    let database = try DatabaseConnection(url: databaseURL)
    try Schema.migrate(database)
    let store = ResultStore(database: database)
    let batchID = try store.batch(named: batch)
    var pending: [PendingClip] = []
    var start = 0
    while start < clips {
        let end = min(start + ResultStore.registrationChunk, clips)
        let chunk = try store.register(sources: (start..<end).map { "load://\(batch)/\($0).mp4" }, batchID: batchID, force: true).pending
        for stream in StreamKind.allCases { try store.markFed(chunk, stream: stream) }
        pending += chunk
        start = end
    }
    let connection = try BrokerConnection(url: brokerURL)
    defer { connection.close() }
    let publisher = try ConfirmedPublisher(connection: connection, channel: 1, window: 1024)
    try Topology.declare([Topology.resultsQueue], on: connection, channel: 1)
    let labels = EmotionLabel.allCases.map(\.rawValue)
    let mapping = Dictionary(uniqueKeysWithValues: EmotionLabel.allCases.map { ($0.rawValue, $0) })
    var generator = SystemRandomNumberGenerator()
    let clock = ContinuousClock()
    let started = clock.now
    for clip in pending {
        for stream in StreamKind.allCases {
            let job = JobMessage(clipID: clip.id, batchID: batchID, source: clip.source, stream: stream, attempt: clip.attempt)
            var result = ResultMessage(job: job, outcome: .ok, model: ModelIdentity(name: "load-\(stream.rawValue)", sha256: "0", fusionWeight: 1),
                                       worker: "load:\(getpid())")
            let prediction = StreamPrediction(labels: labels, logits: labels.map { _ in Float.random(in: -2...2, using: &generator) },
                                              mapping: mapping)
            result.labels = prediction.labels
            result.logits = prediction.logits
            result.probabilities = prediction.probabilities
            result.mediaSeconds = 3
            try publisher.publish(MessageCodec.encode(result), toQueue: Topology.resultsQueue, messageID: result.jobID.uuidString)
        }
    }
    try publisher.waitForConfirms()
    let published = clock.now - started
    let deadline = started + timeout
    while clock.now < deadline {
        guard let progress = try store.progress(batch: batch).first, progress.queued > 0 else { break }
        Thread.sleep(forTimeInterval: 0.05)
    }
    return ResultLoadReport(clips: pending.count, results: 2 * pending.count, publishSeconds: (published).timeInterval,
                            storeSeconds: (clock.now - started).timeInterval)
}
