import AviaryAPI
import Foundation
import Kube
import Rollouts
import Testing

/// Traffic routers end to end: the real controller moves weights in an Istio
/// VirtualService or a Gateway API HTTPRoute (CRDs written for the tests:
/// Fixtures/route-crds.yaml), touches nothing else in them, and puts back a
/// weight edited by hand.
@Suite struct TrafficRoutingE2ETests {
    /// The two Services every routed Rollout here names.
    static let services = """
        apiVersion: v1
        kind: Service
        metadata: {name: web-stable}
        spec:
          selector: {app: web}
          ports: [{port: 80, targetPort: 8080}]
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: web-canary}
        spec:
          selector: {app: web}
          ports: [{port: 80, targetPort: 8080}]
        """

    /// One HTTP route with both Services and a retry policy, and a second
    /// route the Rollout does not name: neither the retries nor it may change.
    static let virtualService = """
        apiVersion: networking.istio.io/v1beta1
        kind: VirtualService
        metadata: {name: web}
        spec:
          hosts: [web.example]
          gateways: [mesh]
          http:
            - name: primary
              route:
                - destination: {host: web-stable, port: {number: 80}}
                  weight: 100
                - destination: {host: web-canary, port: {number: 80}}
                  weight: 0
              retries: {attempts: 3, perTryTimeout: 2s, retryOn: "5xx,reset"}
            - name: admin
              match: [{uri: {prefix: /admin}, headers: {x-team: {exact: ops}}}]
              route:
                - destination: {host: web-stable, port: {number: 80}}
                  weight: 100
              timeout: 5s
        """

    /// One rule with both Services, and a second rule with only stable, which
    /// has no canary backendRef and so is none of the router's business.
    static let httpRoute = """
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: web}
        spec:
          parentRefs: [{name: gateway}]
          hostnames: [web.example]
          rules:
            - backendRefs:
                - {name: web-stable, port: 80, weight: 100}
                - {name: web-canary, port: 80, weight: 0}
            - matches: [{path: {type: PathPrefix, value: /admin}}]
              backendRefs:
                - {name: web-stable, port: 80}
        """

    static let twoPauses = """
        - setWeight: 20
        - pause: {}
        - setWeight: 50
        - pause: {}
        """

    /// A canary of 5 pods; by default its steps stop at 20 % and at 50 %.
    /// `canary` adds lines to strategy.canary (an abortStrategy, say).
    static func rollout(routing: String, steps: String = twoPauses, canary: String = "") -> String {
        func indented(_ text: String, _ by: Int) -> String {
            text.split(separator: "\n").map { String(repeating: " ", count: by) + $0 }.joined(separator: "\n")
        }
        return """
        apiVersion: aviary.dev/v1alpha1
        kind: Rollout
        metadata: {name: web}
        spec:
          replicas: 5
          selector:
            matchLabels: {app: web}
          template:
            metadata:
              labels: {app: web}
            spec:
              containers:
                - name: web
                  image: registry.example/web:1.0
                  ports: [{containerPort: 8080}]
          strategy:
            canary:
              canaryService: web-canary
              stableService: web-stable
              maxSurge: 1
              maxUnavailable: 0
              trafficRouting:
        \(indented(routing, 8))
        \(indented(canary, 6))
              steps:
        \(indented(steps, 8))
        """
    }

    /// The weights of web-stable and web-canary in a route object.
    struct Split: Equatable, Sendable, CustomStringConvertible {
        var stable: Int
        var canary: Int
        init(_ stable: Int, _ canary: Int) {
            self.stable = stable
            self.canary = canary
        }
        var description: String { "\(stable)/\(canary)" }
    }

