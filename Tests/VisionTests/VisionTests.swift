import Foundation
import Testing
import TestSupport
import Vision

@Suite struct GrayImageTests {
    let image = GrayImage(width: 4, height: 3, pixels: Array(0..<12))

    @Test func padsOnEverySide() {
        let padded = image.padded(by: 1, value: 200)
        #expect(padded.width == 6 && padded.height == 5)
        #expect(Array(padded.pixels[0..<6]) == Array(repeating: 200, count: 6))
        #expect(Array(padded.pixels[6..<12]) == [200, 0, 1, 2, 3, 200])
        #expect(Array(padded.pixels[24..<30]) == Array(repeating: 200, count: 6))
    }

    @Test func boxesGrowAndClip() {
        let box = Box(x: 10, y: 20, width: 100, height: 50)
        #expect(box.expanded(by: 0.1) == Box(x: 0, y: 15, width: 120, height: 60))
        #expect(Box(x: -5, y: 2, width: 10, height: 10).clipped(width: 4, height: 3) == Box(x: 0, y: 2, width: 4, height: 1))
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

    @Test func aMissingDetectorOrImageThrows() {
        #expect(#expect(throws: VisionError.self) { try FaceDetector(onnxPath: "/nonexistent.onnx") }?.code == .modelUnavailable)
        #expect(#expect(throws: VisionError.self) { try GrayImage(contentsOf: "/nonexistent.png") }?.code == .imageUnreadable)
    }
}

@Suite struct FaceAlignerTests {
    /// The FER2013 template of the shipped card (`training/fer/faces.py`).
    let aligner = FaceAligner(size: 48, template: [
        Point(x: 14.40, y: 18.18), Point(x: 32.60, y: 18.18), Point(x: 23.50, y: 28.00),
        Point(x: 16.08, y: 36.65), Point(x: 30.92, y: 36.65),
    ])

    @Test func theTemplateMapsOntoItself() {
        let values = aligner.transform(for: aligner.template).values
        for (value, expected) in zip(values, [1.0, 0, 0, 0, 1, 0]) { #expect(abs(value - expected) < 1e-9) }
    }

    @Test func aTurnedScaledMovedFaceIsUndone() {
        // The template rotated by 30 degrees, scaled by 5 and moved: the transform must map it straight back.
        let angle = Double.pi / 6
        let landmarks = aligner.template.map { p in
            Point(x: 5 * (cos(angle) * p.x - sin(angle) * p.y) + 300, y: 5 * (sin(angle) * p.x + cos(angle) * p.y) + 120)
        }
        let transform = aligner.transform(for: landmarks)
        #expect(abs(transform.scale - 0.2) < 1e-9)
        for (mapped, target) in zip(landmarks.map(transform.apply), aligner.template) {
            #expect(abs(mapped.x - target.x) < 1e-9 && abs(mapped.y - target.y) < 1e-9)
        }
    }

    @Test func cropsAreTheCardSizeAndShrinkWithoutAliasing() throws {
        // A fine 1-pixel checkerboard shrunk 5x must come out as flat mid-gray (area averaging), not as moire.
        let side = 400
        let board = GrayImage(width: side, height: side, pixels: (0..<(side * side)).map { (($0 % side) + ($0 / side)) % 2 == 0 ? 0 : 255 })
        let crop = try aligner.warp(board, AffineTransform([0.2, 0, -10, 0, 0.2, -10]))
        #expect(crop.width == 48 && crop.height == 48)
        #expect(crop.pixels.allSatisfy { abs(Int($0) - 128) <= 3 }, "range \(crop.pixels.min()!)...\(crop.pixels.max()!)")
    }

    @Test func detectorInputSizesAreMultiplesOf32() {
        #expect(FaceDetector.inputSize(width: 1280, height: 720, searchSize: 640) == (640, 352))
        #expect(FaceDetector.inputSize(width: 3840, height: 2160, searchSize: 1280) == (1280, 736))
        #expect(FaceDetector.inputSize(width: 96, height: 96, searchSize: 288) == (288, 288))
        #expect(FaceDetector.inputSize(width: 20, height: 500, searchSize: 160) == (32, 160))
    }
}

@Suite(.enabled(if: TestData.available, Comment(rawValue: TestData.missingReason)))
struct FaceDetectorTests {
    let detector: FaceDetector

    init() throws {
        detector = try FaceDetector(onnxPath: TestData.models.appendingPathComponent(FaceDetector.modelFile).path)
    }

    @Test func findsAFaceWithLandmarksInTheActorFrames() throws {
        var found = 0
        for actor in 1...24 {
            let path = TestData.sharedData.appendingPathComponent(String(format: "ravdess/actor-frames/Actor_%02d.png", actor)).path
            let image = try GrayImage(contentsOf: path)
            guard let face = try detector.faces(in: image, searchSize: 640).max(by: { $0.area < $1.area }) else { continue }
            found += 1
            #expect(face.score > 0.8 && face.height > Double(image.height) / 5)
            let marks = face.landmarks
            #expect(marks.count == 5)
            // Inside the box; the image-left eye left of the other; eyes above the nose, the nose above the mouth.
            #expect(marks.allSatisfy { $0.x >= face.x && $0.x <= face.x + face.width && $0.y >= face.y && $0.y <= face.y + face.height })
            #expect(marks[0].x < marks[1].x && marks[3].x < marks[4].x)
            #expect(max(marks[0].y, marks[1].y) < marks[2].y && marks[2].y < min(marks[3].y, marks[4].y))
        }
        #expect(found >= 23, "faces found in \(found) of 24 actor frames")
    }

    @Test func searchesARegionInFullImageCoordinates() throws {
        let image = try GrayImage(contentsOf: TestData.sharedData.appendingPathComponent("ravdess/actor-frames/Actor_05.png").path)
        let whole = try #require(try detector.faces(in: image, searchSize: 640).first)
        let region = whole.box.expanded(by: 0.6)
        let near = try #require(try detector.faces(in: image, region: region, searchSize: 160).first)
        #expect(near.overlap(with: whole) > 0.7)
        #expect(try detector.faces(in: image, region: Box(x: 0, y: 0, width: 40, height: 40), searchSize: 160).isEmpty)
    }

    @Test func findsNoFaceInAFlatImage() throws {
        #expect(try detector.faces(in: GrayImage(width: 640, height: 360, pixels: Array(repeating: 128, count: 640 * 360)), searchSize: 640).isEmpty)
    }
}
