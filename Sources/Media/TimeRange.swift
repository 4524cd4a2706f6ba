/// A span of a media timeline, in seconds.
public struct TimeRange: Sendable, Hashable, Codable {
    public var start: Double
    public var duration: Double

    public init(start: Double, duration: Double) {
        self.start = start
        self.duration = duration
    }

    public var end: Double { start + duration }
}
