import Emotion
import Messaging

/// The broker as a worker's loop uses it: one connection with a job queue to consume and a confirmed channel for
/// results. `AMQPJobBroker` is the real one; tests drive the loop with a fake.
protocol JobBroker: AnyObject {
    /// Starts consuming the job queue.
    func startConsuming() throws
    /// Stops consuming; deliveries already received stay unacknowledged.
    func stopConsuming() throws
    /// The next delivery or confirm, waiting up to `timeout` (servicing heartbeats); `nil` when none came.
    func nextEvent(timeout: Duration) throws -> BrokerEvent?
    /// Publishes a result to the results queue; returns its confirm sequence number.
    func publish(_ result: ResultMessage) throws -> UInt64
    func ack(_ delivery: Delivery) throws
    func reject(_ delivery: Delivery, requeue: Bool) throws
    /// Closes the connection; unacknowledged deliveries go back to their queue.
    func close()
}

/// A worker's RabbitMQ connection: the job queue consumed on one channel, results published on a confirmed one.
final class AMQPJobBroker: JobBroker {
    let connection: BrokerConnection
    let queue: String
    private var consumerTag: String?
    private let consumeChannel: UInt16 = 1
    private let publishChannel: UInt16 = 2

    /// Connects, declares the job and results queues, and limits unacknowledged deliveries to `prefetch`.
    init(url: BrokerURL, stream: StreamKind, prefetch: Int) throws {
        queue = Topology.jobQueue(stream.rawValue)
        connection = try BrokerConnection(url: url)
        try connection.openChannel(consumeChannel)
        try Topology.declare([queue, Topology.resultsQueue], on: connection, channel: consumeChannel)
        try connection.setPrefetch(prefetch, channel: consumeChannel)
        try connection.openChannel(publishChannel)
        try connection.enableConfirms(channel: publishChannel)
    }

    func startConsuming() throws {
        consumerTag = try connection.consume(queue: queue, channel: consumeChannel)
    }

    func stopConsuming() throws {
        guard let tag = consumerTag else { return }
        consumerTag = nil
        try connection.cancel(consumerTag: tag, channel: consumeChannel)
    }

    func nextEvent(timeout: Duration) throws -> BrokerEvent? {
        try connection.nextEvent(timeout: timeout)
    }

    func publish(_ result: ResultMessage) throws -> UInt64 {
        try connection.publish(MessageCodec.encode(result), exchange: "", routingKey: Topology.resultsQueue,
                               messageID: result.jobID.uuidString, channel: publishChannel)
    }

    func ack(_ delivery: Delivery) throws { try connection.ack(delivery) }

    func reject(_ delivery: Delivery, requeue: Bool) throws { try connection.reject(delivery, requeue: requeue) }

    func close() { connection.close() }
}
