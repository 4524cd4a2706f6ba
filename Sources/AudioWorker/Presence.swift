import Analysis
import ArgumentParser
import CommandSupport
import Foundation
import Media

extension AudioWorker {
    /// Runs the speech-presence check alone, to measure its false rejects and false accepts.
    struct Presence: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check every audio or video file under a folder for speech, as the audio worker does before it predicts."
        )

        enum Expectation: String, ExpressibleByArgument, CaseIterable {
            case speech, none
        }

        @Argument(help: "Folder of audio or video files (searched recursively).")
        var directory: String

        @Option(help: "What the files hold (\(Expectation.allCases.map(\.rawValue).joined(separator: ", "))): the summary then counts the files judged otherwise.")
        var expect: Expectation?

        @Flag(help: "Print one JSON line per file (path, evidence or error) instead of the summary.")
        var json = false

        @Option(help: "Periodicity from which a frame is voiced (to measure other thresholds; default: the worker's).")
        var voicing: Float?

        @Option(help: "Least voiced seconds (default: the worker's).")
        var voicedSeconds: Double?

        @Option(help: "Least median pitch motion, semitones (default: the worker's).")
        var pitchMotion: Double?

        struct Record: Encodable {
            var path: String
            var evidence: SpeechPresenceDetector.Evidence?
            var silent: Bool
            var error: String?
        }

        func run() throws {
            var thresholds = SpeechPresenceDetector.Thresholds()
            if let voicing { thresholds.voicing = voicing }
            if let voicedSeconds { thresholds.voicedSeconds = voicedSeconds }
            if let pitchMotion { thresholds.pitchMotion = pitchMotion }
            let detector = try SpeechPresenceDetector(thresholds: thresholds)
            let files = FileTree.regularFiles(under: URL(fileURLWithPath: directory))
                .filter { MediaExtensions.withAudio.contains(($0 as NSString).pathExtension.lowercased()) }
            guard !files.isEmpty else { throw ValidationError("no media under \(directory)") }
            var speech: [String] = [], other: [String] = [], failed: [String] = []
            for file in files {
                var record = Record(path: file, silent: false)
                do {
                    var options = MediaOpenOptions()
                    options.streams = [.audio]
                    let audio = try MediaFile(MediaSource(file), options: options).decodeAudio(sampleRate: detector.sampleRate)
                    record.silent = SpeechEmotionRecognizer.isSilent(audio.samples)
                    if !record.silent { record.evidence = detector.evidence(for: audio.samples) }
                    if record.evidence?.isSpeech == true { speech.append(file) } else { other.append(file) }
                } catch {
                    record.error = "\(StreamFailure(error))"
                    failed.append(file)
                }
                if json { print(ReportPrinter.jsonLine(record)) }
            }
            guard !json else { return }
            print("\(files.count) files: \(speech.count) with speech, \(other.count) without, \(failed.count) unreadable")
            let (wrong, kind) = expect == .speech ? (other, "false rejects") : (speech, "false accepts")
            if expect != nil {
                let share = Double(wrong.count) / Double(max(files.count - failed.count, 1)) * 100
                print("\(kind): \(wrong.count)/\(files.count - failed.count) (\(String(format: "%.2f", share)) %)")
                for file in wrong { print("  \(file)") }
            }
        }
    }
}
