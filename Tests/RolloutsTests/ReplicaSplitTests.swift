import Testing
@testable import Rollouts

@Suite struct ReplicaSplitTests {
    @Test(arguments: [
        // (replicas, weight, maxSurge, canary, stable)
        (10, 41, 3, 4, 6),
        (10, 1, 3, 1, 9),
        (10, 10, 3, 1, 9),
        (10, 50, 3, 5, 5),
        (10, 99, 3, 10, 1),  // the surge pod goes to the canary: 91 % rather than 90 %
        (10, 0, 3, 0, 10),
        (10, 100, 3, 10, 0),
        (1, 50, 1, 1, 1),   // a surge pod, so neither side is empty
        (1, 50, 0, 0, 1),   // no surge: a tie goes to the smaller canary
        (1, 10, 1, 1, 1),
        (1, 90, 0, 1, 0),
        (3, 10, 1, 1, 2),
        (3, 33, 1, 1, 2),
        (3, 66, 1, 2, 1),
        (3, 90, 1, 3, 1),   // a surge pod for a closer canary count: 75 % rather than 67 %
        (5, 50, 2, 3, 3),
        (5, 50, 0, 2, 3),
        (2, 1, 0, 1, 1),
        (2, 99, 0, 1, 1),
        (0, 50, 1, 0, 0),
    ])
    func splits(replicas: Int, weight: Int, maxSurge: Int, canary: Int, stable: Int) {
        #expect(ReplicaSplit.forWeight(weight, replicas: replicas, maxSurge: maxSurge) == ReplicaSplit(canary: canary, stable: stable))
    }

    @Test func neitherSideIsEmptyForPartialWeightsWithSeveralReplicas() {
        for replicas in 2...30 {
            for weight in 1...99 {
                let s = ReplicaSplit.forWeight(weight, replicas: replicas, maxSurge: 0)
                #expect(s.canary >= 1 && s.stable >= 1, "\(replicas) replicas at \(weight)%: \(s)")
                #expect(s.total == replicas)
            }
        }
    }
}

@Suite struct ScalingTests {
    typealias C = ScalingInput.Current

    @Test func scalesUpWithinSurgeAndDownWithinUnavailability() {
        // 10 replicas, maxSurge 3, maxUnavailable 2: stable 10/10 → target 4 + 6.
        var input = ScalingInput(replicas: 10, maxSurge: 3, maxUnavailable: 2,
                                 canary: C(name: "new", replicas: 0, available: 0), stable: C(name: "old", replicas: 10, available: 10), others: [])
        let target = ReplicaSplit(canary: 4, stable: 6)
        #expect(Scaling.step(input, target: target) == ["new": 3, "old": 8])
        // Once those 3 canaries are available the rest follows.
        input.canary = C(name: "new", replicas: 3, available: 3)
        input.stable = C(name: "old", replicas: 8, available: 8)
        #expect(Scaling.step(input, target: target) == ["new": 4, "old": 6])
        // At the target, nothing changes.
        input.canary = C(name: "new", replicas: 4, available: 4)
        input.stable = C(name: "old", replicas: 6, available: 6)
        #expect(Scaling.step(input, target: target).isEmpty)
    }

    @Test func maxSurgeZeroScalesDownFirst() {
        var input = ScalingInput(replicas: 4, maxSurge: 0, maxUnavailable: 1,
                                 canary: C(name: "new", replicas: 0, available: 0), stable: C(name: "old", replicas: 4, available: 4), others: [])
        let target = ReplicaSplit(canary: 2, stable: 2)
        #expect(Scaling.step(input, target: target) == ["old": 3])
        input.stable = C(name: "old", replicas: 3, available: 3)
        #expect(Scaling.step(input, target: target) == ["new": 1])
    }

    @Test func maxUnavailableZeroWaitsForAvailability() {
        var input = ScalingInput(replicas: 4, maxSurge: 1, maxUnavailable: 0,
                                 canary: C(name: "new", replicas: 0, available: 0), stable: C(name: "old", replicas: 4, available: 4), others: [])
        let target = ReplicaSplit(canary: 2, stable: 2)
        #expect(Scaling.step(input, target: target) == ["new": 1])
        // The canary pod is not available yet: stable must wait.
        input.canary = C(name: "new", replicas: 1, available: 0)
        #expect(Scaling.step(input, target: target).isEmpty)
        input.canary = C(name: "new", replicas: 1, available: 1)
        #expect(Scaling.step(input, target: target) == ["old": 3])
    }

    @Test func oldReplicaSetsDrainFirstAndUnavailablePodsGoFreely() {
        let input = ScalingInput(replicas: 4, maxSurge: 1, maxUnavailable: 1,
                                 canary: C(name: "new", replicas: 2, available: 2), stable: C(name: "stable", replicas: 2, available: 2),
                                 others: [C(name: "older", replicas: 1, available: 0)])
        // The unavailable old pod goes at no cost.
        #expect(Scaling.step(input, target: ReplicaSplit(canary: 2, stable: 2)) == ["older": 0])
    }
}
