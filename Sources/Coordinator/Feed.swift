import ArgumentParser
import CommandSupport
import Emotion
import Foundation
import Pipeline

extension Coordinator {
    /// Keeps the broker's job queues topped up from the clips waiting in PostgreSQL.
    struct Feed: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Publish waiting clips' jobs as workers drain the queues, keeping at most --max-queued ready per stream.",
            discussion: """
                Runs until SIGTERM/SIGINT (or once, with --once). Several feeders may run at once: each stream is \
                topped up by one of them at a time, and a feeder killed mid-top-up loses nothing (its clips are \
                published again).
                """
        )

        @Option(name: .customLong("max-queued"), help: "Jobs per stream the broker may hold ready (not yet delivered to a worker).")
        var maxQueued = 2000

        @Option(help: "Seconds between top-ups.")
        var interval = 1.0

        @Option(name: .customLong("probe-timeout"), help: "Seconds a URL may take to answer the duration probe; one that does not is registered failed (timeout).")
        var probeTimeout: Double = 20

        @Flag(help: "Top the queues up once and exit.")
        var once = false

        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var logging: LoggingOptions
        @OptionGroup var metrics: MetricsOptions

        func validate() throws {
            guard maxQueued > 0 else { throw ValidationError("--max-queued must be positive") }
            guard interval > 0 else { throw ValidationError("--interval must be positive") }
        }

        func run() throws {
            let logger = logging.bootstrap("er-feeder")
            let options = FeederOptions(maxQueued: maxQueued, probeTimeout: probeTimeout)
            if once {
                let rounds = try Feeder(databaseURL: try connection.database(), brokerURL: try connection.broker(), options: options,
                                        logger: logger).topUp()
                for stream in StreamKind.allCases {
                    let round = rounds[stream] ?? FeedRound()
                    print("\(stream.rawValue): " + (round.readyBefore.map { "\($0) ready before, " } ?? "another feeder had the turn, ")
                          + "\(round.published) job(s) published for \(round.clips) clip(s)"
                          + (round.failed > 0 ? ", \(round.failed) failed (no answer within \(probeTimeout) s)" : ""))
                }
                return
            }
            let service = FeederService(databaseURL: try connection.database(), brokerURL: try connection.broker(), options: options,
                                        interval: .milliseconds(Int(interval * 1000)), logger: logger)
            let status = try metrics.start(health: service.health, logger: logger)
            defer { status?.stop() }
            let handlers = service.stop.installSignalHandlers()
            defer { handlers.forEach { $0.cancel() } }
            service.run()
            logger.info("stopped")
        }
    }
}
