import Emotion
import Foundation
import Messaging
import Store

/// What a submission did.
public struct SubmissionSummary: Sendable, Equatable {
    public var batch: String
    public var batchID: Int64
    /// Sources found in the inputs.
    public var found: Int
    /// Clips to be analysed: new ones, ones still queued from before and, with `force`, ones queued again.
    public var queued: Int
    /// Clips skipped because they already have results.
    public var skipped: Int
    /// Clips registered failed because their source did not answer the probe (`timeout`).
    public var failed: Int = 0
    /// Clips of the batch whose jobs wait in PostgreSQL for a feeder (the broker's queues were full).
    public var waiting: Int = 0
}

/// Registers clips in the database, a few thousand per statement, then tops the broker's job queues up once from
/// this batch (`Feeder`, waiting for a feeder that holds a stream's turn): a batch that fits in
/// `feeding.maxQueued` jobs per stream is published at once; the rest of a larger one waits in PostgreSQL for
/// `er-coordinator feed`.
///
/// Resumable: clips that already have results are skipped unless `force`; clips registered by an interrupted
/// submission (still queued) are fed as usual, and `republish` publishes again the jobs of queued clips already
/// handed to the broker (after it lost its queues), which is safe because results are idempotent. A source that
/// does not answer the duration probe within `feeding.probeTimeout` seconds is registered failed (`timeout`) and
/// the rest go on.
public func submit(
    sources: [String], batch: String, force: Bool, republish: Bool = false, priority: Int? = nil,
    feeding: FeederOptions = FeederOptions(), databaseURL: DatabaseURL, broker: BrokerURL
) throws -> SubmissionSummary {
    let database = try DatabaseConnection(url: databaseURL)
    try Schema.migrate(database)
    let store = ResultStore(database: database)
    let batchID = try store.batch(named: batch)
    if let priority { try store.setPriority(priority, batchID: batchID) }
    try store.setSegmentPlan(feeding.plan, batchID: batchID)
    var registration = Registration()
    var start = sources.startIndex
    while start < sources.endIndex {
        let end = min(start + ResultStore.registrationChunk, sources.endIndex)
        registration.count(try store.register(sources: Array(sources[start..<end]), batchID: batchID, force: force, republish: republish))
        start = end
    }
    let queued = registration.added + registration.resumed + registration.requeued
    var summary = SubmissionSummary(batch: batch, batchID: batchID, found: sources.count, queued: queued, skipped: registration.skipped)
    guard queued > 0 else { return summary }
    let feeder = try Feeder(databaseURL: databaseURL, brokerURL: broker, options: feeding)
    summary.failed = try feeder.topUp(batch: batchID).values.reduce(0) { $0 + $1.failed }
    summary.queued -= summary.failed
    summary.waiting = try StreamKind.allCases.map { try store.waitingCount(for: $0, batch: batch) }.max() ?? 0
    return summary
}
