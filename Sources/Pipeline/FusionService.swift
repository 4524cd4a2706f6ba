import Emotion
import Foundation
import Logging
import Messaging
import Observability
import Store

/// How Fusion runs.
public struct FusionConfiguration: Sendable {
    public var broker: BrokerURL
    public var databaseURL: DatabaseURL
    /// Results the broker may send ahead.
    public var prefetch: Int
    /// Longest wait, after a stop request, for the database to come back for the result in hand.
    public var shutdownGrace: Duration

    public init(broker: BrokerURL, databaseURL: DatabaseURL, prefetch: Int = 64, shutdownGrace: Duration = .seconds(30)) {
        self.broker = broker
        self.databaseURL = databaseURL
        self.prefetch = prefetch
        self.shutdownGrace = shutdownGrace
    }
}

/// Fusion: consumes results, stores each stream's result and, once a clip's streams are in, its fused result —
/// in one transaction — and acknowledges only after the commit. The bookkeeping is `FusionStateMachine`; this class
/// runs it against a broker and the database.
///
/// It also consumes `deadJobsQueue`, a copy of every dead-lettered message (the originals stay in `er.dead`):
/// a job the broker gave up on (its delivery limit reached because the workers died on it) gets a failed
/// stream result, so that its clip still ends, instead of waiting as queued for ever.
///
/// Several Fusion processes can run at once: the clip row lock in `ResultStore.record` serialises them per
/// clip. A database outage holds the current result (unacknowledged) and retries with backoff, keeping the
/// broker connection alive meanwhile (heartbeats; deliveries that arrive are held, at most the prefetch, and
/// stored once the database is back), so an outage of any length causes no reconnect and no redelivery; a broker
/// outage reconnects with backoff. Stop with `stop.request()`: Fusion finishes the result in hand and returns; when
/// the database is away it gives up after `shutdownGrace` (or at a second request), leaving the result to the broker.
public final class FusionService: Sendable {
    public let configuration: FusionConfiguration
    public let stop = StopSignal()
    /// Alive while the loop turns; ready while connected to the broker and the database (`/healthz`, `/readyz`).
    public let health = ServiceHealth(dependencies: ["broker", "database"])
    let logger: Logger
    let connectBroker: @Sendable () throws -> any ResultBroker
    let connectStore: @Sendable () throws -> any ResultRecorder

    public convenience init(configuration: FusionConfiguration, logger: Logger) {
        self.init(configuration: configuration, logger: logger) {
            try AMQPResultBroker(url: configuration.broker, prefetch: configuration.prefetch)
        } connectStore: {
            let database = try DatabaseConnection(url: configuration.databaseURL)
            try Schema.migrate(database)
            logger.info("connected to the database", metadata: ["database": "\(database.url)"])
            return ResultStore(database: database)
        }
    }

    /// A Fusion whose broker connections and stores come from `connectBroker` and `connectStore`.
    init(configuration: FusionConfiguration, logger: Logger, connectBroker: @escaping @Sendable () throws -> any ResultBroker,
         connectStore: @escaping @Sendable () throws -> any ResultRecorder) {
        self.configuration = configuration
        self.logger = logger
        self.connectBroker = connectBroker
        self.connectStore = connectStore
    }

    /// Bound to the dead-letter exchange next to `er.dead`: Fusion's copy of every dead-lettered message.
    public static let deadJobsQueue = "er.dead.fusion"

    typealias Machine = FusionStateMachine<ContinuousClock.Instant>

