import ArgumentParser
import CommandSupport
import Pipeline

extension AudioWorker {
    /// Consumes audio jobs from RabbitMQ and publishes speech emotion results.
    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Consume audio jobs until SIGTERM/SIGINT.")

        @OptionGroup var models: ModelOptions
        @OptionGroup var worker: WorkerOptions
        @OptionGroup var connection: BrokerOptions
        @OptionGroup var logging: LoggingOptions
        @OptionGroup var metrics: MetricsOptions

        func run() throws {
            let directory = try models.resolve()
            let policy = worker.policy
            try runWorker(stream: .audio, connection: connection, options: worker, logging: logging, metrics: metrics) {
                try SpeechJobProcessor(modelsDirectory: directory, policy: policy)
            }
        }
    }
}
