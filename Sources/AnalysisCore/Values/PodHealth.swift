import AviaryAPI
import KubeAPI

/// What the `pods` provider measures: the health of one ReplicaSet's pods,
/// read from their status, as the `result` a condition sees:
///
/// ```
/// {pods, ready, notReady, restarts, maxRestarts, oomKilled, crashLooping,
///  imagePullFailures, terminationReasons: {OOMKilled: 1, …}, waitingReasons: {CrashLoopBackOff: 1, …}}
/// ```
///
/// Counts are of containers (init containers are not in the cached pod),
/// except `pods`, `ready` and `notReady`; a pod being deleted is not counted.
/// `restarts` is the sum of restartCount, `maxRestarts` the most of any one
/// container. A container counts once in `terminationReasons`: by its
/// current termination if it has one, else its last. Status fields are
/// read defensively: a restartCount that is not a whole number in
/// 0…2³¹−1 reads as 0 or is clamped, and reason names are cut and capped,
/// so a hostile status can neither overflow a count nor grow the result.
public enum PodHealth {
    /// Reasons kept per map; the rest are summed under "other".
    public static let maxReasons = 16
    /// Characters of a reason name kept.
    public static let maxReasonLength = 64
    /// Waiting reasons that mean the image cannot be pulled.
    public static let imagePullReasons: Set<String> = ["ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"]

    public static func summary(_ pods: [Pod]) -> JSONValue {
        var count = 0, ready = 0, restarts = 0, maxRestarts = 0, oom = 0, crashLooping = 0, pullFailures = 0
        var terminated: [String: Int] = [:], waiting: [String: Int] = [:]
        for pod in pods where pod.metadata.deletionTimestamp == nil {
            count += 1
            if pod.isReady { ready += 1 }
            for c in pod.status?.containerStatuses ?? [] {
                let n = restartCount(c["restartCount"])
                restarts = restarts > Int(Int32.max) - n ? Int(Int32.max) : restarts + n
                maxRestarts = max(maxRestarts, n)
                let current = c["state"]?["terminated"]?["reason"]?.stringValue
                let last = c["lastState"]?["terminated"]?["reason"]?.stringValue
                if let reason = current ?? last {
                    if reason == "OOMKilled" { oom += 1 }
                    add(reason, to: &terminated)
                }
                if let reason = c["state"]?["waiting"]?["reason"]?.stringValue {
                    if reason == "CrashLoopBackOff" { crashLooping += 1 }
                    if imagePullReasons.contains(reason) { pullFailures += 1 }
                    add(reason, to: &waiting)
                }
            }
        }
        func number(_ n: Int) -> JSONValue { .number(Double(n)) }
        return .object([
            "pods": number(count), "ready": number(ready), "notReady": number(count - ready),
            "restarts": number(restarts), "maxRestarts": number(maxRestarts),
            "oomKilled": number(oom), "crashLooping": number(crashLooping), "imagePullFailures": number(pullFailures),
            "terminationReasons": .object(terminated.mapValues(number)), "waitingReasons": .object(waiting.mapValues(number)),
        ])
    }

    /// A restartCount as the API writes it (a whole number ≥ 0); anything else reads as 0, a huge one as 2³¹−1.
    static func restartCount(_ v: JSONValue?) -> Int {
        guard case .number(let d)? = v, d.isFinite, d >= 0, d == d.rounded(.towardZero) else { return 0 }
        return d >= Double(Int32.max) ? Int(Int32.max) : Int(d)
    }

    static func add(_ reason: String, to counts: inout [String: Int]) {
        var key = reason.isEmpty ? "unknown" : String(reason.prefix(maxReasonLength))
        if counts[key] == nil, counts.count >= maxReasons - 1, key != "other" { key = "other" }
        counts[key, default: 0] += 1
    }
}
