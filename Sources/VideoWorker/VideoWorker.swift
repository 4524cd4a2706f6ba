import ArgumentParser

@main
struct VideoWorker: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "er-video-worker",
        abstract: "Facial emotion recognition on video frames.",
        version: "0.1.0",
        subcommands: [Run.self, Evaluate.self, EvaluateFaces.self, EvaluateSpeakers.self, Benchmark.self]
    )
}
