import AviaryAPI
import Foundation
import Kube
import Rollouts
import Testing
@testable import Controller

/// What each planned action sends, as values: verb, resource, namespace,
/// name, subresource, body, which answers mean "done already", and which cache
/// takes the answer. No server: the mapping is a pure function.
@Suite struct ActionRequestTests {
    static let ns = "shop"

    static func requests(_ action: Action) throws -> [WriteRequest] { try Executor.requests(for: action, namespace: ns) }

    static func replicaSet(_ name: String) -> ReplicaSet {
        ReplicaSet(metadata: ObjectMeta(name: name, namespace: ns, labels: [podTemplateHashLabel: "abc"]),
                   spec: .init(replicas: 3, selector: LabelSelector(matchLabels: ["app": "web"]), template: ["metadata": ["labels": ["app": "web"]]]))
    }

    @Test func createReplicaSetPostsTheWholeObjectAndToleratesAlreadyExists() throws {
        let rs = Self.replicaSet("web-abc")
        let r = try #require(try Self.requests(.createReplicaSet(rs)).first)
        #expect(r == WriteRequest(.create(try JSONValue(encoding: rs)), .replicaSets, namespace: Self.ns, name: "web-abc",
                                  tolerated: .alreadyExists, answer: .replicaSet))
        #expect(r.method == "POST")
        #expect(r.path == "/apis/apps/v1/namespaces/shop/replicasets", "a create posts to the collection")
        guard case .create(let body) = r.verb else { Issue.record("not a create"); return }
        #expect(body["spec"]?["replicas"] == .number(3))
        #expect(body["metadata"]?["labels"]?[podTemplateHashLabel] == "abc")
    }

    @Test func scaleReplicaSetPatchesReplicasOnly() throws {
        #expect(try Self.requests(.scaleReplicaSet(name: "web-abc", replicas: 7)) == [
            WriteRequest(.mergePatch(["spec": ["replicas": 7]]), .replicaSets, namespace: Self.ns, name: "web-abc", answer: .replicaSet),
        ])
    }

    @Test func adoptReplicaSetSetsTheControllerReference() throws {
        let owner = OwnerReference(apiVersion: Rollout.apiVersion, kind: "Rollout", name: "web", uid: "u-1", controller: true, blockOwnerDeletion: true)
        let r = try Self.requests(.adoptReplicaSet(name: "web-old", owner: owner))
        #expect(r == [WriteRequest(.mergePatch(["metadata": ["ownerReferences": [try JSONValue(encoding: owner)]]]), .replicaSets,
                                   namespace: Self.ns, name: "web-old", answer: .replicaSet)])
        #expect(r.first?.path == "/apis/apps/v1/namespaces/shop/replicasets/web-old")
        #expect(r.first?.method == "PATCH")
    }

    @Test func annotateReplicaSetSetsAndRemovesAnnotations() throws {
        let r = try Self.requests(.annotateReplicaSet(name: "web-abc", annotations: ["set": "1", "gone": nil]))
        #expect(r == [WriteRequest(.mergePatch(["metadata": ["annotations": ["set": "1", "gone": .null]]]), .replicaSets,
                                   namespace: Self.ns, name: "web-abc", answer: .replicaSet)])
    }

    @Test func deleteReplicaSetDeletesInTheBackgroundAndToleratesNotFound() throws {
        let r = try Self.requests(.deleteReplicaSet(name: "web-old"))
        #expect(r == [WriteRequest(.delete(propagation: .Background), .replicaSets, namespace: Self.ns, name: "web-old", tolerated: .notFound)])
        let body = try #require(r.first).body()
        #expect(body.contentType == "application/json")
        let options = try JSONDecoder().decode(JSONValue.self, from: body.data)
        #expect(options["propagationPolicy"] == "Background")
        #expect(options["kind"] == "DeleteOptions")
    }

    @Test func deletePodUsesTheServerDefaultAndToleratesNotFound() throws {
        let r = try Self.requests(.deletePod(name: "web-abc-x1"))
        #expect(r == [WriteRequest(.delete(propagation: nil), .pods, namespace: Self.ns, name: "web-abc-x1", tolerated: .notFound,
                                   answer: .deletedPod)])
        #expect(r.first?.path == "/api/v1/namespaces/shop/pods/web-abc-x1")
        #expect(r.first?.method == "DELETE")
    }

    @Test func setPodMetadataPatchesTheTemplateThenEachPod() throws {
        let r = try Self.requests(.setPodMetadata(replicaSet: "web-abc", pods: ["p1", "p2"], labels: ["role": "canary"],
                                                  annotations: ["old": nil]))
        let meta: JSONValue = ["labels": ["role": "canary"], "annotations": ["old": .null]]
        #expect(r == [
            WriteRequest(.mergePatch(["spec": ["template": ["metadata": meta]]]), .replicaSets, namespace: Self.ns, name: "web-abc", answer: .replicaSet),
            WriteRequest(.mergePatch(["metadata": meta]), .pods, namespace: Self.ns, name: "p1", tolerated: .notFound),
            WriteRequest(.mergePatch(["metadata": meta]), .pods, namespace: Self.ns, name: "p2", tolerated: .notFound),
        ])
    }

    @Test func switchServicePointsTheSelectorAtTheHash() throws {
        let r = try Self.requests(.switchService(name: "web-stable", podTemplateHash: "abc"))
        #expect(r == [WriteRequest(.mergePatch(["spec": ["selector": [podTemplateHashLabel: "abc"]]]), .services, namespace: Self.ns,
                                   name: "web-stable", answer: .service)])
        let body = try #require(r.first).body()
        #expect(body.contentType == "application/merge-patch+json")
        #expect(try JSONDecoder().decode(JSONValue.self, from: body.data) == ["spec": ["selector": [podTemplateHashLabel: "abc"]]])
    }

    @Test func createAnalysisRunPostsTheRunAndToleratesAlreadyExists() throws {
        let run = AnalysisRun(metadata: ObjectMeta(name: "web-abc-2", namespace: Self.ns), spec: AnalysisSpec(metrics: []))
        let r = try Self.requests(.createAnalysisRun(run))
        #expect(r == [WriteRequest(.create(try JSONValue(encoding: run)), AnalysisRun.resource, namespace: Self.ns, name: "web-abc-2",
                                   tolerated: .alreadyExists, answer: .analysisRun)])
        #expect(r.first?.path == "/apis/aviary.dev/v1alpha1/namespaces/shop/analysisruns")
    }

    @Test func terminateAnalysisRunSetsTerminate() throws {
        #expect(try Self.requests(.terminateAnalysisRun(name: "web-abc-2")) == [
            WriteRequest(.mergePatch(["spec": ["terminate": true]]), AnalysisRun.resource, namespace: Self.ns, name: "web-abc-2",
                         tolerated: .notFound, answer: .analysisRun),
        ])
    }

    @Test func deleteAnalysisRunDeletesInTheBackground() throws {
        #expect(try Self.requests(.deleteAnalysisRun(name: "web-abc-2")) == [
            WriteRequest(.delete(propagation: .Background), AnalysisRun.resource, namespace: Self.ns, name: "web-abc-2", tolerated: .notFound),
        ])
    }

    @Test func anEventIsNoWriteOfTheReconcile() throws {
        #expect(try Self.requests(.event(Event(reason: .rolloutCompleted, message: "done"))).isEmpty, "events go out as side effects")
    }

    @Test func theStatusWriteCarriesOnlyTheDiffAndTheVersionReadAt() throws {
        var read = RolloutStatus()
        read.phase = .Progressing
        read.currentStepIndex = 1
        var meta = ObjectMeta(name: "web", namespace: Self.ns)
        meta.resourceVersion = "42"
        let rollout = Rollout(metadata: meta, spec: RolloutSpec(), status: read)
        #expect(try Executor.statusRequest(read, of: rollout) == nil, "nothing changed: no write")
        var next = read
        next.currentStepIndex = 2
        let r = try #require(try Executor.statusRequest(next, of: rollout))
        #expect(r == WriteRequest(.mergePatch(["metadata": ["resourceVersion": "42"], "status": ["currentStepIndex": 2]]), Rollout.resource,
                                  namespace: Self.ns, name: "web", subresource: "status", answer: .rollout))
        #expect(r.path == "/apis/aviary.dev/v1alpha1/namespaces/shop/rollouts/web/status")
    }

    @Test func anEventIsStampedWhenItHappened() throws {
        var meta = ObjectMeta(name: "web", namespace: Self.ns)
        meta.uid = "u-1"
        meta.resourceVersion = "42"
        let at = MicroTime(microsecondsSinceEpoch: 1_700_000_000_123_456)
        let r = Executor.eventRequest(Event(reason: .rolloutAborted, message: "aborted", warning: true), about: meta, at: at,
                                      suffix: 255, instance: "host-1")
        #expect(r.resource == .events && r.namespace == Self.ns && r.method == "POST" && r.tolerated == nil && r.answer == nil)
        guard case .create(let body) = r.verb else { Issue.record("not a create"); return }
        #expect(body["metadata"] == ["name": "web.ff", "namespace": "shop"])
        #expect(body["involvedObject"] == ["apiVersion": .string(Rollout.apiVersion), "kind": "Rollout", "name": "web", "namespace": "shop",
                                           "uid": "u-1", "resourceVersion": "42"])
        #expect(body["reason"] == "RolloutAborted" && body["action"] == "RolloutAborted")
        #expect(body["type"] == "Warning" && body["message"] == "aborted")
        #expect(body["eventTime"] == .string(at.description))
        #expect(body["firstTimestamp"] == .string(KubeTime(at.date).description))
        #expect(body["reportingComponent"] == "aviary-controller" && body["reportingInstance"] == "host-1")
    }

    @Test func toleratedAnswersAreTheOnesThatMeanDone() {
        let exists = KubeError.api(code: 409, status: Status(reason: "AlreadyExists", code: 409))
        let conflict = KubeError.api(code: 409, status: Status(reason: "Conflict", code: 409))
        let missing = KubeError.api(code: 404, status: Status(reason: "NotFound", code: 404))
        let create = WriteRequest(.create(.null), .replicaSets, namespace: "ns", tolerated: .alreadyExists)
        #expect(create.tolerates(exists) && !create.tolerates(conflict) && !create.tolerates(missing))
        let delete = WriteRequest(.delete(propagation: nil), .pods, namespace: "ns", name: "p", tolerated: .notFound)
        #expect(delete.tolerates(missing) && !delete.tolerates(exists))
        let scale = WriteRequest(.mergePatch(.null), .replicaSets, namespace: "ns", name: "rs")
        #expect(!scale.tolerates(missing))
    }
}
