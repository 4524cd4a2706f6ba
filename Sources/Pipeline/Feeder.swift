import Emotion
import Foundation
import Logging
import Media
import Messaging
import Observability
import Store

/// How a feeder bounds the broker's backlog and plans clips.
public struct FeederOptions: Sendable {
    /// Jobs a stream's queue may hold ready (not yet delivered to a worker); the feeder tops it up to this.
    public var maxQueued: Int
    /// How long clips are split into windows (probed when their jobs are first published), for batches whose
    /// submission stored no plan of its own.
    public var plan: SegmentPlan
    /// Seconds a URL may take to answer the duration probe; one that does not is registered failed (`timeout`).
    public var probeTimeout: Double

    public init(maxQueued: Int = 2000, plan: SegmentPlan = SegmentPlan(), probeTimeout: Double = 20) {
        self.maxQueued = maxQueued
        self.plan = plan
        self.probeTimeout = probeTimeout
    }
}

/// What one top-up of one stream did.
public struct FeedRound: Sendable, Equatable {
    /// Jobs ready in the stream's queue before the top-up (`nil`: another feeder had the turn).
    public var readyBefore: Int?
    public var published = 0
    public var clips = 0
    /// Clips failed because their source did not answer the duration probe.
    public var failed = 0

    public init() {}
}

/// Moves clips waiting in PostgreSQL into the broker's job queues, keeping each stream's queue at most
/// `maxQueued` ready jobs, so that the broker holds a bounded backlog whatever the batch size.
///
/// One top-up of a stream runs in one database transaction: it takes the stream's turn (an advisory lock, so that
/// several feeders never fill one queue twice over), reads the queue's depth, reads the next waiting clips (higher
/// priority batches first; no row locks, so Fusion never waits for a feeder and a feeder never passes a clip
/// over), probes the ones not yet planned, publishes their jobs with publisher confirms and marks them fed (each
/// only if still at the attempt it read). A feeder that dies before the commit leaves its clips waiting: the next top-up publishes them
/// again, and results are idempotent, so nothing is lost and no clip is fused twice.
/// Belongs to one thread (its database and broker connections are not shared).
public final class Feeder {
    public let options: FeederOptions
    private let database: DatabaseConnection
    private let store: ResultStore
    private let broker: BrokerConnection
    private let publisher: ConfirmedPublisher
    private let logger: Logger
    /// Clips locked per query, so that a top-up reads a bounded number of rows at a time.
    static let selection = 500
    static let depthChannel: UInt16 = 2

    /// Connects to both servers, applies the schema and declares the queues.
    public init(databaseURL: DatabaseURL, brokerURL: BrokerURL, options: FeederOptions, logger: Logger = Logger(label: "er.feeder")) throws {
        precondition(options.maxQueued > 0, "maxQueued must be positive")
        self.options = options
        self.logger = logger
        database = try DatabaseConnection(url: databaseURL)
        try Schema.migrate(database)
        store = ResultStore(database: database)
        broker = try BrokerConnection(url: brokerURL)
        publisher = try ConfirmedPublisher(connection: broker, channel: 1)
        try Topology.declare(StreamKind.allCases.map { Topology.jobQueue($0.rawValue) } + [Topology.resultsQueue],
                             on: broker, channel: 1)
        try broker.openChannel(Self.depthChannel)
    }

    deinit {
        broker.close()
    }

    /// Tops up every stream's queue once (with `batch`, from that batch only; see `topUp(_:batch:)`).
    public func topUp(batch: Int64? = nil) throws -> [StreamKind: FeedRound] {
        var rounds: [StreamKind: FeedRound] = [:]
        for stream in StreamKind.allCases {
            rounds[stream] = try topUp(stream, batch: batch)
        }
        return rounds
    }

