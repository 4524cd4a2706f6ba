import Analysis
import Emotion
import Foundation
import Media
import Testing
import TestSupport

@Suite(.enabled(if: TestData.available && TestData.modelsAvailable, Comment(rawValue: TestData.missingReason + " and the committed models")))
struct ClipAnalyzerTests {
    let analyzer: ClipAnalyzer

    init() throws {
        analyzer = try ClipAnalyzer(modelsDirectory: TestData.models)
    }

    @Test func everySharedClipGetsAFusedLabel() throws {
        let clips = try FileManager.default.contentsOfDirectory(atPath: TestData.avClips.path).filter { $0.hasSuffix(".mp4") }.sorted()
        #expect(clips.count == 18)
        for clip in clips {
            let result = analyzer.analyze(MediaSource(TestData.avClips.appendingPathComponent(clip).path))
            let fused = try #require(result.fused, "\(clip): \(String(describing: result.failure))")
            #expect(abs(fused.probabilities.reduce(0, +) - 1) < 1e-3)
            let video = try #require(result.video, "\(clip): \(String(describing: result.videoFailure))")
            #expect(video.facesFound > 0 && video.facesFound <= video.framesSampled)
            if clip.hasPrefix("02-") {
                // Video-only takes carry a silent track: audio is absent and fusion says so.
                #expect(result.audioFailure?.code == StreamFailure.silentTrack, "\(clip)")
                #expect(fused.basis == .videoOnly)
            } else {
                #expect(result.audio != nil, "\(clip): \(String(describing: result.audioFailure))")
                #expect(fused.basis == .both)
            }
        }
    }

    @Test func reencodedClipIsAnalysed() throws {
        let path = TestData.sharedData.appendingPathComponent("ravdess/av/reencoded/01-01-07-02-02-01-01.mp4").path
        let result = analyzer.analyze(MediaSource(path))
        #expect(result.audio != nil && result.video != nil)
        #expect(result.fused?.basis == .both)
    }

    @Test func brokenInputsFailCleanlyOneByOne() throws {
        let folder = try TestData.scratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let inputs = try TestData.brokenInputs(in: folder)
        let expected: [String: String] = [
            "zero_byte": MediaError.Code.notMediaFile.rawValue,
            "random_bytes": MediaError.Code.notMediaFile.rawValue,
            "truncated": MediaError.Code.truncated.rawValue,
            "missing": MediaError.Code.missingFile.rawValue,
        ]
        for (name, code) in expected {
            let result = analyzer.analyze(MediaSource(inputs[name]!))
            #expect(result.fused == nil, "\(name)")
            #expect(result.failure?.code == code, "\(name): \(String(describing: result.failure))")
        }
        // An audio-only file still gets an answer, from speech alone.
        let audioOnly = analyzer.analyze(MediaSource(inputs["audio_only"]!))
        #expect(audioOnly.videoFailure?.code == MediaError.Code.noVideoStream.rawValue)
        #expect(audioOnly.fused?.basis == .audioOnly)
    }

    @Test(.enabled(if: TestData.hasFFmpegTool, "needs the ffmpeg command-line tool to make test media"))
    func videoOnlyAndFacelessVideosAnswerFromTheOtherStream() throws {
        let folder = try TestData.scratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let videoOnly = folder.appendingPathComponent("video only.mp4").path
        try TestData.ffmpeg(["-i", TestData.speakingClip, "-an", "-c:v", "copy", videoOnly])
        let silentVideo = analyzer.analyze(MediaSource(videoOnly))
        #expect(silentVideo.audioFailure?.code == MediaError.Code.noAudioStream.rawValue)
        #expect(silentVideo.fused?.basis == .videoOnly)

        let faceless = folder.appendingPathComponent("no face.mp4").path
        try TestData.ffmpeg(["-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25:duration=2", "-i", TestData.speechTake,
                             "-shortest", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", faceless])
        let noFace = analyzer.analyze(MediaSource(faceless))
        #expect(noFace.videoFailure?.code == StreamFailure.noFace)
        #expect(noFace.fused?.basis == .audioOnly)
    }
}
