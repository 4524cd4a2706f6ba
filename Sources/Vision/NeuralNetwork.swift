internal import CVBridge

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

    /// One named float32 tensor: its values in row-major order, whose count must equal the product of `shape`.
    public typealias Input = (name: String, values: [Float], shape: [Int])

    /// Runs the network on one float32 tensor (the network's first input) and returns its first output, flattened.
    ///
    /// - Parameters:
    ///   - input: The tensor's values in row-major order; the count must equal the product of `shape`.
    ///   - shape: The tensor's dimensions, e.g. `[1, 1, 64, 64]`.
    public func forward(_ input: [Float], shape: [Int]) throws(VisionError) -> [Float] {
        try forward([(name: "", values: input, shape: shape)])
    }

    /// Runs the network on several named float32 tensors and returns its first output, flattened.
    public func forward(_ inputs: [Input]) throws(VisionError) -> [Float] {
        for input in inputs where input.shape.isEmpty || input.shape.reduce(1, *) != input.values.count {
            let named = input.name.isEmpty ? "input" : "input '\(input.name)'"
            throw VisionError(.inferenceFailed, reason: "\(named) has \(input.values.count) values, shape \(input.shape) needs \(input.shape.reduce(1, *))")
        }
        let shapes = inputs.flatMap { $0.shape.map { Int32($0) } }
        let dims = inputs.map { Int32($0.shape.count) }
        var status = cvb_status.ok
        var count = run(inputs, shapes, dims, &status)
        if count > output.count {
            output = [Float](repeating: 0, count: Int(count))
            count = run(inputs, shapes, dims, &status)
        }
        guard count >= 0 else { throw status.error(.inferenceFailed, context: path) }
        return Array(output.prefix(Int(count)))
    }

    private func run(_ inputs: [Input], _ shapes: [Int32], _ dims: [Int32], _ status: inout cvb_status) -> Int32 {
        Self.withPointers(inputs[...], [], []) { names, values in
            output.withUnsafeMutableBufferPointer { out in
                cvb_net_forward_named(net, Int32(inputs.count), names, values, shapes, dims, out.baseAddress, Int32(out.count), &status)
            }
        }
    }

    /// Calls `body` with C pointers to every input's name and values, borrowed (no copies).
    private static func withPointers<Result>(
        _ rest: ArraySlice<Input>, _ names: [UnsafePointer<CChar>?], _ values: [UnsafePointer<Float>?],
        _ body: ([UnsafePointer<CChar>?], [UnsafePointer<Float>?]) -> Result
    ) -> Result {
        guard let first = rest.first else { return body(names, values) }
        return first.name.withCString { name in
            first.values.withUnsafeBufferPointer { buffer in
                withPointers(rest.dropFirst(), names + [name], values + [buffer.baseAddress], body)
            }
        }
    }

    /// Sets how many threads OpenCV may use process-wide (workers scale by processes, so 1 is typical).
    public static func setThreadCount(_ count: Int) {
        cvb_set_threads(Int32(count))
    }
}
