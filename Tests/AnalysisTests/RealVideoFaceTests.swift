import Analysis
import Emotion
import Foundation
import Media
import Testing
import TestSupport

/// Faces as archives hold them, made from a shared clip with the ffmpeg tool: each must be found and read as in
/// the original clip.
@Suite(.enabled(if: TestData.available && TestData.modelsAvailable && TestData.hasFFmpegTool,
                Comment(rawValue: TestData.missingReason + ", the committed models and the ffmpeg tool")),
       .serialized)
final class RealVideoFaceTests {
    /// A surprised take (strong intensity), and a neutral one for the second face.
    static let clip = TestData.avClips.appendingPathComponent("02-01-08-02-02-02-01.mp4").path
    static let otherClip = TestData.avClips.appendingPathComponent("02-01-01-01-01-01-01.mp4").path
    /// Seconds of each clip used (the expression peaks in the middle of the take).
    static let span = ["-ss", "0.8", "-t", "2"]

    let recognizer: FaceEmotionRecognizer
    let folder: URL
    let original: FaceAnalysis

    init() throws {
        recognizer = try FaceEmotionRecognizer(modelsDirectory: TestData.models)
        folder = try TestData.scratchFolder()
        let cut = folder.appendingPathComponent("original.mp4").path
        try TestData.ffmpeg(Self.span + ["-i", Self.clip, "-an", "-c:v", "libx264", "-preset", "ultrafast", "-crf", "18", cut])
        original = try recognizer.analyze(MediaSource(cut))
    }

    deinit {
        try? FileManager.default.removeItem(at: folder)
    }

    /// Makes `name` from the clip with `arguments` (inputs first) and analyses it.
    func analyse(_ name: String, _ arguments: [String]) throws -> FaceAnalysis {
        let path = folder.appendingPathComponent(name).path
        try TestData.ffmpeg(arguments + ["-an", "-c:v", "libx264", "-preset", "ultrafast", "-crf", "20", "-pix_fmt", "yuv420p", path])
        return try recognizer.analyze(MediaSource(path))
    }

    /// The face found in most frames, read as in the original: the same label and nearly the same distribution
    /// (total variation distance below 0.3: the clip is read at its apex, and the take's 200 ms surprise is two
    /// sampled frames or one of the apex's four, depending on where the samples fall in the re-encoded video).
    func expectSameFace(_ analysis: FaceAnalysis, _ name: String) {
        #expect(Double(analysis.facesFound) >= 0.8 * Double(analysis.framesSampled),
                "\(name): the face in \(analysis.facesFound) of \(analysis.framesSampled) frames")
        #expect(analysis.prediction.label == original.prediction.label,
                "\(name): \(analysis.prediction.label) (\(analysis.prediction.confidence)), originally \(original.prediction.label)")
        let distance = zip(analysis.prediction.probabilities, original.prediction.probabilities).map { abs($0 - $1) }.reduce(0, +) / 2
        #expect(distance < 0.3, "\(name): probabilities moved by \(distance)")
    }

    @Test func theOriginalShowsOneUprightFaceInEveryFrame() {
        #expect(original.facesFound == original.framesSampled && original.facesSeen == 1 && original.rotation == 0)
    }

    @Test func aPhoneVideoStoredSidewaysWithARotationFlag() throws {
        // Frames stored turned a quarter counter-clockwise, flagged to be shown turned clockwise (a display matrix
        // of -90 degrees, as phones write; FFmpeg 5.1's `rotate` tag is counter-clockwise, written on a stream copy).
        let stored = folder.appendingPathComponent("stored sideways.mp4").path
        try TestData.ffmpeg(Self.span + ["-i", Self.clip, "-an", "-vf", "transpose=2", "-c:v", "libx264", "-preset", "ultrafast",
                                         "-crf", "20", "-pix_fmt", "yuv420p", stored])
        let path = folder.appendingPathComponent("sideways.mp4").path
        try TestData.ffmpeg(["-i", stored, "-c", "copy", "-metadata:s:v:0", "rotate=270", path])
        let file = try MediaFile(MediaSource(path))
        let video = try #require(file.info.video)
        #expect(video.rotation == 90 && video.width == 720 && video.displayWidth == 1280)
        let analysis = try recognizer.analyze(MediaSource(path))
        #expect(analysis.rotation == 90)
        expectSameFace(analysis, "sideways")
    }

    @Test(arguments: [(1920, 1080, 230), (3840, 2160, 460)])
    func aWideShotWithASmallFace(width: Int, height: Int, clipWidth: Int) throws {
        // The clip shrunk so that the face is about 5 % of the frame height, placed off-centre on a plain wall.
        let analysis = try analyse("wide-\(height).mp4", Self.span + [
            "-i", Self.clip, "-filter_complex",
            "color=c=0x5a5a5a:s=\(width)x\(height):r=30[wall];[0:v]scale=\(clipWidth):-2[small];[wall][small]overlay=x=W*0.62:y=H*0.55:shortest=1",
        ])
        #expect(analysis.faceHeightFraction < 0.1, "face height \(analysis.faceHeightFraction)")
        expectSameFace(analysis, "wide \(height)p")
    }

    @Test func dimLight() throws {
        // A third of the light, and sensor noise.
        let analysis = try analyse("dim.mp4", Self.span + ["-i", Self.clip, "-vf", "lutyuv=y=val*0.33,noise=alls=6:allf=t"])
        expectSameFace(analysis, "dim")
    }

    @Test func twoFacesSideBySide() throws {
        // The clip's actor in front, a second (smaller) face beside: the larger, persistent face is the clip's.
        let analysis = try analyse("two faces.mp4", Self.span + ["-i", Self.clip] + Self.span + ["-i", Self.otherClip, "-filter_complex",
            "[1:v]scale=768:-2,pad=1280:720:256:144:color=0x5a5a5a[second];[0:v][second]hstack=inputs=2"])
        #expect(analysis.facesSeen == 2)
        expectSameFace(analysis, "two faces")
    }
}
