import Kube
import Testing
@testable import Analysis
@testable import AnalysisCore

/// A condition is a user's text run by a cluster-wide controller: no
/// condition, however deep, long or costly, may exhaust the stack or hold a
/// worker; each limit is a parse or evaluation error with its column.
@Suite struct ExpressionLimitTests {
    func parseError(_ text: String) -> ExpressionError? {
        do {
            _ = try Expression.parse(text)
            return nil
        } catch let e as ExpressionError {
            return e
        } catch {
            return ExpressionError("\(error)")
        }
    }

    @Test func deepParenthesesAreRefusedAtTheirColumn() {
        let text = String(repeating: "(", count: 5000) + "1" + String(repeating: ")", count: 5000)
        #expect(parseError(String(text.prefix(4096))) == ExpressionError("the condition is nested too deeply (more than 64 levels)", column: 65))
    }

    @Test func longNegationsAreRefused() {
        let e = parseError(String(repeating: "!", count: 1000) + "true")
        #expect(e == ExpressionError("the condition is nested too deeply (more than 64 levels)", column: 64))
    }

    /// `1+1+…` parses in a loop but builds a tree as deep as the chain, which evaluation would recurse through.
    @Test func longOperatorChainsAreRefused() {
        let e = parseError((0..<1000).map { _ in "1" }.joined(separator: "+"))
        #expect(e == ExpressionError("the condition is nested too deeply (more than 64 levels)", column: 128))
        #expect(parseError((0..<60).map { _ in "1" }.joined(separator: "+")) == nil)
    }

    @Test func longConditionsAreRefused() {
        let e = parseError(String(repeating: " ", count: 4096) + "1")
        #expect(e == ExpressionError("the condition is 4097 characters long; the limit is 4096", column: 4097))
        #expect(parseError(String(repeating: " ", count: 4095) + "1") == nil)
    }

    @Test(arguments: [
        ("result[result[0]]", JSONValue.array([.number(.nan)]), "column 7: index NaN is out of range (length 1)"),
        ("result[1e19]", JSONValue.array([1]), "column 7: index 1e+19 is out of range (length 1)"),
        ("result[-1e19]", JSONValue.array([1]), "column 7: index -1e+19 is out of range (length 1)"),
        ("result[0.5]", JSONValue.array([1]), "column 7: index 0.5 is out of range (length 1)"),
        ("result[1/0]", JSONValue.array([1]), "column 7: index +Inf is out of range (length 1)"),
        ("result[-1] == 3", JSONValue.array([1, 2, 3]), nil),
    ])
    func anyNumberMayIndexWithoutATrap(text: String, result: JSONValue, expected: String?) throws {
        let e = try Expression.parse(text)
        do {
            _ = try e.evaluate(["result": result])
            #expect(expected == nil)
        } catch {
            #expect("\(error)" == expected)
        }
    }

    @Test func costlyEvaluationsStopAtTheStepBudget() throws {
        let e = try Expression.parse("len(map(result, {map(result, {map(result, {#})})})) > 0")
        let result = JSONValue.array((0..<200).map { .number(Double($0)) })
        #expect(throws: ExpressionError("the condition takes more than 1000000 steps to evaluate")) { _ = try e.condition(result: result) }
    }

    @Test func stringsCannotGrowWithoutBound() throws {
        let e = try Expression.parse("len(map([1,2,3,4,5,6,7,8], {result + result})) > 0")
        #expect(throws: ExpressionError.self) { _ = try e.condition(result: .string(String(repeating: "x", count: 600_000))) }
    }

    @Test func generatedConditionsNeverTrap() {
        let pieces = ["result", "[", "]", "(", ")", "0", "1e19", "-", "!", "+", "*", "/", "%", "&&", "||", "==", "<", "len(", "map(", "{", "}", "#",
                      ",", "\"s\"", ".", "a", "nil", "true", "0/0", "isNaN(", "default(", "asInt(", " "]
        var state: UInt64 = 42
        func next() -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(truncatingIfNeeded: state >> 33)
        }
        let results: [JSONValue] = [.array([]), .array([1, 2]), .array([.number(.nan), .number(.infinity)]), .number(3), .string("x"), .null,
                                    .object(["a": 1])]
        for _ in 0..<20_000 {
            let text = (0..<(next() % 40)).map { _ in pieces[next() % pieces.count] }.joined()
            guard let e = try? Expression.parse(text) else { continue }
            for r in results { _ = try? e.evaluate(["result": r]) }
        }
    }
}
