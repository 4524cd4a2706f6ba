import Emotion
import Foundation
import Logging
import Media
import Messaging
@testable import Pipeline
import Testing

/// An in-memory broker with one job queue, for running `WorkerService` without a server. It behaves like
/// RabbitMQ where the worker can tell: per-connection delivery tags, a prefetch limit, publisher confirms, and
/// unacknowledged deliveries back in the queue (marked redelivered) when their connection closes.
final class FakeBroker: @unchecked Sendable {
    private let lock = NSLock()
    private var ready: [(job: JobMessage, redelivered: Bool)] = []
    private(set) var connections = 0
    /// Publishes still to fail (each kills its connection, as a broken socket does).
    var failingPublishes = 0
    /// Publishes still to refuse (a nack).
    var refusedPublishes = 0
    private(set) var confirmedResults: [ResultMessage] = []
    private(set) var ackedClips: [Int64] = []
    private var unacked: [Int: [UInt64: JobMessage]] = [:]
    let prefetch: Int

    init(jobs: [JobMessage], prefetch: Int = 4) {
        ready = jobs.map { ($0, false) }
        self.prefetch = prefetch
    }

    func locked<T>(_ body: (FakeBroker) -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body(self)
    }

    /// Jobs in the queue or held unacknowledged by a connection.
    var outstanding: Int { locked { $0.ready.count + $0.unacked.values.map(\.count).reduce(0, +) } }

    func connect() -> FakeConnection {
        locked { broker in
            broker.connections += 1
            broker.unacked[broker.connections] = [:]
            return FakeConnection(broker: broker, id: broker.connections)
        }
    }

    fileprivate func take(connection: Int, tag: UInt64) -> Delivery? {
        locked { broker in
            guard (broker.unacked[connection]?.count ?? 0) < broker.prefetch, !broker.ready.isEmpty else { return nil }
            let (job, redelivered) = broker.ready.removeFirst()
            broker.unacked[connection]?[tag] = job
            return Delivery(channel: 1, deliveryTag: tag, redelivered: redelivered, routingKey: "er.jobs.audio",
                            body: Array(MessageCodec.encode(job)))
        }
    }

    fileprivate func settle(connection: Int, tag: UInt64, ack: Bool, requeue: Bool) {
        locked { broker in
            guard let job = broker.unacked[connection]?.removeValue(forKey: tag) else { return }
            if ack { broker.ackedClips.append(job.clipID) } else if requeue { broker.ready.insert((job, true), at: 0) }
        }
    }

    fileprivate func close(connection: Int) {
        locked { broker in
            for (_, job) in (broker.unacked.removeValue(forKey: connection) ?? [:]).sorted(by: { $0.key < $1.key }) {
                broker.ready.append((job, true))
            }
        }
    }

    /// Whether the publish fails (`nil`), is refused (`false`) or is confirmed (`true`).
    fileprivate func publish(_ result: ResultMessage) -> Bool? {
        locked { broker in
            if broker.failingPublishes > 0 { broker.failingPublishes -= 1; return nil }
            if broker.refusedPublishes > 0 { broker.refusedPublishes -= 1; return false }
            broker.confirmedResults.append(result)
            return true
        }
    }
}

/// One connection to a `FakeBroker`.
final class FakeConnection: JobBroker {
    let broker: FakeBroker
    let id: Int
    private var consuming = false
    private var closed = false
    private var nextTag: UInt64 = 1
    private var sequence: UInt64 = 0
    private var confirms: [BrokerEvent] = []

    init(broker: FakeBroker, id: Int) {
        self.broker = broker
        self.id = id
    }

    private func check() throws {
        if closed { throw MessagingError(.connectionClosed, reason: "closed") }
    }

    func startConsuming() throws { try check(); consuming = true }
    func stopConsuming() throws { try check(); consuming = false }

    func nextEvent(timeout: Duration) throws -> BrokerEvent? {
        try check()
        if !confirms.isEmpty { return confirms.removeFirst() }
        if consuming, let delivery = broker.take(connection: id, tag: nextTag) {
            nextTag += 1
            return .delivery(delivery)
        }
        Thread.sleep(forTimeInterval: 0.002)
        return nil
    }

    func publish(_ result: ResultMessage) throws -> UInt64 {
        try check()
        guard let confirmed = broker.publish(result) else {
            close()
            throw MessagingError(.connectionClosed, reason: "socket closed while publishing")
        }
        sequence += 1
        confirms.append(confirmed ? .confirmed(sequence: sequence, multiple: false) : .refused(sequence: sequence, multiple: false))
        return sequence
    }

    func ack(_ delivery: Delivery) throws {
        try check()
        broker.settle(connection: id, tag: delivery.deliveryTag, ack: true, requeue: false)
    }

    func reject(_ delivery: Delivery, requeue: Bool) throws {
        try check()
        broker.settle(connection: id, tag: delivery.deliveryTag, ack: false, requeue: requeue)
    }

    func close() {
        guard !closed else { return }
        closed = true
        broker.close(connection: id)
    }
}

/// Answers every job at once, or — for sources named "stall" — waits on the job's deadline as a stalled source does.
final class FakeProcessor: JobProcessor {
    let model = ModelIdentity(name: "fake", sha256: "00", fusionWeight: 0.5)

    func process(_ job: JobMessage, worker: String, deadline: MediaDeadline) -> ResultMessage {
        do {
            while job.source.contains("stall") {
                try deadline.check(source: job.source)
                Thread.sleep(forTimeInterval: 0.01)
            }
            return ResultMessage(job: job, outcome: .ok, model: model, worker: worker)
        } catch {
            return failure(job, error, worker: worker)
        }
    }
}

