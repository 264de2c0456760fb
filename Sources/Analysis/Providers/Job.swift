import AviaryAPI
import Foundation
import Kube

/// A Job as a measurement: created from the metric's template, owned by the
/// run (so it goes when the run goes); it is Successful when the Job
/// completes and Failed when the Job fails.
public struct JobProvider: Sendable {
    public static let resource = Resource(group: "batch", version: "v1", plural: "jobs", namespaced: true)
    let client: KubeClient

    public init(client: KubeClient) { self.client = client }

    /// The Job's name: the run, the metric and the measurement's number, within a label's 63 characters.
    public static func jobName(run: String, metric: String, number: Int) -> String {
        let suffix = ".\(metric).\(number)"
        return (String(run.prefix(max(1, 63 - suffix.count))) + suffix).lowercased()
    }

    /// Creates the Job; an existing one of that name (a restarted runner) is taken as ours.
    public func start(_ template: JSONValue, run: AnalysisRun, metric: String, number: Int) async throws -> String {
        let name = Self.jobName(run: run.metadata.name ?? "run", metric: metric, number: number)
        let owner = OwnerReference(apiVersion: Rollout.apiVersion, kind: "AnalysisRun", name: run.metadata.name ?? "",
                                   uid: run.metadata.uid ?? "", controller: true, blockOwnerDeletion: true)
        var meta = template["metadata"] ?? [:]
        meta = meta.overlaid(with: ["name": .string(name), "namespace": .string(run.metadata.namespace ?? ""),
                                    "ownerReferences": [try JSONValue(encoding: owner)]])
        let job: JSONValue = ["apiVersion": "batch/v1", "kind": "Job", "metadata": meta, "spec": template["spec"] ?? [:]]
        do {
            let _: JSONValue = try await client.create(Self.resource, job, namespace: run.metadata.namespace)
        } catch let e as KubeError where e.isAlreadyExists {}
        return name
    }

    /// nil while the Job runs; otherwise whether it succeeded, and why not.
    public func outcome(job name: String, namespace: String?) async throws -> (Bool, String)? {
        let job: JSONValue = try await client.get(Self.resource, name, namespace: namespace)
        guard case .array(let conditions)? = job["status"]?["conditions"] else { return nil }
        for c in conditions where c["status"] == "True" {
            if c["type"] == "Complete" { return (true, "job \(name) completed") }
            if c["type"] == "Failed" { return (false, "job \(name) failed: \(c["message"]?.stringValue ?? c["reason"]?.stringValue ?? "")") }
        }
        return nil
    }
}
