import KubeAPI

/// Who hears about a Rollout: annotations on it, in Argo's scheme, so an
/// Argo manifest keeps its subscriptions after changing only `apiVersion`:
/// `notifications.aviary.dev/subscribe.<trigger>.<service>: "<recipient>;<recipient>"`
/// (or `notifications.argoproj.io/…`).
public struct Subscription: Sendable, Hashable {
    public var trigger: String
    public var service: String
    public var recipients: [String]

    public init(trigger: String, service: String, recipients: [String]) {
        self.trigger = trigger
        self.service = service
        self.recipients = recipients
    }

    public static let prefixes = ["notifications.aviary.dev/subscribe.", "notifications.argoproj.io/subscribe."]
    /// At most this many subscriptions per Rollout, and recipients per subscription, are read.
    public static let maxSubscriptions = 50
    public static let maxRecipients = 50

    /// The subscriptions in a Rollout's annotations, in a stable order; keys that
    /// are not subscriptions are ignored, and one that names no trigger or service is skipped.
    public static func read(_ annotations: [String: String]?) -> [Subscription] {
        var out: [Subscription] = []
        for (key, value) in annotations ?? [:] {
            guard let prefix = prefixes.first(where: { key.hasPrefix($0) }) else { continue }
            let rest = key.dropFirst(prefix.count)
            // Trigger names hold dashes and dots may not appear in them; the service is after the last dot.
            // `subscribe.<service>` alone takes the configured defaultTriggers (trigger "").
            let trigger: String, service: String
            if let dot = rest.lastIndex(of: ".") {
                guard dot != rest.startIndex else { continue }
                trigger = String(rest[rest.startIndex..<dot])
                service = String(rest[rest.index(after: dot)...])
            } else {
                trigger = ""
                service = String(rest)
            }
            guard !service.isEmpty else { continue }
            let recipients = value.split(separator: ";").prefix(maxRecipients).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            out.append(Subscription(trigger: trigger, service: service, recipients: recipients))
        }
        // One subscription per (trigger, service, recipients), whichever prefix said it; a bounded number,
        // so one Rollout's annotations cannot turn an event into thousands of requests.
        let sorted = Set(out).sorted { ($0.trigger, $0.service, $0.recipients.joined(separator: ";")) < ($1.trigger, $1.service, $1.recipients.joined(separator: ";")) }
        return Array(sorted.prefix(maxSubscriptions))
    }
}
