import AviaryAPI
import Foundation
import Kube

/// `provider.compare`: each metric's query for the canary's and the
/// baseline's pods, inside one bulkhead slot and past the circuit breaker
/// like any Prometheus measurement, then judged by `MetricComparison` and
/// `CanaryScore`. The score decides the phase; the value records, per
/// metric, each side's sample count and median, the shift, the effect and
/// the p-value, so `get rollout` and the report show why.
extension Measurer {
    func compare(_ c: CompareMetric, metric: Metric, run: AnalysisRun, now: KubeTime) async -> AnalysisMeasurement {
        var m = AnalysisMeasurement(phase: .Running, startedAt: now)
        var args = Arguments()
        let namespace = run.metadata.namespace ?? ""
        do {
            args = try await arguments(run)
            let plan = try ComparePlan(c, metric: metric.name)
            let canary = try Self.hash(try args.substitute(c.canary ?? ""), field: "canary")
            let baseline = try Self.hash(try args.substitute(c.baseline ?? ""), field: "baseline")
            guard canary != baseline else {
                throw ProviderError("compare: canary and baseline are the same ReplicaSet (hash \(canary)), so there is nothing to compare; "
                                    + "point baseline at the stable ReplicaSet (podTemplateHashValue: Stable) or a baseline started for the purpose")
            }
            guard let connection = c.prometheus else { throw ProviderError("compare: provider.compare.prometheus is required") }
            var calls: [(label: String, fetch: @Sendable () async throws -> JSONValue)] = []
            var address = ""
            for q in plan.queries {
                for (side, hash) in [("canary", canary), ("baseline", baseline)] {
                    let text = q.query.replacingOccurrences(of: ComparePlan.hashPlaceholder, with: hash)
                    let (server, fetch) = try await provider(MetricProvider(prometheus: connection.metric(query: text)), args: &args,
                                                             namespace: run.metadata.namespace)
                    address = server
                    calls.append(("\(q.name) (\(side) \(hash))", fetch))
                }
            }
            if let refusal = await breaker.refusal(for: address, namespace: namespace) { throw ProviderError(refusal) }
            let fetches = calls.map(\.fetch)
            let results: [Result<JSONValue, any Error>] = await bulkhead.run(key: namespace) { () async -> [Result<JSONValue, any Error>] in
                await withTaskGroup(of: (Int, Result<JSONValue, any Error>).self) { group in
                    for (i, fetch) in fetches.enumerated() {
                        group.addTask {
                            do { return (i, .success(try await fetch())) } catch { return (i, .failure(error)) }
                        }
                    }
                    var out = [Result<JSONValue, any Error>](repeating: .success(.null), count: fetches.count)
                    for await (i, r) in group where out.indices.contains(i) { out[i] = r }
                    return out
                }
            }
            await breaker.record(address, namespace: namespace, success: !results.contains { Self.isTransportFailure($0) })
            var values: [JSONValue] = []
            for (call, result) in zip(calls, results) {
                do { values.append(try result.get()) } catch let e as ProviderError {
                    throw ProviderError("compare: \(call.label): \(e)", transport: e.transport)
                }
            }
            let verdict = try Self.judgeComparison(plan, values: values)
            m.phase = verdict.phase
            m.message = verdict.message
            m.value = verdict.value
            m.metadata = ["canary-hash": canary, "baseline-hash": baseline]
        } catch {
            m.phase = .Error
            m.message = "\(error)"
        }
        return m.sealed(redacting: args)
    }

