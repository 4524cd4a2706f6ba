import Emotion
import Foundation
import Media
import Messaging
import Store

/// What a submission did.
public struct SubmissionSummary: Sendable, Equatable {
    public var batch: String
    public var batchID: Int64
    /// Sources found in the inputs.
    public var found: Int
    /// Clips whose jobs were published.
    public var published: Int
    /// Clips skipped because they already have results.
    public var skipped: Int
    /// Clips registered failed because their source did not answer the probe (`timeout`).
    public var failed: Int = 0
}

/// Registers clips in the database and publishes one job per clip and stream — or, for a clip longer than the
/// plan's threshold, one per window and stream — with publisher confirms.
///
/// Resumable: clips that already have results are skipped unless `force`; clips registered by an interrupted
/// submission (still queued) are published again, which is safe because results are idempotent. A source that does
/// not answer the duration probe within `probeTimeout` seconds is registered failed (`timeout`) and the rest go on.
public func submit(
    sources: [String], batch: String, force: Bool, plan: SegmentPlan = SegmentPlan(), databaseURL: DatabaseURL, broker: BrokerURL,
    probeTimeout: Double = 20
) throws -> SubmissionSummary {
    let database = try DatabaseConnection(url: databaseURL)
    try Schema.migrate(database)
    let store = ResultStore(database: database)
    let batchID = try store.batch(named: batch)
    let pending = try store.register(sources: sources, batchID: batchID, force: force)
    var failed = 0
    if !pending.isEmpty {
        let connection = try BrokerConnection(url: broker)
        defer { connection.close() }
        let publisher = try ConfirmedPublisher(connection: connection, channel: 1)
        try Topology.declare(StreamKind.allCases.map { Topology.jobQueue($0.rawValue) } + [Topology.resultsQueue],
                             on: connection, channel: 1)
        for clip in pending {
            let segments: [Segment]
            do {
                segments = try store.segmentPlan(clipID: clip.id) ?? plannedSegments(clip, plan: plan, store: store, timeout: probeTimeout)
            } catch let error as MediaError where error.code == .timeout {
                try store.failUnprobed(clipID: clip.id, reason: "\(error.code.rawValue): \(error.reason)")
                failed += 1
                continue
            }
            let windows: [Segment?] = segments.isEmpty ? [nil] : segments
            for window in windows {
                for stream in StreamKind.allCases {
                    let job = JobMessage(clipID: clip.id, batchID: batchID, source: clip.source, stream: stream,
                                         attempt: clip.attempt, segment: window)
                    try publisher.publish(MessageCodec.encode(job), toQueue: Topology.jobQueue(stream.rawValue),
                                          messageID: job.jobID.uuidString)
                }
            }
        }
        try publisher.waitForConfirms()
    }
    return SubmissionSummary(batch: batch, batchID: batchID, found: sources.count, published: pending.count - failed,
                             skipped: sources.count - pending.count, failed: failed)
}

/// Probes a clip's duration (from the container header, decoding nothing) and stores its window plan.
/// A clip that cannot be probed is analysed whole: its workers then report why it fails. A source that does not
/// answer throws `MediaError` `.timeout`.
private func plannedSegments(_ clip: PendingClip, plan: SegmentPlan, store: ResultStore, timeout: Double) throws -> [Segment] {
    let duration: Double
    do {
        duration = try MediaFile(MediaSource(clip.source), options: MediaOpenOptions(streams: [], networkTimeout: timeout)).info.duration
    } catch let error where error.code == .timeout {
        throw error
    } catch {
        duration = 0
    }
    let segments = plan.segments(forDuration: duration)
    try store.storePlan(clipID: clip.id, duration: duration, segments: segments)
    return segments
}
