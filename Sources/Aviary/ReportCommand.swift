import Analysis
import ArgumentParser
import AviaryAPI
import Foundation
import Kube
import Plugin
import Rollouts

/// `report NAME [--revision N] [-o text|markdown|json]`: what happened in a
/// Rollout's last update (or revision N): timeline, trigger, versions, how
/// long the new version had traffic, the analysis runs and the events; with
/// Prometheus reachable from here, how each analysis query moved over the
/// update's window (a range query).
struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Report on a Rollout's last update (or revision N): timeline, trigger, versions, traffic, analysis, events and metric series.")
    @OptionGroup var cluster: ClusterOptions
    @Option(name: .shortAndLong) var namespace: String?
    @Argument(help: "The Rollout.") var name: String
    @Option(help: "The revision whose update to report on (default: the last update).") var revision: Int?
    @Option(name: [.customShort("o"), .long], help: "text, markdown or json.") var output = "text"
    @Option(help: "Prometheus' address as seen from here, e.g. http://127.0.0.1:9090 through a port-forward (default: the address in the analysis runs' metrics).")
    var prometheusAddress: String?

    func validate() throws {
        guard ["text", "markdown", "md", "json"].contains(output) else { throw ValidationError("-o must be text, markdown or json, not \"\(output)\"") }
        if let revision, revision < 0 { throw ValidationError("--revision must be a revision number (see `kubectl aviary get rollout \(name)`)") }
    }

    func run() async throws {
        let client = try cluster.client()
        let ns = namespace ?? client.access.namespace
        do {
            print(try await Self.report(client: client, namespace: ns, name: name, revision: revision, output: output,
                                        prometheusAddress: prometheusAddress, now: KubeTime.now()), terminator: "")
        } catch let error as ReportError {
            FileHandle.standardError.write(Data("aviary report: \(error)\n".utf8))
            throw ExitCode.failure
        } catch let error as KubeError where error.isNotFound {
            FileHandle.standardError.write(Data("aviary report: no rollout \(name) in namespace \(ns); `kubectl aviary list rollouts -n \(ns)` lists them (or pass -n NAMESPACE)\n".utf8))
            throw ExitCode.failure
        }
    }

    /// Reads the cluster (and Prometheus), builds the report and renders it.
    static func report(client: KubeClient, namespace ns: String, name: String, revision: Int?, output: String,
                       prometheusAddress: String?, now: KubeTime) async throws -> String {
        let rollout: Rollout = try await client.get(Rollout.resource, name, namespace: ns)
        let rs: ObjectList<ReplicaSet> = try await client.list(.replicaSets, namespace: ns, options: ListOptions(labelSelector: podTemplateHashLabel, limit: 500))
        let runs: ObjectList<AnalysisRun> = try await client.list(AnalysisRun.resource, namespace: ns, options: ListOptions(limit: 500))
        let events: ObjectList<ReportEvent> = try await client.list(
            .events, namespace: ns, options: ListOptions(fieldSelector: "involvedObject.kind=Rollout,involvedObject.name=\(name)", limit: 1000))
        let family = Ownership.family(of: rollout, replicaSets: rs.items, pods: [], analysisRuns: runs.items)
        var input = RolloutReport.Input(rollout: rollout, replicaSets: family.replicaSets, analysisRuns: family.analysisRuns,
                                        events: events.items, revision: revision, now: now)
        // The tracked configuration's snapshots that differ between the update and the version before it
        // (read with the user's credentials; one that cannot be read is named, not fatal).
        if let scope = try? RolloutReport.scope(input) {
            for ref in RolloutReport.configSnapshotsToRead(scope) {
                input.configSnapshots.append(await DiffCommand.snapshot(client, ns, ref))
            }
        }
        // Built once without the series to learn the update's window, then again with them.
        let first = try RolloutReport.build(input)
        let (series, notes) = await PrometheusSeries.fetch(report: first, runs: family.analysisRuns, override: prometheusAddress, now: now)
        input.series = series
        input.notes = notes
        let report = try RolloutReport.build(input)
        switch output {
        case "json": return report.json()
        case "markdown", "md": return ReportMarkdown.render(report)
        default: return ReportText.render(report)
        }
    }
}

