import AviaryAPI
import KubeAPI

/// A Job metric never carries a secret's plaintext: a Job spec is readable by
/// anyone who can read Jobs, and it outlives the measurement.
///
/// The one place a secret-valued argument may appear in a Job template is
/// the whole `value` of a container's `env` entry:
///
///     env: [{name: TOKEN, value: "{{args.token}}"}]
///
/// which becomes, when the Job is created,
///
///     env: [{name: TOKEN, valueFrom: {secretKeyRef: {name: <secret>, key: <key>}}}]
///
/// so the kubelet reads the Secret and the plaintext never enters the Job.
/// Any other use (a command, an annotation, an env value with other text
/// around it) is a problem naming the argument and where it is.
public enum JobSecrets {
    /// Where a `{{args.x}}` naming a secret-valued argument is used other than
    /// as a whole container env value, as messages naming the argument and
    /// the path inside the metric (`provider.job.spec.template…`). Empty when
    /// the template is fine. Pure: the Rollout's validation calls it.
    public static func problems(job: JSONValue, secretArgs: Set<String>) -> [String] {
        guard !secretArgs.isEmpty else { return [] }
        var out: [String] = []
        walk(job, path: []) { path, text in
            let used = references(in: text).filter(secretArgs.contains)
            guard !used.isEmpty else { return }
            let whole = wholeReference(text)
            for name in used {
                let at = render(path)
                if isEnvValue(path), whole == name { continue }
                if isEnvValue(path) {
                    out.append("secret argument \"\(name)\" is used in \(at) together with other text; a Job may take a secret "
                               + "only as the whole value of a container env entry (value: \"{{args.\(name)}}\"), which Aviary turns into "
                               + "valueFrom.secretKeyRef — add any prefix in the container's command instead")
                } else {
                    out.append("secret argument \"\(name)\" is used in \(at); a Job may take a secret only as the whole value of a "
                               + "container env entry (value: \"{{args.\(name)}}\"), which Aviary turns into valueFrom.secretKeyRef so the "
                               + "plaintext never enters the Job — pass it through an environment variable and read it from there, e.g. $(\(envName(name)))")
                }
            }
        }
        return out
    }

    /// The template with every container env value that is exactly a secret
    /// argument turned into `valueFrom.secretKeyRef`. Throws `ProviderError`
    /// listing the problems when a secret is used anywhere else, so an
    /// AnalysisRun written by hand cannot put one in a Job either.
    public static func prepare(_ job: JSONValue, secrets: [String: AnalysisArgument.SecretKeyRef]) throws -> JSONValue {
        let problems = problems(job: job, secretArgs: Set(secrets.keys))
        guard problems.isEmpty else { throw ProviderError("job: " + problems.joined(separator: "; ")) }
        guard !secrets.isEmpty else { return job }
        return convert(job, path: [], secrets: secrets)
    }

    /// The secret-valued arguments of a run, by name.
    public static func secretRefs(_ args: [AnalysisArgument]?) -> [String: AnalysisArgument.SecretKeyRef] {
        var out: [String: AnalysisArgument.SecretKeyRef] = [:]
        for arg in args ?? [] {
            if arg.value == nil, let ref = arg.valueFrom?.secretKeyRef { out[arg.name] = ref }
        }
        return out
    }

    // MARK: paths

    enum Step: Equatable {
        case key(String)
        case index(Int)
    }

    static let containerLists: Set<String> = ["containers", "initContainers"]

    /// `spec.template.spec.(init)containers[i].env[j].value`
    static func isEnvValue(_ p: [Step]) -> Bool {
        guard p.count == 8, p[0] == .key("spec"), p[1] == .key("template"), p[2] == .key("spec"),
              case .key(let list) = p[3], containerLists.contains(list), case .index = p[4],
              p[5] == .key("env"), case .index = p[6], p[7] == .key("value") else { return false }
        return true
    }

    static func render(_ path: [Step]) -> String {
        var out = "provider.job"
        for step in path {
            switch step {
            case .key(let k):
                let plain = !k.isEmpty && k.utf8.allSatisfy { b in
                    (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b == 0x5f || b == 0x2d
                }
                out += plain ? ".\(k)" : "[\"\(k)\"]"
            case .index(let i):
                out += "[\(i)]"
            }
        }
        return out
    }

    static func walk(_ json: JSONValue, path: [Step], _ visit: ([Step], String) -> Void) {
        switch json {
        case .string(let s):
            visit(path, s)
        case .array(let a):
            for (i, v) in a.enumerated() { walk(v, path: path + [.index(i)], visit) }
        case .object(let o):
            for k in o.keys.sorted() {
                if let v = o[k] { walk(v, path: path + [.key(k)], visit) }
            }
        default:
            break
        }
    }

    // MARK: references

    /// The argument names a string refers to, as `Arguments.substitute` reads them.
    static func references(in text: String) -> [String] {
        var names: [String] = []
        var rest = Substring(text)
        while let open = rest.range(of: "{{") {
            guard let close = rest[open.upperBound...].range(of: "}}") else { break }
            let inner = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
            if inner.hasPrefix("args.") { names.append(String(inner.dropFirst(5))) }
            rest = rest[close.upperBound...]
        }
        return names
    }

    /// The argument a string consists of exactly (`{{args.x}}`, `{{ args.x }}`), or nil.
    static func wholeReference(_ text: String) -> String? {
        guard text.hasPrefix("{{"), text.hasSuffix("}}"), text.utf8.count >= 4 else { return nil }
        let inner = text.dropFirst(2).dropLast(2)
        guard !inner.contains("{{"), !inner.contains("}}") else { return nil }
        let trimmed = inner.trimmingCharacters(in: .whitespaces)
        guard trimmed.hasPrefix("args.") else { return nil }
        return String(trimmed.dropFirst(5))
    }

    static func envName(_ arg: String) -> String {
        String(arg.uppercased().map { $0.isLetter || $0.isNumber ? $0 : "_" })
    }

    // MARK: conversion

    static func convert(_ json: JSONValue, path: [Step], secrets: [String: AnalysisArgument.SecretKeyRef]) -> JSONValue {
        switch json {
        case .array(let a):
            return .array(a.enumerated().map { convert($0.element, path: path + [.index($0.offset)], secrets: secrets) })
        case .object(var o):
            // An env entry: {name, value: "{{args.secret}}"} → {name, valueFrom: {secretKeyRef: {name, key}}}.
            if path.count == 7, isEnvValue(path + [.key("value")]), case .string(let value)? = o["value"],
               let arg = wholeReference(value), let ref = secrets[arg] {
                o["value"] = nil
                o["valueFrom"] = ["secretKeyRef": ["name": .string(ref.name), "key": .string(ref.key)]]
                return .object(o)
            }
            var out: [String: JSONValue] = [:]
            for (k, v) in o { out[k] = convert(v, path: path + [.key(k)], secrets: secrets) }
            return .object(out)
        default:
            return json
        }
    }
}
