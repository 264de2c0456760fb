import AviaryAPI
import KubeAPI

/// A ReplicaSet as the controller's cache keeps it. The controller reads a
/// ReplicaSet's pod template for three things only: its labels and
/// annotations (role metadata), the ConfigMaps and Secrets it names (config
/// tracking) and whether a Rollout's template is the one it was made from
/// (an undo). So the cache keeps the template's metadata whole, of its pod
/// spec only the containers' names, images and config references and the
/// volumes that name a ConfigMap or Secret, and a digest of the whole pod
/// spec. A heap profile at 2,000 Rollouts put the ReplicaSets' templates
/// first among what the caches hold; a real template (probes, resources,
/// env, affinity) is many times the benchmark's.
///
/// Every write to a ReplicaSet is a merge patch of the fields it changes,
/// so the cut-down template is never sent back.
public enum CachedReplicaSet {
    public static func compact(_ rs: ReplicaSet) -> ReplicaSet {
        guard rs.cachedSpecDigest == nil, case .object(var template)? = rs.spec.template, let spec = template["spec"] else { return rs }
        var out = rs
        out.cachedSpecDigest = PodTemplateHash.digest(spec)
        template["spec"] = compactSpec(spec)
        out.spec.template = .object(template)
        return out
    }

    /// What `ConfigReferences` reads, and the images.
    static func compactSpec(_ spec: JSONValue) -> JSONValue {
        guard case .object(let s) = spec else { return .object([:]) }
        var out: [String: JSONValue] = [:]
        for list in ["initContainers", "containers"] {
            guard case .array(let containers)? = s[list] else { continue }
            out[list] = .array(containers.map(compactContainer))
        }
        if case .array(let volumes)? = s["volumes"] {
            let kept = volumes.filter { v in v["configMap"] != nil || v["secret"] != nil || v["projected"] != nil }
            if !kept.isEmpty { out["volumes"] = .array(kept.map(compactVolume)) }
        }
        return .object(out)
    }

    static func compactContainer(_ c: JSONValue) -> JSONValue {
        var out: [String: JSONValue] = [:]
        for key in ["name", "image"] { if let v = c[key] { out[key] = v } }
        if let from = c["envFrom"] { out["envFrom"] = from }
        if case .array(let env)? = c["env"] {
            let refs = env.filter { e in e["valueFrom"]?["configMapKeyRef"] != nil || e["valueFrom"]?["secretKeyRef"] != nil }
            if !refs.isEmpty { out["env"] = .array(refs) }
        }
        return .object(out)
    }

    static func compactVolume(_ v: JSONValue) -> JSONValue {
        var out: [String: JSONValue] = [:]
        for key in ["name", "configMap", "secret"] { if let x = v[key] { out[key] = x } }
        if case .array(let sources)? = v["projected"]?["sources"] {
            out["projected"] = ["sources": .array(sources.filter { $0["configMap"] != nil || $0["secret"] != nil })]
        }
        return .object(out)
    }
}
