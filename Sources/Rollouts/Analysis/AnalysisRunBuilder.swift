import AnalysisCore
import AviaryAPI
import Foundation
import KubeAPI

/// The templates a Rollout's namespace can reference, read from the caches.
public struct TemplateCatalog: Sendable {
    public var namespaced: [String: AnalysisTemplate]
    public var cluster: [String: AnalysisTemplate]
    /// Templates that exist but do not decode, by name: why not (the field and the problem).
    public var undecodableNamespaced: [String: String]
    public var undecodableCluster: [String: String]

    public init(namespaced: [String: AnalysisTemplate] = [:], cluster: [String: AnalysisTemplate] = [:],
                undecodableNamespaced: [String: String] = [:], undecodableCluster: [String: String] = [:]) {
        self.namespaced = namespaced
        self.cluster = cluster
        self.undecodableNamespaced = undecodableNamespaced
        self.undecodableCluster = undecodableCluster
    }
}

/// Turns a Rollout's `analysis` (a step's, or the background one) into an
/// AnalysisRun: the templates' metrics side by side, their args filled in.
/// Everything that can be wrong with a template is found here, before any run
/// exists, and named: the template, the metric, the field and the column.
public enum AnalysisRunBuilder {
    public struct Hashes: Sendable {
        public var stable: String?
        public var latest: String?
        public init(stable: String?, latest: String?) {
            self.stable = stable
            self.latest = latest
        }
    }

    /// The run's spec, or the problems that keep it from being built.
    public static func spec(_ analysis: RolloutAnalysis, rollout: Rollout, catalog: TemplateCatalog, hashes: Hashes) throws -> AnalysisSpec {
        var problems: [String] = []
        var metrics: [Metric] = []
        var templateArgs: [AnalysisArgument] = []
        var dryRun: [MetricSelector] = analysis.dryRun ?? []
        var retention: [MeasurementRetention] = analysis.measurementRetention ?? []
        var verdicts: [(label: String, verdict: String?, metrics: [String])] = []
        let refs = analysis.templates ?? []
        if refs.isEmpty { problems.append("templates: at least one template is required") }
        // Each referenced template and, depth first, the templates it includes (missing ones and cycles are problems).
        for found in TemplateIncludes.expand(refs, catalog: catalog, problems: &problems) {
            let (kind, ref, template) = (found.kind, found.ref, found.template)
            for metric in template.spec.metrics {
                if metrics.contains(where: { $0.name == metric.name }) {
                    problems.append("\(kind) \"\(ref.templateName)\": metric \"\(metric.name)\" is also defined by another template")
                }
                do { _ = try MetricPlan(metric) } catch { problems.append("\(kind) \"\(ref.templateName)\": \(error)") }
                metrics.append(metric)
            }
            for arg in template.spec.args ?? [] where !templateArgs.contains(where: { $0.name == arg.name }) {
                templateArgs.append(arg)
            }
            dryRun += template.spec.dryRun ?? []
            retention += template.spec.measurementRetention ?? []
            verdicts.append((label: "\(kind) \"\(ref.templateName)\"", verdict: template.spec.verdict, metrics: template.spec.metrics.map { $0.name }))
        }
        var args: [AnalysisArgument] = []
        for arg in templateArgs {
            var resolved = arg
            // The Rollout's value wins; a template's own podTemplateHashValue or fieldRef is resolved the same way.
            let given = analysis.args?.first { $0.name == arg.name }
                ?? (arg.valueFrom?.podTemplateHashValue != nil || arg.valueFrom?.fieldRef != nil ? arg : nil)
            if let given {
                do {
                    resolved = AnalysisArgument(name: arg.name, value: try value(of: given, rollout: rollout, hashes: hashes))
                } catch {
                    problems.append("args[\(arg.name)]: \(error)")
                    args.append(resolved)
                    continue
                }
            }
            if resolved.value == nil, resolved.valueFrom?.secretKeyRef == nil {
                problems.append("argument \"\(arg.name)\" has no value: give it in the template or in the Rollout's analysis args")
            }
            args.append(resolved)
        }
        // A Job may take a secret only as a whole env value (turned into a secretKeyRef); anything else would put the plaintext in the Job.
        let secretArgs = Set(args.filter { $0.value == nil && $0.valueFrom?.secretKeyRef != nil }.map(\.name))
        for metric in metrics {
            guard let job = metric.provider.job else { continue }
            for p in JobSecrets.problems(job: job, secretArgs: secretArgs) { problems.append("metric \"\(metric.name)\": \(p)") }
        }
        if !problems.isEmpty { throw AnalysisSpecError(problems: problems) }
        var spec = AnalysisSpec(args: args.isEmpty ? nil : args, metrics: metrics)
        spec.dryRun = dryRun.isEmpty ? nil : dryRun
        spec.measurementRetention = retention.isEmpty ? nil : retention
        // A template's verdict may name any metric of the run (an including template's names its includes' metrics).
        let names = metrics.map(\.name), dry = Set(names.filter { spec.isDryRun($0) })
        for v in verdicts {
            guard let text = v.verdict, !text.isEmpty else { continue }
            do { _ = try Verdict(text, metrics: names, dryRun: dry) } catch { problems.append("\(v.label): \(error)") }
        }
        let undry = verdicts.map { (verdict: $0.verdict, metrics: $0.metrics.filter { !dry.contains($0) }) }
        spec.verdict = Verdict.combined(undry)
        if let combined = spec.verdict, problems.isEmpty {
            // Metrics of templates without a verdict are written into the combined one by name.
            for name in undry.filter({ ($0.verdict ?? "").isEmpty }).flatMap(\.metrics) where !Verdict.canName(name) {
                problems.append("metric \"\(name)\" cannot be named in the run's combined verdict: rename it without spaces or &|!()")
            }
            do { _ = try Verdict(combined, metrics: names, dryRun: dry) } catch { problems.append("the run's combined verdict \(error)") }
        }
        if !problems.isEmpty { throw AnalysisSpecError(problems: problems) }
        return spec
    }

