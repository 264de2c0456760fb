import AviaryAPI
import Foundation
import KubeAPI
import Testing
@testable import Rollouts

/// A namespace user can write anything in a spec or a status. None of it may
/// trap: out-of-range numbers are an InvalidSpec naming the field, and a
/// status that cannot be right is repaired and said.
@Suite struct HostileInputTests {
    func deployed() -> World {
        var w = World(steps: [.weight(10), .pause(), .weight(50)])
        w.settle()
        return w
    }

    @Test(arguments: [
        ("replicas", "spec.replicas: 2000000 is outside 0–1000000"),
        ("pause-inf", "spec.strategy.canary.steps[0].pause.duration: \"inf\" is longer than the largest duration aviary accepts (31536000s, one year)"),
        ("pause-1e19", "spec.strategy.canary.steps[0].pause.duration: \"1e19\" is longer than the largest duration aviary accepts (31536000s, one year)"),
        ("pause-int", "spec.strategy.canary.steps[0].pause.duration: \"9223372036854775807\" is longer than the largest duration aviary accepts (31536000s, one year)"),
        ("pause-negative", "spec.strategy.canary.steps[0].pause.duration: \"-5\" is not a duration like 30s, 5m, 1h or a number of seconds"),
        ("surge-percent", "spec.strategy.canary.maxSurge: \"9223372036854775807%\" is not an integer from 0 to 1000000 nor a percentage from 0% to 1000%"),
        ("surge-int", "spec.strategy.canary.maxSurge: \"9223372036854775807\" is not an integer from 0 to 1000000 nor a percentage from 0% to 1000%"),
        ("deadline", "spec.progressDeadlineSeconds: 9223372036854775807s is outside 0–31536000s"),
        ("abort-delay", "spec.strategy.canary.abortScaleDownDelaySeconds: -1s is outside 0–31536000s"),
        ("canary-scale", "spec.strategy.canary.steps[0].setCanaryScale.replicas: 9223372036854775807 is outside 0–1000000"),
        ("history", "spec.revisionHistoryLimit: -3 is outside 0–1000"),
        ("labels", "spec.template.metadata.labels: must be a map of strings"),
    ])
    func extremeNumbersAreInvalidSpecsNamingTheField(kind: String, message: String) {
        var w = World(steps: [.weight(10)])
        switch kind {
        case "replicas": w.rollout.spec.replicas = 2_000_000
        case "pause-inf": w.rollout.spec.strategy?.canary?.steps = [.pause("inf")]
        case "pause-1e19": w.rollout.spec.strategy?.canary?.steps = [.pause("1e19")]
        case "pause-int": w.rollout.spec.strategy?.canary?.steps = [.pause(.int(Int.max))]
        case "pause-negative": w.rollout.spec.strategy?.canary?.steps = [.pause(.int(-5))]
        case "surge-percent": w.rollout.spec.strategy?.canary?.maxSurge = "9223372036854775807%"
        case "surge-int": w.rollout.spec.strategy?.canary?.maxSurge = .int(Int.max)
        case "deadline": w.rollout.spec.progressDeadlineSeconds = Int.max
        case "abort-delay": w.rollout.spec.strategy?.canary?.abortScaleDownDelaySeconds = -1
        case "canary-scale": w.rollout.spec.strategy?.canary?.steps = [CanaryStep.setCanaryScale(SetCanaryScale(replicas: Int.max))]
        case "history": w.rollout.spec.revisionHistoryLimit = -3
        case "labels": w.rollout.spec.template = ["metadata": ["labels": "app=web"], "spec": [:]]
        default: Issue.record("unknown case \(kind)")
        }
        let plan = w.reconcile()
        #expect(plan.actions.allSatisfy { if case .event = $0 { return true } else { return false } })
        #expect(w.status.phase == .Degraded)
        #expect(w.status.condition(.InvalidSpec)?.message == message)
        #expect(w.replicaSets.isEmpty)
    }

    @Test(arguments: [-1, -9_223_372_036_854_775_807, 4, 1_000_000])
    func aStepIndexOutsideTheStepsIsRepairedAndSaid(index: Int) {
        var w = deployed()
        w.setImage("web:2")
        w.reconcile()
        w.tick()
        var status = w.status
        status.currentStepIndex = index
        w.rollout.status = status
        w.reconcile()
        #expect(w.events.contains("StatusRepaired"))
        #expect((0...3).contains(w.status.currentStepIndex ?? -1))
        w.settle()
        // Wherever it was put, the rollout goes on (paused, or promoted) and keeps its invariants.
        #expect([.Paused, .Healthy, .Progressing].contains(w.status.phase))
    }

