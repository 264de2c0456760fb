import Foundation

/// The controller's own timers (Prometheus histograms on its /metrics) over a
/// window of the benchmark: two scrapes, and per stage the count, mean and
/// p99 of what was recorded between them. This is how the benchmark says where
/// a change's latency went (queue wait, reconcile, each API verb, the client's
/// rate limiter) instead of guessing.
struct TimerWindow {
    /// One scrape: each sample line's series (everything before the value) and its value.
    struct Scrape {
        var samples: [Substring: Double] = [:]

        init(_ text: String) {
            for line in text.split(separator: "\n") where !line.hasPrefix("#") {
                guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
                samples[line[..<space]] = value
            }
        }

        func value(_ series: String) -> Double { samples[Substring(series)] ?? 0 }

        /// The cumulative buckets of one histogram, `labels` being its other labels ("" or `verb="POST",`).
        func buckets(_ name: String, labels: String) -> [(le: Double, count: Double)] {
            let prefix = name + "_bucket{" + labels + "le=\""
            return samples.compactMap { key, value in
                guard key.hasPrefix(prefix) else { return nil }
                let rest = key.dropFirst(prefix.count)
                guard let quote = rest.firstIndex(of: "\"") else { return nil }
                let bound = rest[..<quote]
                return (bound == "+Inf" ? .infinity : Double(bound) ?? .nan, value)
            }.filter { !$0.le.isNaN }.sorted { $0.le < $1.le }
        }
    }

    struct Stage {
        var count: Int
        var mean: Double
        /// The upper bound of the bucket that holds the 99th percentile (histograms know no more).
        var p99: Double
    }

    let before: Scrape, after: Scrape

    /// One histogram's change over the window; nil when nothing was recorded.
    func stage(_ name: String, labels: [(String, String)] = []) -> Stage? {
        let inner = labels.map { "\($0.0)=\"\($0.1)\"" }.joined(separator: ",")
        let braces = inner.isEmpty ? "" : "{\(inner)}"
        let count = after.value(name + "_count" + braces) - before.value(name + "_count" + braces)
        let sum = after.value(name + "_sum" + braces) - before.value(name + "_sum" + braces)
        guard count.isFinite, sum.isFinite, count >= 1 else { return nil }
        let old = Dictionary(before.buckets(name, labels: inner.isEmpty ? "" : inner + ","), uniquingKeysWith: { a, _ in a })
        let target = count * 0.99
        let p99 = after.buckets(name, labels: inner.isEmpty ? "" : inner + ",")
            .first { $0.count - (old[$0.le] ?? 0) >= target }?.le ?? .infinity
        return Stage(count: ScaleBench.count(count), mean: sum / count, p99: p99)
    }

    /// Lines for the benchmark's table, one per stage that recorded anything.
    func report(verbs: [String] = ["POST", "PATCH", "PUT", "GET", "DELETE"]) -> [String] {
        var rows: [(String, Stage?)] = [
            ("queue wait", stage("aviary_workqueue_queue_duration_seconds", labels: [("name", "rollouts")])),
            ("reconcile (whole)", stage("aviary_rollout_reconcile")),
            ("rate limiter wait", stage("aviary_k8s_rate_limiter_duration_seconds")),
        ]
        for verb in verbs { rows.append(("API \(verb)", stage("aviary_k8s_request_duration_seconds", labels: [("verb", verb)]))) }
        return rows.compactMap { label, s in
            guard let s else { return nil }
            let p99 = s.p99.isFinite ? String(format: "≤ %.0f ms", s.p99 * 1000) : "above the last bucket"
            let padded = label.count < 22 ? label + String(repeating: " ", count: 22 - label.count) : label
            return "    " + padded + String(format: " %6d × mean %7.1f ms, p99 ", s.count, s.mean * 1000) + p99
        }
    }
}
