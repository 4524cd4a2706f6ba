import Emotion
import Foundation
import Logging
import Messaging
import Pipeline
@testable import Store
import Testing
import TestSupport

/// The local stack's vhost er-tests (`scripts/stack` makes it).
enum TestVhost {
    /// The stack's broker URL with the vhost er-tests.
    static var brokerURL: String {
        guard var components = URLComponents(string: TestStack.amqpURL) else { return TestStack.amqpURL }
        components.percentEncodedPath = "/er-tests"
        return components.string ?? TestStack.amqpURL
    }

    static var available: Bool {
        guard let url = try? BrokerURL(brokerURL), let connection = try? BrokerConnection(url: url) else { return false }
        connection.close()
        return true
    }
}

/// The feeder against the real servers, in a schema and a broker vhost of its own (`er-tests`, made by
/// `scripts/stack`), so that the pipeline tests running beside it neither see nor take its jobs.
@Suite(.enabled(if: TestStack.available && TestVhost.available,
                "needs RabbitMQ and PostgreSQL from `scripts/stack up`, with its vhost er-tests"),
       .serialized)
final class FeederTests {
    let schema = "er_feeder_\(UUID().uuidString.prefix(8).lowercased())"
    let databaseURL: DatabaseURL
    let database: DatabaseConnection
    let store: ResultStore
    let broker: BrokerConnection
    private var nextChannel: UInt16 = 10

    init() throws {
        let admin = try DatabaseConnection(url: DatabaseURL(TestStack.databaseURL))
        try admin.query("CREATE SCHEMA \(schema)")
        let separator = TestStack.databaseURL.contains("?") ? "&" : "?"
        databaseURL = try DatabaseURL(TestStack.databaseURL + separator + "options=-csearch_path%3D" + schema)
        database = try DatabaseConnection(url: databaseURL)
        try Schema.migrate(database)
        store = ResultStore(database: database)
        broker = try BrokerConnection(url: BrokerURL(TestVhost.brokerURL))
        try broker.openChannel(1)
        try Topology.declare(StreamKind.allCases.map { Topology.jobQueue($0.rawValue) } + [Topology.resultsQueue], on: broker, channel: 1)
        // Jobs left by an earlier run of these tests.
        for stream in StreamKind.allCases {
            let left = try settledDepth(stream)
            if left > 0 { _ = try take(left, from: stream) }
        }
    }

    deinit {
        broker.close()
        if let admin = try? DatabaseConnection(url: DatabaseURL(TestStack.databaseURL)) {
            _ = try? admin.query("DROP SCHEMA \(schema) CASCADE")
        }
    }

    static var quietLogger: Logger {
        var logger = Logger(label: "er.feeder.test")
        logger.logLevel = .warning
        return logger
    }

    func feeder(maxQueued: Int) throws -> Feeder {
        try Feeder(databaseURL: databaseURL, brokerURL: BrokerURL(TestVhost.brokerURL), options: FeederOptions(maxQueued: maxQueued),
                   logger: Self.quietLogger)
    }

    func depth(_ stream: StreamKind) throws -> Int {
        try broker.depth(of: Topology.jobQueue(stream.rawValue), channel: 1).messages
    }

    /// The stream's ready jobs once two reads 200 ms apart agree (a job handed back by a closed channel returns to
    /// a quorum queue asynchronously).
    func settledDepth(_ stream: StreamKind) throws -> Int {
        var last = try depth(stream)
        for _ in 0..<25 {
            Thread.sleep(forTimeInterval: 0.2)
            let now = try depth(stream)
            if now == last { return now }
            last = now
        }
        return last
    }

