import CoreMetrics
import Emotion
import Foundation
import Logging
import Media
import Messaging
import Observability

/// How a worker runs.
public struct WorkerConfiguration: Sendable {
    public var broker: BrokerURL
    public var stream: StreamKind
    /// Processing threads.
    public var concurrency: Int
    /// Unacknowledged deliveries the broker may send ahead (at least `concurrency`).
    public var prefetch: Int
    /// Longest wait for in-flight jobs after a stop request before leaving them to the broker.
    public var shutdownGrace: Duration
    /// Stop after this many jobs (0: run until stopped) — for tests and one-shot runs.
    public var jobLimit: Int
    /// The time each job may take (opening, reading and decoding its media) before it fails with `timeout`.
    public var jobBudget: MediaDeadline.Budget

    public init(broker: BrokerURL, stream: StreamKind, concurrency: Int = 1, prefetch: Int? = nil,
                shutdownGrace: Duration = .seconds(60), jobLimit: Int = 0, jobBudget: MediaDeadline.Budget = .init()) {
        self.broker = broker
        self.stream = stream
        self.concurrency = max(1, concurrency)
        self.prefetch = max(self.concurrency, prefetch ?? 2 * self.concurrency)
        self.shutdownGrace = shutdownGrace
        self.jobLimit = jobLimit
        self.jobBudget = jobBudget
    }
}

/// A worker: one thread owns the broker connection (consume, publish, ack, heartbeats); `concurrency` threads
/// process jobs. A job is acknowledged only after its result is confirmed by the broker. The bookkeeping is
/// `WorkerStateMachine`; this class runs it against a broker and the processing threads.
///
/// Each job runs under a `MediaDeadline` (`WorkerConfiguration.jobBudget`): a source that stalls or a job that runs
/// too long ends with a `timeout` result, and the batch goes on.
///
/// Stop with `stop.request()` (SIGTERM/SIGINT): it stops consuming, hands back jobs not started, finishes the
/// ones in progress, publishes and acknowledges them, then returns. When the grace period ends (or on a second
/// request) it leaves the jobs still held to the broker, interrupts their media work and returns within a few
/// seconds. A lost broker connection is re-established with backoff; jobs it held are redelivered by the broker.
public final class WorkerService: Sendable {
    public let configuration: WorkerConfiguration
    public let stop = StopSignal()
    /// Alive while the broker loop turns; ready while connected to the broker (`/healthz`, `/readyz`).
    public let health = ServiceHealth(dependencies: ["broker"])
    /// Set when the worker gives up on the jobs it holds: their media work stops at the next read.
    let abandon = StopSignal()
    let makeProcessor: @Sendable () throws -> any JobProcessor
    let connect: @Sendable () throws -> any JobBroker
    let logger: Logger
    let identity = "\(ProcessInfo.processInfo.hostName):\(ProcessInfo.processInfo.processIdentifier)"
    /// How long `run()` waits for processing threads after leaving jobs to the broker.
    let abandonWait: Duration = .seconds(3)

    /// - Parameter makeProcessor: Builds one processor per processing thread (each owns its model).
    public convenience init(configuration: WorkerConfiguration, logger: Logger,
                            makeProcessor: @escaping @Sendable () throws -> any JobProcessor) {
        self.init(configuration: configuration, logger: logger, makeProcessor: makeProcessor) {
            try AMQPJobBroker(url: configuration.broker, stream: configuration.stream, prefetch: configuration.prefetch)
        }
    }

    /// A worker whose broker connections come from `connect`.
    init(configuration: WorkerConfiguration, logger: Logger, makeProcessor: @escaping @Sendable () throws -> any JobProcessor,
         connect: @escaping @Sendable () throws -> any JobBroker) {
        self.configuration = configuration
        self.logger = logger
        self.makeProcessor = makeProcessor
        self.connect = connect
    }

    typealias Machine = WorkerStateMachine<ContinuousClock.Instant>

