import Emotion
import Foundation
import Logging
import Messaging

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

    public init(broker: BrokerURL, stream: StreamKind, concurrency: Int = 1, prefetch: Int? = nil,
                shutdownGrace: Duration = .seconds(60), jobLimit: Int = 0) {
        self.broker = broker
        self.stream = stream
        self.concurrency = max(1, concurrency)
        self.prefetch = max(self.concurrency, prefetch ?? 2 * self.concurrency)
        self.shutdownGrace = shutdownGrace
        self.jobLimit = jobLimit
    }
}

/// A worker: one thread owns the broker connection (consume, publish, ack, heartbeats); `concurrency` threads
/// process jobs. A job is acknowledged only after its result is confirmed by the broker.
///
/// Stop with `stop.request()` (SIGTERM/SIGINT): it stops consuming, hands back jobs not started, finishes the
/// ones in progress, publishes and acknowledges them, then returns. A lost broker connection is re-established
/// with backoff; jobs it held are redelivered by the broker.
public final class WorkerService: Sendable {
    public let configuration: WorkerConfiguration
    public let stop = StopSignal()
    let makeProcessor: @Sendable () throws -> any JobProcessor
    let logger: Logger
    let identity = "\(ProcessInfo.processInfo.hostName):\(ProcessInfo.processInfo.processIdentifier)"

    /// - Parameter makeProcessor: Builds one processor per processing thread (each owns its model).
    public init(configuration: WorkerConfiguration, logger: Logger, makeProcessor: @escaping @Sendable () throws -> any JobProcessor) {
        self.configuration = configuration
        self.logger = logger
        self.makeProcessor = makeProcessor
    }

    /// A job on its way through the worker.
    struct Work: Sendable {
        var delivery: Delivery
        var job: JobMessage
        /// Which connection delivered it: acks go only to that connection.
        var generation: Int
    }

    /// Runs until stopped. Throws only when the processors cannot be built (bad models).
    public func run() throws {
        // Build one processor up front so that a model problem fails fast, before any job is taken.
        let first = try makeProcessor()
        let jobs = WorkQueue<Work>()
        let done = WorkQueue<(Work, ResultMessage)>()
        let finished = DispatchGroup()
        for index in 0..<configuration.concurrency {
            finished.enter()
            let processorFactory = makeProcessor
            let prepared = index == 0 ? UncheckedBox(first) : nil
            let worker = identity
            let logger = logger
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
                    let result = processor.process(work.job, worker: worker)
                    done.put((work, result))
                }
            }
            thread.name = "processing-\(index)"
            thread.stackSize = 8 << 20
            thread.start()
        }
        var loop = BrokerLoop(service: self, jobs: jobs, done: done)
        loop.run()
        jobs.close()
        finished.wait()
    }
}

/// Moves a non-Sendable value to the thread that will own it.
struct UncheckedBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

/// The connection-owning side of a worker.
struct BrokerLoop {
    let service: WorkerService
    let jobs: WorkQueue<WorkerService.Work>
    let done: WorkQueue<(WorkerService.Work, ResultMessage)>
    var connection: BrokerConnection?
    var publisher: ConfirmedSequence?
    var consumerTag: String?
    var generation = 0
    var inFlight = 0
    var taken = 0
    var stopSeen = 0
    var stopDeadline: ContinuousClock.Instant?
    var backoff: Duration = .milliseconds(250)
    var logger: Logger { service.logger }
    let consumeChannel: UInt16 = 1
    let publishChannel: UInt16 = 2

    var queue: String { Topology.jobQueue(service.configuration.stream.rawValue) }

    mutating func run() {
        while true {
            let stops = service.stop.count
            if stops > stopSeen {
                stopSeen = stops
                if stops == 1 {
                    stopDeadline = .now + service.configuration.shutdownGrace
                    logger.info("stopping: finishing \(inFlight) job(s) in flight")
                }
            }
            let stopping = stopSeen > 0 || (service.configuration.jobLimit > 0 && taken >= service.configuration.jobLimit)
            if stopping {
                if inFlight == 0 { break }
                if stopSeen > 1 || (stopDeadline.map { ContinuousClock.now > $0 } ?? false) {
                    logger.warning("leaving \(inFlight) job(s) to the broker for redelivery")
                    break
                }
            }
            do {
                if connection == nil {
                    try connect(consuming: !stopping)
                }
                if stopping { try stopConsuming() }
                try publishFinished()
                if let event = try connection!.nextEvent(timeout: .milliseconds(20)) {
                    try handle(event, stopping: stopping)
                }
                backoff = .milliseconds(250)
            } catch {
                lostConnection(error)
            }
        }
        connection?.close()
        connection = nil
    }