    /// Runs until stopped.
    public func run() {
        let clock = ContinuousClock()
        var machine = Machine(shutdownGrace: configuration.shutdownGrace)
        var broker: (any ResultBroker)?
        var store: (any ResultRecorder)?
        var connectedBefore = false
        func lost(_ error: any Error) {
            health.set("broker", connected: false)
            broker?.close()
            broker = nil
            let now = clock.now
            machine.connectionLost(now: now)
            if case .wait(let delay) = machine.nextStep(now: now) {
                logger.warning("broker connection lost; reconnecting in \(delay)", metadata: ["error": "\(error)"])
            }
        }
        while true {
            health.beat()
            machine.stopRequested(count: stop.count, now: clock.now)
            switch machine.nextStep(now: clock.now) {
            case .exit:
                broker?.close()
                return
            case .wait(let delay):
                sleep(min(delay, .milliseconds(100)))
            case .connect:
                do {
                    broker = try connectBroker()
                    machine.connected(now: clock.now)
                    logger.info("consuming results", metadata: ["broker": "\(configuration.broker)"])
                    health.set("broker", connected: true)
                    if connectedBefore { PipelineMetrics.brokerReconnected(service: "er-fusion") }
                    connectedBefore = true
                    // Ready means able to store: open the database now rather than at the first result.
                    if store == nil {
                        store = try? connectStore()
                        health.set("database", connected: store != nil)
                    }
                } catch {
                    lost(error)
                }
            case .poll:
                do {
                    if let delivery = try broker?.nextDelivery(timeout: .milliseconds(100)) { machine.delivered(delivery) }
                } catch {
                    lost(error)
                }
            case .handle:
                guard let held = machine.take(), let connection = broker else { continue }
                do {
                    let wait: (Duration) throws -> Void = { duration in
                        try self.keepAlive(connection, for: duration, machine: &machine, clock: clock)
                    }
                    let outcome = try handle(held.delivery, on: connection, store: &store, wait: wait)
                    for action in machine.finished(held, outcome: outcome) {
                        switch action {
                        case .ack(let delivery): try connection.ack(delivery)
                        case .reject(let delivery, let requeue): try connection.reject(delivery, requeue: requeue)
                        }
                    }
                } catch is ShutdownDuringOutage {
                    logger.warning("stopping while the database is away; the result in hand goes back to the broker")
                } catch {
                    lost(error)
                }
            }
        }
    }

    /// Stores one delivery (a result, or a dead-letter copy); says whether to acknowledge or dead-letter it.
    func handle(_ delivery: Delivery, on broker: any ResultBroker, store: inout (any ResultRecorder)?,
                wait: (Duration) throws -> Void) throws -> Machine.Outcome {
        if broker.isDeadLetter(delivery) {
            try settleDeadLetter(delivery, store: &store, wait: wait)
            return .stored
        }
        let result: ResultMessage
        do {
            result = try MessageCodec.decodeResult(delivery.body, limit: Topology.maximumMessageBytes, checkingPrediction: false)
        } catch {
            logger.error("dead-lettering a message that is not a valid result",
                         metadata: ["delivery_tag": "\(delivery.deliveryTag)", "reason": "\(error)"])
            return .refused
        }
        do {
            try MessageCodec.checkPrediction(result)
        } catch {
            logger.error("dead-lettering a result whose prediction does not hold together",
                         metadata: ["clip_id": "\(result.clipID)", "reason": "\(error)"])
            try failStream(ofInvalidResult: result, reason: error, store: &store, wait: wait)
            return .refused
        }
        do {
            try storeUntilCommitted(result, store: &store, wait: wait)
            return .stored
        } catch let error as StoreRejection {
            logger.error("dead-lettering a result the database refuses",
                         metadata: ["clip_id": "\(result.clipID)", "reason": "\(error.underlying)"])
            // The server's own words may quote data: debug level only.
            logger.debug("refused result", metadata: ["clip_id": "\(result.clipID)", "detail": "\(String(reflecting: error.underlying))"])
            return .refused
        }
    }

