import Foundation
import Testing

/// `aviary lint` on analysis, run as a user runs it: each mistake that would
/// otherwise show at the first measurement (or never end) is named at write time.
@Suite struct AnalysisLintCommandTests {
    func aviary(_ args: String...) async throws -> (status: Int32, output: String) {
        try await runCommand(try ControllerProcess.debugBinary(), args)
    }

    @Test func lintNamesEachAnalysisMistake() async throws {
        let file = "Tests/IntegrationTests/Fixtures/analysis-mistakes.yaml"
        let (status, output) = try await aviary("lint", "-f", file)
        #expect(status == 1)
        let lines = output.split(separator: "\n").map(String.init)
        let expected = [
            // Wrong arity and an unknown function: found when the condition is parsed.
            "AnalysisTemplate conditions: metric \"arity\": successCondition: column 1: len takes 1 argument, not 2",
            // Comparisons that can never type-check against what Prometheus answers.
            "AnalysisTemplate conditions: metric \"shape\": failureCondition: column 8: result > '0.5' can never be evaluated: "
                + "> compares two numbers or two strings, and result (what Prometheus answers) is a number or a list of numbers, '0.5' is a string",
            "AnalysisTemplate conditions: metric \"shape\": successCondition: column 7: result.status can never be evaluated: "
                + "result (what Prometheus answers) is a number or a list of numbers, which has no fields",
            "AnalysisTemplate conditions: metric \"typo\": successCondition: column 1: unknown function \"avg\"; "
                + "conditions may call all, any, asFloat, asInt, default, filter, isInf, isNaN, isNil, len, map, none",
            // count: 0.
            "AnalysisTemplate schedule: metric \"never\": count: 0 takes no measurement, so the metric would pass without measuring anything; "
                + "leave count out for one measurement, or set how many to take",
            // An argument used but declared nowhere.
            "AnalysisTemplate schedule: metric \"undeclared\": provider.prometheus.query: uses {{args.namespace}}, but spec.args has no \"namespace\" "
                + "(it declares service), so nothing can pass it and every measurement would be an Error; add it to spec.args, or correct the name",
            // An interval without count in a step.
            "Rollout web: spec.strategy.canary.steps[1].analysis: AnalysisTemplate \"schedule\": metric \"forever\": interval 1m without count: "
                + "the metric would measure until its run is terminated, and nothing terminates a step's run, so the update would wait forever "
                + "(until aborted); set count, or run the template as background analysis (spec.strategy.canary.analysis)",
            // An argument the template uses that the Rollout does not pass.
            "Rollout web: spec.strategy.canary.steps[1].analysis: argument \"service\" has no value: give it in the template or in the Rollout's analysis args",
        ].map { "\(file): \($0)" }
        #expect(lines == expected, "\(output)")
    }

    /// The ops documents' templates as written (`result >= 0.95` on a one-element vector) are fine.
    @Test func lintPassesTheTemplatesAsTheOpsDocumentsWriteThem() async throws {
        let (status, output) = try await aviary("lint", "-f", "Tests/IntegrationTests/Fixtures/ops-templates.yaml")
        #expect(status == 0, "\(output)")
    }
}
