import Controller
import Foundation
import Kube
import Notifications
import Testing
import TestSupport

/// The sender against a real HTTP server on loopback: retries what may pass
/// on a second try, gives up on what will not, and never says a secret.
@Suite struct NotificationSenderTests {
    static let fast = NotificationSender(retryMax: 3, waitMin: .milliseconds(10), waitMax: .milliseconds(40), timeout: .seconds(5))

    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var n = 0
        func next() -> Int { lock.withLock { n += 1; return n } }
    }

    func request(_ port: Int, secret: String = "s3cr3t-token") -> OutgoingRequest {
        OutgoingRequest(method: "POST", url: "http://127.0.0.1:\(port)/hook/\(secret)", headers: ["Content-Type: application/json"],
                        body: ["text": "web aborted"], secrets: ["http://127.0.0.1:\(port)/hook/\(secret)", secret])
    }

    @Test func aServerErrorIsRetriedUntilItPasses() async throws {
        let count = Counter()
        let server = try TinyHTTPServer { _ in
            count.next() <= 2 ? TinyHTTPServer.response("500 Internal Server Error", body: []) : TinyHTTPServer.response("200 OK", body: Array("ok".utf8))
        }
        defer { server.stop() }
        #expect(await Self.fast.send(request(server.port)) == .sent(status: 200, attempts: 3))
    }

    @Test func aClientErrorIsNotRetriedAndTheSecretIsNotSaid() async throws {
        let server = try TinyHTTPServer { _ in TinyHTTPServer.response("403 Forbidden", body: []) }
        defer { server.stop() }
        let outcome = await Self.fast.send(request(server.port))
        guard case .failed(let message, let attempts) = outcome else { Issue.record("sent: \(outcome)"); return }
        #expect(attempts == 1)
        #expect(message.contains("HTTP 403"))
        #expect(!message.contains("s3cr3t"), "\(message)")
    }

    @Test func aDeadReceiverGetsRetryMaxRetriesThenAnErrorWithoutTheSecret() async throws {
        let (fd, port) = try Loopback.refusingPort()
        defer { close(fd) }  // held, so no other test's receiver gets the port and our retries
        let outcome = await Self.fast.send(request(port))
        guard case .failed(let message, let attempts) = outcome else { Issue.record("sent: \(outcome)"); return }
        #expect(attempts == 4, "the first try and retryMax 3")
        #expect(!message.contains("s3cr3t"), "\(message)")
    }

    @Test func onlyHTTPAndHTTPSAreSpoken() async {
        let outcome = await Self.fast.send(OutgoingRequest(method: "POST", url: "file:///etc/passwd", headers: [], body: [:], secrets: []))
        guard case .failed(let message, let attempts) = outcome else { Issue.record("sent: \(outcome)"); return }
        #expect(attempts == 1)
        #expect(message.hasPrefix("refused"), "\(message)")
    }
}
