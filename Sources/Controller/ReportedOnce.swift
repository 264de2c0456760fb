import Kube
import Synchronization

/// The undecodable objects already reported, by key and resourceVersion, so
/// each version is said once even when its status cannot be written.
final class ReportedOnce: Sendable {
    private struct Version: Hashable {
        var key: ObjectKey
        var resourceVersion: String?
    }

    private let seen = Mutex<Set<Version>>([])

    /// True the first time for this version of the object.
    func claim(_ u: Undecodable) -> Bool {
        let key = Version(key: ObjectKey(u.metadata), resourceVersion: u.metadata.resourceVersion)
        return seen.withLock { s in
            if s.count > 10_000 { s.removeAll() }
            return s.insert(key).inserted
        }
    }
}