    /// Consumes and acknowledges up to `count` jobs of a stream (as a worker would), returning them. Each call
    /// uses a channel of its own and closes it, so that a job delivered after the last one taken goes back.
    func take(_ count: Int, from stream: StreamKind) throws -> [JobMessage] {
        var jobs: [JobMessage] = []
        let channel = nextChannel
        nextChannel += 1
        try broker.openChannel(channel)
        try broker.setPrefetch(1, channel: channel)
        let tag = try broker.consume(queue: Topology.jobQueue(stream.rawValue), channel: channel)
        // Patient: on a loaded machine a delivery can take seconds.
        while jobs.count < count, case .delivery(let delivery)? = try broker.nextEvent(timeout: .seconds(5)) {
            guard delivery.channel == channel else { continue }  // from a closed channel: requeued already
            jobs.append(try MessageCodec.decodeJob(delivery.body, limit: Topology.maximumMessageBytes))
            try broker.ack(delivery)
        }
        try broker.cancel(consumerTag: tag, channel: channel)
        try broker.closeChannel(channel)
        return jobs
    }

    func register(_ count: Int, batch name: String, priority: Int = 0) throws -> Int64 {
        let batch = try store.batch(named: name)
        try store.setPriority(priority, batchID: batch)
        _ = try store.register(sources: (0..<count).map { "/absent/\(name)-\($0).mp4" }, batchID: batch, force: false)
        return batch
    }

    @Test func topsEachQueueUpToTheLimitAndNoFurther() throws {
        _ = try register(30, batch: "bounded")
        let feeder = try feeder(maxQueued: 10)
        let first = try feeder.topUp()
        #expect(first[.audio]?.published == 10 && first[.video]?.published == 10)
        #expect(try depth(.audio) == 10 && depth(.video) == 10)
        #expect(try store.waitingCount(for: .audio, batch: "bounded") == 20)
        #expect(try feeder.topUp()[.audio]?.published == 0)
        // A worker takes 4 audio jobs (one more may come back from its closed channel a moment later): the audio
        // queue is topped up by what it lacks, the video queue gets nothing.
        let taken = try take(4, from: .audio).count
        #expect(taken == 4)
        let ready = try settledDepth(.audio)
        let second = try feeder.topUp()
        #expect(second[.audio]?.readyBefore == ready && second[.audio]?.published == 10 - ready && second[.video]?.published == 0,
                "\(String(describing: second))")
        #expect(try settledDepth(.audio) == 10 && depth(.video) == 10)
        #expect(try store.waitingCount(for: .audio, batch: "bounded") == 20 - (10 - ready) && store.waitingCount(for: .video, batch: "bounded") == 20)
    }

    @Test func aBatchOfHigherPriorityIsFedFirst() throws {
        let bulk = try register(20, batch: "bulk")
        let urgent = try register(3, batch: "urgent", priority: 5)
        _ = try feeder(maxQueued: 5).topUp()
        let batches = try take(5, from: .video).map(\.batchID)
        #expect(batches.count == 5)
        #expect(batches.filter { $0 == urgent }.count == 3 && batches.filter { $0 == bulk }.count == 2)
    }

    /// Two feeders topping up side by side while a worker drains the queue: every clip's job is published once.
    @Test func twoFeedersPublishEveryJobOnce() throws {
        _ = try register(60, batch: "pair")
        let urls = (databaseURL, try BrokerURL(TestVhost.brokerURL))
        let stop = StopSignal()
        let threads = (0..<2).map { _ in
            Thread {
                guard let feeder = try? Feeder(databaseURL: urls.0, brokerURL: urls.1, options: FeederOptions(maxQueued: 7),
                                               logger: FeederTests.quietLogger) else { return }
                while stop.count == 0 {
                    _ = try? feeder.topUp()
                    Thread.sleep(forTimeInterval: 0.01)
                }
            }
        }
        threads.forEach { $0.start() }
        var jobs: [JobMessage] = []
        let deadline = ContinuousClock.now + .seconds(60)
        while try store.waitingCount(for: .audio, batch: "pair") > 0 || depth(.audio) > 0, ContinuousClock.now < deadline {
            jobs += try take(5, from: .audio)
        }
        stop.request()
        Thread.sleep(forTimeInterval: 0.3)
        let left = try settledDepth(.audio)
        if left > 0 { jobs += try take(left, from: .audio) }
        let perClip = Dictionary(grouping: jobs, by: \.clipID)
        #expect(perClip.count == 60, "\(perClip.count) clips published")
        #expect(perClip.values.allSatisfy { $0.count == 1 }, "a clip published twice")
    }
}
