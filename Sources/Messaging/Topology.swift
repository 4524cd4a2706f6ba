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
