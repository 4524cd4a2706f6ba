import Credentials
import Foundation
import Messaging
import Testing
import TestSupport

@Suite(.enabled(if: TestStack.available, Comment(rawValue: TestStack.missingReason)), .serialized)
struct MessagingTests {
    @Test func publishesWithConfirmsAndConsumes() throws {
        let url = try BrokerURL(TestStack.amqpURL)
        let connection = try BrokerConnection(url: url)
        let queue = "er.test.\(UUID().uuidString.prefix(8))"
        try connection.openChannel(1)
        try connection.declareQueue(queue, quorum: false, deadLetterExchange: nil, deliveryLimit: 0, channel: 1)
        let publisher = try ConfirmedPublisher(connection: connection, channel: 2, window: 8)
        for index in 0..<50 { try publisher.publish(Array("message \(index)".utf8), toQueue: queue, messageID: nil) }
        try publisher.waitForConfirms()
        try connection.setPrefetch(10, channel: 1)
        try connection.consume(queue: queue, channel: 1)
        var received: [String] = []
        while received.count < 50, let event = try connection.nextEvent(timeout: .seconds(5)) {
            if case .delivery(let delivery) = event {
                received.append(String(decoding: delivery.body, as: UTF8.self))
                try connection.ack(delivery)
            }
        }
        #expect(received == (0..<50).map { "message \($0)" })
    }

    @Test func rejectedMessagesAreDeadLettered() throws {
        let url = try BrokerURL(TestStack.amqpURL)
        let connection = try BrokerConnection(url: url)
        let queue = "er.test.dead.\(UUID().uuidString.prefix(8))"
        try connection.openChannel(1)
        try Topology.declare([], on: connection, channel: 1)
        try connection.declareQueue(queue, quorum: true, deadLetterExchange: Topology.deadLetterExchange, deliveryLimit: 2, channel: 1)
        let marker = "poison \(UUID().uuidString)"
        let publisher = try ConfirmedPublisher(connection: connection, channel: 2)
        try publisher.publish(Array(marker.utf8), toQueue: queue, messageID: nil)
        try publisher.waitForConfirms()
        try connection.consume(queue: queue, channel: 1)
        guard case .delivery(let delivery)? = try connection.nextEvent(timeout: .seconds(5)) else {
            Issue.record("no delivery"); return
        }
        try connection.reject(delivery, requeue: false)

        let reader = try BrokerConnection(url: url)
        try reader.openChannel(1)
        try reader.consume(queue: Topology.deadLetterQueue, channel: 1)
        var found = false
        let deadline = ContinuousClock.now + .seconds(10)
        while !found, ContinuousClock.now < deadline {
            if case .delivery(let dead)? = try reader.nextEvent(timeout: .milliseconds(500)) {
                if String(decoding: dead.body, as: UTF8.self) == marker { found = true; try reader.ack(dead) } else {
                    try reader.reject(dead, requeue: true)
                }
            }
        }
        #expect(found)
    }

    @Test func badCredentialsAndUnreachableBrokersGiveTypedErrors() throws {
        var wrong = try BrokerURL(TestStack.amqpURL)
        wrong.password = "wrong"
        #expect(#expect(throws: MessagingError.self) { try BrokerConnection(url: wrong) }?.code == .loginFailed)
        var closed = wrong
        closed.port = 9
        #expect(#expect(throws: MessagingError.self) { try BrokerConnection(url: closed, timeout: .seconds(2)) }?.code == .connectionFailed)
        #expect(wrong.description.contains("***") && !wrong.description.contains("wrong"))
    }
}

/// URL parsing, resolution from the environment and secret files, and masking: no server needed.
@Suite struct BrokerURLTests {
    @Test func parsesTheVirtualHostPortAndTLS() throws {
        let url = try BrokerURL("amqps://svc:p%40ss@broker.example:5999/prod")
        #expect(url.usesTLS && url.host == "broker.example" && url.port == 5999 && url.virtualHost == "prod")
        #expect(url.user == "svc" && url.password == "p@ss")
        #expect(url.description == "amqps://svc:***@broker.example:5999/prod")
        #expect(try BrokerURL("amqp://h").virtualHost == "/")
        let error = #expect(throws: MessagingError.self) { try BrokerURL("http://user:secret@h/") }
        #expect(error?.code == .invalidURL)
        #expect(error.map { !"\($0)".contains("secret") } == true)
    }

    @Test func credentialsComeFromTheVariableThenTheFile() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("er-secret-\(UUID().uuidString)")
        try "\n  amqp://svc:from-file@h/  \n".write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let keys = (environmentKey: "URL", fileEnvironmentKey: "URL_FILE")
        func lookup(_ environment: [String: String], explicit: String? = nil) throws -> String? {
            try Credentials.lookup(explicit: explicit, environmentKey: keys.environmentKey,
                                   fileEnvironmentKey: keys.fileEnvironmentKey, environment: environment)
        }
        #expect(try lookup(["URL_FILE": file.path]) == "amqp://svc:from-file@h/")
        #expect(try lookup(["URL": "amqp://a/", "URL_FILE": file.path]) == "amqp://a/")
        #expect(try lookup(["URL": "", "URL_FILE": file.path]) == "amqp://svc:from-file@h/")
        #expect(try lookup(["URL": "amqp://a/"], explicit: "amqp://b/") == "amqp://b/")
        #expect(try lookup([:]) == nil)
        let missing = #expect(throws: SecretFileError.self) { try lookup(["URL_FILE": "/no/such/secret"]) }
        #expect(missing?.description.hasPrefix("cannot read URL_FILE /no/such/secret") == true)
        let empty = FileManager.default.temporaryDirectory.appendingPathComponent("er-empty-\(UUID().uuidString)")
        try "\n \n".write(to: empty, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: empty) }
        #expect(#expect(throws: SecretFileError.self) { try lookup(["URL_FILE": empty.path]) }?.reason == "the file is empty")
    }

    @Test func maskingHidesEveryPasswordForm() {
        #expect(Credentials.mask("amqp://u:p@ss@h/") == "amqp://u:***@h/")
        #expect(Credentials.mask("postgresql://u:secret@h:5432/db?sslmode=require") == "postgresql://u:***@h:5432/db?sslmode=require")
        #expect(Credentials.mask("host=h password='a b\\'c' user=u") == "host=h password=*** user=u")
        #expect(Credentials.mask("postgresql://h/db?password=secret&user=u") == "postgresql://h/db?password=***&user=u")
        #expect(Credentials.mask("postgresql://h/db") == "postgresql://h/db")
    }
}
