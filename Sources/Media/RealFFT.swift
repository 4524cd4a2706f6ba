internal import CFFmpeg

/// A forward real-to-complex discrete Fourier transform of a fixed size, computed by libavutil.
/// The corresponding C API is `av_tx_init` with `AV_TX_FLOAT_RDFT`.
///
/// The instance owns its transform context and scratch buffers; it is not thread-safe.
public final class RealFFT {
    /// Number of real input samples.
    public let size: Int
    private var context: OpaquePointer?
    private let transform: av_tx_fn
    private var input: [Float]
    private var output: [Float]

    /// Creates a transform of `size` samples (a power of two).
    public init(size: Int) throws(MediaError) {
        precondition(size >= 2 && size & (size - 1) == 0, "FFT size must be a power of two")
        self.size = size
        var context: OpaquePointer?
        var function: av_tx_fn?
        var scale: Float = 1
        let status = av_tx_init(&context, &function, AV_TX_FLOAT_RDFT, 0, Int32(size), &scale, UInt64(AV_TX_UNALIGNED.rawValue))
        guard status >= 0, let function, context != nil else {
            throw MediaError(.decodingFailed, source: "fft", reason: "cannot create a \(size)-point FFT: \(ffmpegMessage(status))")
        }
        self.context = context
        self.transform = function
        input = [Float](repeating: 0, count: size)
        output = [Float](repeating: 0, count: size + 2)
    }

    deinit {
        av_tx_uninit(&context)
    }

    /// Writes the power spectrum |X[k]|² for k in 0...size/2 of `samples` (zero-padded to `size`) into `power`.
    ///
    /// - Parameters:
    ///   - samples: At most `size` real samples.
    ///   - power: Receives `size / 2 + 1` values.
    public func powerSpectrum(of samples: UnsafeBufferPointer<Float>, into power: UnsafeMutableBufferPointer<Float>) {
        precondition(power.count >= size / 2 + 1)
        run(samples)
        output.withUnsafeBufferPointer { spectrum in
            for bin in 0...(size / 2) {
                let real = spectrum[2 * bin]
                let imaginary = spectrum[2 * bin + 1]
                power[bin] = real * real + imaginary * imaginary
            }
        }
    }

    /// Writes the real parts Re X[k] for k in 0...size/2 of `samples` (zero-padded to `size`) into `real`.
    ///
    /// For an even sequence (x[n] = x[size - n]), such as a power spectrum mirrored to full length, the transform
    /// is real: this is how an autocorrelation is computed from a power spectrum.
    public func realPart(of samples: UnsafeBufferPointer<Float>, into real: UnsafeMutableBufferPointer<Float>) {
        precondition(real.count >= size / 2 + 1)
        run(samples)
        output.withUnsafeBufferPointer { spectrum in
            for bin in 0...(size / 2) { real[bin] = spectrum[2 * bin] }
        }
    }

    private func run(_ samples: UnsafeBufferPointer<Float>) {
        precondition(samples.count <= size)
        input.withUnsafeMutableBufferPointer { buffer in
            _ = buffer.update(fromContentsOf: samples)
            for index in samples.count..<size { buffer[index] = 0 }
        }
        input.withUnsafeMutableBytes { inputBytes in
            output.withUnsafeMutableBytes { outputBytes in
                transform(context, outputBytes.baseAddress, inputBytes.baseAddress, MemoryLayout<Float>.stride)
            }
        }
    }
}
