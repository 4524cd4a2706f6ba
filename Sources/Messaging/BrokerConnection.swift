internal import CRabbitMQ
import Foundation

/// A message delivered to a consumer.
public struct Delivery: Sendable, Equatable {
    /// The channel it came on; acks must use the same channel and connection.
    public var channel: UInt16
    public var deliveryTag: UInt64
    /// Whether the broker delivered it before (a consumer died or handed it back).
    public var redelivered: Bool
    public var routingKey: String
    public var body: [UInt8]

    public init(channel: UInt16, deliveryTag: UInt64, redelivered: Bool, routingKey: String, body: [UInt8]) {
        self.channel = channel
        self.deliveryTag = deliveryTag
        self.redelivered = redelivered
        self.routingKey = routingKey
        self.body = body
    }
}

/// Something the broker sent, as seen by `BrokerConnection.nextEvent(timeout:)`.
public enum BrokerEvent: Sendable {
    /// A consumed message.
    case delivery(Delivery)
    /// Publishes up to (`multiple`) or exactly this sequence number were confirmed.
    case confirmed(sequence: UInt64, multiple: Bool)
    /// Publishes up to (`multiple`) or exactly this sequence number were refused by the broker.
    case refused(sequence: UInt64, multiple: Bool)
}

/// One AMQP 0-9-1 connection to RabbitMQ. The corresponding C type is `amqp_connection_state_t`.
///
/// The connection belongs to the thread that uses it: rabbitmq-c connections are not thread-safe and service
/// heartbeats only inside its calls, so the owning thread must call `nextEvent(timeout:)` regularly.
/// It owns its socket and closes it in `deinit`.
public final class BrokerConnection {
    public let url: BrokerURL
    private var state: amqp_connection_state_t?
    private var confirmChannels: [UInt16: UInt64] = [:]
    private var open = false

    /// Connects and logs in.
    ///
    /// - Parameters:
    ///   - url: The broker.
    ///   - heartbeat: Heartbeat interval in seconds (0 disables).
    ///   - timeout: How long to wait for the TCP connection.
    public init(url: BrokerURL, heartbeat: Int = 30, timeout: Duration = .seconds(10)) throws(MessagingError) {
        self.url = url
        guard let state = amqp_new_connection() else {
            throw MessagingError(.connectionFailed, reason: "out of memory")
        }
        self.state = state
        let socket = url.usesTLS ? amqp_ssl_socket_new(state) : amqp_tcp_socket_new(state)
        guard let socket else {
            throw MessagingError(.connectionFailed, reason: "cannot create a \(url.usesTLS ? "TLS" : "TCP") socket")
        }
        if url.usesTLS {
            let environment = ProcessInfo.processInfo.environment
            if let authority = environment["ER_AMQP_CACERT"], !authority.isEmpty {
                let status = amqp_ssl_socket_set_cacert(socket, authority)
                guard status == er_amqp_status_ok() else {
                    throw MessagingError(.connectionFailed, reason: "CA certificate \(authority): \(MessagingError.libraryMessage(status))")
                }
            }
            let verify = environment["ER_AMQP_TLS_VERIFY"] != "0"
            amqp_ssl_socket_set_verify_peer(socket, verify ? 1 : 0)
            amqp_ssl_socket_set_verify_hostname(socket, verify ? 1 : 0)
        }
        var limit = timeval(duration: timeout)
        let status = amqp_socket_open_noblock(socket, url.host, Int32(url.port), &limit)
        guard status == er_amqp_status_ok() else {
            throw MessagingError(.connectionFailed, reason: "\(url): \(MessagingError.libraryMessage(status))")
        }
        let reply = er_amqp_login(state, url.virtualHost, 131_072, Int32(heartbeat), url.user, url.password)
        guard reply.reply_type == AMQP_RESPONSE_NORMAL else {
            throw MessagingError(.loginFailed, reason: MessagingError.reply(reply, "login to \(url)").reason)
        }
        open = true
    }

    deinit {
        if open, let state {
            amqp_connection_close(state, AMQP_REPLY_SUCCESS)
        }
        if let state { amqp_destroy_connection(state) }
    }

    /// Closes the connection politely (pending unacknowledged deliveries return to their queues).
    public func close() {
        guard open, let state else { return }
        open = false
        amqp_connection_close(state, AMQP_REPLY_SUCCESS)
    }

