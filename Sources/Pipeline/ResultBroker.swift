import Emotion
import Messaging
import Store

/// The broker as Fusion's loop uses it: the results queue and Fusion's copy of dead-lettered messages, consumed
/// on one connection. `AMQPResultBroker` is the real one; tests drive the loop with a fake.
protocol ResultBroker: AnyObject {
    /// The next delivery, waiting up to `timeout` (servicing heartbeats); `nil` when none came.
    func nextDelivery(timeout: Duration) throws -> Delivery?
    /// Whether a delivery is a dead-lettered message's copy rather than a result.
    func isDeadLetter(_ delivery: Delivery) -> Bool
    func ack(_ delivery: Delivery) throws
    func reject(_ delivery: Delivery, requeue: Bool) throws
    /// Closes the connection; unacknowledged deliveries go back to their queues.
    func close()
}

/// Fusion's RabbitMQ connection: results on one channel, dead-letter copies on another.
final class AMQPResultBroker: ResultBroker {
    let connection: BrokerConnection
    private let resultsChannel: UInt16 = 1
    private let deadChannel: UInt16 = 2

    /// Connects, declares the results queue and Fusion's dead-letter copy queue, and consumes both.
    init(url: BrokerURL, prefetch: Int) throws {
        connection = try BrokerConnection(url: url)
        try connection.openChannel(resultsChannel)
        try Topology.declare([Topology.resultsQueue], on: connection, channel: resultsChannel)
        try connection.setPrefetch(prefetch, channel: resultsChannel)
        try connection.consume(queue: Topology.resultsQueue, channel: resultsChannel)
        try connection.openChannel(deadChannel)
        try connection.declareQueue(FusionService.deadJobsQueue, quorum: true, deadLetterExchange: nil, deliveryLimit: 0,
                                    channel: deadChannel)
        try connection.bind(queue: FusionService.deadJobsQueue, exchange: Topology.deadLetterExchange, routingKey: "",
                            channel: deadChannel)
        try connection.setPrefetch(16, channel: deadChannel)
        try connection.consume(queue: FusionService.deadJobsQueue, channel: deadChannel)
    }

    func nextDelivery(timeout: Duration) throws -> Delivery? {
        guard case .delivery(let delivery)? = try connection.nextEvent(timeout: timeout) else { return nil }
        return delivery
    }

    func isDeadLetter(_ delivery: Delivery) -> Bool { delivery.channel == deadChannel }

    func ack(_ delivery: Delivery) throws { try connection.ack(delivery) }

    func reject(_ delivery: Delivery, requeue: Bool) throws { try connection.reject(delivery, requeue: requeue) }

    func close() { connection.close() }
}

/// Where Fusion stores results: `ResultStore`, or a fake in tests.
protocol ResultRecorder {
    /// Stores a stream result and, once the clip's streams are in, its fused result.
    func record(_ result: ResultMessage) throws -> ClipDecision?
    /// Stores `result` only when its stream has no result yet; returns whether it stored.
    func recordUnlessPresent(_ result: ResultMessage) throws -> Bool
}

extension ResultStore: ResultRecorder {}