    /// Where a router keeps the weights of web-stable and web-canary, read from the route object.
    struct Router: Sendable {
        let resource: Resource
        let manifest: String
        let routing: String
        /// (stable, canary) weights, nil when either is missing.
        let weights: @Sendable (JSONValue) -> Split?
        /// The JSON pointer of web-canary's weight (for a hand edit).
        let canaryWeightPath: String
        let stableWeightPath: String
        /// The parts that are not the router's: they must stay exactly as created.
        let untouched: @Sendable (JSONValue) -> [JSONValue?]
        /// Host-level: the two Services' selectors carry the hashes (subset-level: the subsets' labels do).
        var selectsByService = true
        /// More objects the router reads (a DestinationRule), created before the Rollout.
        var others: [(Resource, String)] = []
        /// The pod-template hash the canary's weight goes to: the canary Service's selector, or the canary subset's label.
        var canaryHash: @Sendable (KubeClient, String) async -> String? = { client, ns in
            let svc: Service? = try? await client.get(.services, "web-canary", namespace: ns)
            return svc?.spec?.selector?[podTemplateHashLabel]
        }
    }

    /// Where the walk stands when `walk` hands a router's own checks the Setup.
    enum Stage: Sendable { case firstPause, secondPause, promoted }

    static func number(_ v: JSONValue?) -> Int? {
        guard case .number(let d)? = v, let i = Int(exactly: d) else { return nil }
        return i
    }

    static func items(_ v: JSONValue?) -> [JSONValue] {
        guard case .array(let a)? = v else { return [] }
        return a
    }

    /// The weights of the `primary` HTTP route's two destinations, found by `host` or by `subset`.
    static func primaryWeights(_ vs: JSONValue, by key: String, stable: String, canary: String) -> Split? {
        let route = items(vs["spec"]?["http"]).first { $0["name"] == "primary" }
        let destinations = items(route?["route"])
        func weight(_ value: String) -> Int? {
            destinations.first { $0["destination"]?[key]?.stringValue == value }.map { number($0["weight"]) ?? 0 }
        }
        guard let s = weight(stable), let c = weight(canary) else { return nil }
        return Split(s, c)
    }

    static let istio = Router(
        resource: .virtualServices, manifest: virtualService,
        routing: """
            istio:
              virtualService: {name: web, routes: [primary]}
            """,
        weights: { primaryWeights($0, by: "host", stable: "web-stable", canary: "web-canary") },
        canaryWeightPath: "/spec/http/0/route/1/weight", stableWeightPath: "/spec/http/0/route/0/weight",
        untouched: { vs in
            let http = items(vs["spec"]?["http"])
            return [vs["spec"]?["hosts"], vs["spec"]?["gateways"], http.first?["retries"], http.count > 1 ? http[1] : nil,
                    .number(Double(http.count))]
        })

    /// Subset-level: the VirtualService routes by subset of one host; the
    /// DestinationRule's subsets carry the hashes.
    static let subsetVirtualService = """
        apiVersion: networking.istio.io/v1beta1
        kind: VirtualService
        metadata: {name: web}
        spec:
          hosts: [web]
          http:
            - name: primary
              route:
                - destination: {host: web, subset: stable}
                  weight: 100
                - destination: {host: web, subset: canary}
                  weight: 0
              retries: {attempts: 2, retryOn: gateway-error}
            - name: admin
              match: [{uri: {prefix: /admin}}]
              route:
                - destination: {host: web, subset: stable}
              fault: {abort: {httpStatus: 503, percentage: {value: 0.5}}}
        """

    static let destinationRule = """
        apiVersion: networking.istio.io/v1beta1
        kind: DestinationRule
        metadata: {name: web}
        spec:
          host: web
          trafficPolicy: {loadBalancer: {simple: LEAST_REQUEST}}
          subsets:
            - name: stable
              labels: {app: web}
            - name: canary
              labels: {app: web}
        """

    static let istioSubsets = Router(
        resource: .virtualServices, manifest: subsetVirtualService,
        routing: """
            istio:
              virtualService: {name: web, routes: [primary]}
              destinationRule: {name: web, canarySubsetName: canary, stableSubsetName: stable}
            """,
        weights: { primaryWeights($0, by: "subset", stable: "stable", canary: "canary") },
        canaryWeightPath: "/spec/http/0/route/1/weight", stableWeightPath: "/spec/http/0/route/0/weight",
        untouched: { vs in
            let http = items(vs["spec"]?["http"])
            return [vs["spec"]?["hosts"], http.first?["retries"], http.count > 1 ? http[1] : nil, .number(Double(http.count))]
        },
        selectsByService: false,
        others: [(.destinationRules, destinationRule)],
        canaryHash: { client, ns in await subsetHashes(client, ns)?.canary })

