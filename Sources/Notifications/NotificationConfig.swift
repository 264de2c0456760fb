import AnalysisCore
import Foundation
import KubeAPI

/// What to send, where and when: ConfigMap `aviary-notification-configmap`
/// and Secret `aviary-notification-secret`, in Argo's layout, so an Argo
/// configuration moves over as it is:
/// - `service.<type>` or `service.<type>.<name>`: a service's settings (YAML);
///   `$key` in a value is that key of the Secret;
/// - `template.<name>`: `message` plus per-service fields (YAML);
/// - `trigger.<name>`: a list of `{when, send: [template…], oncePer}` (YAML);
/// - `defaultTriggers`: triggers every Rollout with any subscription of a service gets (YAML list).
/// Nothing in it is trusted: every key that cannot be read is a problem that
/// names it, and the rest still works.
public struct NotificationConfig: Sendable {
    public var services: [String: NotificationService] = [:]
    public var templates: [String: NotificationTemplate] = [:]
    public var triggers: [String: [TriggerCondition]] = [:]
    public var defaultTriggers: [String] = []
    /// Keys that could not be read, with why: for a log line and an event, never a crash.
    public var problems: [String] = []

    public init() {}

    public static let configMapName = "aviary-notification-configmap"
    public static let secretName = "aviary-notification-secret"

    /// Reads the ConfigMap's data, with `secret` (the Secret's data, decoded) for `$key`s.
    /// Built-in triggers and templates are there unless the ConfigMap names its own.
    public static func parse(_ data: [String: String], secret: [String: String] = [:]) -> NotificationConfig {
        var config = NotificationConfig()
        config.templates = BuiltIn.templates
        config.triggers = BuiltIn.triggers
        for key in data.keys.sorted() {
            guard let text = data[key] else { continue }
            do {
                if key == "defaultTriggers" {
                    config.defaultTriggers = try yaml(text).arrayValue?.compactMap(\.stringValue) ?? []
                } else if key.hasPrefix("service.") {
                    let parts = key.dropFirst("service.".count).split(separator: ".", maxSplits: 1).map(String.init)
                    guard let type = parts.first.flatMap(ServiceType.init(rawValue:)) else {
                        config.problems.append("\(key): unknown service type \"\(parts.first ?? "")\"; aviary has \(ServiceType.allCases.map(\.rawValue).joined(separator: ", "))")
                        continue
                    }
                    let name = parts.count == 2 ? parts[1] : type.rawValue
                    let settings = try substitute(try yaml(text), secret: secret, key: key)
                    config.services[name] = NotificationService(name: name, type: type, settings: settings)
                } else if key.hasPrefix("template.") {
                    let name = String(key.dropFirst("template.".count))
                    let doc = try yaml(text)
                    guard case .object(var fields) = doc else { throw Problem("must be a map with message and per-service fields") }
                    let message = fields.removeValue(forKey: "message")?.stringValue
                    config.templates[name] = NotificationTemplate(message: message, fields: fields)
                } else if key.hasPrefix("trigger.") {
                    let name = String(key.dropFirst("trigger.".count))
                    guard let list = try yaml(text).arrayValue else { throw Problem("must be a list of {when, send}") }
                    var conditions: [TriggerCondition] = []
                    for (i, item) in list.enumerated() {
                        let when = item["when"]?.stringValue
                        if let when { do { _ = try Expression.parse(when) } catch { throw Problem("[\(i)].when: \(error)") } }
                        let send = item["send"]?.arrayValue?.compactMap(\.stringValue) ?? []
                        if send.isEmpty { throw Problem("[\(i)].send: names no template") }
                        conditions.append(TriggerCondition(when: when, send: send, oncePer: item["oncePer"]?.stringValue))
                    }
                    config.triggers[name] = conditions
                }
            } catch {
                config.problems.append("\(key): \(error)")
            }
        }
        for (name, conditions) in config.triggers {
            for template in Set(conditions.flatMap(\.send)) where config.templates[template] == nil {
                config.problems.append("trigger.\(name): sends template \"\(template)\", which is not defined")
            }
        }
        config.problems.sort()
        return config
    }

    struct Problem: Error, CustomStringConvertible {
        var description: String
        init(_ d: String) { description = d }
    }

    static func yaml(_ text: String) throws -> JSONValue {
        let docs = try JSONValue.documents(fromYAML: text)
        guard docs.count <= 1 else { throw Problem("one YAML document expected, found \(docs.count)") }
        return docs.first ?? .null
    }

    /// `$key` in any string value is the Secret's key; one that is missing is a problem naming it.
    static func substitute(_ value: JSONValue, secret: [String: String], key: String) throws -> JSONValue {
        switch value {
        case .string(let s):
            guard s.contains("$") else { return value }
            var out = ""
            var rest = Substring(s)
            while let dollar = rest.firstIndex(of: "$") {
                out += rest[rest.startIndex..<dollar]
                let after = rest[rest.index(after: dollar)...]
                let name = after.prefix { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." }
                if name.isEmpty {
                    out += "$"
                    rest = after
                    continue
                }
                guard let secretValue = secret[String(name)] else {
                    throw Problem("$\(name) is not a key of Secret \(secretName)")
                }
                out += secretValue
                rest = after.dropFirst(name.count)
            }
            return .string(out + rest)
        case .object(let o):
            return .object(try o.mapValues { try substitute($0, secret: secret, key: key) })
        case .array(let a):
            return .array(try a.map { try substitute($0, secret: secret, key: key) })
        default:
            return value
        }
    }
}

/// The receivers Aviary talks to, each through its webhook format.
public enum ServiceType: String, Sendable, CaseIterable {
    case slack, webhook, teams, discord, googlechat
}

public struct NotificationService: Sendable {
    public var name: String
    public var type: ServiceType
    /// Settings as written, with `$key`s filled in from the Secret: never logged.
    public var settings: JSONValue
}

public struct NotificationTemplate: Sendable, Equatable {
    /// The text a human reads.
    public var message: String?
    /// Per-service fields (`slack: {attachments, blocks}`, `webhook: {<name>: {method, path, body}}`, …).
    public var fields: [String: JSONValue]

    public init(message: String?, fields: [String: JSONValue] = [:]) {
        self.message = message
        self.fields = fields
    }
}

public struct TriggerCondition: Sendable, Equatable {
    /// A condition in the analysis expression language, over `rollout` (and `event`).
    /// Without one, a custom trigger fires only for an event that names it (a metric's `onFailure: {notify}`);
    /// a built-in trigger's condition is always true.
    public var when: String?
    public var send: [String]
    public var oncePer: String?
}
