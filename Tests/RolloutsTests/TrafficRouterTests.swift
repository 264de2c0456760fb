import AviaryAPI
import KubeAPI
import Testing
@testable import Rollouts

/// Canary through a router: the route objects carry the weights, the pods
/// only have to be there for them.
@Suite struct TrafficRouterTests {
    static let vsRef = RouteRef(.virtualService, namespace: "default", name: "web")
    static let drRef = RouteRef(.destinationRule, namespace: "default", name: "web")
    static let httpRouteRef = RouteRef(.httpRoute, namespace: "default", name: "web")

    /// A VirtualService with the weighted route, an unrelated one, and fields nobody may touch.
    static func virtualService(subsets: Bool = false) -> JSONValue {
        let stable: JSONValue = subsets ? ["host": "web", "subset": "stable"] : ["host": "web-stable"]
        let canary: JSONValue = subsets ? ["host": "web", "subset": "canary"] : ["host": "web-canary.default.svc.cluster.local"]
        return ["apiVersion": "networking.istio.io/v1beta1", "kind": "VirtualService",
                "metadata": ["name": "web", "namespace": "default", "resourceVersion": "7"],
                "spec": ["hosts": ["web"], "http": [
                    ["name": "primary", "retries": ["attempts": 3, "perTryTimeout": "2s"],
                     "route": [["destination": stable, "weight": 100], ["destination": canary, "weight": 0]]],
                    ["name": "admin", "match": [["uri": ["prefix": "/admin"]]], "route": [["destination": ["host": "admin"]]]],
                ]]]
    }

    static let destinationRule: JSONValue = [
        "apiVersion": "networking.istio.io/v1beta1", "kind": "DestinationRule",
        "metadata": ["name": "web", "namespace": "default", "resourceVersion": "3"],
        "spec": ["host": "web", "trafficPolicy": ["loadBalancer": ["simple": "ROUND_ROBIN"]],
                 "subsets": [["name": "canary", "labels": ["app": "web"]], ["name": "stable", "labels": ["app": "web"]]]],
    ]

    static func istioWorld(_ steps: [CanaryStep], subsets: Bool = false, managed: [String] = [], configure: (inout CanaryStrategy) -> Void = { _ in }) -> World {
        var w = World(replicas: 10, steps: steps)
        var routing = CanaryTrafficRouting(istio: IstioTrafficRouting(
            virtualService: IstioVirtualService(name: "web", routes: ["primary"]),
            destinationRule: subsets ? IstioDestinationRule(name: "web", canarySubsetName: "canary", stableSubsetName: "stable") : nil))
        routing.managedRoutes = managed.map(ManagedRoute.init)
        w.rollout.spec.strategy?.canary?.trafficRouting = routing
        configure(&w.rollout.spec.strategy!.canary!)
        w.routes[vsRef] = virtualService(subsets: subsets)
        if subsets { w.routes[drRef] = destinationRule }
        w.settle()
        return w
    }

    func weights(_ w: World, route: String = "primary") -> [Int] {
        let http = w.routes[Self.vsRef]?["spec"]?["http"]?.arrayValue ?? []
        let r = http.first { $0["name"]?.stringValue == route }
        return (r?["route"]?.arrayValue ?? []).map { $0["weight"]?.intValue ?? -1 }
    }

    @Test func weightsFollowTheStepsAndThePodsOnlyCarryThem() throws {
        var w = Self.istioWorld([.weight(20), .pause(), .weight(50), .pause()])
        #expect(weights(w) == [100, 0])
        #expect(w.status.canary?.weights?.verified == true)
        w.setImage("web:2")
        w.settle()
        #expect(weights(w) == [80, 20])
        #expect((w.size("web:2"), w.size("web:1")) == (2, 10), "canary ceil(20% × 10), stable stays whole")
        #expect(w.status.canary?.weights?.canary.weight == 20)
        #expect(w.status.canary?.weights?.canary.serviceName == "web-canary")
        #expect(w.status.canary?.weights?.verified == true)
        #expect(w.services["web-canary"]?.spec?.selector?[podTemplateHashLabel] == w.hash("web:2"))
        #expect(w.services["web-stable"]?.spec?.selector?[podTemplateHashLabel] == w.hash("web:1"))
        // Nothing else in the VirtualService moved.
        let http = try #require(w.routes[Self.vsRef]?["spec"]?["http"]?.arrayValue)
        #expect(http.count == 2)
        #expect(http[0]["retries"] == ["attempts": 3, "perTryTimeout": "2s"])
        #expect(http[1] == Self.virtualService()["spec"]?["http"]?.item(1))

        w.rollout.status?.pauseConditions = nil
        w.settle()
        #expect(weights(w) == [50, 50])
        #expect(w.size("web:2") == 5)

        w.rollout.status?.pauseConditions = nil
        w.settle()
        #expect(w.status.stableRS == w.hash("web:2"))
        #expect(weights(w) == [100, 0], "all to stable, which is now the new pods")
        #expect(w.services["web-stable"]?.spec?.selector?[podTemplateHashLabel] == w.hash("web:2"))
        #expect(w.size("web:1") == 0)
        #expect(w.status.phase == .Healthy)
        #expect(w.refusedRoutePatches == 0)
    }

