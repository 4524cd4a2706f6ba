import ArgumentParser
import Foundation
import CommandSupport
import Pipeline

@main
struct Fusion: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "er-fusion",
        abstract: "Combines audio and video results per clip and stores them in PostgreSQL.",
        version: "0.1.0",
        subcommands: [Run.self, Load.self]
    )

    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Consume results until SIGTERM/SIGINT.")

        @Option(help: "Results the broker may send ahead.")
        var prefetch = 64

        @Option(name: .customLong("shutdown-grace"),
                help: "Seconds to wait after SIGTERM/SIGINT for the database to come back for the result in hand.")
        var shutdownGrace = 30

        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var logging: LoggingOptions
        @OptionGroup var metrics: MetricsOptions

        func run() throws {
            let logger = logging.bootstrap("er-fusion")
            let service = FusionService(
                configuration: FusionConfiguration(broker: try connection.broker(), databaseURL: try connection.database(), prefetch: prefetch,
                                                   shutdownGrace: .seconds(shutdownGrace)),
                logger: logger)
            let status = try metrics.start(health: service.health, logger: logger)
            defer { status?.stop() }
            let handlers = service.stop.installSignalHandlers()
            defer { handlers.forEach { $0.cancel() } }
            service.run()
            logger.info("stopped", metadata: ["peak_rss_mb": "\(String(format: "%.1f", peakResidentMegabytes()))"])
        }
    }

    struct Load: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Measure how fast the running Fusion processes store results: publish well-formed results for N clips of a batch of their own.",
            discussion: "The clips are registered as published (no worker sees them); their source is load://BATCH/N.mp4."
        )

        @Option(help: "Clips to publish results for (two results each: audio and video).")
        var clips = 10_000

        @Option(help: "Batch name for the clips (default: load-<time>).")
        var batch: String?

        @Option(help: "Seconds to wait for Fusion to store them all.")
        var timeout = 3600

        @OptionGroup var connection: ConnectionOptions

        func validate() throws {
            guard clips > 0 else { throw ValidationError("--clips must be positive") }
        }

        func run() throws {
            let name = batch ?? "load-\(Int(Date().timeIntervalSince1970))"
            let report = try runResultLoad(clips: clips, batch: name, databaseURL: try connection.database(), broker: try connection.broker(),
                                           timeout: .seconds(timeout))
            print(String(format: "batch %@: %d results for %d clips published in %.1f s (%.0f/s); stored and fused in %.1f s: %.0f results/s",
                         name, report.results, report.clips, report.publishSeconds, report.publishedPerSecond, report.storeSeconds,
                         report.storedPerSecond))
        }
    }
}
