import Foundation
import Media
import Testing
import TestSupport

@Suite(.enabled(if: TestData.available, Comment(rawValue: TestData.missingReason)))
struct MediaFileTests {
    @Test func probesARavdessClip() throws {
        let file = try MediaFile(MediaSource(TestData.speakingClip))
        let video = try #require(file.info.video)
        let audio = try #require(file.info.audio)
        #expect(video.width == 1280 && video.height == 720)
        #expect(abs(video.frameRate - 29.97) < 0.01)
        #expect(audio.sampleRate == 48_000)
        #expect(file.info.duration > 3 && file.info.duration < 5)
    }

    @Test func decodesAudioTo16kMono() throws {
        let file = try MediaFile(MediaSource(TestData.speakingClip))
        let audio = try file.decodeAudio(sampleRate: 16_000)
        #expect(audio.sampleRate == 16_000)
        #expect(abs(audio.duration - file.info.duration) < 0.15)
        let peak = audio.samples.map(abs).max() ?? 0
        #expect(peak > 0.01 && peak <= 1.0)
    }

    @Test func decodesASpanBySeeking() throws {
        let file = try MediaFile(MediaSource(TestData.speakingClip))
        let span = try file.decodeAudio(sampleRate: 16_000, range: TimeRange(start: 1, duration: 1.5))
        #expect(abs(span.duration - 1.5) < 0.02)
        let whole = try file.decodeAudio(sampleRate: 16_000)
        #expect(whole.duration > 3)
    }

    @Test func decodesFlacExactly() throws {
        let audio = try MediaFile(MediaSource(TestData.speechTake)).decodeAudio(sampleRate: 16_000)
        // 16-bit samples decode to multiples of 1/32768.
        #expect(audio.samples.prefix(2000).allSatisfy { ($0 * 32768).rounded() == $0 * 32768 })
    }

    @Test func samplesGrayFrames() throws {
        let file = try MediaFile(MediaSource(TestData.speakingClip))
        var frames: [GrayFrame] = []
        let decoded = try file.forEachFrame(sampling: .reference) { frames.append($0); return true }
        #expect(decoded > 90)
        #expect(frames.count == (decoded - 20 + 2) / 3)
        let first = try #require(frames.first)
        #expect(first.index == 20 && first.width == 1280 && first.height == 720)
        let mean = first.pixels.reduce(0) { $0 + Int($1) } / first.pixels.count
        #expect(mean > 30 && mean < 240)
        var rated = 0
        try file.forEachFrame(sampling: .rate(framesPerSecond: 5)) { _ in rated += 1; return true }
        #expect(abs(Double(rated) - file.info.duration * 5) <= 2)
    }