/// The analysis queries of an update, over its window, from Prometheus' range API.
enum PrometheusSeries {
    static let requestTimeout = Duration.seconds(5)
    static let maxResponseBytes = 4 << 20

    static func fetch(report: RolloutReport, runs: [AnalysisRun], override: String?, now: KubeTime) async -> ([MetricSeries], [String]) {
        guard let hash = report.after.hash else { return ([], []) }
        // One series per metric name (a later run of the same metric asks the same question).
        var wanted: [(metric: String, query: String, address: String)] = []
        var notes: [String] = []
        for run in runs where run.metadata.labels?[podTemplateHashLabel] == hash {
            let args = run.spec.args ?? []
            var values = Arguments()
            if let resolved = try? await Arguments.resolve(args.filter { $0.value != nil }, secret: { _ in throw CancellationError() }) { values = resolved }
            for metric in run.spec.metrics.prefix(MetricSeries.maxSeries) {
                guard let prom = metric.provider.prometheus, !wanted.contains(where: { $0.metric == metric.name }) else { continue }
                guard let query = try? values.substitute(prom.query) else {
                    notes.append("\(metric.name): not queried: its query needs an argument report cannot read (secrets are never read)")
                    continue
                }
                let address = override ?? prom.address.flatMap { try? values.substitute($0) } ?? ""
                guard !address.isEmpty else {
                    notes.append("\(metric.name): not queried: no Prometheus address; pass --prometheus-address URL")
                    continue
                }
                if prom.authentication != nil, override == nil {
                    notes.append("\(metric.name): not queried: this Prometheus needs credentials from a Secret, which report never reads")
                    continue
                }
                wanted.append((metric.name, query, address.hasSuffix("/") ? String(address.dropLast()) : address))
            }
        }
        guard !wanted.isEmpty, let startedAt = report.startedAt else { return ([], notes) }
        // The update's window, with a margin either side so the change shows.
        let endedAt = report.traffic?.until ?? report.endedAt ?? now
        let span = max(0, endedAt.secondsSinceEpoch - startedAt.secondsSinceEpoch)
        let margin = max(30, span / 10)
        let window = RangeQuery.window(start: startedAt.secondsSinceEpoch - margin, end: min(now.secondsSinceEpoch, endedAt.secondsSinceEpoch + margin))
        var series: [MetricSeries] = []
        var unreachable: Set<String> = []
        for w in wanted.prefix(MetricSeries.maxSeries) where !unreachable.contains(w.address) {
            var allowed = CharacterSet.alphanumerics
            allowed.insert(charactersIn: "-._~")
            let q = w.query.addingPercentEncoding(withAllowedCharacters: allowed) ?? w.query
            let url = "\(w.address)/api/v1/query_range?query=\(q)&start=\(window.start)&end=\(window.end)&step=\(window.step)"
            let request = HTTPRequest(method: "GET", url: url, headers: ["Accept: application/json"], timeout: requestTimeout,
                                      connectTimeout: .seconds(3), allowedProtocols: HTTPRequest.httpOrHTTPS, maxResponseBytes: maxResponseBytes)
            do {
                let response = try await CurlEngine.shared.perform(request)
                guard response.status == 200 || response.status == 400 || response.status == 422 else {
                    notes.append("\(w.metric): Prometheus at \(w.address) answered HTTP \(response.status)")
                    continue
                }
                let parsed = try RangeQuery.parse(response.body)
                series.append(MetricSeries(metric: w.metric, query: w.query, step: window.step, points: parsed.points, seriesCount: parsed.seriesCount))
            } catch let failure as TransportFailure {
                unreachable.insert(w.address)
                notes.append("Prometheus not reachable at \(w.address) (\(failure.kind)): no metric series; pass --prometheus-address URL "
                             + "to reach it from here (e.g. through kubectl port-forward)")
            } catch let failure as RangeQuery.Failure {
                notes.append("\(w.metric): Prometheus at \(w.address): \(failure.description)")
            } catch {
                notes.append("\(w.metric): Prometheus at \(w.address): \(error)")
            }
        }
        return (series, notes)
    }
}
