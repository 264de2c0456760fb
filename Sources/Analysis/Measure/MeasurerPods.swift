import AviaryAPI
import Kube

/// The pods of one ReplicaSet in a namespace, by pod-template hash (the
/// controller passes its pod cache, so a measurement costs no request).
public typealias PodSource = @Sendable (_ namespace: String, _ hash: String) -> [Pod]

extension Measurer {
    /// Pods listed from the API when there is no cache: at most this many.
    static let podListLimit = 1000

    /// The `pods` provider: the health of the pods under test (`PodHealth`),
    /// judged by the metric's conditions. No pods at all is an Error
    /// measurement (it counts toward consecutiveErrorLimit), so a condition
    /// such as `result.restarts <= 5` never passes on pods that are not there.
    func measurePods(_ spec: PodsMetric, plan: MetricPlan, run: AnalysisRun, now: KubeTime) async -> AnalysisMeasurement {
        var m = AnalysisMeasurement(phase: .Running, startedAt: now)
        var args = Arguments()
        let namespace = run.metadata.namespace ?? ""
        do {
            args = try await arguments(run)
            let hash = try Self.podTemplateHash(spec, of: run, args: args)
            let found = try await podsOf(namespace: namespace, hash: hash)
            guard !found.isEmpty else {
                throw ProviderError("pods: no pod in namespace \(namespace) has \(podTemplateHashLabel)=\(hash): the ReplicaSet under test has none (yet), "
                    + "or provider.pods.podTemplateHash names another one")
            }
            judge(&m, value: PodHealth.summary(found), plan: plan, redact: args.redact)
        } catch {
            m.phase = .Error
            m.message = "\(error)"
        }
        return m.sealed(redacting: args)
    }

    /// The hash to measure: `podTemplateHash` (arguments substituted) or the run's label.
    /// It goes into a label selector, so it must be a label value, or one could widen the selection.
    static func podTemplateHash(_ spec: PodsMetric, of run: AnalysisRun, args: Arguments) throws -> String {
        let field = spec.podTemplateHash != nil ? "provider.pods.podTemplateHash" : "the run's \(podTemplateHashLabel) label"
        guard let hash = try spec.podTemplateHash.map({ try args.substitute($0) }) ?? run.metadata.labels?[podTemplateHashLabel], !hash.isEmpty else {
            throw ProviderError("pods: the run has no \(podTemplateHashLabel) label (it was not started by a Rollout); "
                + "set provider.pods.podTemplateHash, e.g. \"{{args.canary-hash}}\" with valueFrom.podTemplateHashValue: Latest")
        }
        guard isLabelValue(hash) else {
            throw ProviderError("pods: \(field) \"\(ValueText.truncated(hash, limit: 80))\" is not a label value "
                + "(at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit)")
        }
        return hash
    }

    static func isLabelValue(_ s: String) -> Bool {
        let ok = { (c: Character) in c.isASCII && (c.isLetter || c.isNumber) }
        guard let first = s.first, let last = s.last, s.count <= 63, ok(first), ok(last) else { return false }
        return s.allSatisfy { ok($0) || $0 == "-" || $0 == "_" || $0 == "." }
    }

    func podsOf(namespace: String, hash: String) async throws -> [Pod] {
        if let pods { return pods(namespace, hash) }
        do {
            let list: ObjectList<Pod> = try await client.list(.pods, namespace: namespace,
                                                               options: ListOptions(labelSelector: "\(podTemplateHashLabel)=\(hash)", limit: Self.podListLimit))
            return list.items
        } catch let e as KubeError {
            throw ProviderError("pods: cannot list pods in namespace \(namespace): \(e.status?.message ?? "\(e)")")
        }
    }
}
