import AviaryAPI
import Foundation
import KubeAPI
import Testing
@testable import Rollouts

/// The operations library: what each user action writes, and the one
/// ownership rule the controller, `get` and `undo` share.
@Suite struct OperationsTests {
    static let uid = "uid-web"

    static func rollout(paused: Bool? = nil, stable: String? = nil, current: String? = nil, uid: String? = OperationsTests.uid) -> Rollout {
        var spec = RolloutSpec(replicas: 2, selector: LabelSelector(matchLabels: ["app": "web"]),
                               template: ["metadata": ["labels": ["app": "web"]],
                                          "spec": ["containers": [["name": "web", "image": "web:1"], ["name": "proxy", "image": "envoy:1"]]]])
        spec.paused = paused
        var meta = ObjectMeta(name: "web", namespace: "shop")
        meta.uid = uid
        var r = Rollout(metadata: meta, spec: spec)
        var status = RolloutStatus()
        status.stableRS = stable
        status.currentPodHash = current
        r.status = status
        return r
    }

    static func owner(_ uid: String, controller: Bool? = true, kind: String = "Rollout") -> OwnerReference {
        OwnerReference(apiVersion: "aviary.dev/v1alpha1", kind: kind, name: "x", uid: uid, controller: controller)
    }

    static func replicaSet(_ hash: String?, revision: Int?, owners: [OwnerReference]? = [owner(uid)], labels: [String: String] = ["app": "web"]) -> ReplicaSet {
        var l = labels
        if let hash { l[podTemplateHashLabel] = hash }
        let template: JSONValue = ["metadata": ["labels": .object(l.mapValues { .string($0) })],
                                   "spec": ["containers": [["name": "web", "image": .string("web:\(hash ?? "none")")]]]]
        return ReplicaSet(metadata: ObjectMeta(name: "web-\(hash ?? "none")", namespace: "shop", labels: l,
                                               annotations: revision.map { [revisionAnnotation: String($0)] }, ownerReferences: owners),
                          spec: ReplicaSet.Spec(replicas: 1, selector: LabelSelector(matchLabels: l), template: template))
    }

    func patches(_ action: UserAction, _ r: Rollout, _ rs: [ReplicaSet] = []) throws -> [RolloutPatch] {
        try action.patches(for: r, replicaSets: rs).get().patches
    }

    // MARK: the patches, exactly as the CLI has always sent them

    @Test func promoteClearsThePauseConditions() throws {
        #expect(try patches(.promote, Self.rollout()) == [.status(["pauseConditions": nil])])
        // Spec-paused: unpaused first, in its own write to the spec.
        #expect(try patches(.promote, Self.rollout(paused: true)) == [.spec(["paused": false]), .status(["pauseConditions": nil])])
        // spec.paused false is not touched again.
        #expect(try patches(.promote, Self.rollout(paused: false)) == [.status(["pauseConditions": nil])])
    }

    @Test func promoteFullSetsPromoteFull() throws {
        #expect(try patches(.promoteFull, Self.rollout()) == [.status(["promoteFull": true])])
        #expect(try patches(.promoteFull, Self.rollout(paused: true)) == [.spec(["paused": false]), .status(["promoteFull": true])])
    }

    @Test func abortRetryPauseResume() throws {
        let r = Self.rollout()
        #expect(try patches(.abort, r) == [.status(["abort": true])])
        #expect(try patches(.retry, r) == [.status(["abort": false])])
        #expect(try patches(.pause, r) == [.spec(["paused": true])])
        #expect(try patches(.resume, r) == [.spec(["paused": false])])
    }