/// A result with a NaN logit cannot travel as JSON: the worker sends a failed result instead.
@Suite struct FiniteOutputTests {
    @Test func nonFiniteLogitsBecomeAFailedResult() {
        let job = JobMessage(clipID: 5, batchID: 1, source: "/m/5.mp4", stream: .audio)
        var result = ResultMessage(job: job, outcome: .ok, model: ModelIdentity(name: "m", sha256: "s", fusionWeight: 1), worker: "w:1")
        result.labels = ["a", "b"]
        result.logits = [1, .nan]
        result.probabilities = [Float](repeating: 1 / 7, count: 7)
        let checked = result.requiringFiniteOutput(job)
        #expect(checked.outcome == .failed && checked.error?.code == "invalid_model_output" && checked.logits == nil)
        #expect(MessageCodec.encode(checked).count > 0)
        result.logits = [1, 2]
        #expect(result.requiringFiniteOutput(job) == result)
    }
}

@Suite struct WorkerServiceTests {
    func service(_ broker: FakeBroker, concurrency: Int = 2, jobLimit: Int = 0, grace: Duration = .seconds(30),
                 budget: MediaDeadline.Budget = .init()) -> WorkerService {
        let configuration = WorkerConfiguration(
            broker: try! BrokerURL("amqp://guest:guest@127.0.0.1:1/"), stream: .audio, concurrency: concurrency,
            prefetch: broker.prefetch, shutdownGrace: grace, jobLimit: jobLimit, jobBudget: budget)
        return WorkerService(configuration: configuration, logger: Logger(label: "test"), makeProcessor: { FakeProcessor() },
                             connect: { broker.connect() })
    }

    func jobs(_ count: Int, source: String = "/media/clip.mp4") -> [JobMessage] {
        (1...count).map { JobMessage(clipID: Int64($0), batchID: 1, source: source, stream: .audio) }
    }

    /// Runs `service` on a thread; returns a wait that gives the seconds `run()` took after `stop()` was called.
    func start(_ service: WorkerService) -> (finished: DispatchSemaphore, thread: Thread) {
        let finished = DispatchSemaphore(value: 0)
        let thread = Thread {
            try? service.run()
            finished.signal()
        }
        thread.start()
        return (finished, thread)
    }

    func eventually(_ condition: () -> Bool, within seconds: Double = 20) -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            if condition() { return true }
            Thread.sleep(forTimeInterval: 0.01)
        }
        return condition()
    }

    @Test func theJobLimitProcessesEveryJobThenReturns() throws {
        let broker = FakeBroker(jobs: jobs(6))
        try service(broker, jobLimit: 6).run()
        #expect(broker.locked { $0.ackedClips.sorted() } == Array(1...6))
        #expect(broker.locked { $0.confirmedResults.count } == 6)
        #expect(broker.outstanding == 0)
    }

    /// Publishes that fail (the connection breaks) and refused ones: every job still ends acknowledged, and a stop
    /// afterwards exits at once because nothing is left counted in flight.
    @Test func failedAndRefusedPublishesLoseNothingAndLeakNothing() {
        let broker = FakeBroker(jobs: jobs(8))
        broker.locked { $0.failingPublishes = 2; $0.refusedPublishes = 1 }
        let worker = service(broker, grace: .seconds(30))
        let running = start(worker)
        #expect(eventually { broker.outstanding == 0 && Set(broker.locked { $0.ackedClips }) == Set(1...8) })
        #expect(broker.locked { $0.connections } >= 3, "each failed publish reconnects")
        let stopped = Date()
        worker.stop.request()
        #expect(running.finished.wait(timeout: .now() + 10) == .success)
        #expect(Date().timeIntervalSince(stopped) < 10, "no job was left counted in flight")
        #expect(Set(broker.locked { $0.confirmedResults.map(\.clipID) }) == Set(1...8))
    }

    /// A job whose source stalls fails with `timeout` once its deadline passes; the other jobs go on.
    @Test func aStalledJobFailsWithTimeoutAndTheBatchGoesOn() throws {
        let broker = FakeBroker(jobs: jobs(1, source: "http://host/stall.mp4") + jobs(3).map {
            JobMessage(clipID: $0.clipID + 1, batchID: 1, source: $0.source, stream: .audio)
        })
        try service(broker, jobLimit: 4, budget: .init(fixed: .milliseconds(300))).run()
        let results = broker.locked { $0.confirmedResults }
        #expect(results.count == 4)
        let stalled = results.first { $0.clipID == 1 }
        #expect(stalled?.outcome == .failed)
        #expect(stalled?.error?.code == "timeout")
        #expect(results.filter { $0.outcome == .ok }.count == 3)
    }

    /// SIGTERM while a job is stalled: after the grace period the worker leaves the job to the broker (back in the
    /// queue, never lost), interrupts its media work and returns within a few seconds.
    @Test func aStopDuringAStalledJobExitsWithinTheGraceAndKeepsTheJob() {
        let broker = FakeBroker(jobs: jobs(1, source: "http://host/stall.mp4"))
        let worker = service(broker, concurrency: 1, grace: .seconds(1), budget: .init(fixed: .seconds(600)))
        let running = start(worker)
        #expect(eventually { broker.locked { $0.connections } == 1 && broker.outstanding == 1 })
        Thread.sleep(forTimeInterval: 0.2)
        let stopped = Date()
        worker.stop.request()
        #expect(running.finished.wait(timeout: .now() + 10) == .success)
        #expect(Date().timeIntervalSince(stopped) < 1 + 5)
        #expect(broker.outstanding == 1, "the job is back in the queue")
        #expect(broker.locked { $0.ackedClips }.isEmpty)
    }
}
