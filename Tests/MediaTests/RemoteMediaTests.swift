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

    /// The server sends the header and part of the data, then stalls: the open succeeds, and the decode fails with
    /// `timeout` when the job's deadline passes, long before the network timeout would.
    @Test func aSourceThatStallsMidTransferFailsAtTheDeadline() throws {
        let port = Int.random(in: 40_001...60_000)
        let server = try TestData.startStallingServer(port: port, file: URL(fileURLWithPath: TestData.speakingClip), fraction: 0.4)
        defer { kill(server.processIdentifier, SIGKILL); server.waitUntilExit() }
        let deadline = MediaDeadline(budget: .init(fixed: .seconds(3)))
        let file = try MediaFile(MediaSource("http://127.0.0.1:\(port)/clip.mp4"),
                                 options: MediaOpenOptions(networkTimeout: 60, deadline: deadline))
        let started = ContinuousClock.now
        let error = #expect(throws: MediaError.self) { try file.decodeAudio() }
        #expect(error?.code == .timeout, "\(String(describing: error))")
        #expect(error?.reason.contains("deadline") == true)
        #expect(ContinuousClock.now - started < .seconds(10))
    }

    /// Another thread cancels the work (a worker giving up its jobs): a blocked open returns `interrupted`.
    @Test func cancellingTheDeadlineInterruptsABlockedOpen() throws {
        let port = Int.random(in: 40_001...60_000)
        let server = try TestData.startSilentServer(port: port)
        defer { kill(server.processIdentifier, SIGKILL); server.waitUntilExit() }
        let started = ContinuousClock.now
        let deadline = MediaDeadline(budget: .init(fixed: .seconds(600))) { ContinuousClock.now - started > .seconds(1) }
        let error = #expect(throws: MediaError.self) {
            try MediaFile(MediaSource("http://127.0.0.1:\(port)/clip.mp4"), options: MediaOpenOptions(networkTimeout: 60, deadline: deadline))
        }
        #expect(error?.code == .interrupted, "\(String(describing: error))")
        #expect(ContinuousClock.now - started < .seconds(10))
    }

    @Test func theAllowanceGrowsWithTheMediaAndHasAFloor() {
        let budget = MediaDeadline.Budget(floor: .seconds(120), perMediaSecond: 4)
        #expect(budget.allowance(mediaSeconds: nil) == .seconds(120))
        #expect(budget.allowance(mediaSeconds: 3.5) == .seconds(120))
        #expect(budget.allowance(mediaSeconds: 60) == .seconds(240))
        #expect(MediaDeadline.Budget(fixed: .seconds(5)).allowance(mediaSeconds: 600) == .seconds(5))
    }
}
