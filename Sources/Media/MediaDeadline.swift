internal import CFFmpeg
import Foundation

/// Bounds the work on one media source: FFmpeg's open, reads and the decode loop give up once the deadline passes
/// or `isCancelled` returns true (libavformat's `AVIOInterruptCB`), and throw `MediaError` `.timeout` or
/// `.interrupted`.
///
/// The time allowed is `fixed` when set; otherwise it grows with the media being decoded, `perMediaSecond` seconds
/// per second of media once the duration is known, and never less than `floor`. It counts from `init`.
/// Thread-safe: the callback runs on the decoding thread, `isCancelled` may be flipped by any other.
public final class MediaDeadline: @unchecked Sendable {
    /// How much time a job gets.
    public struct Budget: Sendable, Equatable {
        /// The least time allowed (all of it while the duration is unknown).
        public var floor: Duration
        /// Seconds allowed per second of media.
        public var perMediaSecond: Double
        /// A fixed allowance that overrides the other two.
        public var fixed: Duration?

        public init(floor: Duration = .seconds(120), perMediaSecond: Double = 4, fixed: Duration? = nil) {
            self.floor = floor
            self.perMediaSecond = perMediaSecond
            self.fixed = fixed
        }

        /// The most time a job gets from its duration: a container that declares days of media does not turn the
        /// deadline off.
        public static let ceiling: Duration = .seconds(6 * 3600)

        /// The time allowed for `mediaSeconds` of media (`nil`: not known yet).
        public func allowance(mediaSeconds: Double?) -> Duration {
            if let fixed { return fixed }
            guard let mediaSeconds, mediaSeconds > 0, mediaSeconds.isFinite else { return floor }
            let seconds = min(mediaSeconds * perMediaSecond, Double(Self.ceiling.components.seconds))
            return max(floor, .milliseconds(Int64(seconds * 1000)))
        }
    }

    /// Why work stopped.
    enum Interruption {
        case deadlinePassed(Duration)
        case cancelled
    }

    public let budget: Budget
    private let start: ContinuousClock.Instant
    private let isCancelled: @Sendable () -> Bool
    private let lock = NSLock()
    private var mediaSeconds: Double?

    /// - Parameters:
    ///   - budget: The time allowed.
    ///   - isCancelled: Asked at every read and packet; returning true stops the work (a worker that gives up its jobs).
    public init(budget: Budget = Budget(), isCancelled: @escaping @Sendable () -> Bool = { false }) {
        self.budget = budget
        self.isCancelled = isCancelled
        start = .now
    }

    /// The time allowed so far (it grows once the duration being decoded is known).
    public var allowance: Duration {
        lock.lock()
        defer { lock.unlock() }
        return budget.allowance(mediaSeconds: mediaSeconds)
    }

    /// Records how many seconds of media the work covers.
    func noteMediaSeconds(_ seconds: Double) {
        guard seconds > 0, seconds.isFinite else { return }
        lock.lock()
        mediaSeconds = seconds
        lock.unlock()
    }

    /// Why the work must stop now, or `nil` to go on.
    func interruption() -> Interruption? {
        if isCancelled() { return .cancelled }
        let allowed = allowance
        return ContinuousClock.now - start > allowed ? .deadlinePassed(allowed) : nil
    }

    /// The error for an interruption of work on `source`.
    func error(_ interruption: Interruption, source: String) -> MediaError {
        switch interruption {
        case .deadlinePassed(let allowed):
            MediaError(.timeout, source: source, reason: "the job's deadline of \(allowed.seconds) s passed")
        case .cancelled:
            MediaError(.interrupted, source: source, reason: "stopped: the worker is shutting down")
        }
    }

    /// Throws `.timeout` or `.interrupted` when the work on `source` must stop.
    public func check(source: String) throws(MediaError) {
        if let interruption = interruption() { throw error(interruption, source: source) }
    }

    /// The libavformat callback that asks `deadline` (the callback's opaque pointer) whether to stop.
    static let callback: @convention(c) (UnsafeMutableRawPointer?) -> Int32 = { opaque in
        guard let opaque else { return 0 }
        return Unmanaged<MediaDeadline>.fromOpaque(opaque).takeUnretainedValue().interruption() == nil ? 0 : 1
    }
}

extension Duration {
    /// Whole seconds, rounded.
    fileprivate var seconds: Int64 { components.seconds + (components.attoseconds >= 500_000_000_000_000_000 ? 1 : 0) }
}

extension MediaDeadline: Equatable {
    public static func == (lhs: MediaDeadline, rhs: MediaDeadline) -> Bool { lhs === rhs }
}