    @Test func aWeightWaitsForTheCanaryPodsThatCarryIt() {
        var w = Self.istioWorld([.weight(30), .pause()])
        w.setImage("web:2")
        w.reconcile()  // the canary is created; no pods yet
        #expect(weights(w) == [100, 0], "no weight to a canary without pods")
        w.tick()
        w.reconcile()
        #expect(weights(w) == [70, 30])
    }

    @Test func anAbortTakesTheWeightBackAtOnceAndTheCanaryServiceToStable() {
        var w = Self.istioWorld([.weight(40), .pause()])
        w.setImage("web:2")
        w.settle()
        #expect(weights(w) == [60, 40])
        w.rollout.status?.abort = true
        w.reconcile()
        #expect(weights(w) == [100, 0])
        #expect(w.services["web-canary"]?.spec?.selector?[podTemplateHashLabel] == w.hash("web:1"))
        #expect(w.size("web:2") == 4, "the canary waits out abortScaleDownDelaySeconds")
        w.advance(31)
        w.settle()
        #expect(w.size("web:2") == 0)
        #expect(w.status.phase == .Degraded)
    }

    @Test func aHandEditOfTheWeightsIsPutBack() {
        var w = Self.istioWorld([.weight(20), .pause()])
        w.setImage("web:2")
        w.settle()
        // Someone (or a GitOps sync) puts the weights back to 100/0.
        w.routes[Self.vsRef] = w.routes[Self.vsRef]?
            .setting(["spec", "http"], to: Self.virtualService()["spec"]?["http"] ?? .null)
            .setting(["metadata", "resourceVersion"], to: "99")
        w.reconcile()
        #expect(weights(w) == [80, 20])
        #expect(w.events.last == "TrafficRouteRestored")
        #expect(w.events.filter { $0 == "TrafficRouteRestored" }.count == 1)
    }

    @Test func withoutARouterAGradualRollbackShrinksTheCanaryStepByStep() {
        var w = World(replicas: 10, steps: [.weight(60), .pause()])
        w.rollout.spec.strategy?.canary?.abortStrategy = .gradual(GradualAbort(steps: [30, 0], interval: "10s"))
        w.settle()
        w.setImage("web:2")
        w.settle()
        #expect(w.size("web:2") == 6)
        w.rollout.status?.abort = true
        w.settle()
        #expect(w.size("web:2") == 6, "held at 60 for the interval")
        #expect(w.status.message?.contains("rolling back gradually") == true)
        w.advance(10)
        w.settle()
        #expect(w.size("web:2") == 3)
        #expect(w.status.canary?.weights?.canary.weight == 30)
        w.advance(10)
        w.settle()
        w.advance(31)
        w.settle()
        #expect(w.size("web:2") == 0)
        #expect(w.size("web:1") == 10)
    }

    @Test func dynamicStableScaleShrinksStableWithItsWeight() {
        var w = Self.istioWorld([.weight(40), .pause()]) { canary in
            canary.dynamicStableScale = true
        }
        w.setImage("web:2")
        w.settle()
        #expect((w.size("web:2"), w.size("web:1")) == (4, 6))
        #expect(weights(w) == [60, 40])
        w.rollout.status?.abort = true
        w.reconcile()
        #expect(w.size("web:1") == 10)
        #expect(weights(w) == [60, 40], "stable gets its weight back only as its pods come up")
        w.tick()
        w.settle()
        #expect(weights(w) == [100, 0])
    }

    @Test func aConcurrentEditFailsThePatchInsteadOfBeingOverwritten() throws {
        var w = Self.istioWorld([.weight(20), .pause()])
        w.setImage("web:2")
        w.reconcile()  // the canary ReplicaSet
        w.tick()       // its pods
        let plan = RolloutPlanner.plan(w.view)
        guard case .patchRoute(_, let ops)? = plan.actions.first(where: { if case .patchRoute = $0 { true } else { false } }) else {
            Issue.record("no route patch in \(plan.actions)")
            return
        }
        #expect(ops.first == .test("/metadata/resourceVersion", "7"))
        let edited = try #require(w.routes[Self.vsRef]?.setting(["metadata", "resourceVersion"], to: "8"))
        #expect(throws: JSONValue.PatchFailure.self) { try edited.applying(ops) }
    }

