internal import CVBridge

/// A 2x3 affine transform `(x, y) -> (a*x + b*y + c, d*x + e*y + f)`, row-major.
public struct AffineTransform: Sendable, Equatable {
    public var values: [Double]

    public init(_ values: [Double]) {
        precondition(values.count == 6, "an affine transform has 6 values")
        self.values = values
    }

    /// The uniform scale of a similarity transform.
    public var scale: Double { (values[0] * values[0] + values[3] * values[3]).squareRoot() }

    public func apply(_ point: Point) -> Point {
        Point(x: values[0] * point.x + values[1] * point.y + values[2], y: values[3] * point.x + values[4] * point.y + values[5])
    }
}

/// Turns a detected face into the crop the face model is trained on: the similarity transform that puts the five
/// landmarks on the card's template (least squares), then one warp (`training/fer/faces.py` defines the same
/// procedure for training; a test checks both give the same crops on real frames).
public struct FaceAligner: Sendable, Equatable {
    /// Side of the square crop, in pixels.
    public var size: Int
    /// Where the five landmarks go in the crop (right eye, left eye, nose tip, right and left mouth corner).
    public var template: [Point]

    public init(size: Int, template: [Point]) {
        precondition(size > 0 && template.count == 5, "a crop size and five template points")
        self.size = size
        self.template = template
    }

    /// The least-squares similarity (rotation, uniform scale, shift; no reflection) mapping `landmarks` onto the
    /// template (Umeyama's method in 2-D).
    public func transform(for landmarks: [Point]) -> AffineTransform {
        precondition(landmarks.count == template.count, "five landmarks")
        let n = Double(landmarks.count)
        let sourceMean = Point(x: landmarks.map(\.x).reduce(0, +) / n, y: landmarks.map(\.y).reduce(0, +) / n)
        let targetMean = Point(x: template.map(\.x).reduce(0, +) / n, y: template.map(\.y).reduce(0, +) / n)
        var norm = 0.0, dot = 0.0, cross = 0.0
        for (source, target) in zip(landmarks, template) {
            let sx = source.x - sourceMean.x, sy = source.y - sourceMean.y
            let tx = target.x - targetMean.x, ty = target.y - targetMean.y
            norm += sx * sx + sy * sy
            dot += sx * tx + sy * ty
            cross += sx * ty - sy * tx
        }
        guard norm > 0 else {
            return AffineTransform([1, 0, targetMean.x - sourceMean.x, 0, 1, targetMean.y - sourceMean.y])
        }
        let a = dot / norm, b = cross / norm
        return AffineTransform([
            a, -b, targetMean.x - (a * sourceMean.x - b * sourceMean.y),
            b, a, targetMean.y - (b * sourceMean.x + a * sourceMean.y),
        ])
    }

    /// The aligned crop of the face with these landmarks in `image`.
    public func crop(_ image: GrayImage, landmarks: [Point]) throws(VisionError) -> GrayImage {
        try warp(image, transform(for: landmarks))
    }

    /// `image` under `transform`, as a `size` x `size` crop: a shrinking transform first resizes the region it
    /// reads with pixel-area averaging (no aliasing), then one bilinear warp; edges are replicated.
    public func warp(_ image: GrayImage, _ transform: AffineTransform) throws(VisionError) -> GrayImage {
        guard image.width > 0, image.height > 0 else {
            throw VisionError(.operationFailed, reason: "cannot align a face in an empty image")
        }
        var out = [UInt8](repeating: 0, count: size * size)
        var status = cvb_status.ok
        let result = image.pixels.withUnsafeBufferPointer { pixels in
            transform.values.withUnsafeBufferPointer { matrix in
                out.withUnsafeMutableBufferPointer { destination in
                    cvb_warp_face(pixels.baseAddress, Int32(image.width), Int32(image.height), Int32(image.width),
                                  matrix.baseAddress, Int32(size), destination.baseAddress, &status)
                }
            }
        }
        guard result == 0 else { throw status.error(.operationFailed, context: "face alignment") }
        return GrayImage(width: size, height: size, pixels: out)
    }
}
