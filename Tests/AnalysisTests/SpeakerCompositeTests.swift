import Analysis
import Emotion
import Foundation
import Media
import Testing
import TestSupport

/// Several people in view, end to end: composites made with the ffmpeg CLI from the shared clips
/// (`scripts/speaker-composites --quick`: two people in both orders, three with the speaker in the middle, voice-overs).
@Suite(.enabled(if: TestData.available && TestData.modelsAvailable && TestData.hasFFmpegTool,
                Comment(rawValue: TestData.missingReason + ", the committed models and the ffmpeg command-line tool")),
       .serialized)
final class SpeakerCompositeTests {
    let folder: URL
    let analyzer: ClipAnalyzer

    init() throws {
        folder = try TestData.scratchFolder()
        analyzer = try ClipAnalyzer(modelsDirectory: TestData.models)
    }

    deinit {
        try? FileManager.default.removeItem(at: folder)
    }

    @Test func theSpeakingFaceIsFoundAndFusedWithTheVoice() throws {
        let script = TestData.repositoryRoot.appendingPathComponent("scripts/speaker-composites").path
        let status = try TestData.run(script, [folder.path, TestData.sharedData.path, "--quick"])
        try #require(status == 0, "scripts/speaker-composites failed")
        let composites = try SpeakerComposite.manifest(in: folder)
        #expect(composites.count == 8)
        for composite in composites {
            let name = (composite.file as NSString).lastPathComponent
            let result = analyzer.analyze(MediaSource(composite.file))
            let video = try #require(result.video, "\(name): \(String(describing: result.videoFailure))")
            #expect(video.faces.count == composite.takes.count, "\(name): \(video.faces.count) faces")
            let positions = Set(video.faces.map { composite.position(ofBox: $0.box) })
            #expect(positions.count == composite.takes.count, "\(name): faces at positions \(positions)")
            if let expected = composite.speakerPosition {
                #expect(video.speakerStatus == .detected, "\(name)")
                let speaker = try #require(video.faces.first { $0.track == video.speaker }, "\(name): no speaker")
                #expect(composite.position(ofBox: speaker.box) == expected, "\(name)")
                #expect((speaker.speaking ?? 0) > 0 && video.faces.allSatisfy { ($0.speaking ?? 0) <= (speaker.speaking ?? 0) })
                #expect(video.track == speaker.track && video.prediction == speaker.prediction, "\(name): the clip's face is the speaker's")
                #expect(result.fused?.basis == .both && result.fused?.reason == nil, "\(name)")
            } else {
                #expect(video.speaker == nil && video.speakerStatus == .notVisible, "\(name): speaker \(String(describing: video.speaker))")
                #expect(video.faces.allSatisfy { $0.speaking == 0 }, "\(name)")
                #expect(result.fused?.basis == .audioOnly && result.fused?.reason == LateFusion.speakerNotVisible, "\(name)")
                #expect(result.fused?.probabilities == result.audio?.prediction.probabilities, "\(name): the voice alone")
            }
            #expect(video.timings["speaker_inference"] != nil, "\(name): the speaker models ran")
        }
    }

    @Test func oneFaceClipsKeepTheirResultAndSkipTheSpeakerModels() throws {
        let result = analyzer.analyze(MediaSource(TestData.speakingClip))
        let video = try #require(result.video)
        #expect(video.faces.count == 1)
        #expect(video.speakerStatus == .singleFace && video.speaker == video.faces[0].track && video.faces[0].speaking == 1)
        #expect(video.prediction == video.faces[0].prediction)
        #expect(video.timings["speaker_inference"] == nil && video.timings["speaker_decode"] == nil)
        #expect(result.fused?.basis == .both)
        // The face-only recognizer gives the same clip answer.
        let alone = try analyzer.face.analyze(MediaSource(TestData.speakingClip), sampling: analyzer.sampling)
        #expect(alone.prediction == video.prediction)
    }

    @Test func aFaceSeenForAMomentIsATrackAndNothingBreaks() throws {
        // The speaking take, with a second face (a video-only take) shown for 0.3 s only.
        let brief = folder.appendingPathComponent("brief second face.mp4").path
        let other = TestData.avClips.appendingPathComponent("02-01-08-01-01-01-01.mp4").path
        try TestData.ffmpeg(["-i", TestData.speakingClip, "-i", other, "-filter_complex",
                             "[0:v]scale=640:360[a];[1:v]scale=320:180[b];[a][b]overlay=x=320:y=90:enable='between(t,1.0,1.3)'[v]",
                             "-map", "[v]", "-map", "0:a", "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
                             "-c:a", "aac", brief])
        let result = analyzer.analyze(MediaSource(brief))
        let video = try #require(result.video, "\(String(describing: result.videoFailure))")
        #expect(!video.faces.isEmpty && video.faces.count <= 2)
        #expect(video.faces.allSatisfy { $0.frames >= 1 && $0.end >= $0.start })
        #expect(result.fused != nil)
    }
}
