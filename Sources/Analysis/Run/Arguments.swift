import AviaryAPI
import Foundation
import Kube

/// A run's arguments, resolved for one measurement. Secret values live here
/// only, in memory: `redact` scrubs them from every message before it is
/// written to status, an event or a log.
public struct Arguments: Sendable {
    public private(set) var values: [String: String] = [:]
    public private(set) var secrets: [String] = []

    public init() {}

    /// Resolves `value` and `valueFrom.secretKeyRef`. A Rollout resolves
    /// `podTemplateHashValue` and `fieldRef` before the run is created, so
    /// they arrive here as values.
    public static func resolve(_ args: [AnalysisArgument], secret: (AnalysisArgument.SecretKeyRef) async throws -> String) async throws -> Arguments {
        var out = Arguments()
        for arg in args {
            if let value = arg.value {
                out.values[arg.name] = value
            } else if let ref = arg.valueFrom?.secretKeyRef {
                let value = try await secret(ref)
                out.values[arg.name] = value
                if !value.isEmpty { out.secrets.append(value) }
            }
        }
        return out
    }

    /// Replaces each `{{args.name}}` (spaces inside the braces allowed); an
    /// argument without a value is an error naming it.
    public func substitute(_ text: String) throws -> String {
        var out = ""
        var rest = Substring(text)
        while let open = rest.range(of: "{{") {
            out += rest[..<open.lowerBound]
            guard let close = rest[open.upperBound...].range(of: "}}") else {
                out += rest[open.lowerBound...]
                return out
            }
            let inner = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
            if inner.hasPrefix("args.") {
                let name = String(inner.dropFirst(5))
                guard let value = values[name] else { throw ProviderError("argument \"\(name)\" has no value") }
                out += value
            } else {
                out += rest[open.lowerBound..<close.upperBound]
            }
            rest = rest[close.upperBound...]
        }
        return out + rest
    }

    /// Substitutes in every string of a JSON document (a Job template).
    public func substitute(_ json: JSONValue) throws -> JSONValue {
        switch json {
        case .string(let s): return .string(try substitute(s))
        case .array(let a): return .array(try a.map { try substitute($0) })
        case .object(let o): return .object(try o.mapValues { try substitute($0) })
        default: return json
        }
    }

    public func redact(_ text: String) -> String {
        secrets.reduce(text) { $0.replacingOccurrences(of: $1, with: "*****") }
    }
}
