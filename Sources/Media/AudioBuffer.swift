/// Mono PCM samples as 32-bit floats in [-1, 1].
public struct AudioBuffer: Sendable, Equatable {
    /// Samples per second.
    public var sampleRate: Int
    /// The samples, oldest first.
    public var samples: [Float]

    public init(sampleRate: Int, samples: [Float]) {
        self.sampleRate = sampleRate
        self.samples = samples
    }

    /// Length in seconds.
    public var duration: Double { sampleRate > 0 ? Double(samples.count) / Double(sampleRate) : 0 }
}
