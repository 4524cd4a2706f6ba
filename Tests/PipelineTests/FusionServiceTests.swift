import Emotion
import Foundation
import Logging
import Messaging
@testable import Pipeline
import Store
import Testing

/// An in-memory results queue and dead-letter copy queue, for running `FusionService` without a server:
/// per-connection delivery tags, a prefetch limit, and unacknowledged deliveries back in their queue (marked
/// redelivered) when their connection closes.
final class FakeResultQueues: @unchecked Sendable {
    struct Message {
        var body: [UInt8]
        var deadLetter: Bool
        var routingKey: String
    }

    private let lock = NSLock()
    private var ready: [(Message, redelivered: Bool)] = []
    private var unacked: [Int: [UInt64: Message]] = [:]
    private(set) var connections = 0
    private(set) var acked: [Message] = []
    private(set) var deadLettered: [Message] = []
    /// Connections still to break at their next read (a network failure).
    var breakingReads = 0
    let prefetch: Int

    init(prefetch: Int = 8) {
        self.prefetch = prefetch
    }

    func locked<T>(_ body: (FakeResultQueues) throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(self)
    }

    func publish(_ result: ResultMessage) {
        locked { $0.ready.append((Message(body: MessageCodec.encode(result), deadLetter: false, routingKey: "er.results"), false)) }
    }

    func publishDeadJob(_ job: JobMessage) {
        locked { $0.ready.append((Message(body: MessageCodec.encode(job), deadLetter: true, routingKey: "er.jobs.\(job.stream.rawValue)"), false)) }
    }

    func publishRaw(_ body: [UInt8]) {
        locked { $0.ready.append((Message(body: body, deadLetter: false, routingKey: "er.results"), false)) }
    }

    /// Messages ready or held unacknowledged.
    var outstanding: Int { locked { $0.ready.count + $0.unacked.values.map(\.count).reduce(0, +) } }

    func connect() -> FakeResultConnection {
        locked { queues in
            queues.connections += 1
            queues.unacked[queues.connections] = [:]
            return FakeResultConnection(queues: queues, id: queues.connections)
        }
    }

    fileprivate func take(connection: Int, tag: UInt64) throws -> Delivery? {
        try locked { queues -> Delivery? in
            if queues.breakingReads > 0 {
                queues.breakingReads -= 1
                queues.requeue(connection: connection)
                throw MessagingError(.connectionClosed, reason: "connection reset")
            }
            guard (queues.unacked[connection]?.count ?? 0) < queues.prefetch, !queues.ready.isEmpty else { return nil }
            let (message, redelivered) = queues.ready.removeFirst()
            queues.unacked[connection]?[tag] = message
            return Delivery(channel: message.deadLetter ? 2 : 1, deliveryTag: tag, redelivered: redelivered,
                            routingKey: message.routingKey, body: message.body)
        }
    }

    fileprivate func settle(connection: Int, tag: UInt64, ack: Bool, requeue: Bool) {
        locked { queues in
            guard let message = queues.unacked[connection]?.removeValue(forKey: tag) else { return }
            if ack { queues.acked.append(message) } else if requeue { queues.ready.insert((message, true), at: 0) } else {
                queues.deadLettered.append(message)
            }
        }
    }

    fileprivate func close(connection: Int) {
        locked { $0.requeue(connection: connection) }
    }

    /// Called with the lock held.
    private func requeue(connection: Int) {
        for (_, message) in (unacked.removeValue(forKey: connection) ?? [:]).sorted(by: { $0.key < $1.key }) {
            ready.append((message, true))
        }
    }
}

final class FakeResultConnection: ResultBroker {
    let queues: FakeResultQueues
    let id: Int
    private var nextTag: UInt64 = 1
    private var closed = false

    init(queues: FakeResultQueues, id: Int) {
        self.queues = queues
        self.id = id
    }

    private func check() throws {
        if closed { throw MessagingError(.connectionClosed, reason: "closed") }
    }