    /// `abort --now`: the annotation with the request's time, then the abort itself.
    @Test func abortNowAnnotatesTheRequestAndAborts() throws {
        let at = KubeTime(secondsSinceEpoch: 1_800_000_000)
        #expect(try patches(.abortNow(at: at), Self.rollout()) == [.metadata(["annotations": ["aviary.dev/abort-now": "2027-01-15T08:00:00Z"]]),
                                                                  .status(["abort": true])])
        // Never older than the abort it is for, whatever the client's clock says.
        var aborted = Self.rollout()
        aborted.status?.abort = true
        aborted.status?.abortedAt = KubeTime(secondsSinceEpoch: 1_800_000_060)
        #expect(try patches(.abortNow(at: at), aborted).first == .metadata(["annotations": ["aviary.dev/abort-now": "2027-01-15T08:01:00Z"]]))
    }

    /// A second abort of a Rollout rolling back gradually is abort --now; any other request is itself.
    @Test func aSecondAbortDuringAGradualRollbackIsAbortNow() {
        let now = KubeTime(secondsSinceEpoch: 1_800_000_000)
        var r = Self.rollout()
        #expect(UserAction.abort.repeated(on: r, at: now) == .abort)
        r.status?.abort = true
        r.status?.abortedAt = now
        #expect(UserAction.abort.repeated(on: r, at: now) == .abort, "an immediate abort has nothing to skip")
        r.status?.canary = CanaryStatus(weights: nil)
        r.status?.canary?.rollback = GradualRollbackStatus(weight: 25, since: now)
        #expect(UserAction.abort.repeated(on: r, at: now) == .abortNow(at: now))
        #expect(UserAction.retry.repeated(on: r, at: now) == .retry)
        #expect(UserAction.promote.repeated(on: r, at: now) == .promote)
    }

    @Test func restartWritesRestartAtInRFC3339() throws {
        let at = KubeTime(secondsSinceEpoch: 1_800_000_000)
        #expect(try patches(.restart(at: at), Self.rollout()) == [.spec(["restartAt": "2027-01-15T08:00:00Z"])])
    }

    @Test func setImageReplacesOneContainersImageByIndex() throws {
        #expect(try patches(.setImage(container: "proxy", image: "envoy:2"), Self.rollout())
            == [.replace(path: "/spec/template/spec/containers/1/image", value: "envoy:2")])
        let missing = UserAction.setImage(container: "db", image: "pg:16").patches(for: Self.rollout())
        #expect(missing == .failure(.noSuchContainer("db", existing: ["web", "proxy"])))
        #expect("\(UserActionError.noSuchContainer("db", existing: ["web", "proxy"]))" == #"no container "db" (its containers are web, proxy)"#)
        var bare = Self.rollout()
        bare.spec.template = nil
        #expect(UserAction.setImage(container: "web", image: "x").patches(for: bare) == .failure(.noSuchContainer("web", existing: [])))
    }

    /// The wire form: the body each patch sends, and where.
    @Test func patchesBecomeTheClientsPatches() throws {
        func wire(_ p: RolloutPatch) throws -> (String, JSONValue, String?) {
            let body = try JSONDecoder().decode(JSONValue.self, from: try p.patch.body())
            return (p.patch.contentType, body, p.subresource)
        }
        let status = try wire(.status(["abort": true]))
        #expect(status.0 == "application/merge-patch+json" && status.1 == ["status": ["abort": true]] && status.2 == "status")
        let spec = try wire(.spec(["paused": true]))
        #expect(spec.0 == "application/merge-patch+json" && spec.1 == ["spec": ["paused": true]] && spec.2 == nil)
        let nulls = try wire(.status(["pauseConditions": nil]))
        #expect(nulls.1 == ["status": ["pauseConditions": nil]], "null deletes the field in a merge patch")
        let metadata = try wire(.metadata(["annotations": ["aviary.dev/abort-now": "2027-01-15T08:00:00Z"]]))
        #expect(metadata.0 == "application/merge-patch+json" && metadata.1 == ["metadata": ["annotations": ["aviary.dev/abort-now": "2027-01-15T08:00:00Z"]]]
            && metadata.2 == nil)
        let replace = try wire(.replace(path: "/spec/template", value: ["a": 1]))
        #expect(replace.0 == "application/json-patch+json" && replace.1 == [["op": "replace", "path": "/spec/template", "value": ["a": 1]]] && replace.2 == nil)
    }

    @Test func onlyUndoReadsReplicaSets() {
        let all: [UserAction] = [.promote, .promoteFull, .abort, .abortNow(at: KubeTime(secondsSinceEpoch: 0)), .retry, .pause, .resume, .restart(at: KubeTime(secondsSinceEpoch: 0)),
                                 .undo(toRevision: nil), .setImage(container: "web", image: "x")]
        #expect(all.filter(\.readsReplicaSets) == [.undo(toRevision: nil)])
    }

    // MARK: undo and revisions

    static let history = [replicaSet("aaa", revision: 1), replicaSet("bbb", revision: 2), replicaSet("ccc", revision: 3)]

    @Test func undoGoesBackToThePreviousRevisionsTemplateWithoutTheHashLabel() throws {
        let r = Self.rollout(stable: "ccc", current: "ccc")
        let done = try UserAction.undo(toRevision: nil).patches(for: r, replicaSets: Self.history).get()
        #expect(done.revision == 2)
        #expect(done.patches == [.replace(path: "/spec/template", value: ["metadata": ["labels": ["app": "web"]],
                                                                        "spec": ["containers": [["name": "web", "image": "web:bbb"]]]])])
    }

    /// The controller writes role metadata into each ReplicaSet's template;
    /// undo leaves it out, so the old revision is found again, not a new one made.
    @Test func undoLeavesOutTheRoleMetadataTheControllerAdded() throws {
        var r = Self.rollout(stable: "ccc", current: "ccc")
        var bg = BlueGreenStrategy(activeService: "web", previewService: "web-preview")
        bg.activeMetadata = PodMetadata(labels: ["role": "active"])
        bg.previewMetadata = PodMetadata(labels: ["role": "preview", "tier": "preview"])
        r.spec.strategy = RolloutStrategy(blueGreen: bg)
        r.spec.template = ["metadata": ["labels": ["app": "web", "tier": "web"]], "spec": [:]]
        let old = Self.replicaSet("bbb", revision: 2, labels: ["app": "web", "role": "active", "tier": "preview"])
        let done = try UserAction.undo(toRevision: 2).patches(for: r, replicaSets: [old, Self.replicaSet("ccc", revision: 3)]).get()
        #expect(done.patches == [.replace(path: "/spec/template", value: ["metadata": ["labels": ["app": "web", "tier": "web"]],
                                                                        "spec": ["containers": [["name": "web", "image": "web:bbb"]]]])])
    }

    @Test func undoToARevision() throws {
        let r = Self.rollout(stable: "ccc", current: "ccc")
        #expect(try UserAction.undo(toRevision: 1).patches(for: r, replicaSets: Self.history).get().revision == 1)
        // Mid-update, the current template is not stable: undo without a revision leaves the update for stable's.
        let updating = Self.rollout(stable: "bbb", current: "ccc")
        #expect(try UserAction.undo(toRevision: nil).patches(for: updating, replicaSets: Self.history).get().revision == 2)
    }

    @Test func undoToAMissingRevisionNamesItAndTheOnesThatExist() {
        let r = Self.rollout(stable: "ccc", current: "ccc")
        let missing = UserAction.undo(toRevision: 7).patches(for: r, replicaSets: Self.history)
        #expect(missing == .failure(.noSuchRevision(7, existing: [1, 2, 3])))
        #expect("\(UserActionError.noSuchRevision(7, existing: [1, 2, 3]))" == "no revision 7 (its revisions are 1, 2, 3)")
        #expect(UserAction.undo(toRevision: 3).patches(for: r, replicaSets: Self.history) == .failure(.alreadyAtRevision(3)))
        #expect(UserAction.undo(toRevision: nil).patches(for: r, replicaSets: [Self.history[2]]) == .failure(.noPreviousRevision))
        #expect(UserAction.undo(toRevision: 1).patches(for: r, replicaSets: []) == .failure(.noSuchRevision(1, existing: [])))
        #expect("\(UserActionError.noSuchRevision(1, existing: []))" == "no revision 1 (it has none)")
    }

    @Test func undoNeverPicksAnotherRolloutsReplicaSet() {
        let r = Self.rollout(stable: "ccc", current: "ccc")
        let foreign = Self.replicaSet("fff", revision: 9, owners: [Self.owner("uid-other")])
        // A non-controller reference to this Rollout does not make it this Rollout's.
        let borrowed = Self.replicaSet("ggg", revision: 8, owners: [Self.owner(Self.uid, controller: false), Self.owner("uid-other")])
        let done = UserAction.undo(toRevision: nil).patches(for: r, replicaSets: Self.history + [foreign, borrowed])
        #expect((try? done.get().revision) == 2)
        #expect(UserAction.undo(toRevision: 9).patches(for: r, replicaSets: Self.history + [foreign]) == .failure(.noSuchRevision(9, existing: [1, 2, 3])))
    }

    @Test func revisions() {
        let r = Self.rollout(stable: "bbb", current: "ccc")
        let unnumbered = Self.replicaSet("zzz", revision: nil)
        let revs = Revisions(of: r, among: [Self.history[1], unnumbered, Self.history[2], Self.history[0]])
        #expect(revs.newestFirst.map(\.podTemplateHash) == ["ccc", "bbb", "aaa", "zzz"])
        #expect(revs.numbers == [1, 2, 3])
        #expect(revs.replicaSet(revision: 2)?.podTemplateHash == "bbb")
        #expect(revs.replicaSet(revision: 4) == nil)
        #expect(revs.stable?.podTemplateHash == "bbb")
        #expect(revs.current?.podTemplateHash == "ccc")
        #expect(Revisions(of: Self.rollout(), among: Self.history).stable == nil, "no stableRS yet: no stable ReplicaSet")
    }

    // MARK: ownership

    @Test func ownershipByControllerReference() {
        let r = Self.rollout()
        #expect(Ownership.relation(of: Self.replicaSet("aaa", revision: 1), to: r) == .owned)
        #expect(Ownership.relation(of: Self.replicaSet("aaa", revision: 1, owners: [Self.owner("uid-other")]), to: r) == .foreign)
        // A Deployment controlling a ReplicaSet whose labels match is still foreign.
        #expect(Ownership.relation(of: Self.replicaSet("aaa", revision: 1, owners: [Self.owner("uid-d", kind: "Deployment")]), to: r) == .foreign)
        // Only the controller reference counts.
        #expect(Ownership.relation(of: Self.replicaSet("aaa", revision: 1, owners: [Self.owner(Self.uid, controller: false)]), to: r) == .adoptable)
        #expect(Ownership.relation(of: Self.replicaSet("aaa", revision: 1, owners: [Self.owner(Self.uid, controller: nil)]), to: r) == .adoptable)
        // A Rollout not yet stored (no uid) owns nothing.
        #expect(Ownership.relation(of: Self.replicaSet("aaa", revision: 1), to: Self.rollout(uid: nil)) == .foreign)
    }

    @Test func orphansAreAdoptableWhenTheyMatchAndCarryAHash() {
        let r = Self.rollout()
        #expect(Ownership.relation(of: Self.replicaSet("aaa", revision: 1, owners: nil), to: r) == .adoptable)
        #expect(Ownership.relation(of: Self.replicaSet("aaa", revision: 1, owners: []), to: r) == .adoptable)
        #expect(Ownership.relation(of: Self.replicaSet(nil, revision: 1, owners: nil), to: r) == .unrelated, "no hash label")
        #expect(Ownership.relation(of: Self.replicaSet("aaa", revision: 1, owners: nil, labels: ["app": "api"]), to: r) == .unrelated, "selector does not match")
        var unselected = r
        unselected.spec.selector = nil
        #expect(Ownership.relation(of: Self.replicaSet("aaa", revision: 1, owners: nil), to: unselected) == .unrelated, "no selector adopts nothing")
    }

    @Test func replicaSetsOfARolloutKeepTheirOrder() {
        let r = Self.rollout()
        let list = [Self.replicaSet("aaa", revision: 1, owners: nil), Self.replicaSet("fff", revision: 5, owners: [Self.owner("uid-other")]),
                    Self.replicaSet("bbb", revision: 2), Self.replicaSet("ddd", revision: 1, owners: nil, labels: ["app": "api"])]
        #expect(Ownership.replicaSets(of: r, among: list).map(\.podTemplateHash) == ["aaa", "bbb"])
    }

    /// What `get` shows: the Rollout's ReplicaSets (adoptable included), their pods, and the runs it controls.
    @Test func familyForGet() throws {
        let r = Self.rollout()
        func pod(_ name: String, _ hash: String?) throws -> Pod {
            let labels: JSONValue = hash.map { [podTemplateHashLabel: .string($0)] } ?? [:]
            return try (["metadata": ["name": .string(name), "namespace": "shop", "labels": labels]] as JSONValue).decode(as: Pod.self)
        }
        func run(_ name: String, _ owners: [OwnerReference]?) -> AnalysisRun {
            AnalysisRun(metadata: ObjectMeta(name: name, namespace: "shop", ownerReferences: owners), spec: AnalysisSpec(metrics: []))
        }
        let family = Ownership.family(
            of: r,
            replicaSets: [Self.replicaSet("aaa", revision: 1), Self.replicaSet("bbb", revision: 2, owners: nil),
                          Self.replicaSet("fff", revision: 3, owners: [Self.owner("uid-other")])],
            pods: [try pod("a1", "aaa"), try pod("b1", "bbb"), try pod("f1", "fff"), try pod("x", nil)],
            analysisRuns: [run("mine", [Self.owner(Self.uid)]), run("borrowed", [Self.owner(Self.uid, controller: false)]),
                           run("other", [Self.owner("uid-other")]), run("orphan", nil)])
        #expect(family.replicaSets.map(\.podTemplateHash) == ["aaa", "bbb"])
        #expect(family.pods.map(\.metadata.name) == ["a1", "b1"])
        #expect(family.analysisRuns.map(\.metadata.name) == ["mine"])
    }
}