    /// A Rollout-side argument's value: literal, a pod template hash, or a field of the Rollout.
    static func value(of arg: AnalysisArgument, rollout: Rollout, hashes: Hashes) throws -> String? {
        if let v = arg.value { return v }
        if let which = arg.valueFrom?.podTemplateHashValue {
            switch which {
            case "Stable": return hashes.stable ?? hashes.latest
            case "Latest": return hashes.latest
            default: throw AnalysisSpecError(problems: ["podTemplateHashValue must be Stable or Latest, not \"\(which)\""])
            }
        }
        if let path = arg.valueFrom?.fieldRef?.fieldPath { return try field(path, of: rollout) }
        if arg.valueFrom?.secretKeyRef != nil {
            throw AnalysisSpecError(problems: ["secretKeyRef belongs in the template's args, so the value is read only when measuring"])
        }
        return nil
    }

    /// `metadata.name`, `metadata.labels['app']`, `spec.replicas`, …
    static func field(_ path: String, of rollout: Rollout) throws -> String {
        let json = try JSONValue(encoding: rollout)
        var current: JSONValue? = json
        var rest = Substring(path)
        while !rest.isEmpty {
            if rest.first == "." { rest = rest.dropFirst() }
            if rest.first == "[" {
                guard let close = rest.firstIndex(of: "]") else { break }
                let key = rest[rest.index(after: rest.startIndex)..<close].trimmingCharacters(in: CharacterSet(charactersIn: "'\""))
                current = current?[key]
                rest = rest[rest.index(after: close)...]
                continue
            }
            let name = rest.prefix { $0 != "." && $0 != "[" }
            rest = rest.dropFirst(name.count)
            current = current?[String(name)]
        }
        switch current {
        case .string(let s)?: return s
        case .number(let n)? where n.isFinite && n == n.rounded() && abs(n) < 1e15: return String(Int64(n))
        case .number(let n)?: return String(n)
        case .bool(let b)?: return String(b)
        default: throw AnalysisSpecError(problems: ["fieldRef \(path): no such field on the Rollout"])
        }
    }

    /// A run for this rollout, owned by it, labelled with the hash and the step.
    public static func run(name: String, spec: AnalysisSpec, rollout: Rollout, hash: String, slot: AnalysisSlot) -> AnalysisRun {
        var labels = [podTemplateHashLabel: hash, analysisStepLabel: slot.label]
        // A sharded controller (--instance-id) runs only the runs of its own Rollouts.
        if let shard = rollout.metadata.labels?[instanceIDLabel] { labels[instanceIDLabel] = shard }
        return AnalysisRun(
            metadata: ObjectMeta(name: name, namespace: rollout.metadata.namespace, labels: labels, ownerReferences: [.controller(of: rollout)]),
            spec: spec)
    }
}

public struct AnalysisSpecError: Error, Equatable, Sendable, CustomStringConvertible {
    public var problems: [String]
    public var description: String { problems.joined(separator: "; ") }
}
