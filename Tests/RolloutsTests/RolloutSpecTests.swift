import Foundation
import KubeAPI
import Testing
@testable import AviaryAPI

@Suite struct RolloutSpecTests {
    @Test(arguments: [("25%", 10, true, 3), ("25%", 10, false, 2), ("0%", 10, true, 0), ("3", 10, true, 3), ("100%", 3, false, 3)])
    func intOrPercentScales(text: String, total: Int, up: Bool, expected: Int) throws {
        #expect(try IntOrString.string(text).scaled(total: total, roundUp: up) == expected)
    }

    @Test func badPercentagesAreErrors() {
        #expect(throws: IntOrString.ScaleError.self) { _ = try IntOrString.string("lots").scaled(total: 10, roundUp: true) }
        #expect(throws: IntOrString.ScaleError.self) { _ = try IntOrString.int(-1).scaled(total: 10, roundUp: true) }
    }

    @Test(arguments: [("30s", 30), ("5m", 300), ("1h", 3600), ("1h30m", 5400), ("45", 45)])
    func pauseDurations(text: String, seconds: Int) throws {
        #expect(try PauseStep(duration: .string(text)).seconds() == seconds)
    }

    @Test func pauseDurationForms() throws {
        #expect(try PauseStep(duration: .int(20)).seconds() == 20)
        #expect(try PauseStep().seconds() == nil)
        #expect(throws: PauseDurationError.self) { _ = try PauseStep(duration: .string("soon")).seconds() }
        #expect(throws: PauseDurationError.self) { _ = try PauseStep(duration: .string("10x")).seconds() }
    }

    @Test func stepsDecodeAndNameUnknownKinds() throws {
        let json = #"[{"setWeight": 20}, {"pause": {}}, {"pause": {"duration": "10s"}}, {"setCanaryScale": {"replicas": 3}}, {"experiment": {"duration": "1h"}}]"#
        let steps = try JSONDecoder().decode([CanaryStep].self, from: Data(json.utf8))
        #expect(steps.map(\.kinds) == [["setWeight"], ["pause"], ["pause"], ["setCanaryScale"], ["experiment"]])
        #expect(try steps[2].pauseStep?.seconds() == 10)
        #expect(steps[3].canaryScale?.replicas == 3)
    }

    @Test func podTemplateHashIsStableAndKeyOrderFree() throws {
        let a = try JSONDecoder().decode(JSONValue.self, from: Data(#"{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"c","image":"web:1"}]}}"#.utf8))
        let b = try JSONDecoder().decode(JSONValue.self, from: Data(#"{"spec":{"containers":[{"image":"web:1","name":"c"}]},"metadata":{"labels":{"app":"web"}}}"#.utf8))
        let c = try JSONDecoder().decode(JSONValue.self, from: Data(#"{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"c","image":"web:2"}]}}"#.utf8))
        let h = PodTemplateHash.compute(a)
        #expect(h == PodTemplateHash.compute(b))
        #expect(h != PodTemplateHash.compute(c))
        #expect(h != PodTemplateHash.compute(a, collisionCount: 1))
        #expect(h.allSatisfy { "bcdfghjklmnpqrstvwxz2456789".contains($0) })
        #expect((1...10).contains(h.count))
    }

    @Test func selectorsMatchAndPrint() {
        let s = LabelSelector(matchLabels: ["app": "web"], matchExpressions: [.init(key: "tier", operator: "In", values: ["a", "b"])])
        #expect(s.matches(["app": "web", "tier": "a"]))
        #expect(!s.matches(["app": "web", "tier": "c"]))
        #expect(!s.matches(["tier": "a"]))
        #expect(s.queryString == "app=web,tier in (a,b)")
    }
}
