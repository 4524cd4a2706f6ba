import ArgumentParser
import CommandSupport
import Emotion
import Foundation
import Pipeline

extension Coordinator {
    /// Registers clips and publishes their jobs.
    struct Submit: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Register clips from folders, manifests or URLs and publish their jobs (resumable)."
        )

        @Argument(help: "Folders (scanned recursively), manifests (.txt/.lst one per line, .csv with a path column), media files or http(s) URLs.")
        var inputs: [String]

        @Option(help: "Batch name (default: the first input's name). Submitting to the same batch again skips clips with results.")
        var batch: String?

        @Flag(help: "Analyse clips again even if they already have results.")
        var force = false

        @Flag(help: "Publish again the jobs of clips still queued that were already handed to the broker (after it lost its queues); duplicates are harmless.")
        var republish = false

        @Option(help: "Comma-separated media extensions to pick up in folders.")
        var extensions = SourceDiscovery.defaultMediaExtensions.sorted().joined(separator: ",")

        @Option(name: .customLong("segment-threshold"), help: "Split clips longer than this many seconds into windows.")
        var segmentThreshold: Double = 60

        @Option(name: .customLong("segment-length"), help: "Window length in seconds for split clips.")
        var segmentLength: Double = 5

        @Option(name: .customLong("segment-hop"), help: "Seconds between window starts (default: the window length).")
        var segmentHop: Double?

        @Option(name: .customLong("probe-timeout"), help: "Seconds a URL may take to answer the duration probe; one that does not is registered failed (timeout).")
        var probeTimeout: Double = 20

        @Option(name: .customLong("max-queued"), help: "Jobs per stream the broker may hold ready: submit publishes up to this many, the rest of the batch waits in PostgreSQL for `er-coordinator feed`.")
        var maxQueued = 2000

        @Option(help: "Feeding priority of the batch: feeders publish the jobs of higher priorities first (default: 0, or the batch's own).")
        var priority: Int?

        @OptionGroup var connection: ConnectionOptions

        func validate() throws {
            guard segmentLength > 0, (segmentHop ?? segmentLength) > 0 else {
                throw ValidationError("--segment-length and --segment-hop must be positive")
            }
            guard maxQueued > 0 else { throw ValidationError("--max-queued must be positive") }
        }

        func run() throws {
            let discovery = SourceDiscovery(mediaExtensions: Set(extensions.lowercased().split(separator: ",").map {
                String($0.trimmingCharacters(in: .whitespaces).drop { $0 == "." })
            }))
            let sources = try discovery.sources(from: inputs)
            guard !sources.isEmpty else { throw ValidationError("no media found in \(inputs.joined(separator: ", "))") }
            let name = batch ?? Self.defaultBatchName(inputs[0])
            let plan = SegmentPlan(threshold: segmentThreshold, length: segmentLength, hop: segmentHop)
            let summary = try Pipeline.submit(
                sources: sources, batch: name, force: force, republish: republish, priority: priority,
                feeding: FeederOptions(maxQueued: maxQueued, plan: plan, probeTimeout: probeTimeout),
                databaseURL: try connection.database(), broker: try connection.broker())
            print("batch \(summary.batch): \(summary.found) clip(s) found, \(summary.queued) queued, "
                  + "\(summary.skipped) skipped (already have results)"
                  + (summary.failed > 0 ? ", \(summary.failed) failed (no answer within \(probeTimeout) s)" : "")
                  + (summary.waiting > 0 ? "; \(summary.waiting) wait in PostgreSQL for a feeder (er-coordinator feed)" : ""))
        }

        static func defaultBatchName(_ input: String) -> String {
            let trimmed = input.hasSuffix("/") ? String(input.dropLast()) : input
            if let url = URL(string: trimmed), url.scheme?.hasPrefix("http") == true { return url.host ?? trimmed }
            return (trimmed as NSString).lastPathComponent
        }
    }
}