    /// Runs until stopped. Throws only when the processors cannot be built (bad models).
    public func run() throws {
        // Build one processor up front so that a model problem fails fast, before any job is taken.
        let first = try makeProcessor()
        let jobs = WorkQueue<Machine.Work>()
        let done = WorkQueue<(Machine.WorkID, ResultMessage)>()
        let finished = DispatchGroup()
        for index in 0..<configuration.concurrency {
            finished.enter()
            let processorFactory = makeProcessor
            let prepared = index == 0 ? UncheckedBox(first) : nil
            let worker = identity
            let logger = logger
            let budget = configuration.jobBudget
            let abandon = abandon
            let thread = Thread {
                defer { finished.leave() }
                let processor: any JobProcessor
                do {
                    processor = try prepared?.value ?? processorFactory()
                } catch {
                    logger.error("processing thread cannot load its model", metadata: ["error": "\(error)"])
                    return
                }
                while let work = jobs.take() {
                    let deadline = MediaDeadline(budget: budget) { abandon.count > 0 }
                    let result = processor.process(work.job, worker: worker, deadline: deadline)
                    PipelineMetrics.jobFinished(result)
                    done.put((work.id, result))
                }
            }
            thread.name = "processing-\(index)"
            thread.stackSize = 8 << 20
            thread.start()
        }
        var loop = BrokerLoop(service: self, jobs: jobs, done: done)
        let abandoned = loop.run()
        jobs.close()
        if abandoned > 0 {
            abandon.request()
            if finished.wait(timeout: .now() + abandonWait.timeInterval) == .timedOut {
                logger.warning("processing threads still busy; leaving them", metadata: ["jobs": "\(abandoned)"])
            }
        } else {
            finished.wait()
        }
    }
}

/// Moves a non-Sendable value to the thread that will own it.
struct UncheckedBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

/// The connection-owning side of a worker: performs what the state machine asks.
struct BrokerLoop {
    typealias Machine = WorkerService.Machine
    let service: WorkerService
    let jobs: WorkQueue<Machine.Work>
    let done: WorkQueue<(Machine.WorkID, ResultMessage)>
    var machine: Machine
    var broker: (any JobBroker)?
    var logger: Logger { service.logger }
    let clock = ContinuousClock()
    /// Whether a connection was made before (the next one is a reconnection).
    var connectedBefore = false
    let inFlightGauge: Gauge
    /// The in-flight count last recorded, so that the gauge is written only when it changes.
    var recordedInFlight = -1

    init(service: WorkerService, jobs: WorkQueue<Machine.Work>, done: WorkQueue<(Machine.WorkID, ResultMessage)>) {
        self.service = service
        self.jobs = jobs
        self.done = done
        machine = Machine(jobLimit: service.configuration.jobLimit, shutdownGrace: service.configuration.shutdownGrace)
        inFlightGauge = PipelineMetrics.jobsInFlight(stream: service.configuration.stream)
    }

    /// Runs until the machine says to exit; returns the number of jobs left to the broker.
    mutating func run() -> Int {
        while true {
            service.health.beat()
            if machine.inFlight != recordedInFlight {
                recordedInFlight = machine.inFlight
                inFlightGauge.record(recordedInFlight)
            }
            let now = clock.now
            let stops = service.stop.count
            if stops > machine.stopRequests {
                if machine.stopRequests == 0 { logger.info("stopping: finishing \(machine.inFlight) job(s) in flight") }
                perform { $0.stopRequested(count: stops, now: now) }
            }
            switch machine.nextStep(now: now) {
            case .exit(let abandoned):
                if abandoned > 0 { logger.warning("leaving \(abandoned) job(s) to the broker for redelivery") }
                broker?.close()
                broker = nil
                return abandoned
            case .wait(let delay):
                sleep(min(delay, .milliseconds(100)))
                collectFinished()
            case .connect(let consuming):
                do {
                    let broker = try service.connect()
                    self.broker = broker
                    if consuming { try broker.startConsuming() }
                    logger.info("connected", metadata: ["broker": "\(service.configuration.broker)",
                                                        "concurrency": "\(service.configuration.concurrency)",
                                                        "prefetch": "\(service.configuration.prefetch)"])
                    let connectedAt = clock.now
                    perform { $0.connected(consuming: consuming, now: connectedAt) }
                    service.health.set("broker", connected: true)
                    if connectedBefore { PipelineMetrics.brokerReconnected(service: "er-\(service.configuration.stream.rawValue)-worker") }
                    connectedBefore = true
                } catch {
                    lostConnection(error)
                }
            case .poll:
                collectFinished()
                guard let broker else { continue }
                do {
                    if let event = try broker.nextEvent(timeout: .milliseconds(20)) {
                        try handle(event)
                    }
                } catch {
                    lostConnection(error)
                }
            }
        }
    }

