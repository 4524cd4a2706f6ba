import ArgumentParser

@main
struct AudioWorker: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "er-audio-worker",
        abstract: "Speech emotion recognition on audio tracks.",
        version: "0.1.0",
        subcommands: [Run.self, Evaluate.self, Presence.self, Benchmark.self]
    )
}
