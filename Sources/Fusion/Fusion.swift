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
        subcommands: [Run.self]
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

        func run() throws {
            let logger = logging.bootstrap("er-fusion")
            let service = FusionService(
                configuration: FusionConfiguration(broker: try connection.broker(), databaseURL: try connection.database(), prefetch: prefetch,
                                                   shutdownGrace: .seconds(shutdownGrace)),
                logger: logger)
            let handlers = service.stop.installSignalHandlers()
            defer { handlers.forEach { $0.cancel() } }
            service.run()
            logger.info("stopped", metadata: ["peak_rss_mb": "\(String(format: "%.1f", peakResidentMegabytes()))"])
        }
    }
}