    /// Hands finished jobs to the machine (which publishes their results when connected).
    mutating func collectFinished() {
        while let (id, result) = done.poll() {
            perform { $0.finished(id, result: result) }
        }
    }

    mutating func handle(_ event: BrokerEvent) throws {
        switch event {
        case .delivery(let delivery):
            let configuration = service.configuration
            if delivery.redelivered { PipelineMetrics.jobRedelivered(configuration.stream) }
            var job: JobMessage?
            do {
                let decoded = try MessageCodec.decodeJob(delivery.body, limit: Topology.maximumMessageBytes)
                guard decoded.stream == configuration.stream else {
                    throw MessageDecodingError(reason: "a \(decoded.stream.rawValue) job on the \(configuration.stream.rawValue) queue")
                }
                job = decoded
                logger.debug("received job", metadata: ["clip_id": "\(decoded.clipID)", "job_id": "\(decoded.jobID)",
                                                        "delivery_tag": "\(delivery.deliveryTag)", "redelivered": "\(delivery.redelivered)"])
            } catch {
                logger.error("dead-lettering a message that is not a valid job",
                             metadata: ["delivery_tag": "\(delivery.deliveryTag)", "reason": "\(error)"])
            }
            try performing(machine.delivered(delivery, job: job))
        case .confirmed(let sequence, let multiple):
            try performing(machine.confirmed(sequence, multiple: multiple))
        case .refused(let sequence, let multiple):
            let actions = machine.refused(sequence, multiple: multiple)
            if !actions.isEmpty { logger.warning("the broker refused \(actions.count) result(s); their jobs go back to the queue") }
            try performing(actions)
        }
    }

    /// Applies an event to the machine and performs its actions; a broker failure counts as a lost connection.
    mutating func perform(_ event: (inout Machine) -> [Machine.Action]) {
        let actions = event(&machine)
        do {
            try performing(actions)
        } catch {
            lostConnection(error)
        }
    }

    mutating func performing(_ actions: [Machine.Action]) throws {
        for action in actions {
            switch action {
            case .process(let work):
                jobs.put(work)
            case .publish(let id, let result):
                guard let broker else { continue }
                let sequence = try broker.publish(result)
                machine.published(id, sequence: sequence)
                logger.debug("published result", metadata: ["clip_id": "\(result.clipID)", "job_id": "\(result.jobID)",
                                                             "outcome": "\(result.outcome.rawValue)"])
            case .ack(let delivery):
                try broker?.ack(delivery)
            case .reject(let delivery, let requeue):
                try broker?.reject(delivery, requeue: requeue)
            case .cancelConsumer:
                try broker?.stopConsuming()
                machine.consumerCancelled()
            case .startConsumer:
                try broker?.startConsuming()
                machine.consumerStarted()
            case .withdrawUnstarted:
                try performing(machine.withdrawn(jobs.drain().map(\.id)))
            case .reportGivenUp(let id):
                logger.error("giving a job up to the broker: each of \(machine.maximumPublishAttempts) publishes of its result lost the connection (too large for the broker?)",
                             metadata: ["work": "\(id)"])
            }
        }
    }

    mutating func lostConnection(_ error: any Error) {
        broker?.close()
        broker = nil
        service.health.set("broker", connected: false)
        let now = clock.now
        let actions = machine.connectionLost(now: now)
        if case .wait(let delay) = machine.nextStep(now: now) {
            logger.warning("broker connection lost; reconnecting in \(delay)", metadata: ["error": "\(error)"])
        }
        // Without a connection the actions (taking back unstarted jobs, logging) cannot fail.
        try? performing(actions)
    }
}

extension Duration {
    /// The duration in seconds, for Foundation and Dispatch APIs.
    var timeInterval: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) * 1e-18
    }
}
