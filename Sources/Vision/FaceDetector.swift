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
        var searched = image
        var factor = 1.0
        if configuration.searchWidth > 0, image.width > configuration.searchWidth {
            factor = Double(image.width) / Double(configuration.searchWidth)
            let height = max(1, Int((Double(image.height) / factor).rounded()))
            searched = try image.resized(width: configuration.searchWidth, height: height, interpolation: .area)
        }
        let minimum = max(24, Int(Double(searched.height) * configuration.minimumFaceFraction))
        guard minimum <= min(searched.width, searched.height) else { return [] }
        var found = [cvb_rect](repeating: cvb_rect(), count: 64)
        var status = cvb_status.ok
        let count = searched.pixels.withUnsafeBufferPointer { pixels in
            cvb_cascade_detect(cascade, pixels.baseAddress, Int32(searched.width), Int32(searched.height), Int32(searched.width),
                               configuration.scaleFactor, Int32(configuration.minimumNeighbors), Int32(minimum), 0,
                               configuration.equalizeHistogram ? 1 : 0, &found, Int32(found.count), &status)
        }
        guard count >= 0 else { throw status.error(.operationFailed, context: "face detection") }
        return found.prefix(Int(min(count, Int32(found.count)))).map { rect in
            Box(x: Int(rect.x), y: Int(rect.y), width: Int(rect.width), height: Int(rect.height)).scaled(by: factor)
        }
    }

    /// The largest face found, if any.
    public func largestFace(in image: GrayImage) throws(VisionError) -> Box? {
        try faces(in: image).max { $0.area < $1.area }
    }
}
