import Emotion
import Foundation
import Logging
import Pipeline
import Vision

/// Runs a worker service until SIGTERM/SIGINT (or its job limit), as the worker executables' `run` commands do.
public func runWorker(
    stream: StreamKind, connection: BrokerOptions, options: WorkerOptions, logging: LoggingOptions, metrics: MetricsOptions,
    makeProcessor: @escaping @Sendable () throws -> any JobProcessor
) throws {
    let logger = logging.bootstrap("er-\(stream.rawValue)-worker")
    // Workers scale by processes and --concurrency; OpenCV's own thread pool would only oversubscribe the cores.
    NeuralNetwork.setThreadCount(1)
    let configuration = WorkerConfiguration(
        broker: try connection.broker(), stream: stream, concurrency: options.concurrency, prefetch: options.prefetch,
        shutdownGrace: .seconds(options.shutdownGrace), jobLimit: options.maxJobs, jobBudget: options.jobBudget)
    let service = WorkerService(configuration: configuration, logger: logger, makeProcessor: makeProcessor)
    let status = try metrics.start(health: service.health, logger: logger)
    defer { status?.stop() }
    let handlers = service.stop.installSignalHandlers()
    defer { handlers.forEach { $0.cancel() } }
    try service.run()
    logger.info("stopped", metadata: ["peak_rss_mb": "\(String(format: "%.1f", peakResidentMegabytes()))"])
}
