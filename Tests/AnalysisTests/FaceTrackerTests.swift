import Analysis
import Foundation
import Testing
import TestSupport
import Vision

@Suite(.enabled(if: TestData.available && TestData.modelsAvailable, Comment(rawValue: TestData.missingReason + " and the committed models")))
struct FaceTrackerTests {
    let detector: FaceDetector
    let face: GrayImage
    let wall: GrayImage

    init() throws {
        detector = try FaceDetector(onnxPath: TestData.models.appendingPathComponent(FaceDetector.modelFile).path)
        face = try GrayImage(contentsOf: TestData.sharedData.appendingPathComponent("ravdess/actor-frames/Actor_05.png").path)
        wall = GrayImage(width: face.width, height: face.height, pixels: Array(repeating: 128, count: face.width * face.height))
    }

    @Test func framesSampledSoonAfterASearchReuseItsFaces() throws {
        let tracker = FaceTracker(detector: detector)
        let first = try tracker.faces(in: face, at: 0)
        #expect(tracker.searchedLastFrame && first.count == 1)
        // 0.1 s on (the worker's next frame at 10 fps): the faces found at 0 are read again, unsearched, even
        // though this frame shows none.
        let carried = try tracker.faces(in: wall, at: 0.1)
        #expect(!tracker.searchedLastFrame)
        #expect(carried.map(\.track) == first.map(\.track) && carried.map(\.face) == first.map(\.face))
        // 0.15 s after the search this frame is searched: the face is gone.
        #expect(try tracker.faces(in: wall, at: 0.2).isEmpty && tracker.searchedLastFrame)
        // Nothing to carry after a search that found nothing: the next frame is searched, however soon.
        let back = try tracker.faces(in: face, at: 0.25)
        #expect(tracker.searchedLastFrame && back.count == 1)
        #expect(tracker.primary?.id == first.first?.track)
    }

    @Test func spacingZeroSearchesEveryFrame() throws {
        var search = FaceSearch()
        search.searchSpacing = 0
        let tracker = FaceTracker(detector: detector, search: search)
        #expect(try tracker.faces(in: face, at: 0).count == 1)
        #expect(try tracker.faces(in: wall, at: 0.01).isEmpty && tracker.searchedLastFrame)
    }
}