    /// A result whose envelope reads (clip, stream, attempt) but whose prediction does not hold together — a broken
    /// worker's — fails its stream (`invalid_result`) unless a result is already stored, so that its clip ends
    /// with a reason instead of waiting for ever; the message itself is dead-lettered for inspection.
    func failStream(ofInvalidResult invalid: ResultMessage, reason: any Error, store: inout (any ResultRecorder)?,
                    wait: (Duration) throws -> Void) throws {
        var result = invalid
        result.outcome = .failed
        result.labels = nil
        result.logits = nil
        result.probabilities = nil
        result.error = ResultMessage.Failure(
            code: "invalid_result", reason: "the worker's result was not valid (\(reason)); it is in \(Topology.deadLetterQueue)")
        do {
            try storeUntilCommitted(result, store: &store, onlyIfMissing: true, wait: wait)
        } catch let error as StoreRejection {
            logger.error("cannot record an invalid result's failure", metadata: ["clip_id": "\(result.clipID)", "reason": "\(error.underlying)"])
        }
    }

    /// Records a failed stream result for a dead-lettered job that has no result yet (a result that came in
    /// meanwhile is kept). Other dead letters — results, messages that are not jobs, jobs on the wrong queue —
    /// need nothing: their originals stay in `er.dead`. Throws only when stopping while the database is away
    /// (the copy then stays unacknowledged).
    func settleDeadLetter(_ delivery: Delivery, store: inout (any ResultRecorder)?, wait: (Duration) throws -> Void) throws {
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
    func storeUntilCommitted(_ result: ResultMessage, store: inout (any ResultRecorder)?, onlyIfMissing: Bool = false,
                             wait: (Duration) throws -> Void) throws -> Bool {
        var backoff: Duration = .milliseconds(250)
        while true {
            if store == nil {
                // Not this result's fault (the server is away, or the migrations cannot run with this login): the
                // result waits, unacknowledged, instead of being dead-lettered.
                do {
                    store = try connectStore()
                    health.set("database", connected: true)
                } catch {
                    health.set("database", connected: false)
                    logger.warning("cannot open the result store; retrying in \(backoff)", metadata: ["error": "\(error)"])
                    try wait(backoff)
                    backoff = min(backoff * 2, .seconds(10))
                    continue
                }
            }
            let started = ContinuousClock.now
            do {
                if onlyIfMissing {
                    let recorded = try store!.recordUnlessPresent(result)
                    if recorded {
                        PipelineMetrics.resultStored(result, decision: nil, stored: true, seconds: (ContinuousClock.now - started).timeInterval)
                    }
                    if recorded {
                        logger.debug("stored result", metadata: ["clip_id": "\(result.clipID)", "stream": "\(result.stream.rawValue)",
                                                                 "decision": "failed stream (\(result.error?.code ?? "-"))"])
                    }
                    return recorded
                }
                let decision = try store!.record(result)
                PipelineMetrics.resultStored(result, decision: decision, stored: decision != nil,
                                             seconds: (ContinuousClock.now - started).timeInterval)
                logger.debug("stored result", metadata: ["clip_id": "\(result.clipID)", "stream": "\(result.stream.rawValue)",
                                                         "decision": "\(decision.map { "\($0)" } ?? "stale")"])
                return true
            } catch let error as DatabaseError where error.isTransient {
                store = nil
                health.set("database", connected: false)
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
    /// Spends `duration` servicing `broker` (heartbeats) instead of sleeping; deliveries that arrive are held by
    /// `machine`. Throws `ShutdownDuringOutage` once the machine says to give up (the grace after a stop is over).
    func keepAlive(_ broker: any ResultBroker, for duration: Duration, machine: inout Machine, clock: ContinuousClock) throws {
        let deadline = clock.now + duration
        while true {
            health.beat()
            let now = clock.now
            guard now < deadline else { return }
            machine.stopRequested(count: stop.count, now: now)
            if machine.shouldAbandon(now: now) { throw ShutdownDuringOutage() }
            if let delivery = try broker.nextDelivery(timeout: max(.milliseconds(1), min(deadline - now, .milliseconds(500)))) {
                machine.delivered(delivery)
            }
        }
    }
}

/// Fusion was asked to stop while the database was away, and the grace period is over.
struct ShutdownDuringOutage: Error {}

/// A result the database refuses for good (not a transient failure).
struct StoreRejection: Error {
    var underlying: any Error
}

func sleep(_ duration: Duration) {
    Thread.sleep(forTimeInterval: duration.timeInterval)
}
