import Foundation
import Kube
import Logging

/// cAdvisor's memory series for every running container, so a rollback
/// trigger on memory ("above 90 % of its limit for 15 minutes") has
/// something real to measure, under the names and labels a kubelet's
/// `/metrics/cadvisor` gives them:
/// - `container_memory_working_set_bytes{namespace, pod, container}`;
/// - `container_spec_memory_limit_bytes{namespace, pod, container}`: the
///   container's `resources.limits.memory`, and 0 when it has none (as
///   cAdvisor reports an unlimited container, so a query divides by
///   `(container_spec_memory_limit_bytes > 0)`).
///
/// A pod template sets the working set as a share of the limit with
/// `podsim.aviary.dev/memory: "0.95"` (default 0.5, clamped to 0…1); a
/// container without a limit takes that share of 512 MiB. A pod counts from
/// the moment podsim marks it Running until it is deleted, Ready or not, as
/// a container uses memory whether or not it passes its readiness probe.
actor ResourceUsage {
    static let memory = "podsim.aviary.dev/memory"
    static let defaultShare = 0.5
    /// What a container without a memory limit works against.
    static let unlimitedBasis = 512.0 * 1024 * 1024

    struct Container: Equatable {
        var name: String
        /// Bytes; 0 for none.
        var limit: Double
        var workingSet: Double
    }

    struct Usage: Equatable {
        var namespace: String
        var pod: String
        var containers: [Container]
    }

    private var running: [String: Usage] = [:]

    /// Tracks a pod while it runs.
    func observe(_ pod: ResourcePod) {
        guard let uid = pod.metadata.uid else { return }
        guard pod.status?.phase == "Running", pod.metadata.deletionTimestamp == nil else {
            running[uid] = nil
            return
        }
        running[uid] = Self.usage(of: pod)
    }

    func forget(_ pod: ResourcePod) {
        if let uid = pod.metadata.uid { running[uid] = nil }
    }

    func reset() { running = [:] }

    static func usage(of pod: ResourcePod) -> Usage {
        let share = Self.share(pod.metadata.annotations?[Self.memory])
        let containers = (pod.spec?.containers ?? []).compactMap { c -> Container? in
            guard let name = c.name, !name.isEmpty else { return nil }
            let limit = c.resources?.limits?["memory"].flatMap(Quantity.bytes) ?? 0
            return Container(name: name, limit: limit, workingSet: (share * (limit > 0 ? limit : Self.unlimitedBasis)).rounded())
        }
        return Usage(namespace: pod.metadata.namespace ?? "", pod: pod.metadata.name ?? "", containers: containers)
    }

    /// The annotation's share of the limit, 0…1; absent or unreadable (text, NaN) is the default.
    static func share(_ text: String?) -> Double {
        guard let text, let v = Double(text.trimmingCharacters(in: .whitespaces)), v.isFinite else { return defaultShare }
        return min(max(v, 0), 1)
    }

    func exposition() -> String {
        let pods = running.values.sorted { ($0.namespace, $0.pod) < ($1.namespace, $1.pod) }
        var workingSet = "# HELP container_memory_working_set_bytes Current working set of the container in bytes (simulated).\n"
            + "# TYPE container_memory_working_set_bytes gauge\n"
        var limits = "# HELP container_spec_memory_limit_bytes Memory limit for the container (0: none; simulated).\n"
            + "# TYPE container_spec_memory_limit_bytes gauge\n"
        for p in pods {
            for c in p.containers {
                let labels = "namespace=\"\(Self.escaped(p.namespace))\",pod=\"\(Self.escaped(p.pod))\",container=\"\(Self.escaped(c.name))\""
                workingSet += "container_memory_working_set_bytes{\(labels)} \(Self.number(c.workingSet))\n"
                limits += "container_spec_memory_limit_bytes{\(labels)} \(Self.number(c.limit))\n"
            }
        }
        return workingSet + limits
    }

    /// A label value in the text format: backslash, quote and newline escaped.
    static func escaped(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
    }

    /// Whole bytes, without Swift's ".0" or an exponent for the usual sizes.
    static func number(_ v: Double) -> String {
        guard v.isFinite, v >= 0 else { return "0" }
        return v < 1e18 ? String(format: "%.0f", v) : "\(v)"
    }

    /// Follows the pods until cancelled; a failed watch is logged and resumed.
    func watch(client: KubeClient, logger: Logger) async {
        while !Task.isCancelled {
            do {
                for try await event in Reflector<ResourcePod>(client: client, resource: .pods, logger: logger) {
                    switch event {
                    case .replaced(let pods, _):
                        reset()
                        for pod in pods { observe(pod) }
                    case .added(let pod), .modified(let pod): observe(pod)
                    case .deleted(let pod): forget(pod)
                    case .undecodable: break  // The readiness loop names it already.
                    }
                }
            } catch {
                logger.warning("memory series: the pod watch failed (\(error)); resuming in 1s")
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }
}

/// The fields of a pod the memory series need, read leniently: a limit may
/// be any JSON (a quantity is a string, but a number is not refused).
struct ResourcePod: KubeObject {
    var metadata: ObjectMeta
    var spec: Spec?
    var status: Status?

    struct Spec: Codable, Sendable {
        var containers: [Container]?
    }

    struct Container: Codable, Sendable {
        var name: String?
        var resources: Resources?
    }

    struct Resources: Codable, Sendable {
        var limits: [String: JSONValue]?
    }

    struct Status: Codable, Sendable {
        var phase: String?
    }
}

/// A Kubernetes resource quantity as bytes: "256Mi", "1Gi", "500M", "1.5e9",
/// "129e6", "1000k", "500m" (milli). nil for anything else, for a negative
/// or non-finite value, and for text longer than 64 characters.
enum Quantity {
    static let binary: [(String, Double)] = [("Ki", 0x1p10), ("Mi", 0x1p20), ("Gi", 0x1p30), ("Ti", 0x1p40), ("Pi", 0x1p50), ("Ei", 0x1p60)]
    static let decimal: [(String, Double)] = [("n", 1e-9), ("u", 1e-6), ("m", 1e-3), ("k", 1e3), ("M", 1e6), ("G", 1e9), ("T", 1e12), ("P", 1e15), ("E", 1e18)]

    static func bytes(_ value: JSONValue) -> Double? {
        switch value {
        case .string(let s): return bytes(s)
        case .number(let n): return n.isFinite && n >= 0 ? n : nil
        default: return nil
        }
    }

    static func bytes(_ text: String) -> Double? {
        let t = text.trimmingCharacters(in: .whitespaces)
        guard !t.isEmpty, t.count <= 64 else { return nil }
        var number = Substring(t), multiplier = 1.0
        if let e = t.lastIndex(where: { $0 == "e" || $0 == "E" }), e != t.startIndex, let exponent = Int(t[t.index(after: e)...]),
           (-30...30).contains(exponent) {
            // "1.5e9": a decimal exponent (a trailing "E" alone is exa, below).
            number = t[..<e]
            multiplier = pow(10, Double(exponent))
        } else if let (suffix, m) = (binary + decimal).first(where: { t.hasSuffix($0.0) }) {
            number = t.dropLast(suffix.count)
            multiplier = m
        }
        // Only digits, one dot and a sign: Double(_:) would also take "nan", "inf" and hex.
        guard !number.isEmpty, number.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == "." || $0 == "+" || $0 == "-") }),
              let v = Double(number) else { return nil }
        let bytes = v * multiplier
        return bytes.isFinite && bytes >= 0 ? bytes : nil
    }
}
