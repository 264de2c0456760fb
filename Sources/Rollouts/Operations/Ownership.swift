import AviaryAPI
import KubeAPI

/// Which objects belong to a Rollout. One rule for the controller (what it
/// counts, scales and adopts), `get` (what it shows) and `undo` (what it can
/// go back to), so the three never disagree about a ReplicaSet.
public enum Ownership {
    /// How a ReplicaSet stands to one Rollout.
    public enum Relation: Sendable, Hashable {
        /// Its controller ownerReference names the Rollout's uid.
        case owned
        /// It has no controller, carries a pod-template hash and matches the
        /// Rollout's selector: the controller adopts it, so it counts as the
        /// Rollout's already (a Rollout replacing a Deployment keeps its pods).
        case adoptable
        /// Something else controls it: never touched.
        case foreign
        /// No controller, but it does not match (or has no hash label).
        case unrelated
    }

    /// The rule itself. Only the *controller* reference counts, as in
    /// Kubernetes' garbage collector: a non-controller reference to the
    /// Rollout neither claims nor blocks a ReplicaSet.
    public static func relation(of replicaSet: ReplicaSet, to rollout: Rollout) -> Relation {
        if let owner = controller(of: replicaSet.metadata) {
            return owner.uid == rollout.metadata.uid ? .owned : .foreign
        }
        guard replicaSet.podTemplateHash != nil, rollout.spec.selector?.matches(replicaSet.metadata.labels ?? [:]) == true else {
            return .unrelated
        }
        return .adoptable
    }

    /// The Rollout's ReplicaSets, owned and adoptable, in the order given.
    public static func replicaSets(of rollout: Rollout, among replicaSets: [ReplicaSet]) -> [ReplicaSet] {
        replicaSets.filter {
            switch relation(of: $0, to: rollout) {
            case .owned, .adoptable: return true
            case .foreign, .unrelated: return false
            }
        }
    }

    /// Whether the Rollout controls an object it made (an AnalysisRun): its
    /// controller reference names the Rollout's uid. Nothing is adopted here.
    public static func isControlled(_ meta: ObjectMeta, by rollout: Rollout) -> Bool {
        guard let uid = rollout.metadata.uid else { return false }
        return controller(of: meta)?.uid == uid
    }

    /// A ReplicaSet's pod template as the user wrote it: without the hash
    /// label, and without the role labels and annotations the controller put
    /// on it (canary/stable, active/preview metadata). An undo that copied
    /// those back would make a template no ReplicaSet has: a new revision
    /// instead of the old one. Keys the Rollout's own template carries stay,
    /// with the template's value.
    public static func userTemplate(of rs: ReplicaSet, for rollout: Rollout) -> JSONValue? {
        guard let template = rs.templateWithoutHash else { return nil }
        let strategy = rollout.spec.strategy
        let roles = [strategy?.canary?.canaryMetadata, strategy?.canary?.stableMetadata,
                     strategy?.blueGreen?.activeMetadata, strategy?.blueGreen?.previewMetadata].compactMap { $0 }
        var out = template
        for (field, keys) in [("labels", Set(roles.flatMap { ($0.labels ?? [:]).keys })),
                              ("annotations", Set(roles.flatMap { ($0.annotations ?? [:]).keys }))] where !keys.isEmpty {
            guard case .object(var map)? = out["metadata"]?[field] else { continue }
            let own: [String: JSONValue]
            if case .object(let o)? = rollout.spec.template?["metadata"]?[field] { own = o } else { own = [:] }
            for key in keys { map[key] = own[key] }
            out = out.setting(["metadata", field], to: .object(map))
        }
        return out
    }