    private func checked(_ reply: amqp_rpc_reply_t, _ context: @autoclosure () -> String) throws(MessagingError) {
        guard reply.reply_type == AMQP_RESPONSE_NORMAL else {
            open = open && reply.reply_type != AMQP_RESPONSE_LIBRARY_EXCEPTION
            throw MessagingError.reply(reply, context())
        }
    }

    private func checked(status: Int32, _ context: @autoclosure () -> String) throws(MessagingError) {
        guard status == er_amqp_status_ok() else {
            throw MessagingError(.connectionClosed, reason: "\(context()): \(MessagingError.libraryMessage(status))")
        }
    }

    /// Opens channel `id` (1…).
    public func openChannel(_ id: UInt16) throws(MessagingError) {
        amqp_channel_open(state, id)
        try checked(amqp_get_rpc_reply(state), "open channel \(id)")
    }

    /// Closes channel `id`; the broker requeues what it delivered there unacknowledged.
    public func closeChannel(_ id: UInt16) throws(MessagingError) {
        try checked(amqp_channel_close(state, id, AMQP_REPLY_SUCCESS), "close channel \(id)")
    }

    /// Declares a durable exchange (idempotent).
    public func declareExchange(_ name: String, type: String, channel: UInt16) throws(MessagingError) {
        try checked(er_amqp_declare_exchange(state, channel, name, type), "declare exchange \(name)")
    }

    /// Declares a durable queue (idempotent when the arguments match).
    ///
    /// - Parameters:
    ///   - quorum: A quorum queue, which can count deliveries and dead-letter poison messages.
    ///   - deadLetterExchange: Where rejected or over-delivered messages go.
    ///   - deliveryLimit: Deliveries after which a message is dead-lettered (quorum queues; 0 for none).
    public func declareQueue(
        _ name: String, quorum: Bool, deadLetterExchange: String?, deliveryLimit: Int, channel: UInt16
    ) throws(MessagingError) {
        let reply: amqp_rpc_reply_t
        if let deadLetterExchange {
            reply = er_amqp_declare_queue(state, channel, name, quorum ? 1 : 0, deadLetterExchange, Int32(deliveryLimit))
        } else {
            reply = er_amqp_declare_queue(state, channel, name, quorum ? 1 : 0, nil, Int32(deliveryLimit))
        }
        try checked(reply, "declare queue \(name)")
    }

    /// Messages ready in `queue` and its consumer count, without changing it (a passive declare).
    /// Throws `.channelClosed` when the queue does not exist (the channel is then closed).
    public func depth(of queue: String, channel: UInt16) throws(MessagingError) -> (messages: Int, consumers: Int) {
        var messages: UInt32 = 0
        var consumers: UInt32 = 0
        try checked(er_amqp_queue_depth(state, channel, queue, &messages, &consumers), "inspect queue \(queue)")
        return (Int(messages), Int(consumers))
    }

    /// Binds a queue to an exchange.
    public func bind(queue: String, exchange: String, routingKey: String, channel: UInt16) throws(MessagingError) {
        try checked(er_amqp_bind_queue(state, channel, queue, exchange, routingKey), "bind \(queue) to \(exchange)")
    }

    /// Puts `channel` in publisher-confirm mode; publishes on it then get sequence numbers from 1.
    public func enableConfirms(channel: UInt16) throws(MessagingError) {
        try checked(er_amqp_confirm_select(state, channel), "confirm.select on channel \(channel)")
        confirmChannels[channel] = 0
    }

    /// Limits unacknowledged deliveries on `channel`.
    public func setPrefetch(_ count: Int, channel: UInt16) throws(MessagingError) {
        try checked(er_amqp_qos(state, channel, UInt16(clamping: count)), "basic.qos")
    }

