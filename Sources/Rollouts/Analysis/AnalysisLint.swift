import AnalysisCore
import AviaryAPI
import Foundation
import KubeAPI

/// What `aviary lint` finds in analysis beyond the controller's validation:
/// templates that are valid to run, but whose mistakes would show only later,
/// as Error measurements, a metric that passes without measuring, or a step
/// that never ends. The controller does not refuse these (Argo runs them).
public enum AnalysisLint {
    /// One template's own mistakes, each starting `metric "name": field: …`.
    public static func problems(_ template: AnalysisTemplate) -> [String] {
        var out: [String] = []
        let declared = (template.spec.args ?? []).map(\.name)
        for metric in template.spec.metrics {
            let at = "metric \"\(metric.name)\""
            if isZero(metric.count) {
                out.append("\(at): count: 0 takes no measurement, so the metric would pass without measuring anything; "
                    + "leave count out for one measurement, or set how many to take")
            }
            if let prometheus = metric.provider.prometheus {
                let shape = Shape.prometheus(query: prometheus.query, rangeQuery: prometheus.rangeQuery != nil)
                for (field, text) in [("successCondition", metric.successCondition), ("failureCondition", metric.failureCondition)] {
                    // One that does not parse is reported by the controller's own check.
                    guard let text, !text.isEmpty, let e = try? Expression.parse(text),
                          let problem = e.shapeProblem(result: shape, source: prometheus.rangeQuery != nil ? "what a Prometheus range query answers" : "what Prometheus answers")
                    else { continue }
                    out.append("\(at): \(field): \(problem)")
                }
            }
            // With includes, arguments may be declared by another template: checked when a Rollout's run is built.
            if template.spec.templates?.isEmpty ?? true, let provider = try? JSONValue(encoding: metric.provider) {
                for (field, name) in argumentUses(provider, at: "provider") where !declared.contains(name) {
                    let known = declared.isEmpty ? "it declares none" : "it declares \(declared.joined(separator: ", "))"
                    out.append("\(at): \(field): uses {{args.\(name)}}, but spec.args has no \"\(name)\" (\(known)), so nothing can pass it "
                        + "and every measurement would be an Error; add it to spec.args, or correct the name")
                }
            }
        }
        return out
    }

    /// A Rollout's analyses against the templates in the file: a metric with an
    /// `interval` and no `count` measures until its run is terminated, and a
    /// step's run (or blue-green's pre- and post-promotion run) is never
    /// terminated while the update waits on it, so the update would wait forever.
    public static func problems(_ rollout: Rollout, templates: TemplateCatalog) -> [String] {
        var waits: [(String, RolloutAnalysis)] = []
        if let canary = rollout.spec.strategy?.canary {
            for (i, step) in (canary.steps ?? []).enumerated() {
                if case .analysis(let a) = step { waits.append(("spec.strategy.canary.steps[\(i)].analysis", a)) }
            }
        }
        if let bg = rollout.spec.strategy?.blueGreen {
            if let a = bg.prePromotionAnalysis { waits.append(("spec.strategy.blueGreen.prePromotionAnalysis", a)) }
            if let a = bg.postPromotionAnalysis { waits.append(("spec.strategy.blueGreen.postPromotionAnalysis", a)) }
        }
        var out: [String] = []
        for (field, analysis) in waits {
            var ignored: [String] = []  // a missing template is the controller's check
            for found in TemplateIncludes.expand(analysis.templates ?? [], catalog: templates, problems: &ignored) {
                for metric in found.template.spec.metrics where metric.interval != nil && metric.count == nil {
                    out.append("\(field): \(found.kind) \"\(found.ref.templateName)\": metric \"\(metric.name)\": "
                        + "interval \(metric.interval ?? "") without count: the metric would measure until its run is terminated, "
                        + "and nothing terminates a step's run, so the update would wait forever (until aborted); "
                        + "set count, or run the template as background analysis (spec.strategy.canary.analysis)")
                }
            }
        }
        return out
    }

    static func isZero(_ count: IntOrString?) -> Bool {
        switch count {
        case .int(0)?: return true
        case .string(let s)?: return Int(s.trimmingCharacters(in: .whitespaces)) == 0
        default: return false
        }
    }

    /// Each `{{args.name}}` in the strings of a provider, with the field it is in.
    static func argumentUses(_ json: JSONValue, at path: String) -> [(field: String, name: String)] {
        switch json {
        case .string(let s):
            var out: [(String, String)] = []
            var rest = Substring(s)
            while let open = rest.range(of: "{{"), let close = rest[open.upperBound...].range(of: "}}") {
                let inner = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
                if inner.hasPrefix("args.") {
                    let name = String(inner.dropFirst(5))
                    if !out.contains(where: { $0.1 == name }) { out.append((path, name)) }
                }
                rest = rest[close.upperBound...]
            }
            return out
        case .array(let items):
            return items.enumerated().flatMap { argumentUses($0.element, at: "\(path)[\($0.offset)]") }
        case .object(let fields):
            return fields.sorted { $0.key < $1.key }.flatMap { argumentUses($0.value, at: "\(path).\($0.key)") }
        default:
            return []
        }
    }
}
