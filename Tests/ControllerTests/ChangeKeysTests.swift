import AviaryAPI
import Kube
import Testing
@testable import Controller

/// Which Rollouts look again when something changes: the mapping the
/// informers' handlers enqueue, over a Rollouts cache built here.
@Suite struct ChangeKeysTests {
    static func rollout(_ name: String, namespace: String = "ns", app: String = "web", canary: (String, String)? = nil,
                        blueGreen: (String, String)? = nil) -> Rollout {
        var meta = ObjectMeta(name: name, namespace: namespace)
        meta.uid = "uid-\(name)"
        let strategy = RolloutStrategy(canary: canary.map { CanaryStrategy(canaryService: $0.0, stableService: $0.1) },
                                       blueGreen: blueGreen.map { BlueGreenStrategy(activeService: $0.0, previewService: $0.1) })
        return Rollout(metadata: meta, spec: RolloutSpec(selector: LabelSelector(matchLabels: ["app": app]), strategy: strategy))
    }

    /// The mapping over these Rollouts, indexed as the controller indexes them.
    static func keys(_ rollouts: [Rollout]) -> ChangeKeys {
        var index: [IndexKey: [Rollout]] = [:]
        for r in rollouts { for k in IndexKey.rollout(r) { index[k, default: []].append(r) } }
        return ChangeKeys(rollouts: { [index] in index[$0] ?? [] }, allRollouts: { rollouts })
    }

    static let world = [
        rollout("web", canary: ("web-canary", "web-stable")),
        rollout("api", app: "api", blueGreen: ("api-active", "api-preview")),
        rollout("web", namespace: "other", canary: ("web-canary", "web-stable")),
    ]

    static func key(_ name: String, _ ns: String = "ns") -> ObjectKey { ObjectKey(namespace: ns, name: name) }

    static func replicaSet(namespace: String = "ns", labels: [String: String], owner: (kind: String, name: String)? = nil) -> ReplicaSet {
        let refs = owner.map { [OwnerReference(apiVersion: "x", kind: $0.kind, name: $0.name, uid: "u", controller: true)] }
        return ReplicaSet(metadata: ObjectMeta(name: "rs", namespace: namespace, labels: labels, ownerReferences: refs),
                          spec: .init(replicas: 1, selector: LabelSelector(), template: nil))
    }

    @Test func aRolloutLooksAtItselfUnlessDeleted() {
        let k = Self.keys(Self.world)
        #expect(k.rollout(Self.world[0]) == [Self.key("web")])
        #expect(k.rollout(nil) == [])
        let u = Undecodable(metadata: ObjectMeta(name: "bad", namespace: "ns"), error: "x")
        #expect(k.undecodableRollout(u, deleted: false) == [Self.key("bad")])
        #expect(k.undecodableRollout(u, deleted: true) == [])
    }

    @Test func anOwnedReplicaSetEnqueuesItsRolloutOnly() {
        let k = Self.keys(Self.world)
        #expect(k.replicaSet(Self.replicaSet(labels: ["app": "web"], owner: ("Rollout", "web"))) == [Self.key("web")])
        // Owned by the Rollout's name even if no such Rollout is cached (it may be arriving).
        #expect(k.replicaSet(Self.replicaSet(labels: [:], owner: ("Rollout", "gone"))) == [Self.key("gone")])
        // A Deployment's ReplicaSet is none of ours, whatever its labels.
        #expect(k.replicaSet(Self.replicaSet(labels: ["app": "web"], owner: ("Deployment", "web"))) == [])
    }

    @Test func anOrphanEnqueuesTheRolloutsOfItsNamespaceThatMatchIt() {
        let k = Self.keys(Self.world)
        #expect(k.replicaSet(Self.replicaSet(labels: ["app": "web"])) == [Self.key("web")])
        #expect(k.replicaSet(Self.replicaSet(labels: ["app": "api", "x": "y"])) == [Self.key("api")])
        #expect(k.replicaSet(Self.replicaSet(labels: ["app": "db"])) == [])
        #expect(k.replicaSet(Self.replicaSet(namespace: "other", labels: ["app": "web"])) == [Self.key("web", "other")])
        #expect(k.replicaSet(Self.replicaSet(namespace: "empty", labels: ["app": "web"])) == [])
    }

    @Test func aServiceEnqueuesTheRolloutsThatNameIt() {
        let k = Self.keys(Self.world)
        func svc(_ name: String?, _ ns: String = "ns") -> Service { Service(metadata: ObjectMeta(name: name, namespace: ns), spec: nil) }
        #expect(k.service(svc("web-stable")) == [Self.key("web")])
        #expect(k.service(svc("web-canary", "other")) == [Self.key("web", "other")])
        #expect(k.service(svc("api-preview")) == [Self.key("api")])
        #expect(k.service(svc("unrelated")) == [])
        #expect(k.service(svc(nil)) == [])
    }

