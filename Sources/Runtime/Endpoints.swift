import Controller
import FlyingFox
import Foundation
import Logging
import Prometheus
import ServiceLifecycle

/// An HTTP endpoint served by FlyingFox, as a service of the lifecycle group:
/// cancelled at shutdown, after the controller has finished.
public struct Endpoint: Service {
    public typealias Handler = @Sendable (_ path: String) async -> (status: Int, contentType: String, body: String)

    let name: String
    let address: Address
    let routes: [String: Handler]
    let logger: Logger

    /// "host:port" or ":port" (all interfaces).
    public struct Address: Sendable, CustomStringConvertible {
        public var host: String
        public var port: UInt16

        public init(parsing text: String) throws {
            guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]) else {
                throw EndpointError("\"\(text)\" is not an address like :8080 or 127.0.0.1:8080")
            }
            let host = String(text[..<colon])
            self.host = host.isEmpty ? "0.0.0.0" : host
            self.port = port
        }

        public var description: String { "\(host):\(port)" }
    }

    public init(name: String, address: Address, routes: [String: Handler], logger: Logger) {
        self.name = name
        self.address = address
        self.routes = routes
        self.logger = logger
    }

    public func run() async throws {
        let server = HTTPServer(address: try .inet(ip4: address.host, port: address.port))
        for (path, handler) in routes {
            await server.appendRoute(HTTPRoute(method: .GET, path: path)) { request in
                let (status, type, body) = await handler(request.path)
                return HTTPResponse(statusCode: HTTPStatusCode(status, phrase: status == 200 ? "OK" : "Service Unavailable"),
                                    headers: [.contentType: type], body: Data(body.utf8))
            }
        }
        do {
            try await cancelWhenGracefulShutdown {
                try await withThrowingTaskGroup(of: Void.self) { [address, name, routes, logger] group in
                    group.addTask { try await server.run() }
                    // Says the port actually bound (with port 0 the system picks one; tests read it here).
                    // A server that fails to start throws from run(), which ends the group.
                    group.addTask {
                        guard (try? await server.waitUntilListening()) != nil else { return }
                        var bound = address
                        if case .ip4(_, let port)? = await server.listeningAddress { bound.port = port }
                        logger.info("\(name) endpoint on \(bound): \(routes.keys.sorted().joined(separator: ", "))")
                    }
                    try await group.waitForAll()
                }
            }
        } catch where Task.isCancelled || Task.isShuttingDownGracefully {
            // Shut down: the endpoint closes with the process (FlyingFox reports its socket closing as an error).
        }
    }
}

public struct EndpointError: Error, CustomStringConvertible {
    public var description: String
    init(_ d: String) { description = d }
}

extension Endpoint {
    /// `/healthz` (the process answers) and `/readyz` (caches synced).
    public static func health(address: Address, controller: RolloutController, logger: Logger) -> Endpoint {
        Endpoint(name: "health", address: address, routes: [
            "/healthz": { _ in (200, "text/plain", "ok\n") },
            "/readyz": { _ in controller.hasSynced ? (200, "text/plain", "ok\n") : (503, "text/plain", "caches not synced yet\n") },
        ], logger: logger)
    }

    /// `/metrics`: swift-metrics' series from the registry (with help text
    /// added, see `MetricsText`), then the per-object ones from the caches.
    public static func metrics(address: Address, registry: PrometheusCollectorRegistry, controller: RolloutController, logger: Logger) -> Endpoint {
        Endpoint(name: "metrics", address: address, routes: [
            "/metrics": { _ in
                (200, "text/plain; version=0.0.4; charset=utf-8",
                 MetricsText.body(registry: registry.emitToString(), objects: controller.objectMetrics()))
            },
        ], logger: logger)
    }
}
