import ArgumentParser
import CommandSupport
import Foundation
import Store

extension Coordinator {
    /// Shows how far batches have got.
    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show clip counts per batch: queued, done, failed.")

        @Argument(help: "A batch name (default: every batch).")
        var batch: String?

        @OptionGroup var connection: ConnectionOptions

        func run() throws {
            let database = try DatabaseConnection(url: connection.database())
            try Schema.migrate(database)
            let progress = try ResultStore(database: database).progress(batch: batch)
            if let batch, progress.isEmpty { throw ValidationError("no batch named \(batch)") }
            print(ReportPrinter.table(
                header: ["batch", "clips", "queued", "done", "failed"],
                rows: progress.map { [$0.batch, String($0.total), String($0.queued), String($0.done), String($0.failed)] }
            ))
        }
    }
}