    /// The hash labels of the DestinationRule's subsets.
    static func subsetHashes(_ client: KubeClient, _ ns: String) async -> (stable: String?, canary: String?)? {
        guard let rule: JSONValue = try? await client.get(.destinationRules, "web", namespace: ns) else { return nil }
        let subsets = items(rule["spec"]?["subsets"])
        func hash(_ name: String) -> String? { subsets.first { $0["name"] == .string(name) }?["labels"]?[podTemplateHashLabel]?.stringValue }
        return (hash("stable"), hash("canary"))
    }

    static let gatewayAPI = Router(
        resource: .httpRoutes, manifest: httpRoute,
        routing: """
            plugins:
              argoproj-labs/gatewayAPI: {httpRoute: web}
            """,
        weights: { route in
            let refs = items(items(route["spec"]?["rules"]).first?["backendRefs"])
            func weight(_ name: String) -> Int? {
                refs.first { $0["name"]?.stringValue == name }.map { number($0["weight"]) ?? 1 }
            }
            guard let s = weight("web-stable"), let c = weight("web-canary") else { return nil }
            return Split(s, c)
        },
        canaryWeightPath: "/spec/rules/0/backendRefs/1/weight", stableWeightPath: "/spec/rules/0/backendRefs/0/weight",
        untouched: { route in
            let rules = items(route["spec"]?["rules"])
            return [route["spec"]?["parentRefs"], route["spec"]?["hostnames"], rules.first?["matches"], rules.count > 1 ? rules[1] : nil,
                    .number(Double(rules.count))]
        })

    struct Setup {
        let e2e: E2ESetup
        let router: Router
        var client: KubeClient { e2e.client }
        var ns: String { e2e.ns }
        var probe: RolloutProbe { e2e.probe }

        func route() async throws -> JSONValue { try await client.get(router.resource, "web", namespace: ns) }

        func weights() async throws -> Split? { router.weights(try await route()) }

        func sizes() async throws -> (canary: Int, stable: Int) {
            let s = try await probe.sizes()
            return (s["registry.example/web:2.0"]?.desired ?? 0, s["registry.example/web:1.0"]?.desired ?? 0)
        }
    }

    /// A namespace with the two Services, the router's object, and the Rollout, Healthy at web:1.0.
    func start(_ prefix: String, _ router: Router, rollout: String? = nil) async throws -> Setup {
        try await TestCluster.installCRDs()
        try await TestCluster.installRouteCRDs()
        let client = try TestCluster.client()
        let ns = try await TestCluster.namespace(prefix, client: client)
        for svc in try JSONValue.documents(fromYAML: Self.services) {
            let _: JSONValue = try await client.create(.services, svc, namespace: ns)
        }
        for (resource, manifest) in [(router.resource, router.manifest)] + router.others {
            for doc in try JSONValue.documents(fromYAML: manifest) {
                let _: JSONValue = try await client.create(resource, doc, namespace: ns)
            }
        }
        for doc in try JSONValue.documents(fromYAML: rollout ?? Self.rollout(routing: router.routing)) {
            let _: JSONValue = try await client.create(Rollout.resource, doc, namespace: ns)
        }
        let controller = try ControllerProcess(namespace: ns)
        let probe = RolloutProbe(client: client, namespace: ns, name: "web")
        try await probe.wait("web:1.0 to be Healthy") { $0.status?.phase == .Healthy && $0.status?.availableReplicas == 5 }
        let sampler = ZeroDowntimeSampler(client: client, namespace: ns, minAvailable: 5, services: ["web-stable", "web-canary"])
        await sampler.start()
        return Setup(e2e: E2ESetup(client: client, ns: ns, probe: probe, controller: controller, sampler: sampler), router: router)
    }

