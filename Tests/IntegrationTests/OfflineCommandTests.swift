import Foundation
import Kube
import Testing

/// `aviary plan` and `aviary lint`, run as a user runs them: no cluster.
@Suite struct OfflineCommandTests {
    func aviary(_ args: String...) async throws -> (status: Int32, output: String) {
        try await runCommand(try ControllerProcess.debugBinary(), args)
    }

    /// The controller's own flags are checked before it reaches for a cluster: a worker count
    /// of 0 (nothing would ever reconcile) or a million (a million tasks) is refused by name.
    @Test(arguments: ["--workers", "--analysis-workers"], ["0", "1000000"])
    func aWorkerCountOutOfRangeIsRefusedByName(_ flag: String, _ value: String) async throws {
        let (status, output) = try await aviary("controller", flag, value, "--kubeconfig", "/nonexistent")
        #expect(status != 0)
        #expect(output.contains("\(flag): \(value) is not between 1 and 1000"), "\(output)")
    }

    @Test func planShowsEachStepsPodsAndWeight() async throws {
        let (status, output) = try await aviary("plan", "-f", "examples/canary-rollout.yaml")
        #expect(status == 0)
        #expect(output == """
            Rollout web: canary, 10 replicas, 6 steps
            STEP  KIND          CANARY  STABLE  WEIGHT  WAITS
            1     setWeight 10  1       9       10%
            2     pause 5s      1       9       10%     5s
            3     setWeight 30  3       7       30%
            4     pause         3       7       30%     until promoted
            5     setWeight 50  5       5       50%
            6     setWeight 80  8       2       80%
            end   promoted      10      0       100%


            """)
    }

    @Test func lintNamesEveryProblemAndFails() async throws {
        let file = "Tests/IntegrationTests/Fixtures/bad-rollout.yaml"
        let (status, output) = try await aviary("lint", "-f", file)
        #expect(status == 1)
        #expect(output.split(separator: "\n").map(String.init) == [
            "\(file): AnalysisTemplate broken: metric \"rate\": successCondition: column 13: unexpected end of expression",
            "\(file): Rollout shop: spec.selector: does not match spec.template.metadata.labels",
            "\(file): Rollout shop: spec.strategy.canary.steps[0].setWeight: 120 is outside 0–100",
            "\(file): Rollout shop: spec.strategy.canary.steps[1].experiment: unknown step; aviary supports setWeight, pause, setCanaryScale and analysis",
            "\(file): Rollout shop: spec.strategy.canary.steps[2].analysis: AnalysisTemplate \"broken\": metric \"rate\": successCondition: column 13: unexpected end of expression",
        ])
    }

    @Test func lintPassesTheExamples() async throws {
        for file in ["examples/canary-rollout.yaml", "examples/bluegreen-rollout.yaml", "examples/analysis-templates.yaml",
                     "examples/istio-rollout.yaml", "examples/istio-subset-rollout.yaml", "examples/gateway-api-rollout.yaml",
                     "examples/canary-judge-template.yaml", "examples/release-health-template.yaml"] {
            let (status, output) = try await aviary("lint", "-f", file)
            #expect(status == 0, "\(file): \(output)")
        }
    }

    /// lint checks a Rollout's route objects as the controller would: those in
    /// the file offline, and with --cluster those it names in the cluster.
    @Test func lintChecksTheRouteObjectsInTheFileAndWithClusterInTheCluster() async throws {
        let text = try String(contentsOfFile: TestCluster.repoRoot + "/examples/istio-rollout.yaml", encoding: .utf8)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("aviary-lint-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let badRoute = dir.appendingPathComponent("bad-route.yaml").path
        try text.replacingOccurrences(of: "routes: [primary]", with: "routes: [nope]").write(toFile: badRoute, atomically: true, encoding: .utf8)
        let (status, output) = try await aviary("lint", "-f", badRoute)
        #expect(status == 1)
        #expect(output.contains(#"spec.strategy.canary.trafficRouting.istio.virtualService.routes[0]: HTTP route "nope" is not in VirtualService "web""#), "\(output)")

        // Only the Rollout: offline its VirtualService is not checked; against the cluster it is missing.
        let rolloutOnly = dir.appendingPathComponent("rollout.yaml").path
        try text.components(separatedBy: "\n---\n").filter { $0.contains("kind: Rollout") }.joined(separator: "\n---\n")
            .write(toFile: rolloutOnly, atomically: true, encoding: .utf8)
        #expect(try await aviary("lint", "-f", rolloutOnly).status == 0)
        try await TestCluster.installRouteCRDs()
        let ns = try await TestCluster.namespace("lint", client: try TestCluster.client())
        let manifest = rolloutOnly.replacingOccurrences(of: "rollout.yaml", with: "rollout-ns.yaml")
        try String(contentsOfFile: rolloutOnly, encoding: .utf8).replacingOccurrences(of: "kind: Rollout\nmetadata:\n  name: web\n", with: "kind: Rollout\nmetadata:\n  name: web\n  namespace: \(ns)\n")
            .write(toFile: manifest, atomically: true, encoding: .utf8)
        let missing = try await aviary("lint", "--cluster", "--kubeconfig", try TestCluster.kubeconfigPath, "-f", manifest)
        #expect(missing.status == 1)
        #expect(missing.output.contains(#"VirtualService "web" not found in namespace \#(ns)"#), "\(missing.output)")
        await TestCluster.deleteNamespace(ns, client: try TestCluster.client())
    }

    @Test(arguments: ["bash", "zsh", "fish"])
    func completionScriptsForEveryShell(shell: String) async throws {
        let (status, output) = try await aviary("--generate-completion-script", shell)
        #expect(status == 0)
        for verb in ["promote", "abort", "get", "status", "version", "lint"] { #expect(output.contains(verb), "\(shell) completes \(verb)") }
    }

    @Test func versionWithoutAClusterSaysSoAndSucceeds() async throws {
        let (status, output) = try await runCommand(try ControllerProcess.debugBinary(), ["version", "--kubeconfig", "/nonexistent/kubeconfig"])
        #expect(status == 0)
        #expect(output.hasPrefix("aviary 0.1"))
        #expect(output.contains("controller: not asked"), "\(output)")
    }

    @Test func convertRewritesOnlyWhatAviaryHas() async throws {
        let file = NSTemporaryDirectory() + "argo-\(UUID().uuidString.prefix(6)).yaml"
        try """
            # an Argo manifest
            apiVersion: argoproj.io/v1alpha1
            kind: Rollout
            metadata:
              name: demo
            ---
            apiVersion: argoproj.io/v1alpha1
            kind: Experiment
            metadata:
              name: exp

            """.write(toFile: file, atomically: true, encoding: .utf8)
        let (status, output) = try await aviary("convert", "-f", file)
        #expect(status == 0)
        #expect(output.contains("# an Argo manifest\napiVersion: aviary.dev/v1alpha1\nkind: Rollout"))
        #expect(output.contains("apiVersion: argoproj.io/v1alpha1\nkind: Experiment"))
        #expect(output.contains("\(file): Experiment has no aviary equivalent; left as it was"))
    }
}