    @Test func aStableRSThatNamesNothingDoesNotSkipTheSteps() {
        var w = deployed()
        let stable = w.hash("web:1")
        w.setImage("web:2")
        w.reconcile()
        w.tick()
        var status = w.status
        status.stableRS = "nothing"
        w.rollout.status = status
        w.settle()
        #expect(w.events.contains("StatusRepaired"))
        #expect(w.status.stableRS == stable)
        #expect(w.status.phase == .Paused)
        #expect(w.size("web:1") > 0)
    }

    @Test func abortAndPromoteFullTogetherMeanAbort() {
        var w = deployed()
        w.setImage("web:2")
        w.settle()
        var status = w.status
        status.abort = true
        status.promoteFull = true
        w.rollout.status = status
        w.settle()
        #expect(w.status.phase == .Degraded)
        #expect(w.size("web:2") == 0 || w.status.abort == true)
        #expect(w.status.stableRS == w.hash("web:1"))
    }

    @Test func aHugeRevisionAnnotationIsIgnoredNotOverflowed() {
        var w = deployed()
        for name in w.replicaSets.keys { w.replicaSets[name]?.metadata.annotations?[revisionAnnotation] = String(Int.max) }
        w.setImage("web:2")
        w.reconcile()
        let created = w.replicaSets.values.first { $0.podTemplateHash == w.hash("web:2") }
        #expect(created?.revision == 1)
    }