    /// Starts consuming `queue` with manual acknowledgements; returns the consumer tag.
    @discardableResult
    public func consume(queue: String, channel: UInt16) throws(MessagingError) -> String {
        var tag = [CChar](repeating: 0, count: 256)
        try checked(er_amqp_consume(state, channel, queue, &tag, tag.count), "consume \(queue)")
        return String(decoding: tag.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Stops a consumer; deliveries already received stay unacknowledged until acked or rejected.
    public func cancel(consumerTag: String, channel: UInt16) throws(MessagingError) {
        try checked(er_amqp_cancel(state, channel, consumerTag), "cancel consumer")
    }

    /// Publishes a persistent message.
    ///
    /// - Returns: The publish's sequence number on a confirm-mode channel (match it against `.confirmed`), else 0.
    @discardableResult
    public func publish(
        _ body: [UInt8], exchange: String, routingKey: String, messageID: String?, channel: UInt16, persistent: Bool = true
    ) throws(MessagingError) -> UInt64 {
        let status = body.withUnsafeBytes { bytes in
            if let messageID {
                return er_amqp_publish(state, channel, exchange, routingKey, bytes.baseAddress, bytes.count, messageID, persistent ? 1 : 0)
            }
            return er_amqp_publish(state, channel, exchange, routingKey, bytes.baseAddress, bytes.count, nil, persistent ? 1 : 0)
        }
        try checked(status: status, "publish to \(exchange)/\(routingKey)")
        guard let last = confirmChannels[channel] else { return 0 }
        confirmChannels[channel] = last + 1
        return last + 1
    }

    /// Acknowledges a delivery.
    public func ack(_ delivery: Delivery) throws(MessagingError) {
        try checked(status: amqp_basic_ack(state, delivery.channel, delivery.deliveryTag, 0), "ack")
    }

    /// Rejects a delivery: back to its queue (`requeue`), or to the dead-letter exchange.
    public func reject(_ delivery: Delivery, requeue: Bool) throws(MessagingError) {
        try checked(status: amqp_basic_reject(state, delivery.channel, delivery.deliveryTag, requeue ? 1 : 0), "reject")
    }

    /// Waits up to `timeout` for the next delivery or confirm; services heartbeats meanwhile.
    ///
    /// - Returns: The event, or `nil` when the time ran out.
    /// - Throws: `.connectionClosed` / `.channelClosed` when the broker or network ends the conversation.
    public func nextEvent(timeout: Duration) throws(MessagingError) -> BrokerEvent? {
        guard let state else { throw MessagingError(.connectionClosed, reason: "connection is closed") }
        amqp_maybe_release_buffers(state)
        var envelope = amqp_envelope_t()
        var limit = timeval(duration: timeout)
        let reply = amqp_consume_message(state, &envelope, &limit, 0)
        if reply.reply_type == AMQP_RESPONSE_NORMAL {
            defer { amqp_destroy_envelope(&envelope) }
            let body = envelope.message.body
            let bytes = body.len > 0 ? [UInt8](UnsafeRawBufferPointer(start: body.bytes, count: body.len)) : []
            let key = envelope.routing_key
            return .delivery(Delivery(
                channel: envelope.channel,
                deliveryTag: envelope.delivery_tag,
                redelivered: envelope.redelivered != 0,
                routingKey: String(decoding: UnsafeRawBufferPointer(start: key.bytes, count: key.len), as: UTF8.self),
                body: bytes
            ))
        }
        guard reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION else {
            open = false
            throw MessagingError.reply(reply, "consume")
        }
        if reply.library_error == er_amqp_status_timeout() { return nil }
        guard reply.library_error == er_amqp_status_unexpected_state() else {
            open = false
            throw MessagingError(.connectionClosed, reason: "consume: \(MessagingError.libraryMessage(reply.library_error))")
        }
        // A frame other than a delivery is waiting: a publisher confirm, or a close.
        var frame = amqp_frame_t()
        let status = amqp_simple_wait_frame(state, &frame)
        try checked(status: status, "read frame")
        var tag: UInt64 = 0
        var multiple: Int32 = 0
        var text = [CChar](repeating: 0, count: 512)
        let kind = er_amqp_classify_frame(&frame, &tag, &multiple, &text, text.count)
        let message = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        switch kind {
        case ER_FRAME_CONFIRM_ACK: return .confirmed(sequence: tag, multiple: multiple != 0)
        case ER_FRAME_CONFIRM_NACK: return .refused(sequence: tag, multiple: multiple != 0)
        case ER_FRAME_CHANNEL_CLOSE:
            open = false
            throw MessagingError(.channelClosed, reason: message)
        case ER_FRAME_CONNECTION_CLOSE:
            open = false
            throw MessagingError(.connectionClosed, reason: message)
        case ER_FRAME_CONSUMER_CANCELLED:
            throw MessagingError(.channelClosed, reason: message)
        default:
            return nil
        }
    }
}

extension timeval {
    init(duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self.init(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
    }
}
