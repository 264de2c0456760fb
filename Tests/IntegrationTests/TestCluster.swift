import Foundation
import Kube
import Synchronization
import Testing

/// The real control plane that scripts/test.sh starts for the whole run.
/// Tests never skip: without it they fail and say how to start one.
enum TestCluster {
    struct Missing: Error, CustomStringConvertible {
        var description: String {
            "no local control plane: run scripts/test.sh (it starts one), or `scripts/cluster.sh up` and export AVIARY_TEST_KUBECONFIG=$AVIARY_CLUSTER_DIR/kubeconfig"
        }
    }

    static var kubeconfigPath: String {
        get throws {
            guard let p = ProcessInfo.processInfo.environment["AVIARY_TEST_KUBECONFIG"], FileManager.default.fileExists(atPath: p) else {
                throw Missing()
            }
            return p
        }
    }

    /// The cluster's state directory (certificates, ports, logs).
    static var directory: String {
        get throws { (try kubeconfigPath as NSString).deletingLastPathComponent }
    }

    static func access() throws -> ClusterAccess {
        try KubeConfig.load(explicitPath: try kubeconfigPath).access()
    }

    /// An admin client (client certificate in system:masters).
    static func client(qps: Double = 100, burst: Int = 200) throws -> KubeClient {
        KubeClient(access: try access(), qps: qps, burst: burst)
    }

    /// A fresh namespace for one test.
    static func namespace(_ prefix: String, client: KubeClient) async throws -> String {
        let name = "\(prefix)-\(UInt32.random(in: 0...UInt32.max) % 1_000_000)"
        let _: Metadata = try await client.create(.namespaces, Metadata(metadata: ObjectMeta(name: name)))
        // The service-account controller makes "default" in each namespace; pods need it.
        return name
    }

    static func deleteNamespace(_ name: String, client: KubeClient) async {
        try? await client.delete(.namespaces, name)
    }

    static var repoRoot: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }

    /// Runs scripts/cluster.sh against this run's cluster and returns its stdout.
    @discardableResult
    static func script(_ args: String...) async throws -> String {
        var env = ProcessInfo.processInfo.environment
        env["AVIARY_CLUSTER_DIR"] = try directory
        let script = repoRoot + "/scripts/cluster.sh"
        return try await onOwnThread { [env] in
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/bash")
            p.arguments = [script] + args
            p.environment = env
            // A file, not a pipe: processes the script starts (a restarted API server) outlive it.
            let outPath = NSTemporaryDirectory() + "aviary-cluster-sh-\(UUID().uuidString.prefix(6)).out"
            _ = FileManager.default.createFile(atPath: outPath, contents: nil)
            defer { try? FileManager.default.removeItem(atPath: outPath) }
            p.standardOutput = FileHandle(forWritingAtPath: outPath)
            p.standardInput = FileHandle.nullDevice
            try p.run()
            // waitpid, not waitUntilExit: Foundation notices an exit through a descriptor
            // that the processes the script leaves running inherit, so it would wait for them.
            var status: Int32 = 0
            while waitpid(p.processIdentifier, &status, 0) == -1, errno == EINTR {}
            guard status == 0 else { throw KubeError.config("cluster.sh \(args.joined(separator: " ")) failed (status \(status))") }
            let data = FileManager.default.contents(atPath: outPath) ?? Data()
            return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }
}

extension TestCluster {
    /// Runs kubectl against this run's cluster; throws with its stderr on failure.
    @discardableResult
    static func kubectl(_ args: String...) async throws -> String {
        try await kubectl(args)
    }

    @discardableResult
    static func kubectl(_ args: [String]) async throws -> String {
        var env = ProcessInfo.processInfo.environment
        env["KUBECONFIG"] = try kubeconfigPath
        let run = try await runProcess("/usr/bin/env", ["kubectl"] + args, environment: env)
        guard run.status == 0 else {
            throw KubeError.config("kubectl \(args.joined(separator: " ")): \(String(decoding: run.stderr, as: UTF8.self))")
        }
        return String(decoding: run.stdout, as: UTF8.self)
    }

    /// Applies crds/ as a user would (`kubectl apply -f crds/`), once per test run, and waits until the API serves them.
    static func installCRDs() async throws {
        try await crdInstall.once {
            try await kubectl("apply", "-f", repoRoot + "/crds/")
            try await waitEstablished(["crd/rollouts.aviary.dev", "crd/analysistemplates.aviary.dev",
                                       "crd/clusteranalysistemplates.aviary.dev", "crd/analysisruns.aviary.dev"])
        }
    }

