import ArgumentParser
import CommandSupport
import Foundation
import Store

extension Coordinator {
    /// Waits for a batch to finish, showing progress.
    struct Wait: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Wait until every clip of a batch is done or failed; exits 1 if any failed, 2 on timeout."
        )

        @Argument(help: "The batch name.")
        var batch: String

        @Option(help: "Give up after this many seconds (0: wait for ever).")
        var timeout: Double = 0

        @Option(help: "Seconds between progress checks.")
        var interval: Double = 1

        @OptionGroup var connection: ConnectionOptions

        func run() throws {
            let started = Date()
            let onTerminal = isatty(STDOUT_FILENO) == 1
            var lastLine = ""
            var lastPrinted = Date.distantPast
            var store: ResultStore?
            var alreadyFinished: Int?
            while true {
                if store == nil {
                    do {
                        store = try connection.openStore()
                    } catch {
                        printError("database unavailable (\(error)); retrying")
                    }
                }
                if let current = store {
                    do {
                        guard let progress = try current.progress(batch: batch).first else {
                            throw ValidationError("no batch named \(batch)")
                        }
                        let elapsed = Date().timeIntervalSince(started)
                        if alreadyFinished == nil { alreadyFinished = progress.finished }
                        let line = Self.progressLine(progress, elapsed: elapsed, newlyFinished: progress.finished - alreadyFinished!,
                                                     bar: onTerminal)
                        if onTerminal {
                            FileHandle.standardOutput.write(Data(("\r" + line).utf8))
                        } else if line != lastLine && Date().timeIntervalSince(lastPrinted) >= 5 || progress.isComplete {
                            print(line)
                            lastPrinted = Date()
                        }
                        lastLine = line
                        if progress.isComplete {
                            if onTerminal { print("") }
                            if progress.failed > 0 { throw ExitCode(1) }
                            return
                        }
                    } catch let error as DatabaseError where error.isTransient {
                        store = nil
                    }
                }
                if timeout > 0, Date().timeIntervalSince(started) > timeout {
                    if onTerminal { print("") }
                    printError("timed out after \(Int(timeout)) s")
                    throw ExitCode(2)
                }
                Thread.sleep(forTimeInterval: interval)
            }
        }

        /// One progress report; the rate counts only clips finished while waiting.
        static func progressLine(_ progress: BatchProgress, elapsed: Double, newlyFinished: Int, bar: Bool) -> String {
            let fraction = progress.total > 0 ? Double(progress.finished) / Double(progress.total) : 1
            let rate = elapsed > 0.5 ? Double(newlyFinished) / elapsed : 0
            let counts = "\(progress.finished)/\(progress.total) clips (\(progress.done) done, \(progress.failed) failed) "
                + String(format: "%.1f s, %.2f clips/s", elapsed, rate)
            guard bar else { return "\(progress.batch): " + counts }
            let width = 30
            let filled = Int(fraction * Double(width))
            return "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] " + counts
        }
    }
}