    @Test func aPodEnqueuesNothing() throws {
        let k = Self.keys(Self.world)
        let json: JSONValue = ["metadata": ["name": "p", "namespace": "ns", "labels": ["app": "web", podTemplateHashLabel: "abc"]]]
        let pod = try json.decode(as: Pod.self)
        #expect(k.pod(pod) == [], "its ReplicaSet's status changes when it does")
    }

    @Test func anAnalysisRunEnqueuesTheRolloutThatOwnsIt() {
        let k = Self.keys(Self.world)
        func meta(_ kind: String?, controller: Bool = true) -> ObjectMeta {
            ObjectMeta(name: "run", namespace: "ns",
                       ownerReferences: kind.map { [OwnerReference(apiVersion: "x", kind: $0, name: "web", uid: "u", controller: controller)] })
        }
        #expect(k.owned(meta("Rollout")) == [Self.key("web")])
        #expect(k.owned(meta("Rollout", controller: false)) == [], "only a controller reference counts")
        #expect(k.owned(meta("Job")) == [])
        #expect(k.owned(meta(nil)) == [])
    }

    @Test func templatesEnqueueEveryRolloutThatCouldReferenceThem() {
        let k = Self.keys(Self.world)
        #expect(Set(k.templates(namespace: "ns")) == [Self.key("web"), Self.key("api")])
        #expect(k.templates(namespace: "other") == [Self.key("web", "other")])
        #expect(k.templates(namespace: "empty") == [])
        // Cluster-wide templates: any Rollout may name one.
        #expect(Set(k.templates(namespace: nil)) == [Self.key("web"), Self.key("api"), Self.key("web", "other")])
    }

    /// Rollouts routed by Istio (a VirtualService and a DestinationRule) and by
    /// Gateway API (Argo's plugin spelling, an HTTPRoute in another namespace).
    static func routed() -> [Rollout] {
        var istio = rollout("web", canary: ("web-canary", "web-stable"))
        istio.spec.strategy?.canary?.trafficRouting = CanaryTrafficRouting(istio: IstioTrafficRouting(
            virtualService: IstioVirtualService(name: "web-vs", routes: ["primary"]),
            destinationRule: IstioDestinationRule(name: "web-dr", canarySubsetName: "canary", stableSubsetName: "stable")))
        var shared = rollout("api", app: "api", canary: ("api-canary", "api-stable"))
        shared.spec.strategy?.canary?.trafficRouting = CanaryTrafficRouting(istio: IstioTrafficRouting(
            virtualServices: [IstioVirtualService(name: "web-vs"), IstioVirtualService(name: "api-vs")]))
        var gateway = rollout("shop", app: "shop", canary: ("shop-canary", "shop-stable"))
        var routing = CanaryTrafficRouting()
        routing.plugins = [CanaryTrafficRouting.gatewayAPIPlugin: ["httpRoute": "shop", "namespace": "gateways"]]
        gateway.spec.strategy?.canary?.trafficRouting = routing
        return [istio, shared, gateway]
    }

    @Test func aRouteObjectEnqueuesEveryRolloutWhoseRouterNamesIt() {
        let k = Self.keys(Self.routed())
        func meta(_ name: String?, _ ns: String = "ns") -> ObjectMeta { ObjectMeta(name: name, namespace: ns) }
        // A drift fix starts here: an edited VirtualService brings back every Rollout that writes to it.
        #expect(Set(k.route(.virtualService, meta("web-vs"))) == [Self.key("web"), Self.key("api")])
        #expect(k.route(.virtualService, meta("api-vs")) == [Self.key("api")])
        #expect(k.route(.destinationRule, meta("web-dr")) == [Self.key("web")])
        // The HTTPRoute lives in the namespace the plugin config names, not the Rollout's.
        #expect(k.route(.httpRoute, meta("shop", "gateways")) == [Self.key("shop")])
        #expect(k.route(.httpRoute, meta("shop")) == [])
        // Same name, other kind or namespace: none of theirs.
        #expect(k.route(.destinationRule, meta("web-vs")) == [])
        #expect(k.route(.httpRoute, meta("web-vs")) == [])
        #expect(k.route(.virtualService, meta("web-vs", "other")) == [])
        #expect(k.route(.virtualService, meta(nil)) == [])
    }
}
