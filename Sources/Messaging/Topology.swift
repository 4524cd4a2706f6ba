/// The queues this system uses, declared idempotently by whoever uses them.
///
/// Jobs and results travel through the default exchange (routing key = queue name). Every queue is a durable
/// quorum queue whose messages are dead-lettered to `deadLetterQueue` when rejected without requeue or
/// delivered more than `deliveryLimit` times (a poison message that kills its consumer).
public enum Topology {
    /// The dead-letter exchange (fanout) and its queue.
    public static let deadLetterExchange = "er.dead"
    public static let deadLetterQueue = "er.dead"
    /// Where workers publish results for Fusion.
    public static let resultsQueue = "er.results"
    /// Deliveries after which a message is dead-lettered.
    public static let deliveryLimit = 5
    /// Largest message body accepted; larger ones are dead-lettered unread.
    public static let maximumMessageBytes = 1 << 20

    /// The job queue of a stream (`audio` or `video`).
    public static func jobQueue(_ stream: String) -> String { "er.jobs.\(stream)" }

    /// Declares the dead-letter exchange and queue and `queues` on `channel`.
    public static func declare(_ queues: [String], on connection: BrokerConnection, channel: UInt16) throws(MessagingError) {
        try connection.declareExchange(deadLetterExchange, type: "fanout", channel: channel)
        try connection.declareQueue(deadLetterQueue, quorum: true, deadLetterExchange: nil, deliveryLimit: 0, channel: channel)
        try connection.bind(queue: deadLetterQueue, exchange: deadLetterExchange, routingKey: "", channel: channel)
        for queue in queues {
            try connection.declareQueue(queue, quorum: true, deadLetterExchange: deadLetterExchange,
                                        deliveryLimit: deliveryLimit, channel: channel)
        }
    }
}

/// Publishes with publisher confirms, keeping at most `window` publishes unconfirmed.
///
/// Belongs to the thread that owns its connection.
public final class ConfirmedPublisher {
    public let connection: BrokerConnection
    public let channel: UInt16
    public let window: Int
    private var lastSequence: UInt64 = 0
    private var confirmedThrough: UInt64 = 0
    private var confirmedAbove: Set<UInt64> = []

    /// Opens `channel` on `connection` in confirm mode.
    public init(connection: BrokerConnection, channel: UInt16, window: Int = 256) throws(MessagingError) {
        self.connection = connection
        self.channel = channel
        self.window = window
        try connection.openChannel(channel)
        try connection.enableConfirms(channel: channel)
    }

    /// Publishes a persistent message to a queue, waiting for confirms first when the window is full.
    public func publish(_ body: [UInt8], toQueue queue: String, messageID: String?) throws(MessagingError) {
        while lastSequence - confirmedThrough >= UInt64(window) {
            try awaitConfirm(timeout: .seconds(30))
        }
        lastSequence = try connection.publish(body, exchange: "", routingKey: queue, messageID: messageID, channel: channel)
    }

    /// Waits until every publish so far is confirmed.
    ///
    /// - Throws: `.notConfirmed` when the broker refuses one or `timeout` passes first.
    public func waitForConfirms(timeout: Duration = .seconds(60)) throws(MessagingError) {
        let deadline = ContinuousClock.now + timeout
        while confirmedThrough < lastSequence {
            guard ContinuousClock.now < deadline else {
                throw MessagingError(.notConfirmed, reason: "\(lastSequence - confirmedThrough) publishes unconfirmed after \(timeout)")
            }
            try awaitConfirm(timeout: .milliseconds(200))
        }
    }

    private func awaitConfirm(timeout: Duration) throws(MessagingError) {
        switch try connection.nextEvent(timeout: timeout) {
        case .confirmed(let sequence, let multiple):
            if multiple {
                confirmedThrough = max(confirmedThrough, sequence)
            } else {
                confirmedAbove.insert(sequence)
            }
            while confirmedAbove.remove(confirmedThrough + 1) != nil { confirmedThrough += 1 }
        case .refused(let sequence, _):
            throw MessagingError(.notConfirmed, reason: "the broker refused publish \(sequence)")
        case .delivery, nil:
            break
        }
    }
}
