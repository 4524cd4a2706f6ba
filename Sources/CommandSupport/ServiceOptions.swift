import ArgumentParser
import Foundation
import Logging
import Media
import Messaging
import Observability
import Pipeline
import Store

/// The broker's location, for commands that only talk to RabbitMQ (the workers). The flag overrides
/// `ER_AMQP_URL`; the default is the local stack's (`scripts/stack env`).
public struct BrokerOptions: ParsableArguments {
    @Option(name: .customLong("amqp-url"), help: "RabbitMQ URL (default: $ER_AMQP_URL or the local stack's).")
    public var amqpURL: String?

    public init() {}

    public func broker() throws -> BrokerURL { try BrokerURL.resolve(amqpURL) }
}

/// Broker and database locations, for the commands that use both. Flags override `ER_AMQP_URL` and
/// `ER_DATABASE_URL`; both default to the local stack's (`scripts/stack env`).
public struct ConnectionOptions: ParsableArguments {
    @OptionGroup public var brokerOptions: BrokerOptions

    @Option(name: .customLong("database-url"), help: "PostgreSQL URL (default: $ER_DATABASE_URL or the local stack's).")
    public var databaseURL: String?

    public init() {}

    public func broker() throws -> BrokerURL { try brokerOptions.broker() }

    public func database() throws -> DatabaseURL { try DatabaseURL.resolve(databaseURL) }

    /// Connects to the database, applies pending migrations and returns the result store.
    public func openStore() throws -> ResultStore {
        let database = try DatabaseConnection(url: try database())
        try Schema.migrate(database)
        return ResultStore(database: database)
    }
}

/// Log verbosity, shared by the long-running commands.
public struct LoggingOptions: ParsableArguments {
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    public var level: Logger.Level = .info

    public init() {}

    /// Sends logs to standard error at the chosen level and returns a logger labelled `label`.
    public func bootstrap(_ label: String) -> Logger {
        let level = self.level
        LoggingSystem.bootstrap { name in
            var handler = StreamLogHandler.standardError(label: name)
            handler.logLevel = level
            return handler
        }
        return Logger(label: label)
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

/// Options of the worker `run` commands.
public struct WorkerOptions: ParsableArguments {
    @Option(help: "Processing threads in this process.")
    public var concurrency: Int = 1

    @Option(help: "Unacknowledged jobs the broker may send ahead (default: twice the concurrency).")
    public var prefetch: Int?

    @Option(name: .customLong("media-root"), help: "Only open local files under this folder (repeatable; default: any).")
    public var mediaRoots: [String] = []

    @Option(name: .customLong("allow-protocol"), help: "Media protocols allowed (repeatable; default: file, http, https).")
    public var protocols: [String] = []

    @Option(name: .customLong("shutdown-grace"), help: "Seconds to finish in-flight jobs after SIGTERM/SIGINT.")
    public var shutdownGrace: Int = 60

    @Option(name: .customLong("max-jobs"), help: "Exit after this many jobs (0: run until stopped).")
    public var maxJobs: Int = 0

    @Option(name: .customLong("job-timeout"),
            help: "Seconds a job may take before it fails with 'timeout' (default: 4 s per second of media, at least 120 s).")
    public var jobTimeout: Double?

    public init() {}

    public func validate() throws {
        guard concurrency >= 1 else { throw ValidationError("--concurrency must be at least 1") }
        if let prefetch, prefetch < concurrency { throw ValidationError("--prefetch must be at least --concurrency") }
        if let jobTimeout, !(jobTimeout > 0 && jobTimeout <= 7 * 86_400) {
            throw ValidationError("--job-timeout must be positive and at most a week (604800 s)")
        }
    }

    /// The time each job gets.
    public var jobBudget: MediaDeadline.Budget {
        MediaDeadline.Budget(fixed: jobTimeout.map { .milliseconds(Int64($0 * 1000)) })
    }

    public var policy: MediaPolicy {
        MediaPolicy(roots: mediaRoots, protocols: protocols.isEmpty ? ["file", "http", "https"] : protocols)
    }
}

/// Where a long-running service serves its metrics and health (`/metrics`, `/healthz`, `/readyz`).
public struct MetricsOptions: ParsableArguments {
    @Option(name: .customLong("metrics-address"),
            help: "Serve Prometheus metrics on /metrics and health on /healthz and /readyz at HOST:PORT (default: $ER_METRICS_ADDRESS; none when unset).")
    public var address: String?

    public init() {}

    /// The address from the flag or `ER_METRICS_ADDRESS`, if any.
    public var resolved: String? {
        address ?? ProcessInfo.processInfo.environment["ER_METRICS_ADDRESS"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Bootstraps the Prometheus metrics backend and starts serving when an address is set; throws (a clear error
    /// at start) when it cannot listen there.
    public func start(health: ServiceHealth, logger: Logger) throws -> StatusServer? {
        guard let address = resolved else { return nil }
        let server = try StatusServer.startBlocking(address: address, registry: PrometheusMetrics.bootstrap(), health: health)
        logger.info("serving metrics and health", metadata: ["address": "\(server.address)"])
        return server
    }
}
