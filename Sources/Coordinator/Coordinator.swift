import ArgumentParser

@main
struct Coordinator: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "er-coordinator",
        abstract: "Finds clips, analyses them and reports their emotions.",
        version: "0.1.0",
        subcommands: [Analyze.self, Probe.self, Evaluate.self, Submit.self, Feed.self, Status.self, Wait.self, Export.self, Timeline.self]
    )
}
