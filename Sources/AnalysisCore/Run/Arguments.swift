import AviaryAPI
import Foundation
import KubeAPI

/// A run's arguments, resolved for one measurement. Secret values live here
/// only, in memory: `redact` scrubs them from every message before it is
/// written to status, an event or a log.
public struct Arguments: Sendable {
    public private(set) var values: [String: String] = [:]
    public private(set) var secrets: [String] = []
    /// Every form of every secret that `redact` looks for, longest first.
    private var forms: [String] = []

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
                out.addSecret(value)
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

    /// Registers a value read from a Secret elsewhere (a provider's bearer
    /// token, a basic-auth password, or "user:password"), so it is redacted too.
    public mutating func addSecret(_ value: String) {
        guard !value.isEmpty, !secrets.contains(value) else { return }
        secrets.append(value)
        var all = Set(forms)
        all.formUnion(Self.forms(of: value))
        forms = all.sorted { $0.utf8.count != $1.utf8.count ? $0.utf8.count > $1.utf8.count : $0 < $1 }
    }

    public static let redacted = "*****"

    /// Replaces every secret with `*****`, in each form it could take on the
    /// way back: as is, whitespace-trimmed, percent-encoded (upper- or
    /// lower-case hex, `+` or `%20` for spaces), base64 (standard and URL-safe,
    /// padded or not, as in a basic Authorization header) and JSON-escaped.
    /// Longest forms first, so a form containing another goes whole. (A
    /// secret split across lines, or base64-encoded inside a longer text at
    /// an offset, cannot be recognised.)
    public func redact(_ text: String) -> String {
        forms.reduce(text) { $0.contains($1) ? $0.replacingOccurrences(of: $1, with: Self.redacted) : $0 }
    }

    /// The forms of one secret that `redact` looks for.
    static func forms(of secret: String) -> Set<String> {
        var out: Set<String> = []
        let trimmed = secret.trimmingCharacters(in: .whitespacesAndNewlines)
        for v in Set([secret, trimmed]) where !v.isEmpty {
            out.insert(v)
            let bytes = Array(v.utf8)
            for keep in [unreserved, queryKeep, pathKeep] {
                for lower in [false, true] {
                    out.insert(percentEncoded(bytes, keep: keep, spaceAsPlus: false, lowerHex: lower))
                    out.insert(percentEncoded(bytes, keep: keep, spaceAsPlus: true, lowerHex: lower))
                }
            }
            let standard = Data(bytes).base64EncodedString()
            let unpadded = String(standard.prefix { $0 != "=" })
            let urlSafe = standard.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            out.formUnion([standard, unpadded, urlSafe, String(urlSafe.prefix { $0 != "=" })])
            out.formUnion(jsonEscaped(v))
        }
        out.remove("")
        return out
    }

    /// RFC 3986 unreserved characters: what a strict encoder leaves alone.
    static let unreserved: Set<UInt8> = Set(Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~".utf8))
    /// What a lenient query encoder also leaves alone.
    static let queryKeep: Set<UInt8> = unreserved.union("!$&'()*+,;=:@/?".utf8)
    /// What a path encoder also leaves alone.
    static let pathKeep: Set<UInt8> = unreserved.union("!$&'()*+,;=:@/".utf8)

    static func percentEncoded(_ bytes: [UInt8], keep: Set<UInt8>, spaceAsPlus: Bool, lowerHex: Bool) -> String {
        let digits = Array((lowerHex ? "0123456789abcdef" : "0123456789ABCDEF").utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 3)
        for b in bytes {
            if spaceAsPlus, b == 0x20 {
                out.append(0x2b)
            } else if keep.contains(b), !(spaceAsPlus && b == 0x2b) {
                out.append(b)
            } else {
                out += [0x25, digits[Int(b >> 4)], digits[Int(b & 0x0f)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The secret as it reads inside a JSON string (with and without `\/`).
    static func jsonEscaped(_ v: String) -> Set<String> {
        var plain = ""
        for scalar in v.unicodeScalars {
            switch scalar {
            case "\"": plain += "\\\""
            case "\\": plain += "\\\\"
            case "\n": plain += "\\n"
            case "\r": plain += "\\r"
            case "\t": plain += "\\t"
            case _ where scalar.value < 0x20: plain += String(format: "\\u%04x", scalar.value)
            default: plain.unicodeScalars.append(scalar)
            }
        }
        return [plain, plain.replacingOccurrences(of: "/", with: "\\/")]
    }
}
