import CoreMetrics
import FlyingFox
import FlyingSocks
import Foundation
import Prometheus

/// What a long-running service says about itself: alive while its loop keeps beating, ready while every
/// dependency it needs (the broker, the database) is connected. Thread-safe.
public final class ServiceHealth: @unchecked Sendable {
    private let lock = NSLock()
    private var lastBeat = ContinuousClock.now
    private var connected: [String: Bool]
    /// Longest silence of the service loop before the process counts as stuck.
    public let stallLimit: Duration

    /// - Parameter dependencies: What the service needs to be ready (`broker`, `database`), all disconnected at first.
    public init(dependencies: [String], stallLimit: Duration = .seconds(60)) {
        connected = Dictionary(uniqueKeysWithValues: dependencies.map { ($0, false) })
        self.stallLimit = stallLimit
    }

    /// The service loop is turning.
    public func beat() {
        lock.withLock { lastBeat = .now }
    }

    /// Records whether `dependency` is connected, also as the gauge `er_dependency_up{dependency}` (1 or 0), which
    /// the alert rules read (Prometheus cannot ask `/readyz`).
    public func set(_ dependency: String, connected isConnected: Bool) {
        let record = lock.withLock {
            let first = recorded.insert(dependency).inserted
            return connected.updateValue(isConnected, forKey: dependency) != isConnected || first
        }
        if record {
            Gauge(label: "er_dependency_up", dimensions: [("dependency", dependency)]).record(isConnected ? 1 : 0)
        }
    }
    /// Dependencies whose gauge has been written at least once.
    private var recorded: Set<String> = []

    /// Whether the loop beat within `stallLimit`.
    public var isAlive: Bool {
        lock.withLock { ContinuousClock.now - lastBeat <= stallLimit }
    }

    /// The dependencies not connected, sorted (empty: ready).
    public var missing: [String] {
        lock.withLock { connected.filter { !$0.value }.map(\.key).sorted() }
    }
}

/// Why the status server could not start.
public struct StatusServerError: Error, CustomStringConvertible {
    public var description: String
}

/// Serves a process's Prometheus metrics and health over HTTP: `GET /metrics` (the text exposition format, from
/// the registry), `GET /healthz` (200 while the service loop beats, 503 once it stalls) and `GET /readyz` (200
/// while every dependency is connected, 503 naming the missing ones otherwise).
public final class StatusServer: Sendable {
    /// `HOST:PORT` it listens on.
    public let address: String
    private let task: Task<Void, Never>

    private init(address: String, task: Task<Void, Never>) {
        self.address = address
        self.task = task
    }

    /// Starts listening on `address` (`HOST:PORT`, an IPv4 host; port 0 picks a free one) and returns once it
    /// listens. Throws `StatusServerError` for a malformed address or one it cannot listen on (in use, say), or
    /// when it does not listen within `timeout`, so that a service never runs without the metrics it was asked for.
    public static func start(address: String, registry: PrometheusCollectorRegistry, health: ServiceHealth,
                             timeout: Duration = .seconds(10)) async throws -> StatusServer {
        let (host, port) = try parse(address)
        let socketAddress: sockaddr_in
        do {
            socketAddress = try .inet(ip4: host == "localhost" ? "127.0.0.1" : host, port: port)
        } catch {
            throw StatusServerError(description: "metrics address \(address): \(host) is not an IPv4 address")
        }
        let server = HTTPServer(address: socketAddress, logger: .disabled)
        await server.appendRoute("GET /metrics") { _ in
            HTTPResponse(statusCode: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                         body: Data(registry.emitToBuffer()))
        }
        await server.appendRoute("GET /healthz") { _ in
            health.isAlive ? HTTPResponse(statusCode: .ok, body: Data("alive\n".utf8))
                : HTTPResponse(statusCode: .serviceUnavailable, body: Data("the service loop is stuck\n".utf8))
        }
        await server.appendRoute("GET /readyz") { _ in
            let missing = health.missing
            return missing.isEmpty ? HTTPResponse(statusCode: .ok, body: Data("ready\n".utf8))
                : HTTPResponse(statusCode: .serviceUnavailable, body: Data("not connected: \(missing.joined(separator: ", "))\n".utf8))
        }
        let failure = FailureBox()
        let task = Task {
            do {
                try await server.run()
            } catch {
                failure.set(error)
            }
        }
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let error = failure.error {
                throw StatusServerError(description: "cannot serve metrics on \(address): \(explain(error))")
            }
            if case .ip4(_, let listening)? = await server.listeningAddress, listening > 0 {
                return StatusServer(address: "\(host):\(listening)", task: task)
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        task.cancel()
        throw StatusServerError(description: "cannot serve metrics on \(address): not listening after \(timeout)")
    }

    /// `start` for synchronous callers (a command's `run()`): blocks this thread until the server listens. Not for
    /// use from a task.
    public static func startBlocking(address: String, registry: PrometheusCollectorRegistry, health: ServiceHealth) throws -> StatusServer {
        let outcome = OutcomeBox()
        let done = DispatchSemaphore(value: 0)
        Task {
            do {
                outcome.set(.success(try await start(address: address, registry: registry, health: health)))
            } catch {
                outcome.set(.failure(error))
            }
            done.signal()
        }
        done.wait()
        return try outcome.get()
    }

    /// Stops listening.
    public func stop() {
        task.cancel()
    }

    /// `HOST:PORT` split and checked.
    static func parse(_ address: String) throws -> (host: String, port: UInt16) {
        guard let colon = address.lastIndex(of: ":"), let port = UInt16(address[address.index(after: colon)...]),
              !address[..<colon].isEmpty else {
            throw StatusServerError(description: "metrics address '\(address)' is not HOST:PORT (for example 0.0.0.0:9101)")
        }
        return (String(address[..<colon]), port)
    }

    static func explain(_ error: any Error) -> String {
        if case SocketError.failed(_, let code, _) = error, code == EADDRINUSE { return "the address is already in use (\(error))" }
        return "\(error)"
    }
}

/// A value set by one task and read by another thread.
private final class FailureBox: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: (any Error)?
    func set(_ error: any Error) { lock.withLock { stored = error } }
    var error: (any Error)? { lock.withLock { stored } }
}

private final class OutcomeBox: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Result<StatusServer, any Error> = .failure(StatusServerError(description: "the status server did not start"))
    func set(_ outcome: Result<StatusServer, any Error>) { lock.withLock { stored = outcome } }
    func get() throws -> StatusServer { try lock.withLock { stored }.get() }
}

/// The process's metrics backend.
public enum PrometheusMetrics {
    private static let shared = PrometheusCollectorRegistry()
    private static let bootstrapped: Void = {
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: shared))
    }()

    /// Bootstraps swift-metrics with a Prometheus registry (once per process) and returns the registry.
    public static func bootstrap() -> PrometheusCollectorRegistry {
        _ = bootstrapped
        return shared
    }
}