    /// A status whose fields do not decode reads field by field: the rest
    /// survives, and the unreadable keys are rewritten by the next patch.
    @Test func unreadableStatusFieldsReadAsAbsentAndAreRewritten() throws {
        let json = #"""
        {"apiVersion":"aviary.dev/v1alpha1","kind":"Rollout","metadata":{"name":"web","namespace":"a","uid":"u"},
         "spec":{"replicas":2,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}}},
                 "strategy":{"canary":{"steps":[{"setWeight":10}]}}},
         "status":{"phase":"Exploded","currentStepIndex":"two","stableRS":"abc","collisionCount":-4,
                   "pauseConditions":[{"reason":"Lunch","startTime":"2026-01-01T00:00:00Z"},{"reason":"CanaryPauseStep","startTime":"2026-01-01T00:00:00Z"}],
                   "conditions":[{"type":"Hungry","status":"True","reason":"x","message":"y"}],
                   "availableReplicas":1e19,"abortedAt":"soon","message":"kept"}}
        """#
        let rollout = try JSONDecoder().decode(Rollout.self, from: Data(json.utf8))
        let status = try #require(rollout.status)
        #expect(status.phase == nil)
        #expect(status.currentStepIndex == nil)
        #expect(status.collisionCount == nil)
        #expect(status.availableReplicas == nil)
        #expect(status.abortedAt == nil)
        #expect(status.stableRS == "abc")
        #expect(status.message == "kept")
        #expect(status.pauseConditions?.map(\.reason) == [.CanaryPauseStep])
        #expect(status.conditions == [])
        #expect(Set(status.repairs.value) == ["phase", "currentStepIndex", "collisionCount", "pauseConditions", "conditions",
                                              "availableReplicas", "abortedAt"])
        // Writing back the same status still replaces every unreadable field.
        let base = try JSONValue.patchBase(status, repaired: status.repairs.value)
        let patch = try #require(JSONValue.mergePatch(from: base, to: try JSONValue(encoding: status)))
        guard case .object(let fields) = patch else { Issue.record("patch is not an object"); return }
        #expect(Set(fields.keys) == ["phase", "currentStepIndex", "collisionCount", "pauseConditions", "conditions", "availableReplicas", "abortedAt"])
        #expect(fields["phase"] == .null)
        guard case .array(let pauses)? = fields["pauseConditions"] else { Issue.record("pauseConditions not rewritten"); return }
        #expect(pauses.first?["reason"] == "CanaryPauseStep")
    }

    @Test func aListWithOneBadObjectKeepsTheRestAndNamesTheField() throws {
        let json = #"""
        {"metadata":{"resourceVersion":"9"},"items":[
          {"metadata":{"name":"good","namespace":"a"},"spec":{"replicas":1}},
          {"metadata":{"name":"bad","namespace":"b","resourceVersion":"7"},"spec":{"replicas":"many","strategy":{"canary":{"steps":[{"setWeight":"x"}]}}},
           "status":{"message":"old"}},
          {"metadata":{"name":"worse","namespace":"b"},"spec":{"strategy":{"canary":{"steps":[{"setWeight":10},{"setWeight":1e400}]}}}},
          "not an object"
        ]}
        """#
        let list = try JSONDecoder().decode(ObjectList<Rollout>.self, from: Data(json.utf8))
        #expect(list.items.map(\.metadata.name) == ["good"])
        #expect(list.undecodable.map(\.metadata.name) == ["bad", "worse"])
        #expect(list.undecodable.first?.error == "spec.replicas: expected an integer, found a string")
        #expect(list.undecodable.first?.statusMessage == "old")
        #expect(list.undecodable.last?.error == "a number too large to represent: 1e400")
        #expect(list.garbage.count == 1)
    }

    @Test(arguments: ["inf", "-inf", "nan", "1e19", "9223372036854775807", "-1", "99999999999999999999h", "1e308s", "0x1p1000",
                      String(repeating: "9", count: 400), "1h1h1h1h1h1h1h1h1h1h1h1h1h1h1h1h1h1h1h1h1h1h1h1h1h1h1h1h1h1h1h1h1h"])
    func durationsOutOfRangeAreErrors(text: String) {
        #expect(throws: DurationError.self) { _ = try DurationText.seconds(text) }
        #expect(throws: DurationError.self) { _ = try DurationText.wholeSeconds(text) }
    }

    @Test func durationsWithinRangeStillParse() throws {
        #expect(try DurationText.seconds("250ms") == 0.25)
        #expect(try DurationText.wholeSeconds("250ms") == 1)
        #expect(try DurationText.seconds("8760h") == 31_536_000)
        #expect(throws: DurationError.self) { _ = try DurationText.seconds("8761h") }
    }
}

/// Thousands of generated specs and statuses, of every extreme, through
/// validation and the planner: none may trap, and the World's invariants
/// (availability, no Service on an empty ReplicaSet) hold after every plan.
@Suite struct PlannerPropertyTests {
    /// SplitMix64: a small seeded generator, so a failure repeats.
    final class Gen {
        var state: UInt64
        init(_ seed: UInt64) { state = seed }
        func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        func pick<T>(_ options: [T]) -> T { options[Int(next() % UInt64(options.count))] }
        func maybe<T>(_ value: @autoclosure () -> T) -> T? { next() % 3 == 0 ? nil : value() }
        func coin() -> Bool { next() % 2 == 0 }
    }

    static let ints = [0, 1, 2, 3, 5, 10, 99, 100, 101, -1, -100, 1_000_000, 1_000_001, Int(Int32.max), Int.max, Int.min]
    static let texts = ["0", "1s", "30s", "5m", "1h", "250ms", "inf", "nan", "1e19", "-1", "", "s", "1.5.5s", "9223372036854775807", "25%",
                        "100%", "1001%", "-5%", "%", "9223372036854775807%"]
    static let times: [Int64] = [0, 1_800_000_000, 253_402_300_799]

    func randomStep(_ g: Gen) -> CanaryStep {
        switch g.next() % 5 {
        case 0: return .weight(g.pick(Self.ints))
        case 1: return .pause(g.coin() ? .int(g.pick(Self.ints)) : .string(g.pick(Self.texts)))
        case 2: return CanaryStep.setCanaryScale(SetCanaryScale(replicas: g.maybe(g.pick(Self.ints)), weight: g.maybe(g.pick(Self.ints))))
        case 3: return .pause()
        default: return .weight(g.pick([10, 20, 50, 80]))
        }
    }

    func randomStatus(_ base: RolloutStatus, _ g: Gen, hashes: [String]) -> RolloutStatus {
        var s = base
        if g.coin() { s.currentStepIndex = g.maybe(g.pick(Self.ints)) }
        if g.next() % 4 == 0 { s.stableRS = g.maybe(g.pick(hashes + ["bogus", ""])) }
        if g.next() % 4 == 0 { s.abort = g.maybe(g.coin()) }
        if g.next() % 4 == 0 { s.promoteFull = g.maybe(g.coin()) }
        if g.next() % 4 == 0 { s.controllerPause = g.maybe(g.coin()) }
        if g.next() % 4 == 0 { s.collisionCount = g.maybe(g.pick(Self.ints.filter { $0 >= 0 && $0 <= Int(Int32.max) })) }
        if g.next() % 4 == 0 {
            let reason: PauseCondition.Reason = g.pick([.CanaryPauseStep, .InconclusiveAnalysisRun, .BlueGreenPause])
            s.pauseConditions = g.maybe([PauseCondition(reason: reason, startTime: KubeTime(secondsSinceEpoch: g.pick(Self.times)))])
        }
        if g.next() % 4 == 0 { s.abortedAt = g.maybe(KubeTime(secondsSinceEpoch: g.pick(Self.times))) }
        if g.next() % 4 == 0 { s.currentStepHash = g.maybe("x") }
        return s
    }

    @Test func generatedCanarySpecsAndStatusesNeverTrap() {
        let g = Gen(20_261_202)
        for _ in 0..<1500 {
            let steps = (0..<Int(g.next() % 5)).map { _ in randomStep(g) }
            var w = World(replicas: g.pick([0, 1, 2, 3, 10]), steps: steps,
                          maxSurge: g.coin() ? .string(g.pick(Self.texts)) : .int(g.pick(Self.ints)),
                          maxUnavailable: g.coin() ? .string(g.pick(Self.texts)) : .int(g.pick(Self.ints)))
            w.rollout.spec.progressDeadlineSeconds = g.maybe(g.pick(Self.ints))
            w.rollout.spec.strategy?.canary?.abortScaleDownDelaySeconds = g.maybe(g.pick(Self.ints))
            w.rollout.spec.revisionHistoryLimit = g.maybe(g.pick(Self.ints))
            w.rollout.spec.minReadySeconds = g.maybe(g.pick(Self.ints))
            // Only a valid spec moves pods; its invariants are the ones that must hold. A
            // maxUnavailable of every pod is a user's choice of downtime (a recreate).
            let valid = Validation.problems(w.rollout, services: w.services).isEmpty
            let replicas = w.rollout.spec.effectiveReplicas
            let unavailable = (try? (w.rollout.spec.strategy?.canary?.maxUnavailable ?? "25%").scaled(total: replicas, roundUp: false)) ?? 0
            w.checkServices = unavailable < replicas
            if !valid { w.minAvailable = nil }
            w.settle(rounds: 4)
            w.setImage("web:2")
            for _ in 0..<4 {
                w.rollout.status = randomStatus(w.status, g, hashes: [w.hash("web:1"), w.hash("web:2")])
                // A hostile status may say anything; availability is only promised for what the controller itself does.
                w.minAvailable = nil
                w.reconcile()
                w.tick()
                w.advance(Int64(g.next() % 100_000))
            }
            w.settle(rounds: 6)
            if !valid { #expect(w.replicaSets.isEmpty) }
        }
    }

    /// Route objects are user-written: any shape, any numbers, any names.
    static let hostileRoutes: [JSONValue] = [
        ["metadata": ["resourceVersion": 5], "spec": ["http": "not a list"]],
        ["spec": ["http": [["name": "primary", "route": [["destination": ["host": 7], "weight": 1e300], ["destination": ["host": "web-canary"], "weight": -5]]]]]],
        ["spec": ["http": [["name": "primary", "route": "x"], ["route": [["destination": ["host": "web-stable"]]]]]]],
        ["spec": ["http": [["name": "primary", "route": [["destination": ["host": "web-stable.a.b"], "weight": "100"], ["destination": ["host": "web-canary"]]]]],
                  "tls": [["match": [["port": 1e19, "sniHosts": [1]]]]], "tcp": 5]],
        ["metadata": ["resourceVersion": "1"], "spec": ["http": [["name": "primary", "route": [["destination": ["host": "web-stable"], "weight": 100],
                                                                                                ["destination": ["host": "web-canary"], "weight": 0]]]]]],
        .null, "string", [1, 2, 3],
    ]

    static let hostileHTTPRoutes: [JSONValue] = [
        ["spec": ["rules": "none"]],
        ["spec": ["rules": [["backendRefs": [["name": "web-canary", "weight": 1e300], ["name": "web-stable", "weight": -3]]]]]],
        ["spec": ["rules": [["backendRefs": [["name": "web-canary", "weight": "x"], ["name": "web-stable"]],
                             "filters": [["type": "RequestHeaderModifier", "requestHeaderModifier": ["set": [["name": "X-Aviary-Route", "value": 7]]]]]],
                            ["matches": 3, "backendRefs": [["name": "web-canary"]],
                             "filters": [["type": "RequestHeaderModifier", "requestHeaderModifier": ["set": [["name": "x-aviary-route", "value": "h"]]]]]]]]],
        ["metadata": ["resourceVersion": "2", "annotations": ["aviary.dev/allow-rollouts-from": 5]],
         "spec": ["rules": [["backendRefs": [["name": "web-stable", "weight": 100], ["name": "web-canary", "weight": 0]]]]]],
        .null, [1],
    ]

    @Test func generatedRoutedSpecsAndHostileRouteObjectsNeverTrap() {
        let g = Gen(14)
        let ref = RouteRef(.virtualService, namespace: "default", name: "web")
        for _ in 0..<400 {
            let steps = (0..<Int(g.next() % 5)).map { _ in randomStep(g) }
                + (g.coin() ? [.setHeaderRoute(SetHeaderRoute(name: "h", match: g.coin() ? nil : [HeaderRoutingMatch(headerName: "x", headerValue: StringMatch(exact: "1"))]))] : [])
            var w = World(replicas: g.pick([0, 1, 3, 10]), steps: steps)
            var routing = CanaryTrafficRouting(istio: IstioTrafficRouting(virtualService: IstioVirtualService(name: "web", routes: g.coin() ? ["primary"] : nil)))
            routing.managedRoutes = g.coin() ? [ManagedRoute(name: "h")] : nil
            routing.maxTrafficWeight = g.maybe(g.pick(Self.ints))
            w.rollout.spec.strategy?.canary?.trafficRouting = routing
            w.rollout.spec.strategy?.canary?.dynamicStableScale = g.maybe(g.coin())
            if g.coin() { w.rollout.spec.strategy?.canary?.abortStrategy = .gradual(GradualAbort(steps: g.maybe([g.pick(Self.ints), 0]), stepWeight: g.maybe(g.pick(Self.ints)), interval: g.maybe(g.pick(Self.texts)))) }
            w.routes[ref] = g.pick(Self.hostileRoutes)
            let gatewayRef = RouteRef(.httpRoute, namespace: "default", name: "web")
            if g.coin() {
                // The same, through the Gateway API, against hostile HTTPRoutes.
                routing.istio = nil
                routing.plugins = [CanaryTrafficRouting.gatewayAPIPlugin: g.pick([["httpRoute": "web"], "web", ["httpRoute": 5], ["namespace": "other", "httpRoute": "web"]])]
                w.rollout.spec.strategy?.canary?.trafficRouting = routing
                w.routes[gatewayRef] = g.pick(Self.hostileHTTPRoutes)
            }
            w.minAvailable = nil
            w.checkServices = false
            w.settle(rounds: 4)
            w.setImage("web:2")
            for _ in 0..<4 {
                w.rollout.status = randomStatus(w.status, g, hashes: [w.hash("web:1"), w.hash("web:2")])
                if g.next() % 3 == 0 { w.routes[ref] = g.pick(Self.hostileRoutes) }
                if g.next() % 3 == 0 { w.routes[gatewayRef] = g.pick(Self.hostileHTTPRoutes) }
                w.reconcile()
                w.tick()
                w.advance(Int64(g.next() % 100_000))
            }
            w.settle(rounds: 6)
        }
    }

    @Test func generatedBlueGreenSpecsNeverTrap() {
        let g = Gen(7)
        for _ in 0..<500 {
            var w = World.blueGreen(replicas: g.pick([0, 1, 3])) { bg in
                bg.previewReplicaCount = g.maybe(g.pick(Self.ints))
                bg.autoPromotionSeconds = g.maybe(g.pick(Self.ints))
                bg.scaleDownDelaySeconds = g.maybe(g.pick(Self.ints))
                bg.abortScaleDownDelaySeconds = g.maybe(g.pick(Self.ints))
                bg.scaleDownDelayRevisionLimit = g.maybe(g.pick(Self.ints))
                bg.autoPromotionEnabled = g.maybe(g.coin())
            }
            w.minAvailable = nil
            w.settle(rounds: 4)
            w.setImage("web:2")
            for _ in 0..<4 {
                w.rollout.status = randomStatus(w.status, g, hashes: [w.hash("web:1"), w.hash("web:2")])
                // A status that names a drained ReplicaSet stable and aborts is the writer's own
                // rollback; what is checked from here on is that nothing traps.
                w.checkServices = false
                w.reconcile()
                w.tick()
                w.advance(Int64(g.next() % 100_000))
            }
            w.settle(rounds: 6)
        }
    }
}
