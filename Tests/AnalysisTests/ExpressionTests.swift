import Kube
import Testing
@testable import Analysis
@testable import AnalysisCore
import AviaryAPI

@Suite struct ExpressionTests {
    let vector: JSONValue = [0.97, 0.99]
    let empty: JSONValue = []

    func eval(_ text: String, _ result: JSONValue) throws -> JSONValue {
        try Expression.parse(text).evaluate(["result": result])
    }

    @Test(arguments: [
        ("result[0] >= 0.95", true),
        ("result[0] >= 0.98", false),
        ("result[1] > result[0] && result[0] > 0.9", true),
        ("result[0] < 0.5 || result[1] > 0.98", true),
        ("not (result[0] < 0.5)", true),
        ("!(result[0] >= 0.95) and true", false),
        ("len(result) == 2", true),
        ("all(result, {# > 0.9})", true),
        ("any(result, # > 0.98)", true),
        ("len(filter(result, {# > 0.98})) == 1", true),
        ("map(result, {# * 100})[0] == 97", true),
        ("(result[0] + result[1]) / 2 > 0.97", true),
        ("result[0] * 100 % 2 == 1", true),
        ("result[-1] == 0.99", true),
        ("'a' + \"b\" == 'ab'", true),
        ("[1, 2, 3][2] == 3", true),
        ("isNil(nil) && !isNil(result)", true),
        ("default(nil, 5) == 5", true),
        ("asInt('42') == 42 && asFloat('0.5') == 0.5 && asInt(3.9) == 3", true),
        ("-result[0] < 0", true),
    ])
    func evaluates(text: String, expected: Bool) throws {
        #expect(try Expression.parse(text).condition(result: vector) == expected, "\(text)")
    }

    @Test func scalarsAndNaN() throws {
        #expect(try Expression.parse("result > 0.5").condition(result: 0.7))
        #expect(try Expression.parse("isNaN(result)").condition(result: .number(.nan)))
        #expect(try Expression.parse("isInf(result)").condition(result: .number(.infinity)))
    }

    @Test func anEmptyVectorSaysQueryReturnedNoData() throws {
        #expect {
            _ = try eval("result[0] >= 0.95", empty)
        } throws: { error in
            guard let e = error as? ExpressionError else { return false }
            return e.message.hasPrefix("query returned no data") && e.column == 7
        }
        // Handled explicitly, it is fine.
        #expect(try Expression.parse("len(result) == 0 || result[0] >= 0.95").condition(result: empty))
    }

    @Test(arguments: [
        ("result[0] >= ", "column 14: unexpected end of expression"),
        ("result[0 >= 1", "column 14: expected \"]\", found end of expression"),
        ("result[0] >= 0.95)", "column 18: unexpected \")\""),
        ("result[0] => 1", "column 11: unexpected character \"=\""),
        ("'open", "column 1: unterminated string"),
        ("result[0] @ 1", "column 11: unexpected character \"@\""),
    ])
    func parseErrorsNameTheColumn(text: String, message: String) {
        #expect {
            _ = try Expression.parse(text)
        } throws: { "\($0)" == message }
    }

    @Test(arguments: [
        ("result[0] && true", "column 11: && needs booleans, not a number"),
        ("result[5] > 1", "column 7: index 5 is out of range (length 2)"),
        ("nope > 1", "column 1: unknown name \"nope\""),
        ("frobnicate(result)", "column 1: unknown function \"frobnicate\""),
        ("len(1)", "column 1: len needs an array, a string or an object, not a number"),
        ("result[0] > 'x'", "column 11: > does not apply to a number and a string"),
    ])
    func evaluationErrorsAreClear(text: String, message: String) throws {
        let e = try Expression.parse(text)
        #expect {
            _ = try e.evaluate(["result": vector])
        } throws: { "\($0)" == message }
    }

    @Test func aConditionMustBeBoolean() throws {
        #expect(throws: ExpressionError.self) { _ = try Expression.parse("result[0]").condition(result: vector) }
    }
}

@Suite struct JudgementTests {
    let success = try! Expression.parse("result[0] >= 0.95")
    let failure = try! Expression.parse("result[0] < 0.5")

    @Test func oneMeasurement() {
        #expect(Judgement.measurement(result: [0.9], success: nil, failure: nil).0 == .Successful)
        #expect(Judgement.measurement(result: [0.9], success: success, failure: nil).0 == .Failed)
        #expect(Judgement.measurement(result: [0.99], success: success, failure: nil).0 == .Successful)
        #expect(Judgement.measurement(result: [0.9], success: nil, failure: failure).0 == .Successful)
        #expect(Judgement.measurement(result: [0.4], success: nil, failure: failure).0 == .Failed)
        #expect(Judgement.measurement(result: [0.7], success: success, failure: failure).0 == .Inconclusive)
        let (phase, message) = Judgement.measurement(result: [], success: success, failure: nil)
        #expect(phase == .Error)
        #expect(message?.contains("query returned no data") == true)
    }

    @Test func oneMetric() {
        var c = Judgement.Counts()
        c.failed = 3
        #expect(Judgement.metric(c, failureLimit: 3, measurementsDone: false) == .Running)
        c.failed = 4
        #expect(Judgement.metric(c, failureLimit: 3, measurementsDone: false) == .Failed)
        #expect(Judgement.metric(c, failureLimit: -1, measurementsDone: true) == .Successful, "-1 disables the failure limit")
        var e = Judgement.Counts()
        e.consecutiveErrors = 4
        #expect(Judgement.metric(e, measurementsDone: false) == .Running)
        e.consecutiveErrors = 5
        #expect(Judgement.metric(e, measurementsDone: false) == .Error)
        var i = Judgement.Counts()
        i.inconclusive = 1
        #expect(Judgement.metric(i, measurementsDone: false) == .Inconclusive)
    }

    @Test func aRunTakesItsWorstMetricAndIgnoresDryRuns() {
        #expect(Judgement.run([(.Successful, false), (.Inconclusive, false), (.Running, false)]) == .Inconclusive)
        #expect(Judgement.run([(.Successful, false), (.Failed, true)]) == .Successful)
        #expect(Judgement.run([(.Error, false), (.Failed, false)]) == .Failed)
        #expect(AnalysisPhase.allCases == [.Successful, .Running, .Pending, .Inconclusive, .Error, .Failed])
    }
}