    func nextDelivery(timeout: Duration) throws -> Delivery? {
        try check()
        if let delivery = try queues.take(connection: id, tag: nextTag) {
            nextTag += 1
            return delivery
        }
        Thread.sleep(forTimeInterval: 0.002)
        return nil
    }

    func isDeadLetter(_ delivery: Delivery) -> Bool { delivery.channel == 2 }

    func ack(_ delivery: Delivery) throws {
        try check()
        queues.settle(connection: id, tag: delivery.deliveryTag, ack: true, requeue: false)
    }

    func reject(_ delivery: Delivery, requeue: Bool) throws {
        try check()
        queues.settle(connection: id, tag: delivery.deliveryTag, ack: false, requeue: requeue)
    }

    func close() {
        guard !closed else { return }
        closed = true
        queues.close(connection: id)
    }
}

/// Stored stream results by clip and stream, with a database that can be away.
final class FakeRecorder: ResultRecorder, @unchecked Sendable {
    private let lock = NSLock()
    private(set) var stored: [String: ResultMessage] = [:]
    /// Stores still to fail as a lost connection would (transient).
    var outages = 0
    /// Whether the database is away until told otherwise.
    var away = false
    /// Clips whose results the database refuses for good.
    var refusedClips: Set<Int64> = []

    func locked<T>(_ body: (FakeRecorder) throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(self)
    }

    private func key(_ result: ResultMessage) -> String { "\(result.clipID)/\(result.stream.rawValue)" }

    private func available(_ result: ResultMessage) throws {
        try locked { recorder in
            if recorder.away || recorder.outages > 0 {
                recorder.outages = max(0, recorder.outages - 1)
                throw DatabaseError(.connectionLost, message: "server closed the connection unexpectedly")
            }
            if recorder.refusedClips.contains(result.clipID) {
                throw DatabaseError(.statementFailed, sqlState: "22P02", message: "invalid input syntax")
            }
        }
    }

    func record(_ result: ResultMessage) throws -> ClipDecision? {
        try available(result)
        locked { $0.stored[key(result)] = result }
        return .waiting
    }

    func recordUnlessPresent(_ result: ResultMessage) throws -> Bool {
        try available(result)
        return locked { recorder in
            guard recorder.stored[recorder.key(result)] == nil else { return false }
            recorder.stored[recorder.key(result)] = result
            return true
        }
    }
}

@Suite struct FusionServiceTests {
    func fusion(_ queues: FakeResultQueues, _ recorder: FakeRecorder, grace: Duration = .seconds(30)) -> FusionService {
        let configuration = FusionConfiguration(
            broker: try! BrokerURL("amqp://guest:guest@127.0.0.1:1/"), databaseURL: try! DatabaseURL("host=none"),
            prefetch: queues.prefetch, shutdownGrace: grace)
        return FusionService(configuration: configuration, logger: Logger(label: "test"),
                             connectBroker: { queues.connect() }, connectStore: { recorder })
    }

    func result(_ clip: Int64, _ stream: StreamKind = .audio) -> ResultMessage {
        var result = ResultMessage(job: JobMessage(clipID: clip, batchID: 1, source: "/m/\(clip).mp4", stream: stream),
                                   outcome: .absent, model: ModelIdentity(name: "test", sha256: "00", fusionWeight: 0.5), worker: "test:1")
        result.error = .init(code: "no_face", reason: "none")
        return result
    }

    func start(_ service: FusionService) -> DispatchSemaphore {
        let finished = DispatchSemaphore(value: 0)
        Thread {
            service.run()
            finished.signal()
        }.start()
        return finished
    }

    /// Runs `service` until every message is settled, then stops it and waits for it to return.
    func runUntilDrained(_ service: FusionService, _ queues: FakeResultQueues, sourceLocation: SourceLocation = #_sourceLocation) {
        let finished = start(service)
        #expect(eventually { queues.outstanding == 0 }, sourceLocation: sourceLocation)
        service.stop.request()
        #expect(finished.wait(timeout: .now() + 10) == .success, sourceLocation: sourceLocation)
    }

