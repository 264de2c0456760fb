import Kube
import Testing
@testable import AnalysisCore

/// Conditions checked against what a provider can answer, before anything
/// is measured: only what can never be evaluated is reported.
@Suite struct ShapeCheckTests {
    let prometheus = Shape.prometheus(query: "sum(rate(http_requests_total[1m]))")

    func problem(_ text: String, _ shape: Shape? = nil) throws -> String? {
        try Expression.parse(text).shapeProblem(result: shape ?? prometheus, source: "what Prometheus answers").map { "\($0)" }
    }

    @Test(arguments: [
        "result >= 0.95",
        "result < 0.5",
        "len(result) == 0 || result[0] >= 0.95",
        "len(result) == 0 || isNaN(result[0]) || result[0] < 0.5",
        "all(result, {# < 0.5}) && any(result, {# > 0})",
        "result == [0.97] || default(result, 0) == 0",
        "map(result, {# * 100})[0] > 1",
    ])
    func whatCanWorkPasses(text: String) throws {
        #expect(try problem(text) == nil, "\(text)")
    }

    @Test(arguments: [
        ("result == 'ok'",
         "column 8: result == 'ok' is never true: result (what Prometheus answers) is a number or a list of numbers, 'ok' is a string"),
        ("result > '0.9'",
         "column 8: result > '0.9' can never be evaluated: > compares two numbers or two strings, and result (what Prometheus answers) is a number or a list of numbers, '0.9' is a string"),
        ("result.value >= 0.95",
         "column 7: result.value can never be evaluated: result (what Prometheus answers) is a number or a list of numbers, which has no fields"),
        ("result[0][0] > 1",
         "column 10: result[0][0] can never be evaluated: result[0] is a number, which cannot be indexed"),
        ("all(result, {#.ok})",
         "column 15: #.ok can never be evaluated: # is a number, which has no fields"),
        ("result[0]",
         "column 1: result[0] gives a number, never true or false: compare it, as in result >= 0.95"),
        ("result >= 0.95 && latency < 1",
         "column 19: unknown name \"latency\": a condition sees only result"),
        ("result && true",
         "column 8: result && true can never be evaluated: && needs true or false on both sides, and result (what Prometheus answers) is a number or a list of numbers"),
    ])
    func whatCanNeverWorkIsNamed(text: String, message: String) throws {
        #expect(try problem(text) == message)
    }

    @Test func aRangeQueryAnswersListsOfNumbers() throws {
        let matrix = Shape.prometheus(query: "rate(http_requests_total[1m])[10m:1m]")
        #expect(matrix == .array(.array(.number)))
        #expect(try problem("all(result, {all(#, {# < 0.5})})", matrix) == nil)
        #expect(try problem("result >= 0.95", matrix)
            == "column 8: result >= 0.95 can never be evaluated: >= compares two numbers or two strings, and result (what Prometheus answers) is a list of lists of numbers, 0.95 is a number")
        #expect(Shape.prometheus(query: "sum(rate(x[5m]))") == .oneOf([.number, .array(.number)]))
    }

    /// A range query's samples are a list, never one number: `result >= 0.95` holds only by chance.
    @Test func aRangeQuerysSamplesAreAList() throws {
        let samples = Shape.prometheus(query: "sum(rate(x[1m]))", rangeQuery: true)
        #expect(try problem("all(result, {# < 0.01}) && len(result) > 10 && result[0] >= 0", samples) == nil)
        #expect(try problem("result < 0.01", samples)
            == "column 8: result < 0.01 can never be evaluated: < compares two numbers or two strings, and result (what Prometheus answers) is a list of numbers, one per sample, 0.01 is a number")
    }

    @Test func anUnknownShapeLetsEverythingBe() throws {
        #expect(try problem("result.status == 'ok' && result.items[0] > 1", .any) == nil)
    }

    @Test func expressionsAreWrittenBackFaithfully() throws {
        for text in ["result >= 0.95", "len(result) == 0 || (result[0] >= 0.95)", "all(result, {# < 0.5})", "!isNaN(result) && result.x == 'a\\'b'"] {
            let e = try Expression.parse(text)
            // Columns move with the spacing; what is written back reads back the same.
            #expect(try Expression.parse(e.text).text == e.text, "\(text) → \(e.text)")
            #expect((try? Expression.parse(e.text).evaluate(["result": ["x": "a'b"]])) == (try? e.evaluate(["result": ["x": "a'b"]])))
        }
    }
}