    /// The whole walk under one router: 20 %, a hand edit put back, 50 %, promotion to 100 % stable on the new hash;
    /// throughout, nothing but the weights changes in the route object, and no weight goes to a canary without pods.
    func walk(_ prefix: String, _ router: Router,
              check: @Sendable (Setup, Stage) async throws -> Void = { _, _ in }) async throws {
        let s = try await start(prefix, router)
        let p = s.probe
        let created = try await s.route()
        #expect(try await s.weights() == Split(100, 0), "a first deploy leaves the weights as they are: all on stable")
        let routes = RouteWeightSampler(setup: s)
        await routes.start()

        try await p.setImage("registry.example/web:2.0")
        try await p.wait("setWeight 20, then the indefinite pause") { $0.status?.currentStepIndex == 1 && $0.status?.phase == .Paused }
        try await eventually("the route at 80/20") { try await s.weights() == Split(80, 20) }
        // Under a router the canary runs ceil(20 % × 5) = 1 pod and stable stays at full size.
        #expect(try await s.sizes() == (1, 5))
        let paused = try await p.rollout()
        #expect(paused.status?.canary?.weights?.canary.weight == 20)
        #expect(paused.status?.canary?.weights?.stable.weight == 80)
        #expect(router.untouched(try await s.route()) == router.untouched(created), "only the weights change")
        try await check(s, .firstPause)

        // Someone edits the weights by hand (or a GitOps sync puts its copy back): the watch sees it, and the controller puts its weights back.
        let edited: JSONValue = try await s.client.patch(router.resource, "web", namespace: s.ns, .json([
            .replace(router.stableWeightPath, 50), .replace(router.canaryWeightPath, 50),
        ]))
        #expect(router.weights(edited) == Split(50, 50))
        try await eventually("the hand edit put back to 80/20", timeout: .seconds(30)) { try await s.weights() == Split(80, 20) }
        try await eventually("an event saying so") { try await p.events().contains { $0.reason == "TrafficRouteRestored" } }
        #expect(try await p.rollout().status?.currentStepIndex == 1, "a drift fix is no step")

        try await p.promote()
        try await p.wait("setWeight 50, then the second pause") { $0.status?.currentStepIndex == 3 && $0.status?.phase == .Paused }
        try await eventually("the route at 50/50") { try await s.weights() == Split(50, 50) }
        #expect(try await s.sizes() == (3, 5), "ceil(50 % × 5) = 3 canary pods")
        #expect(router.untouched(try await s.route()) == router.untouched(created), "only the weights change")
        try await check(s, .secondPause)

        try await p.promote()
        try await p.wait("completion", timeout: .seconds(90)) {
            $0.status?.phase == .Healthy && $0.status?.stableRS == $0.status?.currentPodHash && $0.status?.availableReplicas == 5
        }
        try await eventually("all traffic back on stable, now the new version") { try await s.weights() == Split(100, 0) }
        let done = try await p.rollout()
        if router.selectsByService {
            let stable: Service = try await s.client.get(.services, "web-stable", namespace: s.ns)
            #expect(stable.spec?.selector?[podTemplateHashLabel] == done.status?.stableRS, "web-stable selects the new hash")
        }
        try await eventually("the old version scaled down", timeout: .seconds(60)) { try await s.sizes() == (5, 0) }
        let final = try await s.route()
        #expect(router.untouched(final) == router.untouched(created), "only the weights change")
        #expect(router.weights(final) == Split(100, 0))
        try await check(s, .promoted)

        let violations = await routes.stop()
        #expect(violations.isEmpty, "weight sent to a canary without available pods: \(violations.prefix(5))")
        await s.e2e.finish()
    }

