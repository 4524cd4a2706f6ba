import Emotion
import Foundation
import Logging
import Messaging
import Store

/// How Fusion runs.
public struct FusionConfiguration: Sendable {
    public var broker: BrokerURL
    public var databaseURL: DatabaseURL
    /// Results the broker may send ahead.
    public var prefetch: Int

    public init(broker: BrokerURL, databaseURL: DatabaseURL, prefetch: Int = 64) {
        self.broker = broker
        self.databaseURL = databaseURL
        self.prefetch = prefetch
    }
}

/// Fusion: consumes results, stores each stream's result and, once a clip's streams are in, its fused result —
/// in one transaction — and acknowledges only after the commit.
///
/// It also consumes `deadJobsQueue`, a copy of every dead-lettered message (the originals stay in `er.dead`):
/// a job the broker gave up on (its delivery limit reached because the workers died on it) gets a failed
/// stream result, so that its clip still ends, instead of waiting as queued for ever.
///
/// Several Fusion processes can run at once: the clip row lock in `ResultStore.record` serialises them per
/// clip. A database outage holds the current result (unacknowledged) and retries with backoff, keeping the
/// broker connection alive meanwhile (heartbeats; deliveries that arrive are held, at most the prefetch, and
/// stored once the database is back), so an outage of any length causes no reconnect and no redelivery; a broker
/// outage reconnects with backoff. Stop with `stop.request()`.
public final class FusionService: Sendable {
    public let configuration: FusionConfiguration
    public let stop = StopSignal()
    let logger: Logger

