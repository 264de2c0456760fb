import AviaryAPI
import KubeAPI

/// On a Rollout, `abort --now`: a gradual rollback (abortStrategy.gradual)
/// goes to its end at once. A metadata annotation, not a status field, so the
/// status keeps Argo's fields only; the value is the RFC 3339 time of the
/// request, which tells this request from one left over by an earlier abort.
public let abortNowAnnotation = "aviary.dev/abort-now"

/// What a person can do to a Rollout (`kubectl aviary promote`, `abort`, …),
/// as the patches that do it. The CLI sends these and the tests drive
/// rollouts with them, so both speak to the controller in the same words:
/// Argo's status fields (pauseConditions, promoteFull, abort) and spec
/// fields (paused, restartAt, template).
public enum UserAction: Sendable, Hashable {
    /// End the current pause: clears status.pauseConditions (and spec.paused, if set).
    case promote
    /// Skip every remaining step (blue-green: straight to the cutover): status.promoteFull.
    case promoteFull
    /// Traffic back to stable (at once, or by abortStrategy.gradual): status.abort.
    case abort
    /// Abort, and skip a gradual rollback to its end: the `abortNowAnnotation`
    /// (the time `at`, or the abort's own `abortedAt` if later, so clock skew
    /// cannot make the request look older than the abort) and status.abort.
    case abortNow(at: KubeTime)
    /// Start an aborted update again from its first step: status.abort false.
    case retry
    /// Hold the steps: spec.paused.
    case pause
    /// Let the steps go on: spec.paused false.
    case resume
    /// Recreate the stable pods older than `at`, a few at a time: spec.restartAt.
    case restart(at: KubeTime)
    /// Put back a previous revision's template (nil: the one before the current).
    case undo(toRevision: Int?)
    /// Change one container's image in the template.
    case setImage(container: String, image: String)
    /// Take over an escalated failure (a metric's `onFailure: {notify, thenAbortAfter}`):
    /// the update holds past the grace period until a promote or an abort. The
    /// `acknowledgedAnnotation`, naming the failed run, so it applies to that failure only.
    case ack

    /// Whether `patches` must be given the namespace's ReplicaSets: only undo reads them.
    public var readsReplicaSets: Bool {
        if case .undo = self { return true }
        return false
    }

    /// The patches that perform the action on `rollout`, in the order to send
    /// them (spec before status, so a promote of a spec-paused Rollout is
    /// not paused again in between). `replicaSets` may be the namespace's;
    /// ownership is applied here.
    public func patches(for rollout: Rollout, replicaSets: [ReplicaSet] = []) -> Result<ActionPatches, UserActionError> {
        switch self {
        case .promote:
            return .success(ActionPatches(unpausing(rollout) + [.status(["pauseConditions": nil])]))
        case .promoteFull:
            return .success(ActionPatches(unpausing(rollout) + [.status(["promoteFull": true])]))
        case .abort:
            return .success(ActionPatches([.status(["abort": true])]))
        case .abortNow(let at):
            let stamp = max(at, rollout.status?.abortedAt ?? at)
            // Metadata first, so the reconcile that begins the abort sees the request too.
            return .success(ActionPatches([.metadata(["annotations": [abortNowAnnotation: .string(stamp.description)]]),
                                           .status(["abort": true])]))
        case .retry:
            return .success(ActionPatches([.status(["abort": false])]))
        case .pause:
            return .success(ActionPatches([.spec(["paused": true])]))
        case .resume:
            return .success(ActionPatches([.spec(["paused": false])]))
        case .restart(let at):
            return .success(ActionPatches([.spec(["restartAt": .string(at.description)])]))
        case .undo(let n):
            return Revisions(of: rollout, among: replicaSets).undoTarget(toRevision: n).flatMap { rs in
                // The ReplicaSet's template without the hash label the controller
                // added: the planner knows it again as that ReplicaSet's.
                // Never from a cache's cut-down template: that would replace the pod spec with a sketch of it.
                guard rs.cachedSpecDigest == nil, let template = Ownership.userTemplate(of: rs, for: rollout) else {
                    return .failure(.noTemplate(revision: rs.revision ?? 0))
                }
                // A JSON patch replace, not a merge: fields the old template lacks must go.
                return .success(ActionPatches([.replace(path: "/spec/template", value: template)], revision: rs.revision ?? 0,
                                              configSnapshots: ConfigTracking.snapshots(of: rs)))
            }
        case .setImage(let container, let image):
            let containers: [JSONValue]
            if case .array(let list)? = rollout.spec.template?["spec"]?["containers"] { containers = list } else { containers = [] }
            guard let i = containers.firstIndex(where: { $0["name"]?.stringValue == container }) else {
                return .failure(.noSuchContainer(container, existing: containers.compactMap { $0["name"]?.stringValue }))
            }
            // By index, so only this image changes (a merge patch would replace the whole list).
            return .success(ActionPatches([.replace(path: "/spec/template/spec/containers/\(i)/image", value: .string(image))]))
        case .ack:
            let s = rollout.status
            guard s?.pauseConditions?.contains(where: { $0.reason == .AnalysisEscalation }) == true,
                  let run = [s?.canary?.currentStepAnalysisRunStatus, s?.canary?.currentBackgroundAnalysisRunStatus,
                             s?.blueGreen?.prePromotionAnalysisRunStatus, s?.blueGreen?.postPromotionAnalysisRunStatus]
                    .compactMap({ $0 }).first(where: { $0.status == .Failed || $0.status == .Error }) else {
                return .failure(.nothingToAcknowledge)
            }
            return .success(ActionPatches([.metadata(["annotations": [acknowledgedAnnotation: .string(run.name)]])]))
        }
    }

