internal import CRabbitMQ

/// Why a broker operation failed. `reason` carries rabbitmq-c's text (`amqp_error_string2`) or the broker's
/// close reason.
public struct MessagingError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable, CaseIterable {
        /// The broker URL is malformed.
        case invalidURL = "invalid_url"
        /// The TCP (or TLS) connection could not be made.
        case connectionFailed = "connection_failed"
        /// The broker refused the credentials or virtual host.
        case loginFailed = "login_failed"
        /// The connection was lost or closed by the broker.
        case connectionClosed = "connection_closed"
        /// The broker closed a channel (for example, a queue declared with other arguments).
        case channelClosed = "channel_closed"
        /// A publish was not confirmed (nacked, or not confirmed in time).
        case notConfirmed = "not_confirmed"
        /// Another rabbitmq-c error.
        case protocolError = "protocol_error"
    }

    public var code: Code
    public var reason: String

    public init(_ code: Code, reason: String) {
        self.code = code
        self.reason = reason
    }

    public var description: String { "\(code.rawValue): \(reason)" }

    /// rabbitmq-c's text for a status code. The corresponding C function is `amqp_error_string2`.
    static func libraryMessage(_ status: Int32) -> String {
        String(cString: amqp_error_string2(status))
    }

    /// A typed error from a failed RPC reply.
    static func reply(_ reply: amqp_rpc_reply_t, _ context: String) -> MessagingError {
        var buffer = [CChar](repeating: 0, count: 512)
        er_amqp_describe_reply(reply, &buffer, buffer.count)
        let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let code: Code
        switch reply.reply_type {
        case AMQP_RESPONSE_SERVER_EXCEPTION:
            code = reply.reply.id == AMQP_CHANNEL_CLOSE_METHOD ? .channelClosed : .connectionClosed
        default:
            code = .connectionClosed
        }
        return MessagingError(code, reason: "\(context): \(text)")
    }
}

extension MessagingError.Code {
    /// Lets `catch MessagingError.Code.x` style matching work on any error.
    public static func ~= (code: Self, error: any Error) -> Bool {
        (error as? MessagingError)?.code == code
    }
}
