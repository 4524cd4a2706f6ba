import Emotion
import Foundation
import Messaging
@testable import Pipeline
import Testing

/// A clock the tests move by hand.
struct TestInstant: InstantProtocol {
    var offset: Duration

    static let zero = TestInstant(offset: .zero)
    func advanced(by duration: Duration) -> TestInstant { TestInstant(offset: offset + duration) }
    func duration(to other: TestInstant) -> Duration { other.offset - offset }
    static func < (lhs: TestInstant, rhs: TestInstant) -> Bool { lhs.offset < rhs.offset }
}

typealias Machine = WorkerStateMachine<TestInstant>

func delivery(_ tag: UInt64, redelivered: Bool = false) -> Delivery {
    Delivery(channel: 1, deliveryTag: tag, redelivered: redelivered, routingKey: "er.jobs.audio", body: [])
}

func job(_ clip: Int64) -> JobMessage {
    JobMessage(clipID: clip, batchID: 1, source: "/media/\(clip).mp4", stream: .audio)
}

func okResult(_ job: JobMessage) -> ResultMessage {
    ResultMessage(job: job, outcome: .ok, model: ModelIdentity(name: "test", sha256: "00", fusionWeight: 0.5), worker: "test:1")
}

/// What a list of actions did, in a form `#expect` can compare.
enum Did: Equatable {
    case process(clip: Int64, tag: UInt64)
    case publish(clip: Int64)
    case ack(UInt64)
    case reject(UInt64, requeue: Bool)
    case cancelConsumer
    case startConsumer
    case withdrawUnstarted
    case reportGivenUp

    init(_ action: Machine.Action) {
        switch action {
        case .process(let work): self = .process(clip: work.job.clipID, tag: work.delivery.deliveryTag)
        case .publish(_, let result): self = .publish(clip: result.clipID)
        case .ack(let delivery): self = .ack(delivery.deliveryTag)
        case .reject(let delivery, let requeue): self = .reject(delivery.deliveryTag, requeue: requeue)
        case .cancelConsumer: self = .cancelConsumer
        case .startConsumer: self = .startConsumer
        case .withdrawUnstarted: self = .withdrawUnstarted
        case .reportGivenUp: self = .reportGivenUp
        }
    }
}

func did(_ actions: [Machine.Action]) -> [Did] { actions.map(Did.init) }

/// The work a `.process` action hands to a thread.
func work(_ actions: [Machine.Action]) -> Machine.Work? {
    for case .process(let work) in actions { return work }
    return nil
}

@Suite struct WorkerStateMachineTests {
    let t0 = TestInstant.zero

    /// A machine connected and consuming.
    func connectedMachine(jobLimit: Int = 0, grace: Duration = .seconds(60)) -> Machine {
        var machine = Machine(jobLimit: jobLimit, shutdownGrace: grace)
        #expect(machine.nextStep(now: t0) == .connect(consuming: true))
        #expect(machine.connected(consuming: true, now: t0).isEmpty)
        return machine
    }

    /// Delivers, processes and publishes one job; returns its work.
    func runToPublish(_ machine: inout Machine, tag: UInt64, clip: Int64, sequence: UInt64) -> Machine.Work {
        let taken = machine.delivered(delivery(tag), job: job(clip))
        let work = work(taken)!
        #expect(did(machine.finished(work.id, result: okResult(work.job))) == [.publish(clip: clip)])
        machine.published(work.id, sequence: sequence)
        return work
    }

    @Test func aJobIsAcknowledgedOnlyAfterItsResultIsConfirmed() {
        var machine = connectedMachine()
        let taken = machine.delivered(delivery(7), job: job(1))
        #expect(did(taken) == [.process(clip: 1, tag: 7)])
        #expect(machine.inFlight == 1)
        let work = work(taken)!
        #expect(did(machine.finished(work.id, result: okResult(work.job))) == [.publish(clip: 1)])
        machine.published(work.id, sequence: 1)
        #expect(machine.inFlight == 1)
        #expect(did(machine.confirmed(1, multiple: false)) == [.ack(7)])
        #expect(machine.inFlight == 0)
        #expect(machine.nextStep(now: t0) == .poll)
    }

