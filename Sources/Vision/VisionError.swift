internal import CVBridge

/// Why a vision operation failed. `openCVCode` and `reason` carry OpenCV's own code and message
/// (from `cv::Exception`), which the C++ bridge catches so that no exception reaches Swift.
public struct VisionError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kinds of vision failure a caller can act on.
    public enum Code: String, Sendable, CaseIterable {
        /// An ONNX model could not be loaded.
        case modelUnavailable = "model_unavailable"
        /// Running a model failed (wrong input shape, bad graph).
        case inferenceFailed = "inference_failed"
        /// An image file could not be read.
        case imageUnreadable = "image_unreadable"
        /// An image operation (resize, detection) failed.
        case operationFailed = "operation_failed"
    }

    public var code: Code
    /// OpenCV's error code (`cv::Error::Code`), or -1 where OpenCV gave none.
    public var openCVCode: Int32
    public var reason: String

    public init(_ code: Code, openCVCode: Int32 = -1, reason: String) {
        self.code = code
        self.openCVCode = openCVCode
        self.reason = reason
    }

    public var description: String { "\(code.rawValue): \(reason)" }
}

extension cvb_status {
    static var ok: cvb_status { cvb_status() }

    var text: String {
        withUnsafeBytes(of: message) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    func error(_ code: VisionError.Code, context: String) -> VisionError {
        VisionError(code, openCVCode: self.code, reason: "\(context): \(text)")
    }
}

extension VisionError.Code {
    /// Lets `catch VisionError.Code.x` style matching work on any error.
    public static func ~= (code: Self, error: any Error) -> Bool {
        (error as? VisionError)?.code == code
    }
}