    /// A frame over the pixel limit comes scaled down (aspect kept, range expanded like the full-size path).
    @Test func largeFramesAreScaledDownAsTheyAreDecoded() throws {
        let file = try MediaFile(MediaSource(TestData.speakingClip))
        var full: GrayFrame?
        try file.forEachFrame(sampling: .all) { full = $0; return false }
        var small: GrayFrame?
        try file.forEachFrame(sampling: .all, maxPixels: 640 * 360) { small = $0; return false }
        let (big, scaled) = (try #require(full), try #require(small))
        #expect(scaled.width == 640 && scaled.height == 360)
        func mean(_ frame: GrayFrame) -> Double { Double(frame.pixels.reduce(0) { $0 + Int($1) }) / Double(frame.pixels.count) }
        #expect(abs(mean(big) - mean(scaled)) < 2, "\(mean(big)) vs \(mean(scaled))")
    }

    @Test func stopsEarlyWhenAsked() throws {
        var seen = 0
        try MediaFile(MediaSource(TestData.speakingClip)).forEachFrame(sampling: .all) { _ in seen += 1; return seen < 3 }
        #expect(seen == 3)
    }

    @Test func brokenInputsGiveTypedErrors() throws {
        let folder = try TestData.scratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let inputs = try TestData.brokenInputs(in: folder)
        func code(_ path: String, audio: Bool) -> MediaError.Code? {
            do {
                let file = try MediaFile(MediaSource(path))
                if audio { _ = try file.decodeAudio() } else { try file.forEachFrame(sampling: .reference) { _ in true } }
                return nil
            } catch let error as MediaError {
                #expect(!error.reason.isEmpty)
                return error.code
            } catch {
                Issue.record("unexpected error \(error)")
                return nil
            }
        }
        #expect(code(inputs["zero_byte"]!, audio: true) == .notMediaFile)
        #expect(code(inputs["random_bytes"]!, audio: true) == .notMediaFile)
        #expect(code(inputs["truncated"]!, audio: false) == .truncated)
        #expect(code(inputs["missing"]!, audio: true) == .missingFile)
        #expect(code(inputs["audio_only"]!, audio: false) == .noVideoStream)
        #expect(code(folder.path, audio: true) == .notMediaFile)
    }

    @Test(.enabled(if: TestData.hasFFmpegTool, "needs the ffmpeg command-line tool to make a video-only file"))
    func videoOnlyFileHasNoAudioStream() throws {
        let folder = try TestData.scratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let output = folder.appendingPathComponent("video only.mp4").path
        try TestData.ffmpeg(["-i", TestData.speakingClip, "-an", "-c:v", "copy", output])
        #expect(#expect(throws: MediaError.self) { try MediaFile(MediaSource(output)).decodeAudio() }?.code == .noAudioStream)
    }

    @Test(.enabled(if: TestData.hasFFmpegTool, "needs the ffmpeg command-line tool to make a two-track file"))
    func theProbeNamesTheAudioStreamTheDecoderReads() throws {
        // Track 1 is flagged for the hearing impaired (FFmpeg never picks it as the best stream), track 2 is the
        // speech: the probe's audio stream must be the one decoded, not the first.
        let folder = try TestData.scratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let output = folder.appendingPathComponent("two tracks.mkv").path
        try TestData.ffmpeg(["-i", TestData.speakingClip, "-f", "lavfi", "-i", "sine=frequency=300:sample_rate=8000:duration=3",
                             "-map", "0:v", "-map", "1:a", "-map", "0:a", "-c:v", "copy", "-c:a", "flac",
                             "-disposition:a:0", "hearing_impaired", output])
        let file = try MediaFile(MediaSource(output))
        #expect(file.info.streams.filter { $0.kind == .audio }.count == 2)
        let audio = try #require(file.info.audio)
        #expect(audio.index == 2 && audio.sampleRate == 48_000, "\(audio)")
        let decoded = try file.decodeAudio()
        let original = try MediaFile(MediaSource(TestData.speakingClip)).decodeAudio()
        #expect(abs(decoded.samples.count - original.samples.count) < 1_600)
    }

    @Test(.enabled(if: getuid() != 0, "root reads any file, so a permission error cannot be staged"))
    func unreadableFileIsReported() throws {
        let folder = try TestData.scratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("locked.mp4").path
        try FileManager.default.copyItem(atPath: TestData.speakingClip, toPath: path)
        try FileManager.default.setAttributes([.posixPermissions: 0], ofItemAtPath: path)
        #expect(#expect(throws: MediaError.self) { try MediaFile(MediaSource(path)) }?.code == .unreadable)
    }

    @Test func disallowedSchemesAreRefused() {
        let options = MediaOpenOptions(allowedProtocols: ["file"])
        #expect(#expect(throws: MediaError.self) { try MediaFile(MediaSource("http://127.0.0.1:9/clip.mp4"), options: options) }?.code == .protocolNotAllowed)
        #expect(#expect(throws: MediaError.self) { try MediaFile(MediaSource("gopher://example/clip.mp4")) }?.code == .protocolNotAllowed)
    }
}
