import Analysis
import Foundation
import Testing
import TestSupport
import Vision

/// What the Python training code (`training/fer/faces.py`, written by `export.py`) found on real images.
struct FaceServingReference: Decodable {
    struct Face: Decodable {
        var box: [Double]
        var score: Double
        var landmarks: [Double]
    }
    struct Item: Decodable {
        var image: String
        var kind: String
        var search_width: Int?
        var faces: [Face]?
        var crop: [UInt8]?
        var logits: [Float]?
    }
    var size: Int
    var template: [[Double]]
    var items: [Item]

    static func load() throws -> FaceServingReference {
        let url = try #require(Bundle.module.url(forResource: "fer-serving-reference", withExtension: "json", subdirectory: "Fixtures"))
        return try JSONDecoder().decode(FaceServingReference.self, from: Data(contentsOf: url))
    }
}

/// Train = serve for faces: the Swift detector, alignment and model input give what training computed.
@Suite(.enabled(if: TestData.available && TestData.modelsAvailable, Comment(rawValue: TestData.missingReason + " and the committed models")))
struct FaceAlignmentTests {
    /// Largest difference allowed in box and landmark coordinates (pixels of the searched image).
    static let coordinateTolerance = 0.05
    /// Largest difference allowed per crop pixel (grey levels), and in the mean over a crop.
    static let pixelTolerance = 2
    static let meanPixelTolerance = 0.05
    /// Largest difference allowed between logits.
    static let logitTolerance: Float = 0.02

    let reference: FaceServingReference
    let recognizer: FaceEmotionRecognizer
    let detector: FaceDetector

    init() throws {
        reference = try FaceServingReference.load()
        recognizer = try FaceEmotionRecognizer(modelsDirectory: TestData.models)
        detector = try FaceDetector(onnxPath: TestData.models.appendingPathComponent(FaceDetector.modelFile).path)
    }

    func image(_ item: FaceServingReference.Item) throws -> GrayImage {
        try GrayImage(contentsOf: TestData.sharedData.appendingPathComponent(item.image).path)
    }

    func expectSameCrop(_ crop: GrayImage, _ expected: [UInt8], _ name: String) {
        #expect(crop.pixels.count == expected.count, "\(name)")
        let differences = zip(crop.pixels, expected).map { abs(Int($0) - Int($1)) }
        let mean = Double(differences.reduce(0, +)) / Double(max(differences.count, 1))
        #expect((differences.max() ?? 0) <= Self.pixelTolerance && mean <= Self.meanPixelTolerance,
                "\(name): crop differs by up to \(differences.max() ?? 0), mean \(mean)")
    }

    @Test func theCardHoldsTheTrainingTemplate() {
        #expect(recognizer.aligner.size == reference.size)
        #expect(recognizer.aligner.template.map { [$0.x, $0.y] } == reference.template)
    }

    @Test func detectionsMatchTrainingOnRealFrames() throws {
        for item in reference.items where item.kind == "frame" {
            let searchSize = try #require(item.search_width)
            let found = try detector.faces(in: try image(item), searchSize: searchSize)
            let expected = try #require(item.faces)
            #expect(found.count == expected.count, "\(item.image) at \(item.search_width ?? 0)")
            for (face, want) in zip(found, expected) {
                let got = [face.x, face.y, face.width, face.height] + face.landmarks.flatMap { [$0.x, $0.y] }
                let difference = zip(got, want.box + want.landmarks).map { abs($0 - $1) }.max() ?? .infinity
                #expect(difference < Self.coordinateTolerance, "\(item.image): coordinates differ by \(difference)")
                #expect(abs(face.score - want.score) < 1e-4)
            }
        }
    }

    @Test func alignedCropsAndLogitsMatchTrainingOnRealFrames() throws {
        var compared = 0
        for item in reference.items where item.kind == "frame" {
            guard let crop = item.crop, let logits = item.logits else { continue }
            let frame = try image(item)
            let searchSize = try #require(item.search_width)
            let face = try #require(try detector.faces(in: frame, searchSize: searchSize).max { $0.area < $1.area })
            let aligned = try recognizer.aligner.crop(frame, landmarks: face.landmarks)
            expectSameCrop(aligned, crop, item.image)
            let difference = zip(try recognizer.outputs(forAligned: aligned), logits).map { abs($0 - $1) }.max() ?? .infinity
            #expect(difference < Self.logitTolerance, "\(item.image): logits differ by \(difference)")
            compared += 1
        }
        #expect(compared >= 20)
    }

    @Test func faceImagesAreAlignedAsInTraining() throws {
        let items = reference.items.filter { $0.kind == "fer" }
        #expect(items.count == 21)
        for item in items {
            let aligned = try recognizer.alignedFace(inImage: try image(item))
            let crop = try #require(item.crop)
            let logits = try #require(item.logits)
            expectSameCrop(aligned, crop, item.image)
            let difference = zip(try recognizer.outputs(forAligned: aligned), logits).map { abs($0 - $1) }.max() ?? .infinity
            #expect(difference < Self.logitTolerance, "\(item.image): logits differ by \(difference)")
        }
    }
}
