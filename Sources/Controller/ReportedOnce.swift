import Kube
import Synchronization

/// The undecodable objects already reported, by key and resourceVersion, so
/// each version is said once even when its status cannot be written.
final class ReportedOnce: Sendable {
    private let seen = Mutex<Set<String>>([])

    /// True the first time for this version of the object.
    func claim(_ u: Undecodable) -> Bool {
        let key = "\(u.metadata.namespace ?? "")/\(u.metadata.name ?? "")@\(u.metadata.resourceVersion ?? "")"
        return seen.withLock { s in
            if s.count > 10_000 { s.removeAll() }
            return s.insert(key).inserted
        }
    }
}
