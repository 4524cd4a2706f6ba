import ArgumentParser
import CommandSupport
import Pipeline

extension VideoWorker {
    /// Consumes video jobs from RabbitMQ and publishes facial emotion results.
    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Consume video jobs until SIGTERM/SIGINT.")

        @OptionGroup var models: ModelOptions
        @OptionGroup var sampling: SamplingOptions
        @OptionGroup var worker: WorkerOptions
        @OptionGroup var connection: BrokerOptions
        @OptionGroup var logging: LoggingOptions
        @OptionGroup var metrics: MetricsOptions

        func run() throws {
            let directory = try models.resolve()
            let policy = worker.policy
            let frames = sampling.sampling
            try runWorker(stream: .video, connection: connection, options: worker, logging: logging, metrics: metrics) {
                try FaceJobProcessor(modelsDirectory: directory, policy: policy, sampling: frames)
            }
        }
    }
}
