import Emotion
import Foundation
import Logging
import Messaging
import Store

/// How Fusion runs.
public struct FusionConfiguration: Sendable {
    public var broker: BrokerURL
    public var databaseURL: String
    /// Results the broker may send ahead.
    public var prefetch: Int

    public init(broker: BrokerURL, databaseURL: String, prefetch: Int = 64) {
        self.broker = broker
        self.databaseURL = databaseURL
        self.prefetch = prefetch
    }
}

/// Fusion: consumes results, stores each stream's result and, once a clip's streams are in, its fused result —
/// in one transaction — and acknowledges only after the commit.
///
/// Several Fusion processes can run at once: the clip row lock in `ResultStore.record` serialises them per
/// clip. A database outage holds the current result (unacknowledged) and retries with backoff; a broker
/// outage reconnects with backoff. Stop with `stop.request()`.
public final class FusionService: Sendable {
    public let configuration: FusionConfiguration
    public let stop = StopSignal()
    let logger: Logger

    public init(configuration: FusionConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    /// Runs until stopped.
    public func run() {
        var broker: BrokerConnection?
        var store: ResultStore?
        var backoff: Duration = .milliseconds(250)
        let channel: UInt16 = 1
        while stop.count == 0 {
            do {
                if broker == nil {
                    let connection = try BrokerConnection(url: configuration.broker)
                    try connection.openChannel(channel)
                    try Topology.declare([Topology.resultsQueue], on: connection, channel: channel)
                    try connection.setPrefetch(configuration.prefetch, channel: channel)
                    try connection.consume(queue: Topology.resultsQueue, channel: channel)
                    broker = connection
                    logger.info("consuming results", metadata: ["broker": "\(configuration.broker)"])
                }
                guard case .delivery(let delivery)? = try broker!.nextEvent(timeout: .milliseconds(100)) else { continue }
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
                    try storeUntilCommitted(result, store: &store)
                } catch let error as StoreRejection {
                    logger.error("dead-lettering a result the database refuses",
                                 metadata: ["clip_id": "\(result.clipID)", "reason": "\(error.underlying)"])
                    try broker!.reject(delivery, requeue: false)
                    continue
                }
                try broker!.ack(delivery)
                backoff = .milliseconds(250)
            } catch {
                logger.warning("broker connection lost; reconnecting in \(backoff)", metadata: ["error": "\(error)"])
                broker = nil
                sleep(backoff)
                backoff = min(backoff * 2, .seconds(10))
            }
        }
        broker?.close()
    }

    /// Stores `result`, reconnecting to the database and retrying while the failure is transient.
    func storeUntilCommitted(_ result: ResultMessage, store: inout ResultStore?) throws {
        var backoff: Duration = .milliseconds(250)
        while true {
            do {
                if store == nil {
                    let database = try DatabaseConnection(url: configuration.databaseURL)
                    try Schema.migrate(database)
                    store = ResultStore(database: database)
                    logger.info("connected to the database", metadata: ["database": "\(database.displayURL)"])
                }
                let decision = try store!.record(result)
                logger.debug("stored result", metadata: ["clip_id": "\(result.clipID)", "stream": "\(result.stream.rawValue)",
                                                         "decision": "\(decision.map { "\($0)" } ?? "stale")"])
                return
            } catch let error as DatabaseError where error.isTransient {
                store = nil
                if stop.count > 1 { throw error }
                logger.warning("database unavailable; retrying in \(backoff)", metadata: ["error": "\(error)"])
                sleep(backoff)
                backoff = min(backoff * 2, .seconds(10))
            } catch {
                throw StoreRejection(underlying: error)
            }
        }
    }
}

/// A result the database refuses for good (not a transient failure).
struct StoreRejection: Error {
    var underlying: any Error
}

func sleep(_ duration: Duration) {
    let (seconds, attoseconds) = duration.components
    Thread.sleep(forTimeInterval: Double(seconds) + Double(attoseconds) * 1e-18)
}