    /// A header route for testers during the first steps, then removed; then
    /// an abort rolls the weight back gradually: 50 → 10 → 0, each held 3 s.
    @Test func istioHeaderRouteThenAGradualRollback() async throws {
        let rollout = Self.rollout(routing: """
            istio:
              virtualService: {name: web, routes: [primary]}
            managedRoutes: [{name: testers}]
            """, steps: """
            - setWeight: 20
            - setHeaderRoute: {name: testers, match: [{headerName: X-Canary, headerValue: {exact: "true"}}]}
            - pause: {}
            - setHeaderRoute: {name: testers}
            - setWeight: 50
            - pause: {}
            """, canary: """
            abortStrategy: {gradual: {steps: [10, 0], interval: 3s}}
            abortScaleDownDelaySeconds: 2
            """)
        let s = try await start("istio-header", Self.istio, rollout: rollout)
        let p = s.probe
        func names() async throws -> [String] { Self.items(try await s.route()["spec"]?["http"]).compactMap { $0["name"]?.stringValue } }

        try await p.setImage("registry.example/web:2.0")
        try await p.wait("the pause after the header route") { $0.status?.currentStepIndex == 2 && $0.status?.phase == .Paused }
        try await eventually("the header route on top") { try await names() == ["testers", "primary", "admin"] }
        let header = Self.items(try await s.route()["spec"]?["http"]).first
        #expect(header?["match"] == [["headers": ["X-Canary": ["exact": "true"]]]])
        #expect(Self.items(header?["route"]).first?["destination"]?["host"] == "web-canary")
        #expect(try await s.weights() == Split(80, 20))
        #expect(try await p.rollout().status?.canary?.managedRoutes == ["testers"])

        try await p.promote()
        try await p.wait("the second pause") { $0.status?.currentStepIndex == 5 && $0.status?.phase == .Paused }
        try await eventually("the header route gone, 50/50") {
            let gone = try await names() == ["primary", "admin"]
            let weights = try await s.weights()
            return gone && weights == Split(50, 50)
        }

        // Abort: the weight comes back through 10 before 0, each step held for the interval.
        let abortedAt = ContinuousClock.now
        try await p.abort()
        var seen: [Int] = []
        try await eventually("the rollback at 0", timeout: .seconds(40)) {
            if let w = try await s.weights()?.canary, seen.last != w { seen.append(w) }
            return seen.last == 0
        }
        #expect(seen.contains(10), "the canary passed through weight 10: \(seen)")
        #expect(seen.allSatisfy { [50, 10, 0].contains($0) }, "only the configured weights: \(seen)")
        #expect(ContinuousClock.now - abortedAt >= .seconds(5), "two intervals of 3 s")
        #expect(try await p.events().contains { $0.reason == "RolloutRollingBack" })
        try await eventually("the canary scaled down after abortScaleDownDelaySeconds", timeout: .seconds(30)) { try await s.sizes().canary == 0 }
        await s.e2e.finish()
    }

    /// Through the Gateway API a header route is a rule of its own, marked as
    /// Aviary's; the API server's defaults on it never make the controller rewrite it.
    @Test func gatewayAPIHeaderRouteDuringTheStepsAndGoneAfter() async throws {
        let rollout = Self.rollout(routing: """
            plugins:
              argoproj-labs/gatewayAPI: {httpRoute: web}
            managedRoutes: [{name: testers}]
            """, steps: """
            - setWeight: 20
            - setHeaderRoute: {name: testers, match: [{headerName: X-Canary, headerValue: {exact: "true"}}]}
            - pause: {}
            - setHeaderRoute: {name: testers}
            - setWeight: 50
            - pause: {}
            """)
        let s = try await start("gateway-header", Self.gatewayAPI, rollout: rollout)
        let p = s.probe
        func rules() async throws -> [JSONValue] { Self.items(try await s.route()["spec"]?["rules"]) }

        try await p.setImage("registry.example/web:2.0")
        try await p.wait("the pause after the header route") { $0.status?.currentStepIndex == 2 && $0.status?.phase == .Paused }
        try await eventually("the header rule added") { try await rules().count == 3 }
        let added = try await rules()[0]
        #expect(RouteRef.managedRouteName(ofGatewayRule: added) == "testers")
        #expect(Self.items(added["backendRefs"]).map { $0["name"]?.stringValue } == ["web-canary"])
        let headers = Self.items(Self.items(added["matches"]).first?["headers"])
        #expect(headers.contains { $0["name"] == "X-Canary" && $0["value"] == "true" })
        // The server filled in defaults; a few reconciles later nothing has been rewritten.
        let version = try await s.route()["metadata"]?["resourceVersion"]
        try await Task.sleep(for: .seconds(3))
        #expect(try await s.route()["metadata"]?["resourceVersion"] == version, "no rewrite of the defaulted rule")
        #expect(try await !p.events().contains { $0.reason == "TrafficRouteRestored" })

        try await p.promote()
        try await p.wait("the second pause") { $0.status?.currentStepIndex == 5 && $0.status?.phase == .Paused }
        try await eventually("the header rule gone") { try await rules().count == 2 }
        #expect(try await rules().allSatisfy { RouteRef.managedRouteName(ofGatewayRule: $0) == nil })
        await s.e2e.finish()
    }