    @Test func aMultipleConfirmSettlesEveryEarlierPublish() {
        var machine = connectedMachine()
        _ = runToPublish(&machine, tag: 1, clip: 1, sequence: 1)
        _ = runToPublish(&machine, tag: 2, clip: 2, sequence: 2)
        _ = runToPublish(&machine, tag: 3, clip: 3, sequence: 3)
        #expect(did(machine.confirmed(2, multiple: true)) == [.ack(1), .ack(2)])
        #expect(machine.inFlight == 1)
        #expect(did(machine.confirmed(3, multiple: false)) == [.ack(3)])
        #expect(machine.inFlight == 0)
    }

    @Test func aRefusedPublishSendsTheJobBackToTheQueue() {
        var machine = connectedMachine()
        _ = runToPublish(&machine, tag: 4, clip: 1, sequence: 1)
        #expect(did(machine.refused(1, multiple: false)) == [.reject(4, requeue: true)])
        #expect(machine.inFlight == 0)
    }

    @Test func anInvalidMessageIsDeadLetteredAndNotCounted() {
        var machine = connectedMachine()
        #expect(did(machine.delivered(delivery(9), job: nil)) == [.reject(9, requeue: false)])
        #expect(machine.inFlight == 0)
        #expect(machine.taken == 0)
    }

    /// The publish throws (the connection died under it): the result stays held and goes out on the next
    /// connection; the job's own delivery died with the old connection, so it is not acknowledged there.
    @Test func aConnectionLostMidPublishRepublishesOnTheNextConnection() {
        var machine = connectedMachine()
        let work = work(machine.delivered(delivery(1), job: job(1)))!
        #expect(did(machine.finished(work.id, result: okResult(work.job))) == [.publish(clip: 1)])
        // The loop's publish threw: no `published`, the connection is lost.
        #expect(did(machine.connectionLost(now: t0)) == [.withdrawUnstarted])
        #expect(machine.withdrawn([]).isEmpty)
        #expect(machine.inFlight == 1)
        #expect(machine.nextStep(now: t0) == .wait(.milliseconds(250)))
        let later = t0.advanced(by: .milliseconds(250))
        #expect(machine.nextStep(now: later) == .connect(consuming: true))
        #expect(did(machine.connected(consuming: true, now: t0)) == [.publish(clip: 1)])
        machine.published(work.id, sequence: 1)
        #expect(machine.confirmed(1, multiple: false).isEmpty)
        #expect(machine.inFlight == 0)
    }

    /// A result published but not confirmed when the connection died is published again; a confirm number from the
    /// new connection never settles a publish of the old one.
    @Test func unconfirmedPublishesArePublishedAgainAfterAReconnect() {
        var machine = connectedMachine()
        let first = runToPublish(&machine, tag: 1, clip: 1, sequence: 1)
        _ = machine.connectionLost(now: t0)
        #expect(did(machine.connected(consuming: true, now: t0)) == [.publish(clip: 1)])
        _ = runToPublish(&machine, tag: 1, clip: 2, sequence: 1)
        machine.published(first.id, sequence: 2)
        #expect(did(machine.confirmed(1, multiple: false)) == [.ack(1)])
        #expect(machine.confirmed(2, multiple: false).isEmpty)
        #expect(machine.inFlight == 0)
    }

    /// Jobs not started when the connection dies are dropped (the broker redelivers them); a job in progress is
    /// finished and its result published, and the redelivered copy is processed as a new job.
    @Test func redeliveryAfterALostConnection() {
        var machine = connectedMachine()
        let running = work(machine.delivered(delivery(1), job: job(1)))!
        let waiting = work(machine.delivered(delivery(2), job: job(2)))!
        #expect(did(machine.connectionLost(now: t0)) == [.withdrawUnstarted])
        #expect(machine.withdrawn([waiting.id]).isEmpty, "no connection to reject on")
        #expect(machine.inFlight == 1)
        #expect(machine.connected(consuming: true, now: t0).isEmpty)
        let again = machine.delivered(delivery(1, redelivered: true), job: waiting.job)
        #expect(did(again) == [.process(clip: 2, tag: 1)])
        #expect(did(machine.finished(running.id, result: okResult(running.job))) == [.publish(clip: 1)])
        machine.published(running.id, sequence: 1)
        #expect(machine.confirmed(1, multiple: false).isEmpty, "its delivery belonged to the lost connection")
        let redelivered = work(again)!
        #expect(did(machine.finished(redelivered.id, result: okResult(redelivered.job))) == [.publish(clip: 2)])
        machine.published(redelivered.id, sequence: 2)
        #expect(did(machine.confirmed(2, multiple: false)) == [.ack(1)])
        #expect(machine.inFlight == 0)
    }