    /// Tops up one stream's queue to `maxQueued` ready jobs; logs what it published once committed. With `batch`,
    /// only that batch's clips are fed and the stream's turn is waited for (a submission feeding its own batch);
    /// without, every batch's by priority, and a turn another feeder holds is left to it.
    public func topUp(_ stream: StreamKind, batch only: Int64? = nil) throws -> FeedRound {
        var unanswered: [(clip: Int64, reason: String)] = []
        var round = try database.transaction { _ in
            var round = FeedRound()
            guard try store.takeFeedingTurn(for: stream, wait: only != nil) else { return round }
            let queue = Topology.jobQueue(stream.rawValue)
            let ready = try broker.depth(of: queue, channel: Self.depthChannel).messages
            round.readyBefore = ready
            var room = options.maxQueued - ready
            guard room > 0 else { return round }
            let batches = try only.map { [$0] } ?? store.batchesWaiting(for: stream)
            for batch in batches {
                let batchPlan = try store.segmentPlan(batchID: batch) ?? options.plan
                var after: Int64 = 0
                var exhausted = false
                while room > 0, !exhausted {
                    let limit = min(room, Self.selection)
                    let clips = try store.waitingClips(for: stream, batchID: batch, after: after, limit: limit)
                    exhausted = clips.count < limit
                    after = clips.last?.id ?? after
                    var fed: [PendingClip] = []
                    for clip in clips where room > 0 {
                        let windows: [Segment?]
                        do {
                            let segments = try store.segmentPlan(clipID: clip.id) ?? plan(clip, batchPlan)
                            windows = segments.isEmpty ? [nil] : segments
                        } catch let error as MediaError where error.code == .timeout {
                            unanswered.append((clip.id, "\(error.code.rawValue): \(error.reason)"))
                            continue
                        }
                        for window in windows {
                            let job = JobMessage(clipID: clip.id, batchID: batch, source: clip.source, stream: stream,
                                                 attempt: clip.attempt, segment: window)
                            try publisher.publish(MessageCodec.encode(job), toQueue: queue, messageID: job.jobID.uuidString)
                            logger.debug("published", metadata: ["job": "\(job.jobID)", "clip": "\(clip.id)", "stream": "\(stream.rawValue)"])
                        }
                        room -= windows.count
                        round.published += windows.count
                        fed.append(clip)
                    }
                    // Marked in this transaction; the commit comes only after the broker confirmed every publish.
                    try store.markFed(fed, stream: stream)
                    round.clips += fed.count
                }
                if room <= 0 { break }
            }
            try publisher.waitForConfirms()
            return round
        }
        // Apart from the top-up, so that it never holds batch counters while Fusion waits for a clip it marked.
        for (clip, reason) in unanswered {
            try store.failUnprobed(clipID: clip, reason: reason)
        }
        round.failed = unanswered.count
        PipelineMetrics.jobsFed(round.published, stream: stream)
        if round.clips + round.failed > 0 {
            logger.info("topped up", metadata: [
                "stream": "\(stream.rawValue)", "ready_before": "\(round.readyBefore ?? 0)", "jobs": "\(round.published)",
                "clips": "\(round.clips)", "failed": "\(round.failed)",
            ])
        }
        return round
    }

    /// Probes a clip's duration (from the container header, decoding nothing) and stores its window plan.
    /// A clip that cannot be probed is analysed whole: its workers then report why it fails. A source that does
    /// not answer throws `MediaError` `.timeout`.
    private func plan(_ clip: PendingClip, _ plan: SegmentPlan) throws -> [Segment] {
        // Another stream's feeder may be planning it: wait for it, then use its plan.
        try store.lockClip(clip.id)
        if let planned = try store.segmentPlan(clipID: clip.id) { return planned }
        let duration: Double
        do {
            duration = try MediaFile(MediaSource(clip.source),
                                     options: MediaOpenOptions(streams: [], networkTimeout: options.probeTimeout)).info.duration
        } catch let error where error.code == .timeout {
            throw error
        } catch {
            duration = 0
        }
        let segments = plan.segments(forDuration: duration)
        try store.storePlan(clipID: clip.id, duration: duration, segments: segments)
        return segments
    }
}

/// Runs a feeder until stopped: a top-up of every stream every `interval`; after a failure (broker or database
/// away) it connects again with a growing delay, and what it had not committed is published again.
public final class FeederService: @unchecked Sendable {
    public let stop = StopSignal()
    /// Alive while the loop turns; ready while its last top-up reached the broker and the database.
    public let health = ServiceHealth(dependencies: ["broker", "database"])
    let databaseURL: DatabaseURL
    let brokerURL: BrokerURL
    let options: FeederOptions
    let interval: Duration
    let logger: Logger

    public init(databaseURL: DatabaseURL, brokerURL: BrokerURL, options: FeederOptions, interval: Duration, logger: Logger) {
        self.databaseURL = databaseURL
        self.brokerURL = brokerURL
        self.options = options
        self.interval = interval
        self.logger = logger
    }

    /// Feeds until `stop` is requested.
    public func run() {
        var feeder: Feeder?
        var backoff = Duration.milliseconds(250)
        while stop.count == 0 {
            do {
                let current = try feeder ?? Feeder(databaseURL: databaseURL, brokerURL: brokerURL, options: options, logger: logger)
                if feeder == nil { logger.info("feeding", metadata: ["max_queued": "\(options.maxQueued)"]) }
                feeder = current
                _ = try current.topUp()
                health.set("broker", connected: true)
                health.set("database", connected: true)
                backoff = .milliseconds(250)
                pause(interval)
            } catch {
                health.set("broker", connected: false)
                health.set("database", connected: false)
                logger.warning("top-up failed; connecting again", metadata: ["error": "\(error)", "retry_in": "\(backoff)"])
                feeder = nil
                pause(backoff)
                backoff = min(backoff * 2, .seconds(10))
            }
        }
    }

    /// Sleeps for `duration`, waking early when a stop is requested.
    private func pause(_ duration: Duration) {
        let deadline = ContinuousClock.now + duration
        while stop.count == 0, ContinuousClock.now < deadline {
            health.beat()
            Thread.sleep(forTimeInterval: min(0.1, max(0, (deadline - ContinuousClock.now).timeInterval)))
        }
    }
}
