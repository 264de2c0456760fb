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
    /// - Parameters:
    ///   - analysisRuns: the Rollout's runs, for `analysis` and `analysisRuns` in templates.
    ///   - revision: the revision number of the version being rolled out, when known.
    public static func notifications(for event: Rollouts.Event, rollout: Rollout, config: NotificationConfig,
                                     time: KubeTime, analysisRuns: [AnalysisRun] = [], revision: Int? = nil,
                                     extra: [String: JSONValue] = [:], sent: [String: String] = [:]) -> Result {
        let subscriptions = Subscription.read(rollout.metadata.annotations)
        var result = Result()
        guard !subscriptions.isEmpty else { return result }
        var extra = extra
        if !analysisRuns.isEmpty {
            // The event's own run first (it decided the event), then the newest.
            let named = analysisRuns.filter { event.run != nil && $0.metadata.name == event.run }
            let rest = analysisRuns.filter { event.run == nil || $0.metadata.name != event.run }
                .sorted { ($0.status?.startedAt ?? $0.metadata.creationTimestamp ?? KubeTime(secondsSinceEpoch: 0))
                    > ($1.status?.startedAt ?? $1.metadata.creationTimestamp ?? KubeTime(secondsSinceEpoch: 0)) }
            let runs = (named + rest).prefix(10).map(Self.analysis)
            extra["analysisRuns"] = .array(runs)
            extra["analysis"] = runs.first ?? .null
        }
        if let revision { extra["revision"] = .string(String(revision)) }
        let context = Self.context(event: event, rollout: rollout, time: time, extra: extra)
        let builtIn = BuiltIn.triggerFor[event.reason]
        var seen = Set<String>()
        for subscription in subscriptions {
            // A subscription without a trigger takes the configured defaults.
            let triggers = subscription.trigger.isEmpty ? config.defaultTriggers : [subscription.trigger]
            guard let service = config.services[subscription.service] else {
                // Say why, when the service is there but could not be read.
                let name = subscription.service
                let why = config.problems.first { $0.contains("service.\(name):") || $0.range(of: "service\\.[a-z]+\\.\(NSRegularExpression.escapedPattern(for: name)):", options: .regularExpression) != nil }
                result.problems.append("subscription \(subscription.trigger).\(name): no service.\(name) in \(NotificationConfig.configMapName)"
                    + (why.map { " (it could not be read: \($0))" } ?? ""))
                continue
            }
            for trigger in triggers {
                // An event that names its trigger (an escalation) fires that one only.
                let custom = !BuiltIn.triggerFor.values.contains(trigger)
                let fires = event.trigger.map { $0 == trigger } ?? (trigger == builtIn || custom)
                guard fires, let conditions = config.triggers[trigger] else {
                    if fires, event.trigger != nil {
                        result.problems.append("trigger.\(trigger) is not defined in \(NotificationConfig.configMapName), so the escalation could not be told")
                    }
                    continue
                }
                for (index, condition) in conditions.enumerated() {
                    if let when = condition.when {
                        do {
                            guard case .bool(true) = try Expression.parse(when).evaluate(["rollout": context["rollout"] ?? .null,
                                                                                           "event": context["event"] ?? .null]) else { continue }
                        } catch {
                            result.problems.append("trigger.\(trigger): when \(when): \(error)")
                            continue
                        }
                    } else if custom, event.trigger != trigger {
                        // A custom trigger without `when` is an escalation's: it fires only for the event that names it.
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
                        // A recipient named twice (both prefixes, or defaults and an explicit trigger) hears it once.
                        let recipients = (subscription.recipients.isEmpty ? [""] : subscription.recipients)
                            .filter { seen.insert([trigger, service.name, name, $0].joined(separator: "\u{0}")).inserted }
                        guard !recipients.isEmpty else { continue }
                        let message = TemplateText.render(template.message ?? "", context)
                        let fields = template.fields[service.type.rawValue].map { render($0, context, bodies: service.type == .webhook) }
                        result.notifications.append(Notification(trigger: trigger, service: service.name, type: service.type,
                                                                 recipients: recipients.filter { !$0.isEmpty }, message: message, fields: fields))
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
            // The short post-rollback report; the controller fills it in for an abort.
            "report": "",
        ]
        for (k, v) in extra { o[k] = v }
        return .object(o)
    }

    /// What a template can say about one run: its phase and message, each
    /// metric's last value against its conditions, and the metric that decided
    /// (`decidedBy`: the first Failed, else Error, else Inconclusive metric).
    static func analysis(_ run: AnalysisRun) -> JSONValue {
        var metrics: [JSONValue] = []
        var decidedBy: JSONValue = .null
        let specs = Dictionary(run.spec.metrics.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        for result in (run.status?.metricResults ?? []).prefix(50) {
            let spec = specs[result.name]
            let values = (result.measurements ?? []).suffix(10).compactMap(\.value)
            let m: JSONValue = [
                "name": .string(result.name), "phase": .string(result.phase.rawValue), "message": .string(result.message ?? ""),
                "value": .string(values.last ?? "<no value>"), "values": .string(values.joined(separator: ", ")),
                "successCondition": .string(spec?.successCondition ?? ""), "failureCondition": .string(spec?.failureCondition ?? ""),
                "count": .number(Double(result.count ?? 0)), "failed": .number(Double(result.failed ?? 0)),
                "errors": .number(Double(result.error ?? 0)),
            ]
            metrics.append(m)
        }
        for phase in ["Failed", "Error", "Inconclusive"] where decidedBy == .null {
            decidedBy = metrics.first { $0["phase"]?.stringValue == phase } ?? .null
        }
        return ["name": .string(run.metadata.name ?? ""), "phase": .string(run.status?.phase?.rawValue ?? "Pending"),
                "message": .string(run.status?.message ?? ""), "metrics": .array(metrics), "decidedBy": decidedBy]
    }

    /// Every string in a template's fields, rendered. With `bodies`, a
    /// webhook's `body` written as JSON is read first and its strings rendered
    /// one by one, so a value with a quote or a newline stays inside its
    /// string (Argo renders the text and sends whatever comes out).
    static func render(_ value: JSONValue, _ context: JSONValue, bodies: Bool = false) -> JSONValue {
        switch value {
        case .string(let s): return .string(TemplateText.render(s, context))
        case .object(var o):
            if bodies {
                for (name, var own) in o {
                    guard case .string(let text)? = own["body"], let doc = jsonBody(text), case .object(var fields) = own else { continue }
                    fields["body"] = render(doc, context)
                    own = .object(fields)
                    o[name] = own
                }
            }
            return .object(o.mapValues { render($0, context) })
        case .array(let a): return .array(a.map { render($0, context) })
        default: return value
        }
    }

    /// A body template that is JSON with every `{{…}}` inside a string (a key or a value); nil otherwise.
    static func jsonBody(_ text: String) -> JSONValue? {
        guard text.contains("{{"), let doc = try? JSONValue.documents(fromYAML: text).first else { return nil }
        switch doc {
        case .object, .array: break
        default: return nil
        }
        func count(_ s: String) -> Int { s.components(separatedBy: "{{").count - 1 }
        func inStrings(_ v: JSONValue) -> Int {
            switch v {
            case .string(let s): count(s)
            case .object(let o): o.reduce(0) { $0 + inStrings($1.value) }  // one in a key is not rendered: no match, text
            case .array(let a): a.reduce(0) { $0 + inStrings($1) }
            default: 0
            }
        }
        return inStrings(doc) == count(text) ? doc : nil
    }
}
