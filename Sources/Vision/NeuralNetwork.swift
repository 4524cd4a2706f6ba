internal import CVBridge
import Foundation

/// An ONNX model run by OpenCV's DNN module. The corresponding C++ type is `cv::dnn::Net`.
///
/// The instance owns its network and is not thread-safe: give each thread its own.
public final class NeuralNetwork {
    /// The file the network was loaded from.
    public let path: String
    let net: OpaquePointer
    private var output: [Float] = [Float](repeating: 0, count: 64)

    /// Loads an ONNX file. A missing or malformed file throws `.modelUnavailable`; it never aborts the process.
    public init(onnxPath: String) throws(VisionError) {
        var status = cvb_status.ok
        guard let net = cvb_net_load(onnxPath, &status) else {
            throw status.error(.modelUnavailable, context: onnxPath)
        }
        self.net = net
        self.path = onnxPath
    }

    deinit {
        cvb_net_free(net)
    }

    /// Runs the network on one float32 tensor and returns its first output, flattened.
    ///
    /// - Parameters:
    ///   - input: The tensor's values in row-major order; the count must equal the product of `shape`.
    ///   - shape: The tensor's dimensions, e.g. `[1, 1, 64, 64]`.
    public func forward(_ input: [Float], shape: [Int]) throws(VisionError) -> [Float] {
        guard shape.reduce(1, *) == input.count, !shape.isEmpty else {
            throw VisionError(.inferenceFailed, reason: "input has \(input.count) values, shape \(shape) needs \(shape.reduce(1, *))")
        }
        let dims = shape.map { Int32($0) }
        var status = cvb_status.ok
        var count = run(input, dims, &status)
        if count > output.count {
            output = [Float](repeating: 0, count: Int(count))
            count = run(input, dims, &status)
        }
        guard count >= 0 else { throw status.error(.inferenceFailed, context: path) }
        return Array(output.prefix(Int(count)))
    }

    /// Runs the network on several named float32 tensors and returns its first output, flattened.
    public func forward(_ inputs: [(name: String, values: [Float], shape: [Int])]) throws(VisionError) -> [Float] {
        for input in inputs where input.shape.isEmpty || input.shape.reduce(1, *) != input.values.count {
            throw VisionError(.inferenceFailed, reason: "input '\(input.name)' has \(input.values.count) values, shape \(input.shape) needs \(input.shape.reduce(1, *))")
        }
        let shapes = inputs.flatMap { $0.shape.map { Int32($0) } }
        let dims = inputs.map { Int32($0.shape.count) }
        var status = cvb_status.ok
        var count = runNamed(inputs, shapes, dims, &status)
        if count > output.count {
            output = [Float](repeating: 0, count: Int(count))
            count = runNamed(inputs, shapes, dims, &status)
        }
        guard count >= 0 else { throw status.error(.inferenceFailed, context: path) }
        return Array(output.prefix(Int(count)))
    }

    private func runNamed(_ inputs: [(name: String, values: [Float], shape: [Int])], _ shapes: [Int32], _ dims: [Int32],
                          _ status: inout cvb_status) -> Int32 {
        let names = inputs.map { strdup($0.name) }
        defer { names.forEach { free($0) } }
        let buffers = inputs.map { input in
            let buffer = UnsafeMutablePointer<Float>.allocate(capacity: input.values.count)
            buffer.initialize(from: input.values, count: input.values.count)
            return buffer
        }
        defer { buffers.forEach { $0.deallocate() } }
        let namePointers: [UnsafePointer<CChar>?] = names.map { $0.map { UnsafePointer($0) } }
        let inputPointers: [UnsafePointer<Float>?] = buffers.map { UnsafePointer($0) }
        return output.withUnsafeMutableBufferPointer { out in
            cvb_net_forward_named(net, Int32(inputs.count), namePointers, inputPointers, shapes, dims,
                                  out.baseAddress, Int32(out.count), &status)
        }
    }

    private func run(_ input: [Float], _ dims: [Int32], _ status: inout cvb_status) -> Int32 {
        input.withUnsafeBufferPointer { values in
            output.withUnsafeMutableBufferPointer { out in
                cvb_net_forward(net, values.baseAddress, dims, Int32(dims.count), out.baseAddress, Int32(out.count), &status)
            }
        }
    }

    /// Sets how many threads OpenCV may use process-wide (workers scale by processes, so 1 is typical).
    public static func setThreadCount(_ count: Int) {
        cvb_set_threads(Int32(count))
    }
}