    /// Applies the test's route CRDs (VirtualService, DestinationRule, HTTPRoute: Fixtures/route-crds.yaml;
    /// the local control plane has no mesh or gateway), once per test run, and waits until the API serves them.
    static func installRouteCRDs() async throws {
        try await routeCRDInstall.once {
            try await kubectl("apply", "-f", repoRoot + "/Tests/IntegrationTests/Fixtures/route-crds.yaml")
            try await waitEstablished(["crd/virtualservices.networking.istio.io", "crd/destinationrules.networking.istio.io",
                                       "crd/httproutes.gateway.networking.k8s.io"])
        }
    }

    /// `kubectl wait --for=condition=Established`, again while the API server has
    /// not yet given a new CRD any conditions: kubectl 1.20 then fails at once
    /// (".status.conditions accessor error: <nil>") instead of waiting.
    static func waitEstablished(_ crds: [String], timeout: Duration = .seconds(60)) async throws {
        let deadline = ContinuousClock.now + timeout
        while true {
            do {
                try await kubectl(["wait", "--for=condition=Established", "--timeout=30s"] + crds)
                return
            } catch let error as KubeError where ContinuousClock.now < deadline && "\(error)".contains("accessor error") {
                try await Task.sleep(for: .milliseconds(250))
            }
        }
    }

    /// The documents of a file under examples/.
    static func example(_ name: String) throws -> [JSONValue] {
        let text = try String(contentsOfFile: repoRoot + "/examples/" + name, encoding: .utf8)
        return try JSONValue.documents(fromYAML: text)
    }
}

private let crdInstall = Once()
private let routeCRDInstall = Once()

/// Work done once however many tests ask at the same time; a failure lets the next caller try again.
actor Once {
    private var done = false
    private var running: Task<Void, any Error>?

    func once(_ work: @escaping @Sendable () async throws -> Void) async throws {
        if done { return }
        if let running { return try await running.value }
        let task = Task { try await work() }
        running = task
        do {
            try await task.value
            done = true
        } catch {
            running = nil
            throw error
        }
    }
}

/// Polls until `condition` holds or `timeout` passes.
func eventually(_ what: String, timeout: Duration = .seconds(20), _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(100))
    }
    Issue.record("timed out after \(timeout) waiting for \(what)")
    throw CancellationError()
}

/// Runs a command to its end, stdout and stderr together, from the repository's root.
func runCommand(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) async throws -> (status: Int32, output: String) {
    let run = try await runProcess(executable, arguments, environment: environment, mergeOutput: true)
    return (run.status, String(decoding: run.stdout, as: UTF8.self))
}

/// Runs a program from the repository's root to its end, feeding it `input`,
/// and returns its exit status and output (stderr folded into stdout with
/// `mergeOutput`). The waiting (reading its output to the end, its exit)
/// happens on a thread of its own: this test process runs every suite at once
/// on Swift concurrency's few threads (two on a 2-core machine), and one held
/// by a child process for seconds stalls every other test's timing.
func runProcess(_ executable: String, _ arguments: [String], environment: [String: String]? = nil, input: Data? = nil,
                mergeOutput: Bool = false) async throws -> (status: Int32, stdout: Data, stderr: Data) {
    try await onOwnThread {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        p.currentDirectoryURL = URL(fileURLWithPath: TestCluster.repoRoot)
        if let environment { p.environment = environment }
        let out = Pipe(), err = Pipe(), stdin = Pipe()
        p.standardOutput = out
        p.standardError = mergeOutput ? out : err
        p.standardInput = input == nil ? FileHandle.nullDevice : stdin
        try p.run()
        if let input {
            stdin.fileHandleForWriting.write(input)
            try stdin.fileHandleForWriting.close()
        }
        // stderr is drained on one more thread, so a chatty program never blocks on a full pipe while stdout is read.
        let errors = Collected()
        let errDone = DispatchSemaphore(value: 0)
        if !mergeOutput {
            Thread {
                errors.set(err.fileHandleForReading.readDataToEndOfFile())
                errDone.signal()
            }.start()
        }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        if !mergeOutput { errDone.wait() }
        p.waitUntilExit()
        return (p.terminationStatus, data, errors.data)
    }
}

/// Bytes one thread reads and another takes.
private final class Collected: Sendable {
    private let bytes = Mutex(Data())
    func set(_ data: Data) { bytes.withLock { $0 = data } }
    var data: Data { bytes.withLock { $0 } }
}

/// Runs blocking work on a thread of its own and hands back its result, so
/// awaiting it holds none of Swift concurrency's cooperative threads.
func onOwnThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try work() }) }.start()
    }
}
