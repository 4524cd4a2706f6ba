import Emotion
import Messaging

/// The delivery bookkeeping of a worker, as a value with no I/O: the broker loop feeds it events (a delivery, a
/// finished job, a publish, a confirm, a lost connection, a stop request) and performs the actions it returns.
///
/// Every job the worker holds is one entry, from delivery until its result is confirmed (then acknowledged) or it
/// is handed back, so the count of jobs in flight cannot drift. A delivery is acknowledged or rejected only on the
/// connection generation that delivered it; after a reconnect its result is still published, and the broker
/// redelivers the job itself. Time comes in as `Instant` arguments, so tests drive the clock.
struct WorkerStateMachine<Instant: InstantProtocol> where Instant.Duration == Duration {
    /// Names one held job for the life of the process.
    struct WorkID: Hashable, Sendable, CustomStringConvertible {
        let value: UInt64
        var description: String { "#\(value)" }
    }

    /// A job handed to a processing thread.
    struct Work: Sendable {
        var id: WorkID
        var delivery: Delivery
        var job: JobMessage
        /// The connection generation that delivered it: only that connection may acknowledge it.
        var generation: Int
    }

    /// What the loop should do now.
    enum Step: Equatable {
        /// Open a connection; consume jobs unless stopping.
        case connect(consuming: Bool)
        /// Disconnected: wait this long (at most) before the next step.
        case wait(Duration)
        /// Service the connection: publish finished results, read the next event.
        case poll
        /// Leave: close the connection (the broker redelivers the `abandoned` jobs still held) and return.
        case exit(abandoned: Int)
    }

    /// What the loop must do in answer to an event, in order.
    enum Action {
        /// Hand the job to a processing thread.
        case process(Work)
        /// Publish the job's result on the current connection, then report `published(_:sequence:)`.
        case publish(WorkID, ResultMessage)
        case ack(Delivery)
        /// Hand a delivery back to its queue (`requeue`) or to the dead-letter exchange.
        case reject(Delivery, requeue: Bool)
        /// Stop consuming, then report `consumerCancelled()`.
        case cancelConsumer
        /// Consume again (a job handed back put the worker under its job limit), then report `consumerStarted()`.
        case startConsumer
        /// Take back the jobs no processing thread has started, then report `withdrawn(_:)`.
        case withdrawUnstarted
        /// Log that a job was given up to the broker: each of `maximumPublishAttempts` publishes of its result lost
        /// the connection.
        case reportGivenUp(WorkID)
    }

    private enum Phase {
        case processing
        /// Done, its result not yet published (or published on a connection that was lost before the confirm).
        case finished(ResultMessage)
        /// Published as `sequence` on connection `connection`, waiting for the confirm.
        case publishing(ResultMessage, sequence: UInt64, connection: Int)
    }

    private struct Entry {
        var work: Work
        var phase: Phase
        /// Times its result was handed out to publish.
        var publishAttempts = 0
    }

    /// The most jobs to take (0: no limit).
    let jobLimit: Int
    /// How long in-flight jobs may take to finish after the first stop request.
    let shutdownGrace: Duration
    /// Publishes of one result, each ended by a lost connection, after which the worker gives the job up to the
    /// broker (which redelivers it, and dead-letters it past its delivery limit): a result the broker always refuses
    /// by closing the connection (over its message size limit, say) cannot make the worker reconnect for ever.
    let maximumPublishAttempts = 3

    private var entries: [WorkID: Entry] = [:]
    private var nextID: UInt64 = 0
    /// Increments per established connection; 0 before the first.
    private(set) var generation = 0
    private(set) var connected = false
    private(set) var consuming = false
    private(set) var taken = 0
    private(set) var stopRequests = 0
    private var stopDeadline: Instant?
    private var reconnects: ReconnectSchedule<Instant>

    init(jobLimit: Int = 0, shutdownGrace: Duration = .seconds(60), shortestBackoff: Duration = .milliseconds(250),
         longestBackoff: Duration = .seconds(10)) {
        self.jobLimit = jobLimit
        self.shutdownGrace = shutdownGrace
        reconnects = ReconnectSchedule(shortest: shortestBackoff, longest: longestBackoff)
    }

    /// Jobs held: delivered and neither confirmed nor handed back.
    var inFlight: Int { entries.count }


    /// Whether the worker takes no more jobs (a stop request, or the job limit reached).
    var stopping: Bool { stopRequests > 0 || (jobLimit > 0 && taken >= jobLimit) }

    // MARK: Steps

    /// The next step at `now`.
    func nextStep(now: Instant) -> Step {
        if stopRequests > 1 { return .exit(abandoned: entries.count) }
        if stopping, entries.isEmpty { return .exit(abandoned: 0) }
        if let stopDeadline, now >= stopDeadline { return .exit(abandoned: entries.count) }
        if connected { return .poll }
        return reconnects.delay(now: now).map(Step.wait) ?? .connect(consuming: !stopping)
    }

    // MARK: Events

    /// A stop was requested (SIGTERM/SIGINT); `count` is the number of requests so far.
    mutating func stopRequested(count: Int, now: Instant) -> [Action] {
        guard count > stopRequests else { return [] }
        let first = stopRequests == 0
        stopRequests = count
        guard first else { return [] }
        stopDeadline = now.advanced(by: shutdownGrace)
        // Jobs not started go back to the queue for another worker.
        return (consuming ? [.cancelConsumer] : []) + [.withdrawUnstarted]
    }