    @Test func headerRoutesGoOnTopWhileTheStepsRunAndAreGoneAfter() throws {
        let header = SetHeaderRoute(name: "testers", match: [HeaderRoutingMatch(headerName: "X-Canary", headerValue: StringMatch(exact: "true"))])
        var w = Self.istioWorld([.weight(10), .setHeaderRoute(header), .pause(), .setHeaderRoute(SetHeaderRoute(name: "testers")), .pause()],
                                managed: ["testers"])
        w.setImage("web:2")
        w.settle()
        var http = try #require(w.routes[Self.vsRef]?["spec"]?["http"]?.arrayValue)
        #expect(http.map { $0["name"]?.stringValue } == ["testers", "primary", "admin"])
        #expect(http[0]["match"] == [["headers": ["X-Canary": ["exact": "true"]]]])
        #expect(http[0]["route"] == [["destination": ["host": "web-canary.default.svc.cluster.local"]]])
        #expect(w.status.canary?.managedRoutes == ["testers"])
        #expect(weights(w) == [90, 10])

        w.rollout.status?.pauseConditions = nil
        w.settle()
        http = try #require(w.routes[Self.vsRef]?["spec"]?["http"]?.arrayValue)
        #expect(http.map { $0["name"]?.stringValue } == ["primary", "admin"])
        #expect(w.status.canary?.managedRoutes == nil)
    }

    @Test func aMirrorRouteCopiesTheWeightedRoute() throws {
        let mirror = SetMirrorRoute(name: "shadow", percentage: 25, match: [RouteMatch(method: StringMatch(exact: "GET"), path: StringMatch(prefix: "/api"))])
        var w = Self.istioWorld([.weight(10), .setMirrorRoute(mirror), .pause()], managed: ["shadow"])
        w.setImage("web:2")
        w.settle()
        let top = try #require(w.routes[Self.vsRef]?["spec"]?["http"]?.item(0))
        #expect(top["name"] == "shadow")
        #expect(top["mirror"] == ["host": "web-canary.default.svc.cluster.local"])
        #expect(top["mirrorPercentage"] == ["value": 25])
        #expect(top["match"] == [["method": ["exact": "GET"], "uri": ["prefix": "/api"]]])
        #expect(top["retries"] == ["attempts": 3, "perTryTimeout": "2s"], "a copy of the weighted route")
        let mirrored: [Int?] = (top["route"]?.arrayValue ?? []).map { $0["weight"]?.intValue }
        #expect(mirrored == [90, 10])
    }

    @Test func subsetLevelMovesTheSubsetLabelsAndLeavesTheServicesAlone() throws {
        var w = Self.istioWorld([.weight(25), .pause()], subsets: true)
        let subsets = { (w: World) in (w.routes[Self.drRef]?["spec"]?["subsets"]?.arrayValue ?? []).map { $0["labels"]?[podTemplateHashLabel]?.stringValue } }
        #expect(subsets(w) == [w.hash("web:1"), w.hash("web:1")])
        w.setImage("web:2")
        w.settle()
        #expect(subsets(w) == [w.hash("web:2"), w.hash("web:1")])
        #expect(weights(w) == [75, 25])
        #expect(w.routes[Self.drRef]?["spec"]?["trafficPolicy"] == ["loadBalancer": ["simple": "ROUND_ROBIN"]])
        w.rollout.status?.pauseConditions = nil
        w.settle()
        #expect(subsets(w) == [w.hash("web:2"), w.hash("web:2")])
        #expect(weights(w) == [100, 0])
    }

    @Test func aMissingVirtualServiceOrRouteIsAnInvalidSpecAndMovesNothing() {
        var w = Self.istioWorld([.weight(20), .pause()])
        w.routes[Self.vsRef] = nil
        w.setImage("web:2")
        let plan = w.reconcile()
        #expect(plan.actions.allSatisfy { if case .event = $0 { true } else { false } })
        #expect(w.status.condition(.InvalidSpec)?.message == "spec.strategy.canary.trafficRouting.istio.virtualService.name: VirtualService \"web\" not found in namespace default")

        var v = Self.istioWorld([.weight(20), .pause()])
        v.rollout.spec.strategy?.canary?.trafficRouting?.istio?.virtualService?.routes = ["nope"]
        v.reconcile()
        #expect(v.status.condition(.InvalidSpec)?.message == "spec.strategy.canary.trafficRouting.istio.virtualService.routes[0]: HTTP route \"nope\" is not in VirtualService \"web\"")
    }