    /// What a request means on this Rollout: aborting a Rollout that is
    /// already rolling back gradually asks for the end at once (`abort --now`),
    /// since a plain abort would change nothing.
    public func repeated(on rollout: Rollout, at now: KubeTime) -> UserAction {
        if case .abort = self, rollout.status?.abortedAt != nil, rollout.status?.canary?.rollback != nil { return .abortNow(at: now) }
        return self
    }

    /// What a person is told once the action went through: "promoted",
    /// "rolled back to revision 3", … (the CLI after the Rollout's name, the dashboard as is).
    public func outcome(_ done: ActionPatches) -> String {
        switch self {
        case .promote: return "promoted"
        case .promoteFull: return "fully promoted"
        case .abort: return "aborted"
        case .abortNow: return "aborted (rollback to its end at once)"
        case .retry: return "retried"
        case .pause: return "paused"
        case .resume: return "resumed"
        case .restart: return "restarted"
        case .undo:
            let said = "rolled back to revision \(done.revision ?? 0)"
            guard !done.configSnapshots.isEmpty else { return said }
            let sources = Set(done.configSnapshots.map { ConfigTracking.source(ofSnapshot: $0.name) }).sorted().joined(separator: ", ")
            return said + " with its configuration (\(done.configSnapshots.map(\.description).joined(separator: ", "))); "
                + "the template now names these snapshots, so edits to \(sources) roll out again once the Rollout names them (apply its manifest)"
        case .setImage: return "image updated"
        case .ack: return "acknowledged: it holds until you promote or abort"
        }
    }

    /// A spec-paused Rollout cannot be promoted without unpausing it.
    func unpausing(_ rollout: Rollout) -> [RolloutPatch] {
        rollout.spec.paused == true ? [.spec(["paused": false])] : []
    }
}

/// What a user action writes, and what it chose.
public struct ActionPatches: Sendable, Hashable {
    public var patches: [RolloutPatch]
    /// For undo: the revision gone back to.
    public var revision: Int?
    /// For undo of a Rollout tracking configuration: that revision's snapshots, now named by the template.
    public var configSnapshots: [ConfigObjectRef]

    public init(_ patches: [RolloutPatch], revision: Int? = nil, configSnapshots: [ConfigObjectRef] = []) {
        self.patches = patches
        self.revision = revision
        self.configSnapshots = configSnapshots
    }
}

/// One write to a Rollout, in a form that compares (for tests) and turns into
/// the client's `Patch` and subresource.
public enum RolloutPatch: Sendable, Hashable {
    /// A merge patch of spec fields: `{"spec": value}` on the Rollout.
    case spec(JSONValue)
    /// A merge patch of status fields: `{"status": value}` on the status subresource.
    case status(JSONValue)
    /// A merge patch of metadata (annotations): `{"metadata": value}` on the Rollout.
    case metadata(JSONValue)
    /// A JSON patch (RFC 6902) replacing one value of the Rollout, where a merge would keep what should go.
    case replace(path: String, value: JSONValue)

    public var patch: Patch {
        switch self {
        case .spec(let value): return .merge(["spec": value])
        case .status(let value): return .merge(["status": value])
        case .metadata(let value): return .merge(["metadata": value])
        case .replace(let path, let value): return .json([.replace(path, value)])
        }
    }

    /// "status" for status fields, which only the status subresource accepts.
    public var subresource: String? {
        if case .status = self { return "status" }
        return nil
    }
}

/// Why an action cannot be done, worded for the person who asked.
public enum UserActionError: Error, Sendable, Hashable, CustomStringConvertible {
    /// undo --to-revision N, and no ReplicaSet of the Rollout's is revision N.
    case noSuchRevision(Int, existing: [Int])
    /// undo --to-revision N, and N is the current revision.
    case alreadyAtRevision(Int)
    /// undo, and nothing precedes the current revision.
    case noPreviousRevision
    /// The revision's ReplicaSet has no template to go back to.
    case noTemplate(revision: Int)
    /// set image for a container the template does not have.
    case noSuchContainer(String, existing: [String])
    /// ack, and the Rollout is not holding on an escalated analysis failure.
    case nothingToAcknowledge

    public var description: String {
        switch self {
        case .noSuchRevision(let n, let existing):
            let known = existing.isEmpty ? "it has none" : "its revisions are \(existing.map(String.init).joined(separator: ", "))"
            return "no revision \(n) (\(known))"
        case .alreadyAtRevision(let n):
            return "revision \(n) is the current one already"
        case .noPreviousRevision:
            return "no previous revision to go back to"
        case .noTemplate(let n):
            return "revision \(n)'s ReplicaSet has no template"
        case .nothingToAcknowledge:
            return "nothing to acknowledge: the Rollout is not holding on a failed analysis (only a metric with onFailure: {notify, thenAbortAfter} holds)"
        case .noSuchContainer(let name, let existing):
            let known = existing.isEmpty ? "the template has none" : "its containers are \(existing.joined(separator: ", "))"
            return "no container \"\(name)\" (\(known))"
        }
    }
}