    /// A hash goes into a PromQL string, so only what a label value of a
    /// pod-template hash can hold is let through.
    static func hash(_ text: String, field: String) throws -> String {
        let ok = !text.isEmpty && text.utf8.count <= 63 && text.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "-" || $0 == "_" || $0 == "."
        }
        guard ok else {
            throw ProviderError("compare: provider.compare.\(field): \"\(text.prefix(80))\" is not a pod-template hash (letters, digits, - _ ., at most 63); "
                                + "set it from an argument such as {{args.\(field == "canary" ? "canary" : "stable")-hash}} with podTemplateHashValue")
        }
        return text
    }

    /// Pure: the answers (canary, baseline, per metric in order) judged.
    static func judgeComparison(_ plan: ComparePlan, values: [JSONValue]) throws -> (phase: AnalysisPhase, message: String, value: String) {
        var entries: [CanaryScore.Entry] = []
        var details: [String] = []
        for (i, q) in plan.queries.enumerated() {
            let canaryAnswer = values.indices.contains(2 * i) ? values[2 * i] : .null
            let baselineAnswer = values.indices.contains(2 * i + 1) ? values[2 * i + 1] : .null
            let canary = CompareSamples(canaryAnswer), baseline = CompareSamples(baselineAnswer)
            for (side, s) in [("canary", canary), ("baseline", baseline)] where s.values.count > ComparePlan.maxSamples {
                throw ProviderError("compare: \(q.name): \(side): \(s.values.count) samples, more than \(ComparePlan.maxSamples); "
                                    + "raise rangeQuery.step, shorten the window, or aggregate the query (e.g. sum by (pod))")
            }
            let comparison = MetricComparison.compare(canary: canary.values, baseline: baseline.values, settings: q.settings)
            entries.append(CanaryScore.Entry(name: q.name, critical: q.critical, weight: q.weight, comparison: comparison))
            details.append(detail(q, comparison, dropped: (canary.dropped, baseline.dropped)))
        }
        let score = CanaryScore(entries, thresholds: plan.thresholds)
        // The score first, so a value cut short (a summary, a report's column) still shows it.
        let head = String(ordered([("score", score.score.map { .number($0) } ?? .null)]).dropLast())
        return (score.phase, score.message, head + ",\"metrics\":[" + details.joined(separator: ",") + "]}")
    }

    /// A JSON object with its keys in the order given: the name and the
    /// result first, then the numbers behind it.
    static func ordered(_ pairs: [(String, JSONValue)]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        func text(_ v: JSONValue) -> String { (try? encoder.encode(v)).map { String(decoding: $0, as: UTF8.self) } ?? "null" }
        return "{" + pairs.map { text(.string($0.0)) + ":" + text($0.1) }.joined(separator: ",") + "}"
    }

    static func detail(_ q: ComparePlan.Query, _ c: MetricComparison, dropped: (Int, Int)) -> String {
        func num(_ v: Double?) -> JSONValue {
            guard let v else { return .null }
            guard v.isFinite else { return .string(v.isNaN ? "NaN" : v > 0 ? "+Inf" : "-Inf") }
            return .number(Double(String(format: "%.4g", v)) ?? v)
        }
        func side(_ s: MetricComparison.Side, _ dropped: Int) -> JSONValue {
            var o: [String: JSONValue] = ["n": .number(Double(s.count)), "median": num(s.median)]
            if dropped > 0 { o["dropped"] = .number(Double(dropped)) }
            return .object(o)
        }
        var pairs: [(String, JSONValue)] = [("name", .string(q.name)), ("result", .string(c.classification.rawValue))]
        if q.critical { pairs.append(("critical", .bool(true))) }
        pairs += [("canary", side(c.canary, dropped.0)), ("baseline", side(c.baseline, dropped.1)), ("effect", num(c.effect)),
                  ("shift", num(c.shift))]
        if let lower = c.lower, let upper = c.upper { pairs.append(("interval", .array([num(lower), num(upper)]))) }
        pairs.append(("pValue", num(c.pValue)))
        if let reason = c.reason { pairs.append(("reason", .string(reason))) }
        return ordered(pairs)
    }
}

/// The numbers in a Prometheus answer (a vector: one per series; a range
/// query: one per step of every series; a scalar: one). NaN (a rate over no
/// requests), ±Inf and magnitudes past 1e100 are dropped and counted, so
/// they can neither poison the ranks nor overflow a difference.
struct CompareSamples {
    var values: [Double] = []
    var dropped = 0

    static let largest = 1e100

    init(_ answer: JSONValue) { add(answer, depth: 0) }

    mutating func add(_ v: JSONValue, depth: Int) {
        switch v {
        case .number(let x):
            if x.isFinite, abs(x) <= Self.largest { values.append(x) } else { dropped += 1 }
        case .array(let items) where depth < 4:
            for item in items { add(item, depth: depth + 1) }
        case .null:
            break
        default:
            dropped += 1
        }
    }
}