    @Test func aGradualRollbackStepsTheWeightDown() {
        var w = Self.istioWorld([.weight(50), .pause()]) { canary in
            canary.abortStrategy = .gradual(GradualAbort(steps: [25, 0], interval: "10s"))
        }
        w.setImage("web:2")
        w.settle()
        #expect(weights(w) == [50, 50])
        w.rollout.status?.abort = true
        w.settle()
        #expect(weights(w) == [50, 50], "held for the interval")
        #expect(w.status.canary?.rollback?.weight == 50)
        w.advance(10)
        w.settle()
        #expect(weights(w) == [75, 25])
        #expect(w.events.contains("RolloutRollingBack"))
        w.advance(10)
        w.settle()
        #expect(weights(w) == [100, 0])
        w.advance(31)
        w.settle()
        #expect(w.size("web:2") == 0)
    }

    @Test func abortNowSkipsAGradualRollbackToItsEnd() {
        var w = Self.istioWorld([.weight(60), .pause()]) { canary in
            canary.abortStrategy = .gradual(GradualAbort(stepWeight: 20, interval: "1m"))
        }
        w.setImage("web:2")
        w.settle()
        w.rollout.status?.abort = true
        w.settle()
        #expect(weights(w) == [40, 60])
        w.rollout.metadata.annotations = [abortNowAnnotation: w.now.description]
        w.settle()
        #expect(weights(w) == [100, 0])
    }

    @Test func gatewayAPIBackendRefsGetTheWeights() throws {
        var w = World(replicas: 4, steps: [.weight(25), .pause()])
        var routing = CanaryTrafficRouting()
        routing.plugins = [CanaryTrafficRouting.gatewayAPIPlugin: ["httpRoute": "web"]]
        w.rollout.spec.strategy?.canary?.trafficRouting = routing
        w.routes[Self.httpRouteRef] = [
            "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": ["name": "web", "namespace": "default", "resourceVersion": "1"],
            "spec": ["parentRefs": [["name": "gw"]], "rules": [
                ["backendRefs": [["name": "web-stable", "port": 80], ["name": "web-canary", "port": 80, "weight": 0]]],
                ["matches": [["path": ["type": "PathPrefix", "value": "/static"]]], "backendRefs": [["name": "static", "port": 80]]],
            ]]]
        w.settle()
        w.setImage("web:2")
        w.settle()
        let rules = try #require(w.routes[Self.httpRouteRef]?["spec"]?["rules"]?.arrayValue)
        #expect((rules[0]["backendRefs"]?.arrayValue ?? []).map { $0["weight"]?.intValue } == [75, 25])
        #expect(rules[1]["backendRefs"] == [["name": "static", "port": 80]])
        #expect(w.size("web:2") == 1)
        w.rollout.status?.pauseConditions = nil
        w.settle()
        #expect(w.status.stableRS == w.hash("web:2"))
        let after = try #require(w.routes[Self.httpRouteRef]?["spec"]?["rules"]?.item(0)?["backendRefs"]?.arrayValue)
        #expect(after.map { $0["weight"]?.intValue } == [100, 0])
    }

    /// Argo's `name.<namespace>`: another namespace's VirtualService is
    /// written only when that namespace allows this Rollout's, by annotation.
    @Test func aVirtualServiceInAnotherNamespaceNeedsItsOwnersLeave() throws {
        var w = World(replicas: 4, steps: [.weight(25), .pause()])
        w.rollout.spec.strategy?.canary?.trafficRouting = CanaryTrafficRouting(istio: IstioTrafficRouting(
            virtualService: IstioVirtualService(name: "web.mesh", routes: ["primary"])))
        let ref = RouteRef(.virtualService, namespace: "mesh", name: "web")
        #expect(RouteRef.named(by: w.rollout) == [ref])
        w.routes[ref] = Self.virtualService()
        w.reconcile()
        #expect(w.status.condition(.InvalidSpec)?.message == "spec.strategy.canary.trafficRouting.istio.virtualService.name: VirtualService \"web\" is in namespace mesh, which does not allow Rollouts from default; its owners can add the annotation aviary.dev/allow-rollouts-from: \"default\" to it")
        #expect(w.replicaSets.isEmpty)

        w.routes[ref] = Self.virtualService().setting(["metadata", "annotations"], to: [allowRolloutsFromAnnotation: "payments, default"])
        w.settle()
        w.setImage("web:2")
        w.settle()
        #expect(w.status.condition(.InvalidSpec) == nil)
        let route = try #require(w.routes[ref]?["spec"]?["http"]?.item(0)?["route"]?.arrayValue)
        #expect(route.map { $0["weight"]?.intValue } == [75, 25])
    }