    /// A mirror route: a copy of the weighted route, on top, mirroring half
    /// of the matching requests to the canary; gone once the update is promoted.
    @Test func istioMirrorRouteDuringTheStepsAndGoneAfterPromotion() async throws {
        let rollout = Self.rollout(routing: """
            istio:
              virtualService: {name: web, routes: [primary]}
            managedRoutes: [{name: shadow}]
            """, steps: """
            - setWeight: 20
            - setMirrorRoute: {name: shadow, percentage: 50, match: [{method: {exact: GET}, path: {prefix: /api}}]}
            - pause: {}
            """)
        let s = try await start("istio-mirror", Self.istio, rollout: rollout)
        let p = s.probe
        func http() async throws -> [JSONValue] { Self.items(try await s.route()["spec"]?["http"]) }

        try await p.setImage("registry.example/web:2.0")
        try await p.wait("the pause after the mirror route") { $0.status?.currentStepIndex == 2 && $0.status?.phase == .Paused }
        try await eventually("the mirror route on top") { try await http().first?["name"] == "shadow" }
        let mirror = try await http()[0]
        #expect(mirror["mirror"]?["host"] == "web-canary")
        #expect(Self.number(mirror["mirrorPercentage"]?["value"]) == 50)
        #expect(mirror["match"] == [["method": ["exact": "GET"], "uri": ["prefix": "/api"]]])
        #expect(mirror["retries"] == (try await http())[1]["retries"], "a copy of the weighted route")
        #expect(try await http().map { $0["name"]?.stringValue } == ["shadow", "primary", "admin"])

        try await p.promote()
        try await p.wait("completion", timeout: .seconds(90)) { $0.status?.phase == .Healthy && $0.status?.stableRS == $0.status?.currentPodHash }
        try await eventually("the mirror route gone") { try await http().map { $0["name"]?.stringValue } == ["primary", "admin"] }
        #expect(try await s.weights() == Split(100, 0))
        await s.e2e.finish()
    }

    @Test func istioHostLevelWalksTheWeightsAndPutsBackAHandEdit() async throws {
        try await walk("istio", Self.istio)
    }

    @Test func istioSubsetLevelWalksTheWeightsAndLabelsTheSubsets() async throws {
        try await walk("istio-subsets", Self.istioSubsets) { s, stage in
            let r = try await s.probe.rollout()
            let hashes = await Self.subsetHashes(s.client, s.ns)
            switch stage {
            case .firstPause, .secondPause:
                // The canary subset moves to the new hash once its ReplicaSet is fully available; stable stays.
                #expect(hashes?.stable == r.status?.stableRS)
                try await eventually("the canary subset on the new hash") {
                    await Self.subsetHashes(s.client, s.ns)?.canary == r.status?.currentPodHash
                }
            case .promoted:
                #expect(hashes?.stable == r.status?.stableRS && r.status?.stableRS == r.status?.currentPodHash, "stable's subset on the new hash")
            }
            // Only the subsets' hash labels change: the host, the policy, the other labels stay.
            let rule: JSONValue = try await s.client.get(.destinationRules, "web", namespace: s.ns)
            #expect(rule["spec"]?["host"] == "web")
            #expect(rule["spec"]?["trafficPolicy"] == ["loadBalancer": ["simple": "LEAST_REQUEST"]])
            #expect(Self.items(rule["spec"]?["subsets"]).map { $0["labels"]?["app"] } == ["web", "web"])
        }
    }

