import AviaryAPI
import KubeAPI

/// Where a pod template names a ConfigMap or Secret: `envFrom`, `env[].valueFrom`,
/// volumes and projected volumes, in containers and init containers. One walk
/// both finds the references and rewrites their names, so what is found is
/// exactly what is rewritten.
public enum ConfigReferences {
    /// One place a template names an object.
    public struct Reference: Sendable, Hashable {
        public var ref: ConfigObjectRef
        /// The reference says `optional: true`: a missing object is fine.
        public var optional: Bool
        /// The field, as a user finds it: "spec.template.spec.containers[0].envFrom[1].configMapRef".
        public var path: String
    }

    /// Every reference in `template`, in the order the fields appear.
    public static func find(in template: JSONValue?) -> [Reference] {
        guard let template else { return [] }
        var found: [Reference] = []
        _ = rewrite(template) { found.append($0); return nil }
        return found
    }

    /// `template` with each reference's name replaced by what `rename` says (nil: unchanged).
    public static func rewrite(_ template: JSONValue, _ rename: (Reference) -> String?) -> JSONValue {
        var t = template
        edit(&t, ["spec"]) { spec in
            for list in ["initContainers", "containers"] {
                editArray(&spec, list) { container, i in
                    let base = "spec.template.spec.\(list)[\(i)]"
                    editArray(&container, "envFrom") { source, j in
                        for (field, kind) in [("configMapRef", ConfigKind.configMap), ("secretRef", .secret)] {
                            named(&source, [field], "name", kind, "\(base).envFrom[\(j)].\(field)", rename)
                        }
                    }
                    editArray(&container, "env") { variable, j in
                        for (field, kind) in [("configMapKeyRef", ConfigKind.configMap), ("secretKeyRef", .secret)] {
                            named(&variable, ["valueFrom", field], "name", kind, "\(base).env[\(j)].valueFrom.\(field)", rename)
                        }
                    }
                }
            }
            editArray(&spec, "volumes") { volume, k in
                let base = "spec.template.spec.volumes[\(k)]"
                named(&volume, ["configMap"], "name", .configMap, "\(base).configMap", rename)
                named(&volume, ["secret"], "secretName", .secret, "\(base).secret", rename)
                edit(&volume, ["projected"]) { projected in
                    editArray(&projected, "sources") { source, m in
                        named(&source, ["configMap"], "name", .configMap, "\(base).projected.sources[\(m)].configMap", rename)
                        named(&source, ["secret"], "name", .secret, "\(base).projected.sources[\(m)].secret", rename)
                    }
                }
            }
        }
        return t
    }

    /// The object at `path` (an object itself), if any, with its `field` naming a `kind`.
    static func named(_ value: inout JSONValue, _ path: [String], _ field: String, _ kind: ConfigKind, _ at: String,
                      _ rename: (Reference) -> String?) {
        edit(&value, path) { object in
            guard case .object(var o) = object, let name = o[field]?.stringValue, !name.isEmpty else { return }
            let optional: Bool
            if case .bool(let b)? = o["optional"] { optional = b } else { optional = false }
            if let new = rename(Reference(ref: ConfigObjectRef(kind, name), optional: optional, path: at)), new != name {
                o[field] = .string(new)
                object = .object(o)
            }
        }
    }

    static func edit(_ value: inout JSONValue, _ path: [String], _ body: (inout JSONValue) -> Void) {
        guard let first = path.first else {
            body(&value)
            return
        }
        guard case .object(var o) = value, var child = o[first] else { return }
        edit(&child, Array(path.dropFirst()), body)
        o[first] = child
        value = .object(o)
    }

    static func editArray(_ value: inout JSONValue, _ key: String, _ body: (inout JSONValue, Int) -> Void) {
        guard case .object(var o) = value, case .array(var items)? = o[key] else { return }
        for i in items.indices { body(&items[i], i) }
        o[key] = .array(items)
        value = .object(o)
    }
}