    mutating func connect(consuming: Bool) throws {
        let configuration = service.configuration
        let connection = try BrokerConnection(url: configuration.broker)
        try connection.openChannel(consumeChannel)
        try Topology.declare([queue, Topology.resultsQueue], on: connection, channel: consumeChannel)
        try connection.setPrefetch(configuration.prefetch, channel: consumeChannel)
        try connection.openChannel(publishChannel)
        try connection.enableConfirms(channel: publishChannel)
        if consuming {
            consumerTag = try connection.consume(queue: queue, channel: consumeChannel)
        }
        generation += 1
        publisher = ConfirmedSequence()
        self.connection = connection
        logger.info("connected", metadata: ["broker": "\(configuration.broker)", "queue": "\(queue)",
                                            "concurrency": "\(configuration.concurrency)", "prefetch": "\(configuration.prefetch)"])
    }

    mutating func stopConsuming() throws {
        guard let tag = consumerTag, let connection else { return }
        consumerTag = nil
        try connection.cancel(consumerTag: tag, channel: consumeChannel)
        // Jobs not started go back to the queue for another worker.
        for work in jobs.drain() {
            try connection.reject(work.delivery, requeue: true)
            inFlight -= 1
        }
    }

    mutating func publishFinished() throws {
        guard let connection, var publisher else { return }
        while let (work, result) = done.poll() {
            let sequence = try connection.publish(
                MessageCodec.encode(result), exchange: "", routingKey: Topology.resultsQueue,
                messageID: result.jobID.uuidString, channel: publishChannel)
            publisher.pending[sequence] = work
            logger.debug("published result", metadata: ["clip_id": "\(result.clipID)", "job_id": "\(result.jobID)",
                                                         "outcome": "\(result.outcome.rawValue)"])
        }
        self.publisher = publisher
    }

    mutating func handle(_ event: BrokerEvent, stopping: Bool) throws {
        guard let connection else { return }
        switch event {
        case .delivery(let delivery):
            if stopping {
                try connection.reject(delivery, requeue: true)
                return
            }
            do {
                let job = try MessageCodec.decodeJob(delivery.body, limit: Topology.maximumMessageBytes)
                guard job.stream == service.configuration.stream else {
                    throw MessageDecodingError(reason: "a \(job.stream.rawValue) job on the \(service.configuration.stream.rawValue) queue")
                }
                inFlight += 1
                taken += 1
                jobs.put(WorkerService.Work(delivery: delivery, job: job, generation: generation))
            } catch {
                logger.error("dead-lettering a message that is not a valid job",
                             metadata: ["delivery_tag": "\(delivery.deliveryTag)", "reason": "\(error)"])
                try connection.reject(delivery, requeue: false)
            }
        case .confirmed(let sequence, let multiple):
            for work in publisher?.settle(sequence, multiple: multiple) ?? [] {
                inFlight -= 1
                if work.generation == generation { try connection.ack(work.delivery) }
            }
        case .refused(let sequence, let multiple):
            for work in publisher?.settle(sequence, multiple: multiple) ?? [] {
                inFlight -= 1
                logger.warning("the broker refused a result; the job goes back to the queue", metadata: ["clip_id": "\(work.job.clipID)"])
                if work.generation == generation { try connection.reject(work.delivery, requeue: true) }
            }
        }
    }

    mutating func lostConnection(_ error: any Error) {
        logger.warning("broker connection lost; reconnecting in \(backoff)", metadata: ["error": "\(error)"])
        connection = nil
        consumerTag = nil
        // Unconfirmed results and unstarted jobs die with the connection: the broker redelivers their jobs.
        inFlight -= publisher?.pending.count ?? 0
        publisher = nil
        inFlight -= jobs.drain().count
        sleep(backoff)
        backoff = min(backoff * 2, .seconds(10))
    }
}

/// Publishes waiting for their confirm, by sequence number.
struct ConfirmedSequence {
    var pending: [UInt64: WorkerService.Work] = [:]

    /// Removes and returns the work settled by a confirm or refusal.
    mutating func settle(_ sequence: UInt64, multiple: Bool) -> [WorkerService.Work] {
        if !multiple { return pending.removeValue(forKey: sequence).map { [$0] } ?? [] }
        let settled = pending.keys.filter { $0 <= sequence }.sorted()
        return settled.compactMap { pending.removeValue(forKey: $0) }
    }
}
