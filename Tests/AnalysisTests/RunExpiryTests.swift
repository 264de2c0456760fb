import AviaryAPI
import KubeAPI
import Testing
@testable import AnalysisCore

/// `spec.ttlStrategy`: when a finished run is deleted.
@Suite struct RunExpiryTests {
    func status(_ phase: AnalysisPhase, completed: Int64? = 1_000) -> AnalysisRunStatus {
        var s = AnalysisRunStatus()
        s.phase = phase
        s.completedAt = completed.map { KubeTime(secondsSinceEpoch: $0) }
        return s
    }

    func spec(_ ttl: TTLStrategy?) -> AnalysisSpec {
        var s = AnalysisSpec(metrics: [])
        s.ttlStrategy = ttl
        return s
    }

    @Test func thePhaseDecidesWhichFieldApplies() {
        let ttl = spec(TTLStrategy(secondsAfterCompletion: 60, secondsAfterSuccess: 10, secondsAfterFailure: 30))
        #expect(RunExpiry.deleteAt(ttl, status: status(.Successful)) == 1_010)
        #expect(RunExpiry.deleteAt(ttl, status: status(.Failed)) == 1_030)
        #expect(RunExpiry.deleteAt(ttl, status: status(.Error)) == 1_030)
        #expect(RunExpiry.deleteAt(ttl, status: status(.Inconclusive)) == 1_060)
        let onlyCompletion = spec(TTLStrategy(secondsAfterCompletion: 5))
        #expect(RunExpiry.deleteAt(onlyCompletion, status: status(.Successful)) == 1_005)
        #expect(RunExpiry.deleteAt(onlyCompletion, status: status(.Failed)) == 1_005)
        let onlySuccess = spec(TTLStrategy(secondsAfterSuccess: 0))
        #expect(RunExpiry.deleteAt(onlySuccess, status: status(.Successful)) == 1_000)
        #expect(RunExpiry.deleteAt(onlySuccess, status: status(.Failed)) == nil, "a failed run is kept when only success has a TTL")
    }

    @Test func nothingIsDeletedWhileRunningOrWithoutAStrategy() {
        let ttl = spec(TTLStrategy(secondsAfterCompletion: 0))
        #expect(RunExpiry.deleteAt(ttl, status: status(.Running)) == nil)
        #expect(RunExpiry.deleteAt(ttl, status: status(.Successful, completed: nil)) == nil)
        #expect(RunExpiry.deleteAt(ttl, status: nil) == nil)
        #expect(RunExpiry.deleteAt(spec(nil), status: status(.Successful)) == nil)
    }

    @Test func outOfRangeValuesAreNamedAndNeverDelete() {
        for bad in [TTLStrategy(secondsAfterSuccess: -1), TTLStrategy(secondsAfterCompletion: Int.max), TTLStrategy(secondsAfterFailure: 31_536_001)] {
            #expect(throws: RunExpiry.Problem.self) { try RunExpiry.check(bad) }
            #expect(RunExpiry.deleteAt(spec(bad), status: status(.Failed)) == nil)
        }
        let e = #expect(throws: RunExpiry.Problem.self) { try RunExpiry.check(TTLStrategy(secondsAfterSuccess: -1)) }
        #expect(e?.description == "spec.ttlStrategy.secondsAfterSuccess: -1 is outside 0–31536000 seconds (one year)")
        #expect(RunExpiry.deleteAt(spec(TTLStrategy(secondsAfterCompletion: 31_536_000)), status: status(.Successful, completed: Int64.max - 5))
            == Int64.max, "a completedAt written by hand cannot overflow")
    }

    @Test func decodesArgoFieldNames() throws {
        let json: JSONValue = ["metrics": [], "ttlStrategy": ["secondsAfterCompletion": 300, "secondsAfterFailure": 600]]
        let s = try json.decode(as: AnalysisSpec.self)
        #expect(s.ttlStrategy == TTLStrategy(secondsAfterCompletion: 300, secondsAfterFailure: 600))
    }
}