    @Test func gatewayAPIWalksTheWeightsAndPutsBackAHandEdit() async throws {
        try await walk("gwapi", Self.gatewayAPI)
    }

    /// A VirtualService the Rollout names but that does not exist is an
    /// InvalidSpec naming it; creating it is a change of a route object, which
    /// brings the Rollout back, and the condition clears.
    @Test func aMissingVirtualServiceIsInvalidSpecUntilItIsCreated() async throws {
        try await TestCluster.installCRDs()
        try await TestCluster.installRouteCRDs()
        let client = try TestCluster.client()
        let ns = try await TestCluster.namespace("istio-missing", client: client)
        for svc in try JSONValue.documents(fromYAML: Self.services) {
            let _: JSONValue = try await client.create(.services, svc, namespace: ns)
        }
        for doc in try JSONValue.documents(fromYAML: Self.rollout(routing: Self.istio.routing)) {
            let _: JSONValue = try await client.create(Rollout.resource, doc, namespace: ns)
        }
        let controller = try ControllerProcess(namespace: ns)
        defer { controller.kill() }
        func invalidSpec() async throws -> String? {
            let r: JSONValue = try await client.get(Rollout.resource, "web", namespace: ns)
            return Self.items(r["status"]?["conditions"]).first { $0["type"] == "InvalidSpec" }?["message"]?.stringValue
        }
        try await eventually("InvalidSpec naming the VirtualService", timeout: .seconds(30)) {
            let message = try await invalidSpec() ?? ""
            return message.contains("VirtualService") && message.contains("\"web\"") && message.contains("not found")
        }
        let replicaSets: ObjectList<ReplicaSet> = try await client.list(.replicaSets, namespace: ns)
        #expect(replicaSets.items.isEmpty, "nothing is moved")
        for doc in try JSONValue.documents(fromYAML: Self.virtualService) {
            let _: JSONValue = try await client.create(.virtualServices, doc, namespace: ns)
        }
        try await eventually("the condition to clear once the VirtualService exists", timeout: .seconds(30)) { try await invalidSpec() == nil }
        let probe = RolloutProbe(client: client, namespace: ns, name: "web")
        try await probe.wait("web:1.0 to be Healthy") { $0.status?.phase == .Healthy && $0.status?.availableReplicas == 5 }
        await TestCluster.deleteNamespace(ns, client: client)
    }
}

/// Samples the route object throughout a walk: a canary weight above 0 must
/// go to pods that are there: the ReplicaSet the canary Service (or subset)
/// selects has available pods (the router's half of "zero downtime").
actor RouteWeightSampler {
    let setup: TrafficRoutingE2ETests.Setup
    private var violations: [String] = []
    private var task: Task<Void, Never>?

    init(setup: TrafficRoutingE2ETests.Setup) { self.setup = setup }

    func start() {
        task = Task { [weak self] in
            while !Task.isCancelled {
                await self?.sample()
                try? await Task.sleep(for: .milliseconds(200))
            }
        }
    }

    func stop() -> [String] {
        task?.cancel()
        return violations
    }

    /// The canary's hash is read before and after the weights, and judged
    /// only when it held across the read, as the pod sampler does.
    private func sample() async {
        let s = setup
        let before = await s.router.canaryHash(s.client, s.ns)
        guard let weights = try? await s.weights(),
              let list: ObjectList<ReplicaSet> = try? await s.client.list(.replicaSets, namespace: s.ns) else { return }
        let hash = await s.router.canaryHash(s.client, s.ns)
        guard weights.canary > 0, hash == before else { return }
        let available = list.items.first { $0.podTemplateHash == hash }?.availableReplicas ?? 0
        if hash == nil || available == 0 {
            violations.append("canary weight \(weights.canary) while web-canary selects \(hash ?? "no hash"), with \(available) available pods")
        }
    }
}
