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
        ("len(1)", "column 1: len needs an array, a string or an object, not a number"),
        ("result[0] > 'x'", "column 11: > does not apply to a number and a string"),
    ])
    func evaluationErrorsAreClear(text: String, message: String) throws {
        let e = try Expression.parse(text)
        #expect {
            _ = try e.evaluate(["result": vector])
        } throws: { "\($0)" == message }
    }

    /// A misspelt function or a wrong argument count is found when the
    /// template is read, not at the first measurement.
    @Test(arguments: [
        ("frobnicate(result) > 1", "column 1: unknown function \"frobnicate\"; conditions may call all, any, asFloat, asInt, default, filter, isInf, isNaN, isNil, len, map, none"),
        ("len(result, 1) > 0", "column 1: len takes 1 argument, not 2"),
        ("result[0] > 0 && all(result)", "column 18: all takes 2 arguments, not 1"),
        ("isNaN() || true", "column 1: isNaN takes 1 argument, not 0"),
    ])
    func functionsAreResolvedWhenParsed(text: String, message: String) {
        #expect {
            _ = try Expression.parse(text)
        } throws: { "\($0)" == message }
    }

    /// `result >= 0.95` against `sum(rate(…)) / sum(rate(…))`: Prometheus
    /// answers with a one-element vector, which used as a number is that number.
    @Test(arguments: [
        ("result >= 0.95", [0.97], true),
        ("result < 0.5", [0.97], false),
        ("0.95 <= result", [0.97], true),
        ("result * 100 > 96 && result - 0.9 > 0", [0.97], true),
        ("result + 1 == 1.5", [0.5], true),
        ("result == 0.5 && 0.5 == result && result != 1", [0.5], true),
        ("-result < 0", [0.5], true),
        ("result / result == 1", [0.5], true),
        ("asInt(result) == 3 && asFloat(result) == 3.5", [3.5], true),
        ("isNaN(result)", [.number(.nan)], true),
        ("isInf(result)", [.number(.infinity)], true),
        // What works in Argo keeps its meaning.
        ("result[0] >= 0.95", [0.97], true),
        ("result == [0.97]", [0.97], true),
        ("len(result) == 1 && all(result, {# > 0.9})", [0.97], true),
        ("result > 0.5", 0.7, true),
    ] as [(String, JSONValue, Bool)])
    func aOneElementVectorIsItsNumber(text: String, result: JSONValue, expected: Bool) throws {
        #expect(try Expression.parse(text).condition(result: result) == expected, "\(text)")
    }

    @Test(arguments: [
        ("result >= 0.95", [] as JSONValue,
         "column 8: query returned no data: result is empty, so result >= 0.95 has no number to use; to make it true when there is no data, write len(result) == 0 || result >= 0.95"),
        ("result >= 0.95", [0.97, 0.99, 0.5],
         "column 8: the query returned 3 series, so result holds 3 numbers, not one: write result[0] >= 0.95 for the first, all(result, {# >= 0.95}) for every one, or put sum(…) around the query for their total"),
        ("0.5 > result", [0.1, 0.2],
         "column 5: the query returned 2 series, so result holds 2 numbers, not one: write 0.5 > result[0] for the first, all(result, {0.5 > #}) for every one, or put sum(…) around the query for their total"),
        ("isNaN(result) || result < 0.5", [0.1, 0.2],
         "column 1: the query returned 2 series, so result holds 2 numbers, not one: write isNaN(result[0]) for the first, all(result, {isNaN(#)}) for every one, or put sum(…) around the query for their total"),
        ("filter(result, {# > 0}) > 1", [1, 2],
         "column 25: filter(result, {# > 0}) holds 2 numbers, not one: write filter(result, {# > 0})[0] > 1 for the first, all(filter(result, {# > 0}), {# > 1}) for every one"),
        ("result > 'x'", [1], "column 8: > does not apply to an array and a string"),
    ] as [(String, JSONValue, String)])
    func anEmptyOrLongerVectorSaysWhatCameBackAndWhatToWrite(text: String, result: JSONValue, message: String) throws {
        let e = try Expression.parse(text)
        #expect {
            _ = try e.condition(result: result)
        } throws: { "\($0)" == message }
    }

    @Test func aVectorConditionJudgesAsItReads() throws {
        let success = try Expression.parse("result >= 0.95")
        #expect(Judgement.measurement(result: [0.97], success: success, failure: nil).0 == .Successful)
        #expect(Judgement.measurement(result: [0.7], success: success, failure: nil).0 == .Failed)
        let (phase, message) = Judgement.measurement(result: [], success: success, failure: nil)
        #expect(phase == .Error)
        #expect(message?.hasPrefix("column 8: query returned no data") == true)
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
