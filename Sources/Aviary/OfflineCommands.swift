import Analysis
import ArgumentParser
import AviaryAPI
import Foundation
import Kube
import Plugin
import Rollouts

/// The manifests in a file: Rollouts and analysis templates, with each
/// document's trouble named rather than thrown.
struct Manifests {
    var rollouts: [Rollout] = []
    var templates = TemplateCatalog()
    /// VirtualServices, DestinationRules and HTTPRoutes in the file, for the router's checks.
    var routes: [RouteRef: JSONValue] = [:]
    var problems: [String] = []

    init(file: String) throws {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            throw ValidationError("cannot read \(file)")
        }
        let docs: [JSONValue]
        do { docs = try JSONValue.documents(fromYAML: text) } catch { throw ValidationError("\(file): not YAML: \(error)") }
        for (i, doc) in docs.enumerated() {
            let kind = doc["kind"]?.stringValue ?? ""
            let name = doc["metadata"]?["name"]?.stringValue ?? "document \(i + 1)"
            do {
                let data = try JSONEncoder().encode(doc)
                switch kind {
                case "Rollout": rollouts.append(try JSONDecoder().decode(Rollout.self, from: data))
                case "AnalysisTemplate": templates.namespaced[name] = try JSONDecoder().decode(AnalysisTemplate.self, from: data)
                case "ClusterAnalysisTemplate": templates.cluster[name] = try JSONDecoder().decode(AnalysisTemplate.self, from: data)
                case "VirtualService", "DestinationRule", "HTTPRoute":
                    guard let k = RouteKind(rawValue: kind) else { continue }
                    // Applied without a namespace, it lands in the same one as the Rollout.
                    routes[RouteRef(k, namespace: doc["metadata"]?["namespace"]?.stringValue ?? "default", name: name)] = doc
                default: continue
                }
            } catch {
                problems.append("\(kind) \(name): cannot be read: \(error)")
            }
        }
    }
}

/// `aviary lint -f FILE`: the controller's own validation, offline; with
/// `--cluster`, the route objects a Rollout names are read from the cluster
/// where the file does not hold them.
struct Lint: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Check Rollouts and AnalysisTemplates in a file, as the controller would.")

    @Option(name: .shortAndLong, help: "A manifest file (several documents allowed).")
    var file: String

    @Flag(help: "Also check the VirtualService, DestinationRule or HTTPRoute each Rollout names, read from the cluster when the file does not hold it.")
    var cluster = false

    @OptionGroup var clusterOptions: ClusterOptions

    func run() async throws {
        let m = try Manifests(file: file)
        var problems = m.problems
        for (name, template) in (m.templates.namespaced.map { ("AnalysisTemplate \($0.key)", $0.value) } + m.templates.cluster.map { ("ClusterAnalysisTemplate \($0.key)", $0.value) }) {
            for metric in template.spec.metrics {
                do { _ = try MetricPlan(metric) } catch { problems.append("\(name): \(error)") }
            }
            // Valid, but would fail or hang later: conditions that cannot type-check, count 0, undeclared arguments.
            problems += AnalysisLint.problems(template).map { "\(name): \($0)" }
            // With includes, the names are checked when a Rollout's run is built; here only the syntax.
            do {
                if template.spec.templates?.isEmpty == false {
                    if let v = template.spec.verdict, !v.isEmpty { _ = try Verdict.names(in: v) }
                } else {
                    _ = try Verdict.of(template.spec)
                }
            } catch { problems.append("\(name): \(error)") }
        }
        // Templates the file does not hold are not checked (they live in the cluster).
        let usesOnlyLocal = !m.templates.namespaced.isEmpty || !m.templates.cluster.isEmpty
        for var r in m.rollouts {
            // Applied without a namespace, it lands in one: fieldRefs to it resolve.
            if r.metadata.namespace == nil { r.metadata.namespace = "default" }
            var found = Validation.problems(r, services: nil, templates: usesOnlyLocal ? m.templates : nil)
            let named = RouteRef.named(by: r)
            if found.isEmpty, !named.isEmpty {
                var routes = m.routes.filter { named.contains($0.key) }
                if cluster {
                    let client = try clusterOptions.client()
                    for ref in named where routes[ref] == nil {
                        do {
                            routes[ref] = try await client.get(ref.kind.resource, ref.name, namespace: ref.namespace) as JSONValue
                        } catch let e as KubeError where e.isNotFound {
                            continue  // the router's check says it is missing, naming the field
                        }
                    }
                }
                // Offline, objects the file does not hold are not checked (they live in the cluster).
                if cluster || named.allSatisfy({ routes[$0] != nil }) { found += RouteCheck.problems(r, routes: routes) }
            }
            if usesOnlyLocal { found += AnalysisLint.problems(r, templates: m.templates) }
            for p in found { problems.append("Rollout \(r.metadata.name ?? ""): \(p)") }
        }
        for p in problems.sorted() { print("\(file): \(p)") }
        if problems.isEmpty {
            print("\(file): ok (\(m.rollouts.count) Rollouts, \(m.templates.namespaced.count + m.templates.cluster.count) templates)")
        } else {
            throw ExitCode.failure
        }
    }
}

/// `aviary plan -f FILE`: each canary step's pods and weight, without a cluster.
struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "plan", abstract: "Print what each canary step will do, without a cluster.")

    @Option(name: .shortAndLong, help: "A manifest file with one or more Rollouts.")
    var file: String

    func run() throws {
        let m = try Manifests(file: file)
        guard !m.rollouts.isEmpty else { throw ValidationError("\(file): no Rollout") }
        for r in m.rollouts {
            print(Self.render(r))
        }
    }

    static func render(_ r: Rollout) -> String {
        let rows = r.spec.strategy?.blueGreen != nil ? [] : StepTimeline.rows(r).map {
            PlanTable.Row(step: $0.step, kind: $0.kind, canary: $0.canary, stable: $0.stable, weight: $0.weight, waits: $0.waits)
        }
        return PlanTable.render(r, rows: rows)
    }
}
