import ArgumentParser
import CommandSupport
import Emotion
import Foundation
import Messaging
import Store

extension Coordinator {
    /// Shows how far batches have got.
    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show clip counts per batch: queued, done, failed.")

        @Argument(help: "A batch name (default: every batch).")
        var batch: String?

        @Flag(help: "Show the broker's queue depths (messages ready, consumers) and the clips waiting in PostgreSQL for a feeder, instead of clip counts.")
        var queues = false

        @OptionGroup var connection: ConnectionOptions

        func run() throws {
            if queues { return try showQueues() }
            let progress = try connection.openStore().progress(batch: batch)
            if let batch, progress.isEmpty { throw ValidationError("no batch named \(batch)") }
            print(ReportPrinter.table(
                header: ["batch", "clips", "queued", "done", "failed"],
                rows: progress.map { [$0.batch, String($0.total), String($0.queued), String($0.done), String($0.failed)] }
            ))
        }

        func showQueues() throws {
            let broker = try BrokerConnection(url: try connection.broker())
            defer { broker.close() }
            let names = StreamKind.allCases.map { Topology.jobQueue($0.rawValue) } + [Topology.resultsQueue, Topology.deadLetterQueue]
            var rows: [[String]] = []
            for (index, name) in names.enumerated() {
                // A passive declare of a missing queue closes its channel: give each queue its own.
                let channel = UInt16(index + 1)
                try broker.openChannel(channel)
                let depth = try? broker.depth(of: name, channel: channel)
                rows.append([name, depth.map { String($0.messages) } ?? "absent", depth.map { String($0.consumers) } ?? "-"])
            }
            // The broker's view stands alone: without the database, the clips waiting there are left out, saying why.
            do {
                let store = try connection.openStore()
                for stream in StreamKind.allCases {
                    rows.append(["\(stream.rawValue) clips waiting in PostgreSQL", String(try store.waitingCount(for: stream)), "-"])
                }
            } catch {
                printError("clips waiting in PostgreSQL: not shown (\(error))")
            }
            print(ReportPrinter.table(header: ["queue", "ready", "consumers"], rows: rows))
        }
    }
}