    /// A connection is up at `now` (consuming when `consuming`); results waiting for one are published on it.
    mutating func connected(consuming: Bool, now: Instant) -> [Action] {
        generation += 1
        connected = true
        reconnects.connected(now: now)
        self.consuming = consuming
        return entries.values.sorted { $0.work.id.value < $1.work.id.value }.compactMap { entry in
            if case .finished(let result) = entry.phase { return publish(entry.work.id, result) }
            return nil
        }
    }

    /// The connection failed or could not be opened at `now`. Unconfirmed publishes will be published again on the
    /// next connection; the deliveries of this connection die with it (the broker redelivers them).
    mutating func connectionLost(now: Instant) -> [Action] {
        let wasConnected = connected
        connected = false
        consuming = false
        reconnects.lost(now: now)
        var actions: [Action] = wasConnected ? [.withdrawUnstarted] : []
        // Only finished jobs have been handed out to publish.
        for (id, entry) in entries where entry.publishAttempts > 0 {
            if entry.publishAttempts >= maximumPublishAttempts {
                giveUp(id, &actions)
            } else if case .publishing(let result, _, _) = entry.phase {
                entries[id]?.phase = .finished(result)
            }
        }
        return actions
    }

    /// A message arrived; `job` is its decoded job, or `nil` when it is not a valid job for this worker.
    mutating func delivered(_ delivery: Delivery, job: JobMessage?) -> [Action] {
        reconnects.noteTraffic()
        guard let job else { return [.reject(delivery, requeue: false)] }
        guard !stopping else { return [.reject(delivery, requeue: true)] }
        nextID += 1
        let work = Work(id: WorkID(value: nextID), delivery: delivery, job: job, generation: generation)
        entries[work.id] = Entry(work: work, phase: .processing)
        taken += 1
        var actions: [Action] = [.process(work)]
        if stopping, consuming { actions.append(.cancelConsumer) }
        return actions
    }

    /// The consumer is cancelled: no more deliveries.
    mutating func consumerCancelled() {
        consuming = false
    }

    /// The consumer is consuming again.
    mutating func consumerStarted() {
        consuming = true
    }

    /// Jobs taken back before any thread started them: they no longer count towards the job limit.
    mutating func withdrawn(_ ids: [WorkID]) -> [Action] {
        var actions: [Action] = ids.compactMap { id in
            guard let entry = entries.removeValue(forKey: id) else { return nil }
            taken -= 1
            return ownDelivery(entry).map { .reject($0, requeue: true) }
        }
        actions += resumeIfUnderLimit()
        return actions
    }

    /// A processing thread finished a job.
    mutating func finished(_ id: WorkID, result: ResultMessage) -> [Action] {
        guard entries[id] != nil else { return [] }
        entries[id]?.phase = .finished(result)
        return connected ? [publish(id, result)] : []
    }

    /// A result went out as publish `sequence` on the current connection.
    mutating func published(_ id: WorkID, sequence: UInt64) {
        guard case .finished(let result)? = entries[id]?.phase else { return }
        entries[id]?.phase = .publishing(result, sequence: sequence, connection: generation)
    }

    /// The broker confirmed publish `sequence` (and, when `multiple`, every earlier one): acknowledge those jobs.
    mutating func confirmed(_ sequence: UInt64, multiple: Bool) -> [Action] {
        reconnects.noteTraffic()
        return settle(sequence, multiple: multiple).compactMap { ownDelivery($0).map { .ack($0) } }
    }

    /// The broker refused publish `sequence` (and, when `multiple`, every earlier one): their jobs go back to the
    /// queue and no longer count towards the job limit.
    mutating func refused(_ sequence: UInt64, multiple: Bool) -> [Action] {
        reconnects.noteTraffic()
        let settled = settle(sequence, multiple: multiple)
        taken -= settled.count
        return settled.compactMap { ownDelivery($0).map { .reject($0, requeue: true) } } + resumeIfUnderLimit()
    }

    // MARK: Helpers

    private mutating func publish(_ id: WorkID, _ result: ResultMessage) -> Action {
        entries[id]?.publishAttempts += 1
        return .publish(id, result)
    }

    /// Drops a job whose result kept breaking the connection: its delivery died with the connection, so the broker
    /// redelivers the job (and dead-letters it past its delivery limit).
    private mutating func giveUp(_ id: WorkID, _ actions: inout [Action]) {
        entries[id] = nil
        taken -= 1
        actions.append(.reportGivenUp(id))
    }

    /// Consume again when jobs handed back put the worker under its job limit (and nothing else stops it).
    private func resumeIfUnderLimit() -> [Action] {
        connected && !consuming && !stopping && jobLimit > 0 ? [.startConsumer] : []
    }

    private mutating func settle(_ sequence: UInt64, multiple: Bool) -> [Entry] {
        let settled = entries.filter { _, entry in
            guard case .publishing(_, let published, let connection) = entry.phase, connection == generation else { return false }
            return multiple ? published <= sequence : published == sequence
        }
        for id in settled.keys { entries[id] = nil }
        return settled.values.sorted { $0.work.id.value < $1.work.id.value }
    }

    /// The entry's delivery when the current connection delivered it (others died with their connection).
    private func ownDelivery(_ entry: Entry) -> Delivery? {
        connected && entry.work.generation == generation ? entry.work.delivery : nil
    }
}
