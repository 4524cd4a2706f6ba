import Messaging

/// The delivery bookkeeping of Fusion, as a value with no I/O: the loop feeds it deliveries, stores, lost
/// connections and stop requests, and performs the acknowledgements it returns.
///
/// Fusion handles one delivery at a time, in arrival order; deliveries that arrive while it waits (a database
/// outage) are held, at most the prefetch. A delivery is acknowledged or rejected only on the connection generation
/// that delivered it: held deliveries die with their connection (the broker redelivers them). After the first stop
/// request it finishes the delivery in hand and exits; if that takes longer than the grace period (the database is
/// away), it leaves it to the broker.
struct FusionStateMachine<Instant: InstantProtocol> where Instant.Duration == Duration {
    /// A delivery with the connection generation it came on.
    struct Held: Sendable {
        var delivery: Delivery
        var generation: Int
    }

    enum Step: Equatable {
        case connect
        /// Disconnected: wait this long (at most) before the next step.
        case wait(Duration)
        /// `take()` the next held delivery, store it, then perform what `finished(_:outcome:)` says.
        case handle
        /// Read the next event.
        case poll
        case exit
    }

    enum Action: Equatable {
        case ack(Delivery)
        /// Dead-letter a delivery (`requeue: false`) or hand it back.
        case reject(Delivery, requeue: Bool)
    }

    /// What became of a delivery.
    enum Outcome {
        /// Stored (or nothing to store): acknowledge it.
        case stored
        /// Not a valid result, or refused by the database for good: dead-letter it.
        case refused
    }

    let shutdownGrace: Duration

    private var held: [Held] = []
    private(set) var generation = 0
    private(set) var isConnected = false
    private(set) var stopRequests = 0
    private var stopDeadline: Instant?
    private var reconnects: ReconnectSchedule<Instant>

    init(shutdownGrace: Duration = .seconds(30), shortestBackoff: Duration = .milliseconds(250),
         longestBackoff: Duration = .seconds(10)) {
        self.shutdownGrace = shutdownGrace
        reconnects = ReconnectSchedule(shortest: shortestBackoff, longest: longestBackoff)
    }

    /// Deliveries waiting to be handled.
    var heldCount: Int { held.count }

    func nextStep(now: Instant) -> Step {
        if stopRequests > 0 { return .exit }
        if !isConnected {
            return reconnects.delay(now: now).map(Step.wait) ?? .connect
        }
        if !held.isEmpty { return .handle }
        return .poll
    }

    /// Whether work on the delivery in hand (retrying a database that is away) should stop: a second stop request,
    /// or the grace period after the first one has run out.
    func shouldAbandon(now: Instant) -> Bool {
        stopRequests > 1 || stopDeadline.map { now >= $0 } ?? false
    }

    mutating func stopRequested(count: Int, now: Instant) {
        guard count > stopRequests else { return }
        if stopRequests == 0 { stopDeadline = now.advanced(by: shutdownGrace) }
        stopRequests = count
    }

    mutating func connected(now: Instant) {
        generation += 1
        isConnected = true
        reconnects.connected(now: now)
    }

    /// The connection failed or could not be opened: held deliveries die with it.
    mutating func connectionLost(now: Instant) {
        isConnected = false
        held.removeAll()
        reconnects.lost(now: now)
    }

    /// A delivery arrived on the current connection.
    mutating func delivered(_ delivery: Delivery) {
        held.append(Held(delivery: delivery, generation: generation))
        reconnects.noteTraffic()
    }

    /// Takes the next held delivery to handle (the one `nextStep` named).
    mutating func take() -> Held? {
        held.isEmpty ? nil : held.removeFirst()
    }

    /// The delivery in hand is done: acknowledge or dead-letter it if its connection is still the current one.
    func finished(_ handled: Held, outcome: Outcome) -> [Action] {
        guard isConnected, handled.generation == generation else { return [] }
        switch outcome {
        case .stored: return [.ack(handled.delivery)]
        case .refused: return [.reject(handled.delivery, requeue: false)]
        }
    }
}
