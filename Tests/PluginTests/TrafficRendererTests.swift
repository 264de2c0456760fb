import AviaryAPI
import Foundation
import KubeAPI
import Testing
@testable import Plugin

/// `get rollout` and `plan` under a traffic router: the router named, set and
/// actual weights, managed routes, route steps and a gradual rollback.
@Suite struct TrafficRendererTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The Rollout of an example file, as `plan -f` reads it.
    static func example(_ file: String) throws -> Rollout {
        let text = try String(contentsOf: root.appendingPathComponent("examples/\(file)"), encoding: .utf8)
        let doc = try #require(try JSONValue.documents(fromYAML: text).first { $0["kind"] == "Rollout" })
        return try JSONDecoder().decode(Rollout.self, from: try JSONEncoder().encode(doc))
    }

    static func canary(_ routing: CanaryTrafficRouting?) -> CanaryStrategy {
        var c = CanaryStrategy(steps: [.weight(10)], canaryService: "web-canary", stableService: "web-stable")
        c.trafficRouting = routing
        return c
    }

    static func routing(_ json: JSONValue) throws -> CanaryTrafficRouting {
        try JSONDecoder().decode(CanaryTrafficRouting.self, from: try JSONEncoder().encode(json))
    }

    // MARK: the router, named

    @Test func theRouterIsNamedWithItsObjects() throws {
        #expect(TrafficText.router(Self.canary(nil)) == "replica split")
        #expect(TrafficText.router(Self.canary(try Self.routing(["istio": ["virtualService": ["name": "web", "routes": ["primary"]]]])))
            == "Istio VirtualService web (routes: primary)")
        #expect(TrafficText.router(Self.canary(try Self.routing(["istio": ["virtualService": ["name": "web"]]]))) == "Istio VirtualService web")
        #expect(TrafficText.router(Self.canary(try Self.routing([
            "istio": ["virtualServices": [["name": "web", "routes": ["primary", "api"]],
                                          ["name": "edge", "tlsRoutes": [["port": 443, "sniHosts": ["web.example.com"]]], "tcpRoutes": [["port": 5432]]]],
                      "destinationRule": ["name": "web", "canarySubsetName": "canary", "stableSubsetName": "stable"]],
        ]))) == "Istio VirtualServices web (routes: primary, api), edge (tls: 443 web.example.com; tcp: 5432), DestinationRule web (subsets: canary, stable)")
    }

    /// Argo's plugin spelling and Aviary's own read the same; what Aviary lacks is named as such.
    @Test func gatewayAPIEitherSpellingAndWhatIsNotSupported() throws {
        let plugin = try Self.routing(["plugins": ["argoproj-labs/gatewayAPI": ["httpRoute": "web"]]])
        let own = try Self.routing(["gatewayAPI": ["httpRoute": "web"]])
        #expect(TrafficText.router(Self.canary(plugin)) == "Gateway API HTTPRoute web")
        #expect(TrafficText.router(Self.canary(own)) == "Gateway API HTTPRoute web")
        #expect(TrafficText.router(Self.canary(try Self.routing(["gatewayAPI": ["httpRoutes": [["name": "web"], ["name": "api", "useHeaderRoutes": true]],
                                                                                "namespace": "edge"]])))
            == "Gateway API HTTPRoutes edge/web, edge/api")
        #expect(TrafficText.router(Self.canary(try Self.routing(["nginx": ["stableIngress": "web"], "plugins": ["acme/router": [:]],
                                                                 "maxTrafficWeight": 1000])))
            == "plugin acme/router (not supported); nginx (not supported); max weight 1000")
        #expect(TrafficText.router(Self.canary(try Self.routing(["plugins": ["argoproj-labs/gatewayAPI": ["httpRoute": 7]]])))
            == "Gateway API (configuration unreadable)")
    }

    @Test func routeStepsSayWhatTheyMatch() throws {
        #expect(TrafficText.routeStep(.setHeaderRoute(SetHeaderRoute(name: "h", match: [
            HeaderRoutingMatch(headerName: "X-Canary", headerValue: StringMatch(exact: "true")),
            HeaderRoutingMatch(headerName: "User-Agent", headerValue: StringMatch(prefix: "beta")),
            HeaderRoutingMatch(headerName: "X-Team", headerValue: StringMatch(regex: "^(a|b)$")),
        ]))) == "setHeaderRoute h: X-Canary=true or User-Agent=beta* or X-Team~^(a|b)$")
        #expect(TrafficText.routeStep(.setHeaderRoute(SetHeaderRoute(name: "h"))) == "setHeaderRoute h (remove)")
        let match = try JSONDecoder().decode(RouteMatch.self, from: Data(#"{"method": {"exact": "GET"}, "path": {"prefix": "/api"}, "headers": {"X-Debug": {"exact": "1"}}}"#.utf8))
        #expect(TrafficText.routeStep(.setMirrorRoute(SetMirrorRoute(name: "m", percentage: 35, match: [match])))
            == "setMirrorRoute m: 35% of GET /api* X-Debug=1")
        #expect(TrafficText.routeStep(.setMirrorRoute(SetMirrorRoute(name: "m", match: [try JSONDecoder().decode(RouteMatch.self, from: Data("{}".utf8))]))) == "setMirrorRoute m: 100% of all")
        #expect(TrafficText.routeStep(.setMirrorRoute(SetMirrorRoute(name: "m"))) == "setMirrorRoute m (remove)")
        #expect(TrafficText.routeStep(.weight(10)) == nil)
    }

    // MARK: get rollout

    static func istioRollout() throws -> Rollout {
        var r = try example("istio-rollout.yaml")
        r.metadata.namespace = "shop"
        r.metadata.generation = 2
        var s = RolloutStatus()
        s.observedGeneration = 2
        s.phase = .Paused
        s.message = "CanaryPauseStep"
        s.stableRS = "aaa"
        s.currentPodHash = "bbb"
        s.currentStepIndex = 2
        var canary = CanaryStatus(weights: .init(canary: .init(weight: 10, podTemplateHash: "bbb", serviceName: "web-canary"),
                                                 stable: .init(weight: 90, podTemplateHash: "aaa", serviceName: "web-stable"), verified: true))
        canary.managedRoutes = ["header-route"]
        s.canary = canary
        s.replicas = 11
        s.updatedReplicas = 1
        s.readyReplicas = 11
        s.availableReplicas = 11
        r.status = s
        return r
    }

    @Test func getUnderIstioGolden() throws {
        let sets = [RendererTests.replicaSet("aaa", image: "web:1", revision: 1, desired: 10, available: 10),
                    RendererTests.replicaSet("bbb", image: "web:2", revision: 2, desired: 1, available: 1)]
        let text = RolloutTree.render(.init(rollout: try Self.istioRollout(), replicaSets: sets, pods: [], runs: []), color: false)
        #expect(text == """
            Name:           web
            Namespace:      shop
            Status:         ॥ Paused
            Message:        CanaryPauseStep
            Strategy:       Canary
              Traffic:      Istio VirtualService web (routes: primary)
              Step:         2/6
              SetWeight:    10
              ActualWeight: 10 (verified)
              Routes:       header-route
            Images:         web:2 (canary), web:1 (stable)
            Replicas:
              Desired:      10
              Current:      11
              Updated:      1
              Ready:        11
              Available:    11

            NAME             KIND        STATUS     INFO
            ⟳ web            Rollout     ॥ Paused
            ├──# revision:2
            │  └──⧉ web-bbb  ReplicaSet  ✔ Healthy  canary, 1/1 available
            └──# revision:1
               └──⧉ web-aaa  ReplicaSet  ✔ Healthy  stable, 10/10 available

            """)
    }

    /// Set is what the steps ask for; actual is what the router was given, and whether it was read back.
    @Test func setAndActualWeightsDifferUntilTheRouterHoldsTheStep() throws {
        var r = try Self.istioRollout()
        r.status?.currentStepIndex = 3  // setWeight 50, canary pods not yet there
        r.status?.canary?.weights?.verified = false
        let text = RolloutTree.render(.init(rollout: r, replicaSets: [], pods: [], runs: []), color: false)
        #expect(text.contains("  SetWeight:    50\n  ActualWeight: 10 (not verified yet)\n"), "\(text)")
        // Promoted: the new hash is stable and has it all.
        r.status?.stableRS = "bbb"
        r.status?.currentStepIndex = 6
        r.status?.canary?.managedRoutes = nil
        let done = RolloutTree.render(.init(rollout: r, replicaSets: [], pods: [], runs: []), color: false)
        #expect(done.contains("  SetWeight:    100\n  ActualWeight: 100 (not verified yet)\n"), "\(done)")
        #expect(!done.contains("Routes:"))
    }

    @Test func aGradualRollbackShowsWhereItStands() throws {
        var r = try Self.example("gateway-api-rollout.yaml")
        var s = RolloutStatus()
        s.stableRS = "aaa"
        s.currentPodHash = "bbb"
        s.currentStepIndex = 4
        s.abort = true
        s.abortedAt = KubeTime(secondsSinceEpoch: 1_800_000_000)
        var canary = CanaryStatus(weights: .init(canary: .init(weight: 30, podTemplateHash: "bbb"), stable: .init(weight: 70, podTemplateHash: "aaa"), verified: true))
        canary.rollback = GradualRollbackStatus(weight: 30, since: KubeTime(secondsSinceEpoch: 1_800_000_005))
        s.canary = canary
        r.status = s
        let text = RolloutTree.render(.init(rollout: r, replicaSets: [], pods: [], runs: []), color: false)
        #expect(text.contains("""
              Traffic:      Gateway API HTTPRoute web
              Step:         4/6
              SetWeight:    30
              ActualWeight: 30 (verified)
              Rollback:     canary at 30 since 2027-01-15T08:00:05Z, next 10 after 30s

            """), "\(text)")
        r.status?.canary?.rollback?.weight = 0
        #expect(RolloutTree.render(.init(rollout: r, replicaSets: [], pods: [], runs: []), color: false)
            .contains("  Rollback:     done: canary at 0 since 2027-01-15T08:00:05Z\n"))
        // With no router, replicas go back the same way, and get says so too.
        var split = r
        split.spec.strategy?.canary?.trafficRouting = nil
        split.status?.canary?.rollback?.weight = 10
        let splitText = RolloutTree.render(.init(rollout: split, replicaSets: [], pods: [], runs: []), color: false)
        #expect(splitText.contains("  Traffic:      replica split\n") && splitText.contains("  Rollback:     canary at 10 since 2027-01-15T08:00:05Z, next 0 after 30s\n"),
                "\(splitText)")
        // stepWeight: the next weight is this one less the step.
        r.spec.strategy?.canary?.abortStrategy = .gradual(GradualAbort(stepWeight: 25, interval: "1m"))
        r.status?.canary?.rollback?.weight = 60
        #expect(TrafficText.rollback(try #require(r.spec.strategy?.canary), r.status) == "canary at 60 since 2027-01-15T08:00:05Z, next 35 after 1m")
    }

    // MARK: plan

    /// The rows as StepTimeline gives them under a router (canary ceil(weight × replicas / 100), stable full).
    @Test func planUnderIstioGolden() throws {
        let r = try Self.example("istio-rollout.yaml")
        let rows = [(1, "setWeight 10", 1, 10, 10, nil), (2, "setHeaderRoute header-route", 1, 10, 10, nil), (3, "pause", 1, 10, 10, "until promoted"),
                    (4, "setWeight 50", 5, 10, 50, nil), (5, "pause 30s", 5, 10, 50, "30s"), (6, "setHeaderRoute header-route removed", 5, 10, 50, nil)]
            .map { PlanTable.Row(step: $0.0, kind: $0.1, canary: $0.2, stable: $0.3, weight: $0.4, waits: $0.5) }
        #expect(PlanTable.render(r, rows: rows) == """
            Rollout web: canary, 10 replicas, 6 steps
            Traffic: Istio VirtualService web (routes: primary)
            STEP  KIND                                        CANARY  STABLE  WEIGHT  ROUTES        WAITS
            1     setWeight 10                                1       10      10%
            2     setHeaderRoute header-route: X-Canary=true  1       10      10%     header-route
            3     pause                                       1       10      10%     header-route  until promoted
            4     setWeight 50                                5       10      50%     header-route
            5     pause 30s                                   5       10      50%     header-route  30s
            6     setHeaderRoute header-route (remove)        5       10      50%
            end   promoted                                    10      0       100%

            """)
    }

    @Test func planNamesTheGatewayAndTheAbortStrategy() throws {
        let r = try Self.example("gateway-api-rollout.yaml")
        let text = PlanTable.render(r, rows: [PlanTable.Row(step: 1, kind: "setWeight 10", canary: 1, stable: 10, weight: 10, waits: nil)])
        #expect(text.hasPrefix("""
            Rollout web: canary, 10 replicas, 1 steps
            Traffic: Gateway API HTTPRoute web
            Abort: gradual, canary weight 30 → 10 → 0, each held 30s
            STEP  KIND          CANARY  STABLE  WEIGHT  WAITS

            """), "\(text)")
        let subset = try Self.example("istio-subset-rollout.yaml")
        #expect(PlanTable.render(subset, rows: []).hasPrefix("""
            Rollout web: canary, 10 replicas, 0 steps
            Traffic: Istio VirtualService web (routes: primary), DestinationRule web (subsets: canary, stable)

            """))
    }

    @Test func setCanaryScaleSaysWhatItSets() {
        #expect(PlanTable.scale(.setCanaryScale(SetCanaryScale(replicas: 1))) == "setCanaryScale 1 pod")
        #expect(PlanTable.scale(.setCanaryScale(SetCanaryScale(replicas: 3))) == "setCanaryScale 3 pods")
        #expect(PlanTable.scale(.setCanaryScale(SetCanaryScale(weight: 25))) == "setCanaryScale 25% of pods")
        #expect(PlanTable.scale(.setCanaryScale(SetCanaryScale(matchTrafficWeight: true))) == "setCanaryScale matchTrafficWeight")
        #expect(PlanTable.scale(.weight(5)) == nil)
    }

    /// Without a router the plan reads as it always has.
    @Test func planWithoutARouterIsUnchanged() {
        var r = RendererTests.rollout
        r.spec.strategy?.canary?.steps = [.weight(25)]
        let text = PlanTable.render(r, rows: [PlanTable.Row(step: 1, kind: "setWeight 25", canary: 1, stable: 3, weight: 25, waits: nil)])
        #expect(text == """
            Rollout web: canary, 4 replicas, 1 steps
            STEP  KIND          CANARY  STABLE  WEIGHT  WAITS
            1     setWeight 25  1       3       25%
            end   promoted      4       0       100%

            """)
    }
}
