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
