import Foundation
import Yams

extension JSONValue {
    /// Every document of a YAML stream (`---` separated) as raw JSON, the way
    /// kubectl reads manifests. Empty documents are skipped.
    public static func documents(fromYAML text: String) throws -> [JSONValue] {
        var out: [JSONValue] = []
        for node in try Yams.compose_all(yaml: text) {
            let value = try JSONValue(yamlNode: node)
            if value != .null { out.append(value) }
        }
        return out
    }

    package init(yamlNode node: Node) throws {
        switch node {
        case .scalar(let scalar):
            if node.null != nil {
                self = .null
            } else if scalar.style == .plain, let b = node.bool {
                self = .bool(b)
            } else if scalar.style == .plain, let i = node.int {
                self = .number(Double(i))
            } else if scalar.style == .plain, let d = node.float, d.isFinite {
                self = .number(d)
            } else {
                self = .string(scalar.string)
            }
        case .sequence(let seq):
            self = .array(try seq.map { try JSONValue(yamlNode: $0) })
        case .mapping(let map):
            var object: [String: JSONValue] = [:]
            for (k, v) in map {
                guard let key = k.string else { throw KubeError.config("YAML: a mapping key is not a string") }
                object[key] = try JSONValue(yamlNode: v)
            }
            self = .object(object)
        case .alias:
            throw KubeError.config("YAML aliases are not supported")
        }
    }
}
