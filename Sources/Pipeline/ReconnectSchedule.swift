/// When to try the broker again after a lost connection: the delay doubles per failure from `shortest` up to
/// `longest`, and starts again from `shortest` once a connection has carried traffic or stayed up
/// `healthyConnection` (a broker that accepts connections and drops them at once is not retried every 250 ms).
/// Part of the worker and Fusion state machines; time comes in as `Instant` arguments.
struct ReconnectSchedule<Instant: InstantProtocol> where Instant.Duration == Duration {
    let shortest: Duration
    let longest: Duration
    let healthyConnection: Duration = .seconds(30)
    private var backoff: Duration
    private var reconnectAt: Instant?
    private var connectedAt: Instant?

    init(shortest: Duration, longest: Duration) {
        self.shortest = shortest
        self.longest = longest
        backoff = shortest
    }

    /// How long to wait at `now` before the next attempt; `nil` when one may be made now.
    func delay(now: Instant) -> Duration? {
        guard let reconnectAt, now < reconnectAt else { return nil }
        return now.duration(to: reconnectAt)
    }

    mutating func connected(now: Instant) {
        connectedAt = now
        reconnectAt = nil
    }

    /// The connection failed, or could not be opened, at `now`.
    mutating func lost(now: Instant) {
        if let connectedAt, connectedAt.duration(to: now) >= healthyConnection { backoff = shortest }
        connectedAt = nil
        reconnectAt = now.advanced(by: backoff)
        backoff = min(backoff * 2, longest)
    }

    /// The connection carried traffic: it works, so the next failure backs off from the shortest delay again.
    mutating func noteTraffic() {
        backoff = shortest
    }
}
