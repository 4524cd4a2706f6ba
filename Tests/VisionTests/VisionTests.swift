import Foundation
import Testing
import TestSupport
import Vision

@Suite struct GrayImageTests {
    let image = GrayImage(width: 4, height: 3, pixels: Array(0..<12))

    @Test func cropsAndClipsToTheImage() {
        #expect(image.cropped(to: Box(x: 1, y: 1, width: 2, height: 2)).pixels == [5, 6, 9, 10])
        let clipped = image.cropped(to: Box(x: -2, y: 2, width: 4, height: 5))
        #expect(clipped.width == 2 && clipped.height == 1 && clipped.pixels == [8, 9])
        #expect(image.cropped(to: Box(x: 10, y: 10, width: 2, height: 2)).pixels.isEmpty)
    }

    @Test func resizesWithOpenCV() throws {
        let flat = GrayImage(width: 8, height: 8, pixels: Array(repeating: 77, count: 64))
        let resized = try flat.resized(width: 3, height: 5)
        #expect(resized.width == 3 && resized.height == 5 && resized.pixels.allSatisfy { $0 == 77 })
    }

    @Test func impossibleResizeThrowsInsteadOfAborting() {
        let empty = GrayImage(width: 0, height: 0, pixels: [])
        #expect(#expect(throws: VisionError.self) { try empty.resized(width: 4, height: 4) }?.code == .operationFailed)
    }

    @Test func boxesScaleAndGrow() {
        let box = Box(x: 10, y: 20, width: 100, height: 50)
        #expect(box.scaled(by: 2) == Box(x: 20, y: 40, width: 200, height: 100))
        #expect(box.expanded(by: 0.1) == Box(x: 0, y: 15, width: 120, height: 60))
    }
}

@Suite struct BridgeErrorTests {
    @Test func aMissingOrBrokenModelThrows() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("vision-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let broken = folder.appendingPathComponent("broken.onnx").path
        _ = FileManager.default.createFile(atPath: broken, contents: Data("not a protobuf".utf8))
        #expect(#expect(throws: VisionError.self) { try NeuralNetwork(onnxPath: broken) }?.code == .modelUnavailable)
        #expect(#expect(throws: VisionError.self) { try NeuralNetwork(onnxPath: folder.appendingPathComponent("none.onnx").path) }?.code == .modelUnavailable)
    }

    @Test func aMissingCascadeOrImageThrows() {
        #expect(#expect(throws: VisionError.self) { try FaceDetector(cascadePath: "/nonexistent.xml") }?.code == .cascadeUnavailable)
        #expect(#expect(throws: VisionError.self) { try GrayImage(contentsOf: "/nonexistent.png") }?.code == .imageUnreadable)
    }
}

@Suite(.enabled(if: TestData.available, Comment(rawValue: TestData.missingReason)))
struct FaceDetectorTests {
    @Test func findsAFaceInMostActorFrames() throws {
        let detector = try FaceDetector()
        var found = 0
        for actor in 1...24 {
            let path = TestData.sharedData.appendingPathComponent(String(format: "ravdess/actor-frames/Actor_%02d.png", actor)).path
            let image = try GrayImage(contentsOf: path)
            if let face = try detector.largestFace(in: image) {
                found += 1
                #expect(face.width > image.height / 5 && face.x >= 0 && face.x + face.width <= image.width)
            }
        }
        #expect(found >= 22, "faces found in \(found) of 24 actor frames")
    }

    @Test func findsNoFaceInAFlatImage() throws {
        let detector = try FaceDetector()
        #expect(try detector.largestFace(in: GrayImage(width: 640, height: 360, pixels: Array(repeating: 128, count: 640 * 360))) == nil)
    }
}
