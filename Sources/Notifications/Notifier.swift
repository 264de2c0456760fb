import AnalysisCore
import AviaryAPI
import Foundation
import KubeAPI
import Rollouts

/// One message to one service's recipients.
public struct Notification: Sendable, Equatable {
    public var trigger: String
    public var service: String
    public var type: ServiceType
    public var recipients: [String]
    /// The text a human reads.
    public var message: String
    /// The template's fields for this service type, rendered.
    public var fields: JSONValue?
}

/// What to send for one event about a Rollout, as a pure function: the
/// Rollout's subscriptions, the triggers the event fires (the built-in one
/// for its reason, and every custom trigger whose `when` holds over the
/// Rollout), and their templates rendered. Delivery is someone else's job.
public enum Notifier {
    public struct Result: Sendable {
        public var notifications: [Notification] = []
        /// Subscriptions or triggers that could not be used, with why.
        public var problems: [String] = []
        /// The `oncePer` values these notifications are for (trigger condition → value), to remember once sent.
        public var oncePer: [String: String] = [:]
    }

    /// - Parameter sent: the `oncePer` values already sent for (from the Rollout's status).
    public static func notifications(for event: Rollouts.Event, rollout: Rollout, config: NotificationConfig,
                                     time: KubeTime, extra: [String: JSONValue] = [:], sent: [String: String] = [:]) -> Result {
        let subscriptions = Subscription.read(rollout.metadata.annotations)
        var result = Result()
        guard !subscriptions.isEmpty else { return result }
        let context = Self.context(event: event, rollout: rollout, time: time, extra: extra)
        let builtIn = BuiltIn.triggerFor[event.reason]
        for subscription in subscriptions {
            // A subscription without a trigger takes the configured defaults.
            let triggers = subscription.trigger.isEmpty ? config.defaultTriggers : [subscription.trigger]
            guard let service = config.services[subscription.service] else {
                result.problems.append("subscription \(subscription.trigger).\(subscription.service): no service.\(subscription.service) in \(NotificationConfig.configMapName)")
                continue
            }
            for trigger in triggers {
                let custom = !BuiltIn.triggerFor.values.contains(trigger)
                guard trigger == builtIn || custom, let conditions = config.triggers[trigger] else { continue }
                for (index, condition) in conditions.enumerated() {
                    do {
                        guard case .bool(true) = try Expression.parse(condition.when).evaluate(["rollout": context["rollout"] ?? .null,
                                                                                                 "event": context["event"] ?? .null]) else { continue }
                    } catch {
                        result.problems.append("trigger.\(trigger): when \(condition.when): \(error)")
                        continue
                    }
                    // oncePer: a path into the context (e.g. rollout.status.currentPodHash); sent once per value it takes.
                    if let path = condition.oncePer {
                        let key = "\(trigger)[\(index)]"
                        let value = String(TemplateText.text(of: context.value(at: path.split(separator: ".").map(String.init))).prefix(1_000))
                        if sent[key] == value { continue }
                        result.oncePer[key] = value
                    }
                    for name in condition.send {
                        guard let template = config.templates[name] else { continue }
                        let message = TemplateText.render(template.message ?? "", context)
                        let fields = template.fields[service.type.rawValue].map { render($0, context) }
                        result.notifications.append(Notification(trigger: trigger, service: service.name, type: service.type,
                                                                 recipients: subscription.recipients, message: message, fields: fields))
                    }
                }
            }
        }
        return result
    }

    /// What a template can name: the Rollout as the API holds it, the event, the time, the images by container, the revision.
    static func context(event: Rollouts.Event, rollout: Rollout, time: KubeTime, extra: [String: JSONValue]) -> JSONValue {
        var images: [String] = []
        for c in rollout.spec.template?["spec"]?["containers"]?.arrayValue ?? [] {
            if let name = c["name"]?.stringValue, let image = c["image"]?.stringValue { images.append("\(name)=\(image)") }
        }
        var o: [String: JSONValue] = [
            "rollout": (try? JSONValue(encoding: rollout)) ?? .null,
            "event": ["reason": .string(event.reason.rawValue), "message": .string(event.message), "type": event.warning ? "Warning" : "Normal"],
            "time": .string(time.description),
            "images": .string(images.joined(separator: ", ")),
            "revision": .string(rollout.status?.currentPodHash.map { "hash \($0)" } ?? "<no value>"),
        ]
        for (k, v) in extra { o[k] = v }
        return .object(o)
    }

    /// Every string in a template's fields, rendered.
    static func render(_ value: JSONValue, _ context: JSONValue) -> JSONValue {
        switch value {
        case .string(let s): return .string(TemplateText.render(s, context))
        case .object(let o): return .object(o.mapValues { render($0, context) })
        case .array(let a): return .array(a.map { render($0, context) })
        default: return value
        }
    }
}