    /// Whether `template` is this ReplicaSet's user template (see
    /// `userTemplate`), also when the cache keeps a cut-down template:
    /// then the metadata is compared whole and the pod spec by its digest.
    /// - Parameter specDigest: `PodTemplateHash.digest` of `template["spec"]`, worked out once by a
    ///   caller that asks about several ReplicaSets (nil: worked out here when needed).
    public static func hasUserTemplate(_ rs: ReplicaSet, _ template: JSONValue, specDigest: String? = nil, for rollout: Rollout) -> Bool {
        guard let user = userTemplate(of: rs, for: rollout) else { return false }
        guard let digest = rs.cachedSpecDigest else { return user == template }
        return user["metadata"] == template["metadata"]
            && (specDigest ?? PodTemplateHash.digest(template["spec"] ?? .null)) == digest
    }

    /// The first ownerReference marked controller (the API server allows one).
    static func controller(of meta: ObjectMeta) -> OwnerReference? {
        meta.ownerReferences?.first { $0.controller == true }
    }

    /// What `get` shows of a Rollout, picked out of a namespace's lists.
    public struct Family: Sendable {
        public var replicaSets: [ReplicaSet]
        /// Pods of those ReplicaSets, by their hash label.
        public var pods: [Pod]
        public var analysisRuns: [AnalysisRun]
    }

    public static func family(of rollout: Rollout, replicaSets: [ReplicaSet], pods: [Pod], analysisRuns: [AnalysisRun]) -> Family {
        let mine = Self.replicaSets(of: rollout, among: replicaSets)
        let hashes = Set(mine.compactMap(\.podTemplateHash))
        return Family(replicaSets: mine,
                      pods: pods.filter { $0.metadata.labels?[podTemplateHashLabel].map(hashes.contains) == true },
                      analysisRuns: analysisRuns.filter { isControlled($0.metadata, by: rollout) })
    }
}

/// A Rollout's ReplicaSets as revisions (by the revision annotation), for
/// `undo` and for anything that asks "which is revision N" or "which is stable".
public struct Revisions: Sendable {
    public let rollout: Rollout
    /// The Rollout's ReplicaSets (by `Ownership`), newest revision first; one
    /// without a readable revision counts as 0, so it comes last.
    public let newestFirst: [ReplicaSet]

    /// `replicaSets` may be the whole namespace's: ownership is applied here.
    public init(of rollout: Rollout, among replicaSets: [ReplicaSet]) {
        self.rollout = rollout
        newestFirst = Ownership.replicaSets(of: rollout, among: replicaSets).sorted { ($0.revision ?? 0) > ($1.revision ?? 0) }
    }

    /// The revision numbers there are, oldest first, each once.
    public var numbers: [Int] { Array(Set(newestFirst.compactMap(\.revision))).sorted() }

    public func replicaSet(revision: Int) -> ReplicaSet? { newestFirst.first { $0.revision == revision } }

    /// The ReplicaSet status.stableRS names: what serves when nothing is updating.
    public var stable: ReplicaSet? { replicaSet(hash: rollout.status?.stableRS) }

    /// The ReplicaSet of the template the controller last worked on (status.currentPodHash).
    public var current: ReplicaSet? { replicaSet(hash: rollout.status?.currentPodHash) }

    func replicaSet(hash: String?) -> ReplicaSet? {
        guard let hash else { return nil }
        return newestFirst.first { $0.podTemplateHash == hash }
    }

    /// What `undo` goes back to: revision `n`, or with none given the newest
    /// one that is not the current template. The current one is never a
    /// target: going back to where one is would change nothing.
    public func undoTarget(toRevision n: Int?) -> Result<ReplicaSet, UserActionError> {
        let currentHash = rollout.status?.currentPodHash
        let candidates = newestFirst.filter { $0.podTemplateHash != currentHash }
        guard let n else {
            return candidates.first.map { .success($0) } ?? .failure(.noPreviousRevision)
        }
        if let rs = candidates.first(where: { $0.revision == n }) { return .success(rs) }
        if current?.revision == n { return .failure(.alreadyAtRevision(n)) }
        return .failure(.noSuchRevision(n, existing: numbers))
    }
}
