import Foundation
import Media
import Testing
import TestSupport

/// libavformat reads http(s) itself: a clip served on loopback decodes like the local file.
@Suite(.enabled(if: TestData.available && TestData.hasPython, "needs ../shared/data and python3 for a loopback HTTP server"))
struct RemoteMediaTests {
    @Test func decodesAClipServedOverHTTP() throws {
        let port = Int.random(in: 20_000...40_000)
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        server.arguments = ["python3", "-m", "http.server", String(port), "--bind", "127.0.0.1", "--directory", TestData.avClips.path]
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        // SIGKILL: the test runner may leave SIGTERM ignored, and children inherit that.
        defer { kill(server.processIdentifier, SIGKILL); server.waitUntilExit() }

        let url = "http://127.0.0.1:\(port)/01-01-01-01-01-01-01.mp4"
        var file: MediaFile?
        for _ in 0..<50 where file == nil {
            file = try? MediaFile(MediaSource(url))
            if file == nil { Thread.sleep(forTimeInterval: 0.1) }
        }
        let remote = try #require(file, "the loopback server did not answer")
        #expect(remote.info.video?.width == 1280)
        let audio = try remote.decodeAudio()
        let local = try MediaFile(MediaSource(TestData.speakingClip)).decodeAudio()
        #expect(audio.samples == local.samples)

        let missing = #expect(throws: MediaError.self) { try MediaFile(MediaSource("http://127.0.0.1:\(port)/absent.mp4")) }
        #expect(missing?.code == .missingFile || missing?.code == .decodingFailed)
    }

    @Test func aServerThatNeverAnswersTimesOut() throws {
        let port = Int.random(in: 40_001...60_000)
        let server = try TestData.startSilentServer(port: port)
        defer { kill(server.processIdentifier, SIGKILL); server.waitUntilExit() }
        let started = ContinuousClock.now
        let error = #expect(throws: MediaError.self) {
            try MediaFile(MediaSource("http://127.0.0.1:\(port)/clip.mp4"), options: MediaOpenOptions(networkTimeout: 1.5))
        }
        #expect(error?.code == .timeout, "\(String(describing: error))")
        #expect(ContinuousClock.now - started < .seconds(10))
    }
}
