import Foundation
import KubeAPI

/// One HTTP request a notification becomes, before anything is sent: pure,
/// so each service's wire format is tested byte for byte. `secrets` are the
/// values a log line or an error must never show.
public struct OutgoingRequest: Sendable, Equatable {
    public var method: String
    public var url: String
    public var headers: [String]
    public var body: JSONValue
    /// Sent instead of `body` when set: a webhook body template that is not JSON goes as its text, as Argo sends it.
    public var rawBody: String?
    public var secrets: [String]
    /// How the answer says it was taken: by its status, or (Slack's Web API) by `"ok": true` in a 200.
    public var answer: AnswerCheck

    public enum AnswerCheck: Sendable, Equatable { case status, slackOK }

    public init(method: String, url: String, headers: [String], body: JSONValue, rawBody: String? = nil, secrets: [String],
                answer: AnswerCheck = .status) {
        self.rawBody = rawBody
        self.answer = answer
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.secrets = secrets
    }
}

/// Each service's webhook format, as its documentation gives it.
public enum Payloads {
    public struct Problem: Error, Equatable, CustomStringConvertible {
        public var description: String
    }

    /// The requests for one notification: one per recipient (a channel, a named webhook).
    public static func requests(_ n: Notification, service: NotificationService) throws -> [OutgoingRequest] {
        let s = service.settings
        switch service.type {
        case .slack:
            // Block Kit: the message as a section, unless the template gives its own blocks or attachments.
            var body: [String: JSONValue] = ["text": .string(n.message),
                                             "blocks": [["type": "section", "text": ["type": "mrkdwn", "text": .string(n.message)]]]]
            if case .object(let extra)? = jsonText(in: n.fields, ["attachments", "blocks"]) { for (k, v) in extra { body[k] = v } }
            if let token = s["token"]?.stringValue, !token.isEmpty {
                let api = s["apiURL"]?.stringValue ?? "https://slack.com/api/"
                let url = api.hasSuffix("/") ? api + "chat.postMessage" : api + "/chat.postMessage"
                if let username = s["username"]?.stringValue { body["username"] = .string(username) }
                if let icon = s["icon"]?.stringValue { body[icon.hasPrefix(":") ? "icon_emoji" : "icon_url"] = .string(icon) }
                return n.recipients.map { channel in
                    var b = body
                    b["channel"] = .string(channel)
                    return OutgoingRequest(method: "POST", url: url, headers: ["Content-Type: application/json; charset=utf-8", "Authorization: Bearer \(token)"],
                                           body: .object(b), secrets: [token], answer: .slackOK)
                }
            }
            guard let url = s["url"]?.stringValue ?? s["webhookURL"]?.stringValue else {
                throw Problem(description: "service.\(service.name): slack needs a token (and channels as recipients) or an incoming-webhook url")
            }
            return [OutgoingRequest(method: "POST", url: url, headers: ["Content-Type: application/json"], body: .object(body), secrets: [url])]

        case .webhook:
            guard let base = s["url"]?.stringValue else { throw Problem(description: "service.\(service.name): webhook needs a url") }
            // The template's `webhook.<name>` gives method, path and body; without it, the message as JSON.
            let own = n.fields?[service.name]
            let method = (own?["method"]?.stringValue ?? "POST").uppercased()
            let url = base + (own?["path"]?.stringValue ?? "")
            var headers: [String] = []
            var secrets = urlSecrets(base)
            for h in s["headers"]?.arrayValue ?? [] {
                guard let name = h["name"]?.stringValue, let value = h["value"]?.stringValue else { continue }
                headers.append("\(name): \(value)")
                secrets.append(value)
            }
            if let user = s["basicAuth"]?["username"]?.stringValue, let password = s["basicAuth"]?["password"]?.stringValue {
                let encoded = Data("\(user):\(password)".utf8).base64EncodedString()
                headers.append("Authorization: Basic \(encoded)")
                secrets += [password, encoded]
            }
            // The body as the Notifier rendered it: JSON (the template was JSON, values filled in and escaped),
            // or text, sent as JSON when it is, and as written when not (what Argo sends).
            var body: JSONValue = ["message": .string(n.message), "trigger": .string(n.trigger)]
            var raw: String?
            switch own?["body"] {
            case .object?, .array?:
                body = own?["body"] ?? .null
            case .string(let text)?:
                if let doc = try? JSONValue.documents(fromYAML: text).first, doc.isContainer { body = doc } else { raw = text }
            default:
                break
            }
            if !headers.contains(where: { $0.lowercased().hasPrefix("content-type:") }) { headers.append("Content-Type: application/json") }
            return [OutgoingRequest(method: method, url: url, headers: headers, body: body, rawBody: raw, secrets: secrets)]

        case .teams, .discord, .googlechat:
            // A webhook URL per recipient, under the key each service's settings use (Argo's names).
            let key = ["teams": "recipientUrls", "discord": "webhooks", "googlechat": "webhooks"][service.type.rawValue] ?? "webhooks"
            return try n.recipients.map { recipient in
                guard let url = s[key]?[recipient]?.stringValue else {
                    throw Problem(description: "service.\(service.name): no \(key).\(recipient) for recipient \"\(recipient)\"")
                }
                let body: JSONValue
                switch service.type {
                case .teams:
                    body = ["@type": "MessageCard", "@context": "https://schema.org/extensions", "summary": .string(String(n.message.prefix(200))),
                            "text": .string(n.message)]
                case .discord:
                    body = ["content": .string(String(n.message.prefix(2000)))]  // Discord's limit
                default:
                    body = ["text": .string(n.message)]
                }
                var merged = body
                if case .object(let extra)? = jsonText(in: n.fields, ["sections", "potentialAction"]), case .object(var o) = merged {
                    for (k, v) in extra { o[k] = v }
                    merged = .object(o)
                }
                return OutgoingRequest(method: "POST", url: url, headers: ["Content-Type: application/json"], body: merged, secrets: [url])
            }
        }
    }

    /// Argo's templates give these fields (Slack's `attachments` and `blocks`,
    /// Teams' `sections` and `potentialAction`) as JSON text, which Argo parses
    /// before sending: so does this, or the service would get a string where it
    /// wants a list. Text that is not JSON is left as written.
    static func jsonText(in fields: JSONValue?, _ keys: [String]) -> JSONValue? {
        guard case .object(var o)? = fields else { return fields }
        for key in keys {
            if case .string(let text)? = o[key], let parsed = try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) { o[key] = parsed }
        }
        return .object(o)
    }

    /// The parts of a webhook URL that may carry a credential (`user:password@`,
    /// the path, the query: `$key`s are written there), so an error names the
    /// scheme and host but never those.
    static func urlSecrets(_ url: String) -> [String] {
        guard let scheme = url.range(of: "://") else { return [url] }
        let rest = url[scheme.upperBound...]
        let authorityEnd = rest.firstIndex { "/?#".contains($0) } ?? rest.endIndex
        var out: [String] = []
        if let at = rest[..<authorityEnd].lastIndex(of: "@") { out.append(String(rest[..<at])) }
        let tail = rest[authorityEnd...]
        if tail.count > 1 { out.append(String(tail)) }
        return out
    }
}

extension JSONValue {
    /// An object or a list: a body that is JSON, not a scalar.
    fileprivate var isContainer: Bool {
        switch self {
        case .object, .array: true
        default: false
        }
    }
}
