internal import CVBridge

/// A point in pixel coordinates.
public struct Point: Sendable, Hashable, Codable {
    public var x: Double
    public var y: Double

    public init(x: Double, y: Double) {
        self.x = x
        self.y = y
    }
}

/// A face found by the detector: its box, confidence and five landmarks, in the coordinates of the image searched.
public struct DetectedFace: Sendable, Equatable, Codable {
    /// Left, top, width and height.
    public var x: Double
    public var y: Double
    public var width: Double
    public var height: Double
    /// The detector's confidence in 0...1.
    public var score: Double
    /// Right eye, left eye, nose tip, right and left mouth corner (the subject's right first, i.e. image-left).
    public var landmarks: [Point]

    public init(x: Double, y: Double, width: Double, height: Double, score: Double, landmarks: [Point]) {
        self.x = x
        self.y = y
        self.width = width
        self.height = height
        self.score = score
        self.landmarks = landmarks
    }

    /// The enclosing pixel box.
    public var box: Box {
        Box(x: Int(x.rounded(.down)), y: Int(y.rounded(.down)),
            width: Int((x + width).rounded(.up)) - Int(x.rounded(.down)), height: Int((y + height).rounded(.up)) - Int(y.rounded(.down)))
    }

    public var area: Double { width * height }

    /// The same face moved by (`dx`, `dy`).
    public func offset(dx: Double, dy: Double) -> DetectedFace {
        DetectedFace(x: x + dx, y: y + dy, width: width, height: height, score: score,
                     landmarks: landmarks.map { Point(x: $0.x + dx, y: $0.y + dy) })
    }

    /// Intersection over union of the two boxes.
    public func overlap(with other: DetectedFace) -> Double {
        let left = max(x, other.x), top = max(y, other.y)
        let right = min(x + width, other.x + other.width), bottom = min(y + height, other.y + other.height)
        let intersection = max(0, right - left) * max(0, bottom - top)
        let union = area + other.area - intersection
        return union > 0 ? intersection / union : 0
    }
}

/// Finds faces and their landmarks with the YuNet detector (Wu, Peng, Yu 2023; MIT), run by OpenCV's DNN module.
///
/// OpenCV 4.6's `cv::FaceDetectorYN` cannot load the 2023mar model, so the bridge runs the network and decodes its
/// outputs itself (`training/fer/faces.py` holds the same decoding for training). The instance owns its network and
/// is not thread-safe: give each thread its own.
public final class FaceDetector {
    /// The file name of the detector in a models folder.
    public static let modelFile = "face_detection_yunet_2023mar.onnx"
    /// Faces scoring below this are dropped.
    public var scoreThreshold = 0.6
    /// Overlap above which the weaker of two boxes is suppressed.
    public var suppressionThreshold = 0.3

    private let network: NeuralNetwork

    /// Loads the detector's ONNX file.
    public init(onnxPath: String) throws(VisionError) {
        network = try NeuralNetwork(onnxPath: onnxPath)
    }

    /// The network's input size for an image of `width` x `height` searched with its longer side at `searchSize`
    /// pixels: the aspect ratio kept, both sides rounded to multiples of 32 (a smaller image is enlarged, which
    /// helps with small faces).
    public static func inputSize(width: Int, height: Int, searchSize: Int) -> (width: Int, height: Int) {
        let scale = Double(searchSize) / Double(max(width, height, 1))
        func round32(_ value: Double) -> Int { max(32, Int((value / 32).rounded()) * 32) }
        return (round32(Double(width) * scale), round32(Double(height) * scale))
    }

    /// Every face in `region` of `image` (the whole image by default), searched with the region's longer side at
    /// `searchSize` pixels, best first, in `image` coordinates.
    public func faces(in image: GrayImage, region: Box? = nil, searchSize: Int) throws(VisionError) -> [DetectedFace] {
        let area = (region ?? Box(x: 0, y: 0, width: image.width, height: image.height)).clipped(width: image.width, height: image.height)
        guard area.width >= 8, area.height >= 8 else { return [] }
        let input = Self.inputSize(width: area.width, height: area.height, searchSize: searchSize)
        var found = [cvb_face](repeating: cvb_face(), count: 32)
        var status = cvb_status.ok
        let count = image.pixels.withUnsafeBufferPointer { pixels in
            cvb_yunet_detect(network.net, pixels.baseAddress! + area.y * image.width + area.x,
                             Int32(area.width), Int32(area.height), Int32(image.width),
                             Int32(input.width), Int32(input.height), scoreThreshold, suppressionThreshold,
                             &found, Int32(found.count), &status)
        }
        guard count >= 0 else { throw status.error(.operationFailed, context: "face detection") }
        return found.prefix(Int(min(count, Int32(found.count)))).map { face in
            let marks = withUnsafeBytes(of: face.landmarks) { Array($0.bindMemory(to: Double.self)) }
            return DetectedFace(x: face.x, y: face.y, width: face.width, height: face.height, score: face.score,
                                landmarks: (0..<5).map { Point(x: marks[2 * $0], y: marks[2 * $0 + 1]) })
                .offset(dx: Double(area.x), dy: Double(area.y))
        }
    }
}