    func eventually(within seconds: Double = 20, _ condition: () -> Bool) -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            if condition() { return true }
            Thread.sleep(forTimeInterval: 0.01)
        }
        return condition()
    }

    @Test func storesEveryResultAndAcknowledgesAfterTheStore() {
        let queues = FakeResultQueues()
        let recorder = FakeRecorder()
        for clip in Int64(1)...20 { queues.publish(result(clip)) }
        let service = fusion(queues, recorder)
        runUntilDrained(service, queues)
        #expect(recorder.locked { $0.stored.count } == 20)
        #expect(queues.locked { $0.acked.count } == 20)
    }

    /// A database outage: Fusion keeps its one broker connection, holds what arrives (at most the prefetch), and
    /// stores everything once the database is back — no reconnect, no redelivery.
    @Test func aDatabaseOutageCausesNoReconnectAndNoRedelivery() {
        let queues = FakeResultQueues(prefetch: 8)
        let recorder = FakeRecorder()
        recorder.locked { $0.away = true }
        for clip in Int64(1)...30 { queues.publish(result(clip)) }
        let service = fusion(queues, recorder)
        let finished = start(service)
        Thread.sleep(forTimeInterval: 1.5)
        #expect(recorder.locked { $0.stored.isEmpty })
        recorder.locked { $0.away = false }
        #expect(eventually { queues.outstanding == 0 })
        service.stop.request()
        #expect(finished.wait(timeout: .now() + 10) == .success)
        #expect(queues.locked { $0.connections } == 1)
        #expect(recorder.locked { $0.stored.count } == 30)
        #expect(queues.locked { $0.acked.count } == 30, "each result acknowledged once: nothing redelivered")
    }

    /// Invalid messages and results the database refuses for good are dead-lettered; the rest go on.
    @Test func invalidAndRefusedResultsAreDeadLettered() {
        let queues = FakeResultQueues()
        let recorder = FakeRecorder()
        recorder.locked { $0.refusedClips = [2] }
        queues.publish(result(1))
        queues.publish(result(2))
        queues.publishRaw(Array("not json".utf8))
        queues.publish(result(3))
        let service = fusion(queues, recorder)
        runUntilDrained(service, queues)
        #expect(queues.locked { $0.deadLettered.count } == 2)
        #expect(Set(recorder.locked { $0.stored.values.map(\.clipID) }) == [1, 3])
    }

    /// A result that reads as a result but whose labels and logits disagree (a broken worker's) is dead-lettered and
    /// fails its stream with `invalid_result`, so that its clip ends with a reason.
    @Test func anInconsistentResultFailsItsStreamWithAReason() {
        let queues = FakeResultQueues()
        let recorder = FakeRecorder()
        var broken = result(4)
        broken.outcome = .ok
        broken.error = nil
        broken.labels = ["angry, loud", "calm"]
        broken.logits = [1, 2, 3]
        broken.probabilities = [Float](repeating: 1 / 7, count: 7)
        queues.publish(broken)
        let service = fusion(queues, recorder)
        runUntilDrained(service, queues)
        #expect(queues.locked { $0.deadLettered.count } == 1)
        let stored = recorder.locked { $0.stored["4/audio"] }
        #expect(stored?.outcome == .failed && stored?.error?.code == "invalid_result")
    }

    /// A lost connection drops what was held (the broker redelivers it) and reconnects; everything ends stored.
    @Test func aLostConnectionRedeliversWhatWasHeld() {
        let queues = FakeResultQueues(prefetch: 4)
        let recorder = FakeRecorder()
        recorder.locked { $0.outages = 3 }
        for clip in Int64(1)...12 { queues.publish(result(clip)) }
        queues.locked { $0.breakingReads = 1 }
        let service = fusion(queues, recorder)
        runUntilDrained(service, queues)
        #expect(queues.locked { $0.connections } == 2)
        #expect(recorder.locked { $0.stored.count } == 12)
    }

    /// A dead-lettered job gets a failed stream result unless a real one is stored; a real result stored later
    /// replaces it.
    @Test func aDeadLetteredJobFailsItsStreamOnlyWithoutARealResult() {
        let queues = FakeResultQueues()
        let recorder = FakeRecorder()
        queues.publish(result(1))
        queues.publishDeadJob(JobMessage(clipID: 1, batchID: 1, source: "/m/1.mp4", stream: .audio))
        queues.publishDeadJob(JobMessage(clipID: 2, batchID: 1, source: "/m/2.mp4", stream: .video))
        let service = fusion(queues, recorder)
        runUntilDrained(service, queues)
        let stored = recorder.locked { $0.stored }
        #expect(stored["1/audio"]?.worker == "test:1", "the real result stays")
        #expect(stored["2/video"]?.error?.code == "dead_lettered")
    }

    /// SIGTERM while the database is away: Fusion gives up after the grace period and the result in hand goes back
    /// to the queue.
    @Test func aStopDuringADatabaseOutageExitsAfterTheGrace() {
        let queues = FakeResultQueues()
        let recorder = FakeRecorder()
        recorder.locked { $0.away = true }
        queues.publish(result(1))
        let service = fusion(queues, recorder, grace: .seconds(1))
        let finished = start(service)
        Thread.sleep(forTimeInterval: 0.5)
        let stopped = Date()
        service.stop.request()
        #expect(finished.wait(timeout: .now() + 10) == .success)
        #expect(Date().timeIntervalSince(stopped) < 1 + 3)
        #expect(queues.outstanding == 1, "the result is back in the queue")
        #expect(queues.locked { $0.acked.isEmpty })
    }
}