    @Test func reconnectsBackOffExponentiallyUpToALimit() {
        var machine = Machine(shortestBackoff: .milliseconds(250), longestBackoff: .seconds(2))
        var now = t0
        var waits: [Duration] = []
        for _ in 0..<6 {
            #expect(machine.nextStep(now: now) == .connect(consuming: true))
            _ = machine.connectionLost(now: now)
            guard case .wait(let delay) = machine.nextStep(now: now) else { Issue.record("no wait"); return }
            waits.append(delay)
            now = now.advanced(by: delay)
        }
        #expect(waits == [.milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2), .seconds(2), .seconds(2)])
        _ = machine.connected(consuming: true, now: now)
        _ = machine.connectionLost(now: now)
        #expect(machine.nextStep(now: now) == .wait(.seconds(2)), "a connection that carried nothing does not reset it")
        _ = machine.connected(consuming: true, now: now)
        _ = machine.delivered(delivery(1), job: job(1))
        _ = machine.connectionLost(now: now)
        #expect(machine.nextStep(now: now) == .wait(.milliseconds(250)), "a connection that carried traffic resets the backoff")
        now = now.advanced(by: .seconds(5))
        _ = machine.connected(consuming: true, now: now)
        _ = machine.connectionLost(now: now.advanced(by: .seconds(30)))
        #expect(machine.nextStep(now: now.advanced(by: .seconds(30))) == .wait(.milliseconds(250)), "so does one that stayed up 30 s")
    }

    /// `--max-jobs` counts the jobs the worker keeps: one handed back (a refused result) makes room for another,
    /// and the worker consumes again.
    @Test func theJobLimitCountsOnlyJobsKept() {
        var machine = connectedMachine(jobLimit: 2)
        _ = runToPublish(&machine, tag: 1, clip: 1, sequence: 1)
        let second = machine.delivered(delivery(2), job: job(2))
        #expect(did(second) == [.process(clip: 2, tag: 2), .cancelConsumer])
        machine.consumerCancelled()
        #expect(did(machine.refused(1, multiple: false)) == [.reject(1, requeue: true), .startConsumer])
        machine.consumerStarted()
        #expect(machine.taken == 1)
        #expect(did(machine.delivered(delivery(3), job: job(3))) == [.process(clip: 3, tag: 3), .cancelConsumer])
    }

    /// A result whose every publish loses the connection (the broker closes it on a message it will not take) is
    /// given up after three tries: its job goes back to the broker, which redelivers it and dead-letters it past
    /// its delivery limit, instead of the worker reconnecting for ever.
    @Test func aResultThatAlwaysBreaksTheConnectionIsGivenUp() {
        var machine = connectedMachine()
        let work = work(machine.delivered(delivery(1), job: job(1)))!
        #expect(did(machine.finished(work.id, result: okResult(work.job))) == [.publish(clip: 1)])
        _ = machine.connectionLost(now: t0)
        #expect(did(machine.connected(consuming: true, now: t0)) == [.publish(clip: 1)])
        machine.published(work.id, sequence: 1)
        _ = machine.connectionLost(now: t0)
        #expect(did(machine.connected(consuming: true, now: t0)) == [.publish(clip: 1)])
        #expect(did(machine.connectionLost(now: t0)) == [.withdrawUnstarted, .reportGivenUp])
        #expect(machine.inFlight == 0)
        #expect(machine.connected(consuming: true, now: t0).isEmpty)
    }