    public init(configuration: FusionConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    /// Bound to the dead-letter exchange next to `er.dead`: Fusion's copy of every dead-lettered message.
    public static let deadJobsQueue = "er.dead.fusion"

    /// Runs until stopped.
    public func run() {
        var broker: BrokerConnection?
        var store: ResultStore?
        var backoff: Duration = .milliseconds(250)
        let channel: UInt16 = 1
        let deadChannel: UInt16 = 2
        // Deliveries that arrived while the database was away, in order; valid only on the connection they came on.
        var held: [Delivery] = []
        while stop.count == 0 {
            do {
                if broker == nil {
                    let connection = try BrokerConnection(url: configuration.broker)
                    try connection.openChannel(channel)
                    try Topology.declare([Topology.resultsQueue], on: connection, channel: channel)
                    try connection.setPrefetch(configuration.prefetch, channel: channel)
                    try connection.consume(queue: Topology.resultsQueue, channel: channel)
                    try connection.openChannel(deadChannel)
                    try connection.declareQueue(Self.deadJobsQueue, quorum: true, deadLetterExchange: nil, deliveryLimit: 0,
                                                channel: deadChannel)
                    try connection.bind(queue: Self.deadJobsQueue, exchange: Topology.deadLetterExchange, routingKey: "",
                                        channel: deadChannel)
                    try connection.setPrefetch(16, channel: deadChannel)
                    try connection.consume(queue: Self.deadJobsQueue, channel: deadChannel)
                    broker = connection
                    logger.info("consuming results", metadata: ["broker": "\(configuration.broker)"])
                }
                let delivery: Delivery
                if held.isEmpty {
                    guard case .delivery(let next)? = try broker!.nextEvent(timeout: .milliseconds(100)) else { continue }
                    delivery = next
                } else {
                    delivery = held.removeFirst()
                }
                let connection = broker!
                let wait: (Duration) throws -> Void = { duration in
                    try self.keepAlive(connection, for: duration) { held.append($0) }
                }
                if delivery.channel == deadChannel {
                    try settleDeadLetter(delivery, store: &store, wait: wait)
                    try broker!.ack(delivery)
                    continue
                }
                let result: ResultMessage
                do {
                    result = try MessageCodec.decodeResult(delivery.body, limit: Topology.maximumMessageBytes)
                } catch {
                    logger.error("dead-lettering a message that is not a valid result",
                                 metadata: ["delivery_tag": "\(delivery.deliveryTag)", "reason": "\(error)"])
                    try broker!.reject(delivery, requeue: false)
                    continue
                }
                do {
                    try storeUntilCommitted(result, store: &store, wait: wait)
                } catch let error as StoreRejection {
                    logger.error("dead-lettering a result the database refuses",
                                 metadata: ["clip_id": "\(result.clipID)", "reason": "\(error.underlying)"])
                    // The server's own words may quote data: debug level only.
                    logger.debug("refused result", metadata: ["clip_id": "\(result.clipID)", "detail": "\(String(reflecting: error.underlying))"])
                    try broker!.reject(delivery, requeue: false)
                    continue
                }
                try broker!.ack(delivery)
                backoff = .milliseconds(250)
            } catch {
                logger.warning("broker connection lost; reconnecting in \(backoff)", metadata: ["error": "\(error)"])
                broker = nil
                held.removeAll()  // the broker redelivers them: they were never acknowledged
                sleep(backoff)
                backoff = min(backoff * 2, .seconds(10))
            }
        }
        broker?.close()
    }

    /// Records a failed stream result for a dead-lettered job that has no result yet (a result that came in
    /// meanwhile is kept). Other dead letters — results, messages that are not jobs, jobs on the wrong queue —
    /// need nothing: their originals stay in `er.dead`. Throws only when stopping while the database is away
    /// (the copy then stays unacknowledged).
    func settleDeadLetter(_ delivery: Delivery, store: inout ResultStore?, wait: (Duration) throws -> Void) throws {
        guard delivery.routingKey.hasPrefix(Topology.jobQueue("")),
              let job = try? MessageCodec.decodeJob(delivery.body, limit: Topology.maximumMessageBytes),
              delivery.routingKey == Topology.jobQueue(job.stream.rawValue) else { return }
        var result = ResultMessage(job: job, outcome: .failed, model: ModelIdentity(name: "none", sha256: "", fusionWeight: 0),
                                   worker: "dead-letter")
        result.error = ResultMessage.Failure(
            code: "dead_lettered",
            reason: "the broker dead-lettered the job: delivered past its limit of \(Topology.deliveryLimit) without a result "
                + "(the workers died on it, or handed it back); it is in \(Topology.deadLetterQueue)")
        do {
            let recorded = try storeUntilCommitted(result, store: &store, onlyIfMissing: true, wait: wait)
            logger.warning(recorded ? "a dead-lettered job failed its stream" : "a dead-lettered job already has a result",
                           metadata: ["clip_id": "\(job.clipID)", "stream": "\(job.stream.rawValue)",
                                      "segment": "\(job.segment.map { String($0.index) } ?? "-")", "source": "\(job.source)"])
        } catch let error as StoreRejection {
            logger.error("cannot record a dead-lettered job", metadata: ["clip_id": "\(job.clipID)", "reason": "\(error.underlying)"])
        }
    }

    /// Stores `result`, reconnecting to the database and retrying while the failure is transient, with `wait`
    /// between tries (it keeps the broker connection alive). With `onlyIfMissing`, a stream that already has a
    /// result is left alone; returns whether it stored.
    @discardableResult
    func storeUntilCommitted(_ result: ResultMessage, store: inout ResultStore?, onlyIfMissing: Bool = false,
                             wait: (Duration) throws -> Void) throws -> Bool {
        var backoff: Duration = .milliseconds(250)
        while true {
            do {
                if store == nil {
                    let database = try DatabaseConnection(url: configuration.databaseURL)
                    try Schema.migrate(database)
                    store = ResultStore(database: database)
                    logger.info("connected to the database", metadata: ["database": "\(database.url)"])
                }
                if onlyIfMissing {
                    return try store!.recordUnlessPresent(result)
                }
                let decision = try store!.record(result)
                logger.debug("stored result", metadata: ["clip_id": "\(result.clipID)", "stream": "\(result.stream.rawValue)",
                                                         "decision": "\(decision.map { "\($0)" } ?? "stale")"])
                return true
            } catch let error as DatabaseError where error.isTransient {
                store = nil
                if stop.count > 1 { throw error }
                logger.warning("database unavailable; retrying in \(backoff)", metadata: ["error": "\(error)"])
                try wait(backoff)
                backoff = min(backoff * 2, .seconds(10))
            } catch {
                throw StoreRejection(underlying: error)
            }
        }
    }
}

extension FusionService {
    /// Spends `duration` servicing `connection` (heartbeats) instead of sleeping; deliveries that arrive go to
    /// `hold`. Returns early on a second stop request.
    func keepAlive(_ connection: BrokerConnection, for duration: Duration, hold: (Delivery) -> Void) throws {
        let clock = ContinuousClock()
        let deadline = clock.now + duration
        while clock.now < deadline, stop.count <= 1 {
            if case .delivery(let delivery)? = try connection.nextEvent(timeout: min(deadline - clock.now, .milliseconds(500))) {
                hold(delivery)
            }
        }
    }
}

/// A result the database refuses for good (not a transient failure).
struct StoreRejection: Error {
    var underlying: any Error
}

func sleep(_ duration: Duration) {
    Thread.sleep(forTimeInterval: duration.timeInterval)
}
