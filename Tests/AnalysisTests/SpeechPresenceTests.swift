import Analysis
import Foundation
import Media
import Synchronization
import Testing
import TestSupport

/// The speech-presence check: sound that is not speech gives `no_speech`, real speech is kept.
struct SpeechPresenceTests {
    static let rate = 16_000

    static func seconds(_ duration: Double, _ sample: (Double) -> Double) -> [Float] {
        (0..<Int(duration * Double(rate))).map { Float(sample(Double($0) / Double(rate))) }
    }

    /// Reproducible Gaussian-like noise (sum of uniforms) with a fixed seed.
    static func noise(_ duration: Double, amplitude: Double, seed: UInt64 = 7) -> [Float] {
        var state = seed
        func uniform() -> Double {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Double(state >> 11) / Double(1 << 53)
        }
        return seconds(duration) { _ in amplitude * ((0..<4).map { _ in uniform() }.reduce(0, +) - 2) }
    }

    /// A note with `count` harmonics of falling strength at time t.
    static func harmonics(_ frequency: Double, _ count: Int, at t: Double) -> Double {
        var sum = 0.0
        for harmonic in 1...count {
            let order = Double(harmonic)
            sum += 0.2 / order * sin(2 * Double.pi * frequency * order * t)
        }
        return sum
    }

    @Test func toneHumNoiseAndAMelodyAreNotSpeech() throws {
        let detector = try SpeechPresenceDetector()
        let notes = [261.6, 329.6, 392.0, 523.3, 440.0, 349.2, 293.7, 261.6]
        let melody = Self.seconds(4) { t in
            let note = notes[Int(t / 0.5) % notes.count]
            let sinceStrike = t.truncatingRemainder(dividingBy: 0.5)
            return Self.harmonics(note, 5, at: t) * exp(-4 * sinceStrike)
        }
        let signals: [String: [Float]] = [
            "tone": Self.seconds(4) { 0.3 * sin(2 * Double.pi * 440 * $0) },
            "hum": Self.seconds(4) { Self.harmonics(50, 6, at: $0) },
            "steady noise": Self.noise(4, amplitude: 0.1),
            "hiss": Self.noise(4, amplitude: 0.002),
            "melody": melody,
        ]
        for (name, samples) in signals {
            let evidence = detector.evidence(for: samples)
            #expect(!evidence.isSpeech, "\(name): \(evidence)")
        }
    }

    @Test func tooShortAudioIsNotSpeech() throws {
        let detector = try SpeechPresenceDetector()
        #expect(!detector.evidence(for: []).isSpeech)
        #expect(!detector.evidence(for: Self.noise(0.01, amplitude: 0.1)).isSpeech)
    }

    @Test(.enabled(if: TestData.available, Comment(rawValue: TestData.missingReason)))
    func everySharedSpeechTakeIsAccepted() throws {
        let takes = FileTree.regularFiles(under: TestData.sharedData.appendingPathComponent("ravdess/speech-16k"))
            .filter { $0.hasSuffix(".flac") }
        #expect(takes.count >= 1200)
        // Two threads, each with its own detector (a detector is not thread-safe).
        let threads = 2
        let rejected = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: threads) { thread in
            guard let detector = try? SpeechPresenceDetector() else { return rejected.withLock { $0.append("no detector") } }
            for take in stride(from: thread, to: takes.count, by: threads).map({ takes[$0] }) {
                do {
                    let audio = try MediaFile(MediaSource(take)).decodeAudio(sampleRate: detector.sampleRate)
                    let evidence = detector.evidence(for: audio.samples)
                    if !evidence.isSpeech { rejected.withLock { $0.append("\(take): \(evidence)") } }
                } catch {
                    rejected.withLock { $0.append("\(take): \(error)") }
                }
            }
        }
        rejected.withLock { #expect($0.isEmpty, "\($0)") }
    }

    @Test(.enabled(if: TestData.available && TestData.modelsAvailable && TestData.hasFFmpegTool,
                   "needs ../shared/data, the committed models and the ffmpeg CLI"))
    func recognizerAnswersNoSpeechForSoundWithoutSpeech() throws {
        let recognizer = try SpeechEmotionRecognizer(modelsDirectory: TestData.models)
        let folder = try TestData.scratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let sources = [
            "hiss": "anoisesrc=color=white:amplitude=0.003:duration=4",
            "steady noise": "anoisesrc=color=pink:amplitude=0.2:duration=4",
            "tone": "sine=frequency=1000:duration=4",
        ]
        for (name, source) in sources {
            let path = folder.appendingPathComponent("\(name).m4a").path
            try TestData.ffmpeg(["-f", "lavfi", "-i", source, "-ar", "48000", "-c:a", "aac", path])
            do {
                let analysis = try recognizer.analyze(MediaSource(path))
                Issue.record("\(name) was taken for speech: \(analysis.speech)")
            } catch {
                #expect(StreamFailure(error).code == StreamFailure.noSpeech, "\(name): \(error)")
                #expect(StreamFailure(error).meansAbsent)
            }
        }
        // A real take is still analysed.
        let take = try recognizer.analyze(MediaSource(TestData.speechTake))
        #expect(take.speech.isSpeech && take.speech.voicedSeconds > 0.2)
    }

    /// A long recording whose middle minute is room noise: the windows there have no speech, the others do.
    @Test(.enabled(if: TestData.available && TestData.modelsAvailable && TestData.hasFFmpegTool,
                   "needs ../shared/data, the committed models and the ffmpeg CLI"))
    func longRecordingWithASilentMinute() throws {
        let recognizer = try SpeechEmotionRecognizer(modelsDirectory: TestData.models)
        let folder = try TestData.scratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let speech = TestData.sharedData.appendingPathComponent("ravdess/speech-16k/Actor_01")
        let takes = try FileManager.default.contentsOfDirectory(atPath: speech.path).filter { $0.hasSuffix(".flac") }.sorted()
        let before = takes.prefix(6).map { speech.appendingPathComponent($0).path }
        let after = takes.dropFirst(6).prefix(6).map { speech.appendingPathComponent($0).path }
        // 6 takes, 60 s of quiet room noise, 6 takes; every take padded to 4 s so the windows line up.
        var inputs: [String] = [], filters: [String] = []
        for (index, take) in (before + after).enumerated() {
            inputs += ["-i", take]
            filters.append("[\(index)]apad=whole_dur=4[t\(index)]")
        }
        inputs += ["-f", "lavfi", "-i", "anoisesrc=color=brown:amplitude=0.01:duration=60:sample_rate=16000"]
        let order = (0..<6).map { "[t\($0)]" } + ["[12]"] + (6..<12).map { "[t\($0)]" }
        filters.append(order.joined() + "concat=n=13:v=0:a=1[out]")
        let long = folder.appendingPathComponent("long.m4a").path
        try TestData.ffmpeg(inputs + ["-filter_complex", filters.joined(separator: ";"), "-map", "[out]", "-c:a", "aac", long])

        let windowSeconds = 4.0
        for window in 0..<(12 + 15) {
            let range = TimeRange(start: Double(window) * windowSeconds, duration: windowSeconds)
            let inQuietMinute = window >= 6 && window < 21
            do {
                let analysis = try recognizer.analyze(MediaSource(long), range: range)
                #expect(!inQuietMinute, "window \(window) has speech: \(analysis.speech)")
            } catch {
                #expect(inQuietMinute, "window \(window): \(error)")
                #expect(StreamFailure(error).code == StreamFailure.noSpeech, "window \(window): \(error)")
            }
        }
    }
}
