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
    static func script(_ args: String...) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = [repoRoot + "/scripts/cluster.sh"] + args
        var env = ProcessInfo.processInfo.environment
        env["AVIARY_CLUSTER_DIR"] = try directory
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

extension TestCluster {
    /// Runs kubectl against this run's cluster; throws with its stderr on failure.
    @discardableResult
    static func kubectl(_ args: String...) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["kubectl"] + args
        var env = ProcessInfo.processInfo.environment
        env["KUBECONFIG"] = try kubeconfigPath
        p.environment = env
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw KubeError.config("kubectl \(args.joined(separator: " ")): \(String(decoding: errData, as: UTF8.self))")
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// Applies crds/ as a user would (`kubectl apply -f crds/`), once per test run, and waits until the API serves them.
    static func installCRDs() throws {
        try crdsInstalled.withLock { done in
            guard !done else { return }
            try kubectl("apply", "-f", repoRoot + "/crds/")
            try kubectl("wait", "--for=condition=Established", "--timeout=60s", "crd/rollouts.aviary.dev", "crd/analysistemplates.aviary.dev",
                        "crd/clusteranalysistemplates.aviary.dev", "crd/analysisruns.aviary.dev")
            done = true
        }
    }

    /// The documents of a file under examples/.
    static func example(_ name: String) throws -> [JSONValue] {
        let text = try String(contentsOfFile: repoRoot + "/examples/" + name, encoding: .utf8)
        return try JSONValue.documents(fromYAML: text)
    }
}

private let crdsInstalled = Mutex(false)

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
func runCommand(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws -> (status: Int32, output: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable)
    p.arguments = arguments
    p.currentDirectoryURL = URL(fileURLWithPath: TestCluster.repoRoot)
    if let environment { p.environment = environment }
    let out = Pipe()
    p.standardOutput = out
    p.standardError = out
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
}