    /// A stop cancels the consumer, hands back unstarted jobs, refuses new deliveries, and exits once the jobs in
    /// progress are confirmed.
    @Test func aStopFinishesTheJobsInProgressThenExits() {
        var machine = connectedMachine()
        let running = work(machine.delivered(delivery(1), job: job(1)))!
        let waiting = work(machine.delivered(delivery(2), job: job(2)))!
        #expect(did(machine.stopRequested(count: 1, now: t0)) == [.cancelConsumer, .withdrawUnstarted])
        machine.consumerCancelled()
        #expect(did(machine.withdrawn([waiting.id])) == [.reject(2, requeue: true)])
        #expect(did(machine.delivered(delivery(3), job: job(3))) == [.reject(3, requeue: true)])
        #expect(machine.nextStep(now: t0) == .poll)
        #expect(did(machine.finished(running.id, result: okResult(running.job))) == [.publish(clip: 1)])
        machine.published(running.id, sequence: 1)
        #expect(did(machine.confirmed(1, multiple: false)) == [.ack(1)])
        #expect(machine.nextStep(now: t0) == .exit(abandoned: 0))
    }

    @Test func aSecondStopExitsAtOnce() {
        var machine = connectedMachine()
        _ = machine.delivered(delivery(1), job: job(1))
        _ = machine.stopRequested(count: 1, now: t0)
        #expect(machine.nextStep(now: t0) == .poll)
        #expect(machine.stopRequested(count: 2, now: t0).isEmpty)
        #expect(machine.nextStep(now: t0) == .exit(abandoned: 1))
    }

    @Test func theGraceDeadlineLeavesHeldJobsToTheBroker() {
        var machine = connectedMachine(grace: .seconds(30))
        _ = machine.delivered(delivery(1), job: job(1))
        _ = machine.stopRequested(count: 1, now: t0)
        #expect(machine.nextStep(now: t0.advanced(by: .seconds(29))) == .poll)
        #expect(machine.nextStep(now: t0.advanced(by: .seconds(30))) == .exit(abandoned: 1))
    }

    /// A stop while disconnected still reconnects (without consuming) to publish what is done, within the grace.
    @Test func aStopWhileDisconnectedReconnectsOnlyToPublish() {
        var machine = connectedMachine(grace: .seconds(30))
        let running = work(machine.delivered(delivery(1), job: job(1)))!
        _ = machine.connectionLost(now: t0)
        #expect(did(machine.stopRequested(count: 1, now: t0)) == [.withdrawUnstarted])
        _ = machine.finished(running.id, result: okResult(running.job))
        let later = t0.advanced(by: .seconds(1))
        #expect(machine.nextStep(now: later) == .connect(consuming: false))
        #expect(did(machine.connected(consuming: false, now: t0)) == [.publish(clip: 1)])
        machine.published(running.id, sequence: 1)
        _ = machine.confirmed(1, multiple: false)
        #expect(machine.nextStep(now: later) == .exit(abandoned: 0))
    }

    /// `--max-jobs 2`: the second job cancels the consumer, later deliveries go back, and the worker exits once
    /// both results are confirmed — however many publishes failed on the way.
    @Test func theJobLimitStopsTakingAndExitsWhenDone() {
        var machine = connectedMachine(jobLimit: 2)
        let first = work(machine.delivered(delivery(1), job: job(1)))!
        let taken = machine.delivered(delivery(2), job: job(2))
        #expect(did(taken) == [.process(clip: 2, tag: 2), .cancelConsumer])
        machine.consumerCancelled()
        let second = work(taken)!
        #expect(did(machine.delivered(delivery(3), job: job(3))) == [.reject(3, requeue: true)])
        _ = machine.finished(first.id, result: okResult(first.job))
        // The publish failed: reconnect (not consuming: the limit is reached) and publish again.
        _ = machine.connectionLost(now: t0)
        let later = t0.advanced(by: .seconds(1))
        #expect(machine.nextStep(now: later) == .connect(consuming: false))
        #expect(did(machine.connected(consuming: false, now: t0)) == [.publish(clip: 1)])
        machine.published(first.id, sequence: 1)
        #expect(did(machine.finished(second.id, result: okResult(second.job))) == [.publish(clip: 2)])
        machine.published(second.id, sequence: 2)
        #expect(machine.nextStep(now: later) == .poll)
        // Both deliveries died with the first connection: the broker redelivers them, nothing is acknowledged here.
        #expect(machine.confirmed(2, multiple: true).isEmpty)
        #expect(machine.inFlight == 0)
        #expect(machine.nextStep(now: later) == .exit(abandoned: 0))
    }
}
