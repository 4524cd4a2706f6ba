internal import CVBridge

/// Finds faces with an OpenCV cascade classifier. The corresponding C++ type is `cv::CascadeClassifier`.
///
/// The search runs on a copy scaled down to `searchWidth`, which bounds its cost; boxes come back in the
/// coordinates of the full image. The instance owns its classifier and is not thread-safe: give each thread its own.
public final class FaceDetector {
    /// How the search runs.
    public struct Configuration: Sendable, Equatable {
        /// Width of the image the cascade searches (smaller is faster; 0 searches at full size).
        public var searchWidth: Int
        /// Smallest face searched for, as a fraction of the image height.
        public var minimumFaceFraction: Double
        /// Scale step between search windows (`detectMultiScale`'s `scaleFactor`).
        public var scaleFactor: Double
        /// Neighbouring detections a face needs (`minNeighbors`).
        public var minimumNeighbors: Int
        /// Whether to equalise the histogram before searching.
        public var equalizeHistogram: Bool

        public init(searchWidth: Int = 320, minimumFaceFraction: Double = 0.15, scaleFactor: Double = 1.1,
                    minimumNeighbors: Int = 5, equalizeHistogram: Bool = false) {
            self.searchWidth = searchWidth
            self.minimumFaceFraction = minimumFaceFraction
            self.scaleFactor = scaleFactor
            self.minimumNeighbors = minimumNeighbors
            self.equalizeHistogram = equalizeHistogram
        }
    }

    /// Debian's `opencv-data` location of the frontal-face Haar cascade.
    public static let defaultCascadePath = "/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml"

    public let configuration: Configuration
    private let cascade: OpaquePointer

    /// Loads the cascade at `cascadePath`.
    public init(cascadePath: String = FaceDetector.defaultCascadePath, configuration: Configuration = .init()) throws(VisionError) {
        var status = cvb_status.ok
        guard let cascade = cvb_cascade_load(cascadePath, &status) else {
            throw status.error(.cascadeUnavailable, context: cascadePath)
        }
        self.cascade = cascade
        self.configuration = configuration
    }

    deinit {
        cvb_cascade_free(cascade)
    }

    /// Every face found, in full-image coordinates.
    public func faces(in image: GrayImage) throws(VisionError) -> [Box] {
        guard image.width > 0, image.height > 0 else { return [] }
        var factor = 1.0
        if configuration.searchWidth > 0, image.width > configuration.searchWidth {
            factor = Double(image.width) / Double(configuration.searchWidth)
        }
        let scaledHeight = Double(image.height) / factor
        let minimum = max(24, Int(scaledHeight * configuration.minimumFaceFraction))
        return try detect(in: image, factor: factor, minimum: minimum, maximum: 0)
    }

    /// The largest face found, if any.
    public func largestFace(in image: GrayImage) throws(VisionError) -> Box? {
        try faces(in: image).max { $0.area < $1.area }
    }

    /// The largest face near `previous` (a face found in an earlier frame), searching only a region around it
    /// at a resolution where the face is about `trackingFaceSize` pixels, for faces of a similar size.
    /// Returns `nil` when the face is not there any more; callers then search the whole frame.
    public func largestFace(in image: GrayImage, near previous: Box) throws(VisionError) -> Box? {
        let region = previous.expanded(by: 0.5).clipped(width: image.width, height: image.height)
        guard region.width >= 24, region.height >= 24 else { return nil }
        let crop = image.cropped(to: region)
        let factor = max(1, Double(previous.width) / Double(Self.trackingFaceSize))
        let minimum = max(24, Int(Double(previous.width) * 0.7 / factor))
        let maximum = Int(Double(previous.width) * 1.4 / factor) + 1
        let found = try detect(in: crop, factor: factor, minimum: minimum, maximum: maximum, scaleFactor: Self.trackingScaleFactor)
        return found.max { $0.area < $1.area }.map { Box(x: $0.x + region.x, y: $0.y + region.y, width: $0.width, height: $0.height) }
    }

    /// Face size, in pixels, at which a tracked face is searched for.
    public static let trackingFaceSize = 64
    /// Coarser scale steps suffice for the narrow size range of a tracked face (halves its cost).
    static let trackingScaleFactor = 1.2

    /// Searches `image` scaled down by `factor` for faces between `minimum` and `maximum` pixels (in the scaled
    /// image; 0 for no maximum); boxes come back in `image` coordinates.
    private func detect(in image: GrayImage, factor: Double, minimum: Int, maximum: Int, scaleFactor: Double? = nil) throws(VisionError) -> [Box] {
        var searched = image
        if factor > 1 {
            let width = max(1, Int((Double(image.width) / factor).rounded()))
            let height = max(1, Int((Double(image.height) / factor).rounded()))
            searched = try image.resized(width: width, height: height, interpolation: .area)
        }
        guard minimum <= min(searched.width, searched.height) else { return [] }
        var found = [cvb_rect](repeating: cvb_rect(), count: 64)
        var status = cvb_status.ok
        let count = searched.pixels.withUnsafeBufferPointer { pixels in
            cvb_cascade_detect(cascade, pixels.baseAddress, Int32(searched.width), Int32(searched.height), Int32(searched.width),
                               scaleFactor ?? configuration.scaleFactor, Int32(configuration.minimumNeighbors), Int32(minimum), Int32(maximum),
                               configuration.equalizeHistogram ? 1 : 0, &found, Int32(found.count), &status)
        }
        guard count >= 0 else { throw status.error(.operationFailed, context: "face detection") }
        let scale = Double(image.width) / Double(searched.width)
        return found.prefix(Int(min(count, Int32(found.count)))).map { rect in
            Box(x: Int(rect.x), y: Int(rect.y), width: Int(rect.width), height: Int(rect.height)).scaled(by: scale)
        }
    }
}
