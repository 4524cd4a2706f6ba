internal import CVBridge

/// An 8-bit gray image, rows packed without padding.
public struct GrayImage: Sendable, Equatable {
    public var width: Int
    public var height: Int
    /// `width * height` values, row by row.
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width >= 0 && height >= 0 && pixels.count == width * height, "pixel count must be width * height")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// Reads an image file (any format OpenCV decodes) as gray. The corresponding C++ call is `cv::imread`.
    public init(contentsOf path: String) throws(VisionError) {
        var status = cvb_status.ok
        var buffer: UnsafeMutablePointer<UInt8>?
        var width: Int32 = 0
        var height: Int32 = 0
        guard cvb_read_gray(path, &buffer, &width, &height, &status) == 0, let buffer else {
            throw status.error(.imageUnreadable, context: path)
        }
        defer { cvb_free(buffer) }
        self.init(width: Int(width), height: Int(height),
                  pixels: Array(UnsafeBufferPointer(start: buffer, count: Int(width) * Int(height))))
    }

    /// The centre `size` x `size` of the region `box` (which may run off the image, where `padValue` fills)
    /// resized to `resize` x `resize` with bilinear interpolation. The corresponding C++ calls are `cv::resize` and
    /// a copy of the centre.
    public func centreCrop(of box: Box, padValue: UInt8, resize: Int, size: Int) throws(VisionError) -> GrayImage {
        guard box.width > 0, box.height > 0, size > 0, size <= resize else {
            throw VisionError(.operationFailed, reason: "cannot crop \(size) px from a \(box.width)x\(box.height) region resized to \(resize)")
        }
        var out = [UInt8](repeating: 0, count: size * size)
        var status = cvb_status.ok
        let result = pixels.withUnsafeBufferPointer { source in
            out.withUnsafeMutableBufferPointer { destination in
                cvb_crop_centre(source.baseAddress, Int32(width), Int32(height), Int32(width), Int32(box.x), Int32(box.y),
                                Int32(box.x + box.width), Int32(box.y + box.height), Int32(padValue), Int32(resize),
                                Int32(size), destination.baseAddress, &status)
            }
        }
        guard result == 0 else { throw status.error(.operationFailed, context: "centre crop") }
        return GrayImage(width: size, height: size, pixels: out)
    }

    /// The image with `pad` pixels of `value` added on every side.
    public func padded(by pad: Int, value: UInt8) -> GrayImage {
        let paddedWidth = width + 2 * pad
        var out = [UInt8](repeating: value, count: paddedWidth * (height + 2 * pad))
        for row in 0..<height {
            let start = (row + pad) * paddedWidth + pad
            out.replaceSubrange(start..<(start + width), with: pixels[(row * width)..<((row + 1) * width)])
        }
        return GrayImage(width: paddedWidth, height: height + 2 * pad, pixels: out)
    }
}

/// An axis-aligned rectangle in pixel coordinates.
public struct Box: Sendable, Hashable, Codable {
    public var x: Int
    public var y: Int
    public var width: Int
    public var height: Int

    public init(x: Int, y: Int, width: Int, height: Int) {
        self.x = x
        self.y = y
        self.width = width
        self.height = height
    }

    /// The box grown by `fraction` of its size on every side (negative shrinks).
    public func expanded(by fraction: Double) -> Box {
        let dx = Int((Double(width) * fraction).rounded())
        let dy = Int((Double(height) * fraction).rounded())
        return Box(x: x - dx, y: y - dy, width: width + 2 * dx, height: height + 2 * dy)
    }

    /// The intersection with a `width` x `height` image.
    public func clipped(width imageWidth: Int, height imageHeight: Int) -> Box {
        let left = min(max(x, 0), imageWidth)
        let top = min(max(y, 0), imageHeight)
        let right = min(max(x + width, 0), imageWidth)
        let bottom = min(max(y + height, 0), imageHeight)
        return Box(x: left, y: top, width: right - left, height: bottom - top)
    }
}