@Suite struct FusionStateMachineTests {
    typealias Machine = FusionStateMachine<TestInstant>
    let t0 = TestInstant.zero

    @Test func deliveriesAreHandledInOrderAndAcknowledgedOnTheirConnection() {
        var machine = Machine()
        #expect(machine.nextStep(now: t0) == .connect)
        machine.connected(now: t0)
        #expect(machine.nextStep(now: t0) == .poll)
        machine.delivered(delivery(1))
        machine.delivered(delivery(2))
        #expect(machine.nextStep(now: t0) == .handle)
        let first = machine.take()!
        #expect(first.delivery.deliveryTag == 1)
        #expect(machine.finished(first, outcome: .stored) == [.ack(delivery(1))])
        let second = machine.take()!
        #expect(machine.finished(second, outcome: .refused) == [.reject(delivery(2), requeue: false)])
        #expect(machine.nextStep(now: t0) == .poll)
    }

    @Test func aLostConnectionDropsHeldDeliveriesAndTheOneInHand() {
        var machine = Machine()
        machine.connected(now: t0)
        machine.delivered(delivery(1))
        machine.delivered(delivery(2))
        let inHand = machine.take()!
        machine.connectionLost(now: t0)
        #expect(machine.heldCount == 0)
        #expect(machine.nextStep(now: t0) == .wait(.milliseconds(250)))
        #expect(machine.nextStep(now: t0.advanced(by: .milliseconds(250))) == .connect)
        machine.connected(now: t0)
        #expect(machine.finished(inHand, outcome: .stored).isEmpty, "its delivery died with the old connection")
    }

    @Test func aStopExitsAndGivesUpOnAnOutageAfterTheGrace() {
        var machine = Machine(shutdownGrace: .seconds(30))
        machine.connected(now: t0)
        #expect(!machine.shouldAbandon(now: t0))
        machine.stopRequested(count: 1, now: t0)
        #expect(machine.nextStep(now: t0) == .exit)
        #expect(!machine.shouldAbandon(now: t0.advanced(by: .seconds(29))))
        #expect(machine.shouldAbandon(now: t0.advanced(by: .seconds(30))))
        var twice = Machine(shutdownGrace: .seconds(30))
        twice.stopRequested(count: 2, now: t0)
        #expect(twice.shouldAbandon(now: t0))
    }
}