    static func gatewayWorld(_ steps: [CanaryStep], managed: [String]) -> World {
        var w = World(replicas: 4, steps: steps)
        var routing = CanaryTrafficRouting()
        routing.plugins = [CanaryTrafficRouting.gatewayAPIPlugin: ["httpRoute": "web"]]
        routing.managedRoutes = managed.map(ManagedRoute.init)
        w.rollout.spec.strategy?.canary?.trafficRouting = routing
        w.routes[httpRouteRef] = [
            "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": ["name": "web", "namespace": "default", "resourceVersion": "1"],
            "spec": ["rules": [
                ["matches": [["path": ["type": "PathPrefix", "value": "/"]]],
                 "backendRefs": [["name": "web-stable", "port": 80, "weight": 100], ["name": "web-canary", "port": 80, "weight": 0]]],
                ["matches": [["path": ["type": "PathPrefix", "value": "/static"]]], "backendRefs": [["name": "static", "port": 80]]],
            ]]]
        w.settle()
        return w
    }

    /// Gateway API header routes: a rule per weighted rule, the header merged
    /// into its matches, the canary its only backend, marked as aviary's.
    @Test func gatewayAPIHeaderRoutesAreRulesAviaryKnowsAgain() throws {
        let header = SetHeaderRoute(name: "testers", match: [HeaderRoutingMatch(headerName: "X-Canary", headerValue: StringMatch(prefix: "yes."))])
        var w = Self.gatewayWorld([.weight(25), .setHeaderRoute(header), .pause(), .setHeaderRoute(SetHeaderRoute(name: "testers")), .pause()],
                                  managed: ["testers"])
        w.setImage("web:2")
        w.settle()
        var rules = try #require(w.routes[Self.httpRouteRef]?["spec"]?["rules"]?.arrayValue)
        #expect(rules.count == 3)
        #expect(rules[0]["matches"] == [["path": ["type": "PathPrefix", "value": "/"],
                                         "headers": [["type": "RegularExpression", "name": "X-Canary", "value": "yes\\..*"]]]])
        #expect(rules[0]["backendRefs"] == [["name": "web-canary", "port": 80]])
        #expect(GatewayRoutes.managedName(rules[0]) == "testers")
        let weighted: [Int?] = (rules[1]["backendRefs"]?.arrayValue ?? []).map { $0["weight"]?.intValue }
        #expect(weighted == [75, 25])
        // The API server fills in defaults; the rule is still known, and nothing is rewritten.
        w.routes[Self.httpRouteRef] = w.routes[Self.httpRouteRef]?.setting(["spec", "rules"], to: .array(
            [rules[0].setting(["backendRefs"], to: [["group": "", "kind": "Service", "name": "web-canary", "port": 80, "weight": 1]])] + rules.dropFirst()))
        let quiet = w.reconcile()
        #expect(!quiet.actions.contains { if case .patchRoute = $0 { true } else { false } })

        w.rollout.status?.pauseConditions = nil
        w.settle()
        rules = try #require(w.routes[Self.httpRouteRef]?["spec"]?["rules"]?.arrayValue)
        #expect(rules.count == 2)
        #expect(rules.allSatisfy { GatewayRoutes.managedName($0) == nil })
    }

    @Test func gatewayAPIMirrorRouteIsACopyWithARequestMirror() throws {
        let mirror = SetMirrorRoute(name: "shadow", percentage: 40, match: [RouteMatch(path: StringMatch(prefix: "/api"))])
        var w = Self.gatewayWorld([.weight(25), .setMirrorRoute(mirror), .pause()], managed: ["shadow"])
        w.setImage("web:2")
        w.settle()
        let rules = try #require(w.routes[Self.httpRouteRef]?["spec"]?["rules"]?.arrayValue)
        #expect(rules.count == 3)
        #expect(rules[0]["matches"] == [["path": ["type": "PathPrefix", "value": "/api"]]])
        let filters = rules[0]["filters"]?.arrayValue ?? []
        #expect(filters.first == ["type": "RequestMirror", "requestMirror": ["backendRef": ["name": "web-canary", "port": 80], "percent": 40]])
        let copied: [Int?] = (rules[0]["backendRefs"]?.arrayValue ?? []).map { $0["weight"]?.intValue }
        #expect(copied == [75, 25], "the copy keeps the weights")
        #expect(w.status.canary?.weights?.canary.weight == 25)
    }
}
