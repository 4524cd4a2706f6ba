import Foundation

/// A flag that one thread sets and others read. Thread-safe.
public final class StopSignal: @unchecked Sendable {
    private let lock = NSLock()
    private var requests = 0

    public init() {}

    /// Records a stop request (a second one asks to stop at once).
    public func request() {
        lock.lock()
        requests += 1
        lock.unlock()
    }

    /// How many times a stop was requested.
    public var count: Int {
        lock.lock()
        defer { lock.unlock() }
        return requests
    }

    /// Calls `request()` on SIGTERM and SIGINT.
    public func installSignalHandlers() -> [any DispatchSourceSignal] {
        [SIGTERM, SIGINT].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [self] in request() }
            source.resume()
            return source
        }
    }
}
