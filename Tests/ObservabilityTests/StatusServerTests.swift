import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
@testable import Observability
import Prometheus
import Testing

/// The status server on a loopback port: health, readiness, metrics, and a clear error for a port in use.
/// Generous start timeouts: beside the other suites, blocking tests can hold every thread of the cooperative pool
/// for a while (the services themselves run their loops on threads of their own).
@Suite struct StatusServerTests {
    static let patience: Duration = .seconds(120)

    /// `GET http://ADDRESS/PATH`: the status code and body.
    func get(_ address: String, _ path: String) async throws -> (status: Int, body: String) {
        let url = try #require(URL(string: "http://\(address)\(path)"))
        var request = URLRequest(url: url)
        request.timeoutInterval = 120
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }

    @Test func servesHealthReadinessAndMetrics() async throws {
        let registry = PrometheusCollectorRegistry()
        registry.makeCounter(descriptor: MetricNameDescriptor(metricName: "er_test", unitName: "total", helpText: "a test counter"), labels: [("stream", "audio")]).increment(by: Int64(3))
        let health = ServiceHealth(dependencies: ["broker", "database"], stallLimit: Self.patience)
        let server = try await StatusServer.start(address: "127.0.0.1:0", registry: registry, health: health, timeout: Self.patience)
        defer { server.stop() }
        #expect(try await get(server.address, "/healthz").status == 200)
        let notReady = try await get(server.address, "/readyz")
        #expect(notReady.status == 503 && notReady.body.contains("broker, database"))
        health.set("broker", connected: true)
        health.set("database", connected: true)
        #expect(try await get(server.address, "/readyz").status == 200)
        health.set("database", connected: false)
        #expect(try await get(server.address, "/readyz").body.contains("not connected: database"))
        let metrics = try await get(server.address, "/metrics")
        #expect(metrics.status == 200 && metrics.body.contains(#"er_test_total{stream="audio"} 3"#), "\(metrics.body)")
        #expect(try await get(server.address, "/nothing").status == 404)
    }

    @Test func aLoopThatStopsBeatingIsNotAlive() throws {
        let health = ServiceHealth(dependencies: [], stallLimit: .milliseconds(100))
        #expect(health.isAlive && health.missing.isEmpty)
        Thread.sleep(forTimeInterval: 0.2)
        #expect(!health.isAlive)
        health.beat()
        #expect(health.isAlive)
    }

    @Test func aPortInUseIsAnErrorAtStart() async throws {
        let registry = PrometheusCollectorRegistry()
        let first = try await StatusServer.start(address: "127.0.0.1:0", registry: registry, health: ServiceHealth(dependencies: []),
                                                   timeout: Self.patience)
        defer { first.stop() }
        await #expect {
            try await StatusServer.start(address: first.address, registry: registry, health: ServiceHealth(dependencies: []),
                                         timeout: Self.patience)
        } throws: { error in
            "\(error)".contains("in use")
        }
    }

    @Test(arguments: ["9101", "localhost", ":9101", "host:99999", "not-an-ip:9101"])
    func aMalformedAddressIsAnError(address: String) async {
        await #expect(throws: StatusServerError.self) {
            try await StatusServer.start(address: address, registry: PrometheusCollectorRegistry(), health: ServiceHealth(dependencies: []))
        }
    }
}
