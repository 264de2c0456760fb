import Foundation
import Kube
import Notifications

/// Sends one notification request through the same curl engine as
/// everything else, with the provider hardening (http/https only, a
/// timeout, an answer cap, the address policy) and Argo's webhook retries:
/// `retryMax` 3, waiting 1 s doubling to at most 5 s, on a transport failure,
/// a 429 or a 5xx. A 4xx is the configuration's fault and is not retried.
/// Whatever it reports has every secret of the request blanked out.
public struct NotificationSender: Sendable {
    public enum Outcome: Sendable, Equatable {
        case sent(status: Int, attempts: Int)
        case failed(String, attempts: Int)
    }

    public var retryMax: Int
    public var waitMin: Duration
    public var waitMax: Duration
    public var timeout: Duration
    public var maxResponseBytes: Int
    public var addressPolicy: AddressPolicy?

    public init(retryMax: Int = 3, waitMin: Duration = .seconds(1), waitMax: Duration = .seconds(5), timeout: Duration = .seconds(10),
                maxResponseBytes: Int = 64 * 1024, addressPolicy: AddressPolicy? = nil) {
        self.retryMax = max(0, retryMax)
        self.waitMin = waitMin
        self.waitMax = waitMax
        self.timeout = timeout
        self.maxResponseBytes = maxResponseBytes
        self.addressPolicy = addressPolicy
    }

    public func send(_ outgoing: OutgoingRequest) async -> Outcome {
        let body: Data
        if let raw = outgoing.rawBody {
            body = Data(raw.utf8)
        } else {
            do { body = try JSONEncoder().encode(outgoing.body) } catch { return .failed("cannot encode the body: \(error)", attempts: 0) }
        }
        let request = HTTPRequest(method: outgoing.method, url: outgoing.url, headers: outgoing.headers, body: body,
                                  timeout: timeout, connectTimeout: timeout, allowedProtocols: HTTPRequest.httpOrHTTPS,
                                  maxResponseBytes: maxResponseBytes, addressPolicy: addressPolicy)
        var wait = waitMin
        var attempt = 0
        while true {
            attempt += 1
            let retryable: Bool
            let problem: String
            do {
                let response = try await CurlEngine.shared.perform(request)
                if (200..<300).contains(response.status) {
                    // Slack's Web API answers most refusals (invalid_auth, channel_not_found) with a 200 and "ok": false.
                    guard outgoing.answer == .slackOK, let answer = try? JSONDecoder().decode(JSONValue.self, from: response.body),
                          answer["ok"] == .bool(false) else { return .sent(status: response.status, attempts: attempt) }
                    let error = String((answer["error"]?.stringValue ?? "no error given").prefix(200))
                    retryable = error == "ratelimited"
                    problem = "Slack refused it (ok: false, error: \(error))"
                } else {
                    retryable = response.status == 429 || response.status >= 500
                    problem = "HTTP \(response.status)" + (300..<400 ~= response.status ? " (redirects are not followed)" : "")
                }
            } catch let large as ResponseTooLarge where large.status != nil {
                // The receiver took the request and answered at length: its status decides, the body is not needed.
                let status = large.status ?? 0
                if (200..<300).contains(status) { return .sent(status: status, attempts: attempt) }
                retryable = status == 429 || status >= 500
                problem = "HTTP \(status)"
            } catch is CancellationError {
                return .failed("cancelled", attempts: attempt)
            } catch let refused as RequestRefused {
                return .failed(redacted("refused: \(refused.message)", outgoing.secrets), attempts: attempt)
            } catch {
                retryable = true
                problem = "\(error)"
            }
            guard retryable, attempt <= retryMax, !Task.isCancelled else {
                return .failed(redacted("\(problem) from \(outgoing.url)", outgoing.secrets), attempts: attempt)
            }
            try? await Task.sleep(for: wait)
            wait = min(wait * 2, waitMax)
        }
    }

    /// Every secret (a token, a password, a webhook URL) blanked, longest first so none survives in part.
    public func redacted(_ text: String, _ secrets: [String]) -> String {
        secrets.filter { $0.count >= 4 }.sorted { $0.count > $1.count }.reduce(text) { $0.replacingOccurrences(of: $1, with: "***") }
    }
}
