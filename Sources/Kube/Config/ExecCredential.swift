import Foundation
import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A kubeconfig user's `exec` section: a credential plugin, run as client-go
/// runs it (`client.authentication.k8s.io/v1` and `v1beta1`).
public struct ExecConfig: Sendable, Hashable {
    public enum APIVersion: String, Sendable, CaseIterable {
        case v1 = "client.authentication.k8s.io/v1"
        case v1beta1 = "client.authentication.k8s.io/v1beta1"
    }

    /// When the plugin may talk to the user. It may only ever when our
    /// standard input is a terminal, so a controller never prompts.
    public enum InteractiveMode: String, Sendable, CaseIterable {
        /// Never: stdin is /dev/null.
        case never = "Never"
        /// When stdin is a terminal (v1beta1's default).
        case ifAvailable = "IfAvailable"
        /// Only with a terminal; without one, the plugin is not run and that is an error.
        case always = "Always"
    }

    public struct EnvVar: Sendable, Hashable {
        public var name: String
        public var value: String

        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    public var apiVersion: APIVersion
    /// A name looked up on PATH, or a path (a relative one was resolved
    /// against the kubeconfig's directory when it was read).
    public var command: String
    public var args: [String]
    /// Added to (and overriding) this process's environment.
    public var env: [EnvVar]
    /// Shown when the command cannot be found.
    public var installHint: String?
    /// Hand the plugin the cluster's details in `KUBERNETES_EXEC_INFO`.
    public var provideClusterInfo: Bool
    public var interactiveMode: InteractiveMode

    public init(apiVersion: APIVersion, command: String, args: [String] = [], env: [EnvVar] = [], installHint: String? = nil,
                provideClusterInfo: Bool = false, interactiveMode: InteractiveMode = .ifAvailable) {
        self.apiVersion = apiVersion
        self.command = command
        self.args = args
        self.env = env
        self.installHint = installHint
        self.provideClusterInfo = provideClusterInfo
        self.interactiveMode = interactiveMode
    }
}

/// The cluster as `KUBERNETES_EXEC_INFO` describes it to a plugin with
/// `provideClusterInfo: true` (client-go's `ExecCredentialSpec.Cluster`).
public struct ExecClusterInfo: Sendable, Hashable {
    public var server: String
    public var tlsServerName: String?
    public var insecureSkipTLSVerify: Bool
    public var certificateAuthorityData: Data?
    public var proxyURL: String?
    public var disableCompression: Bool
    /// The cluster's `extensions` entry named `client.authentication.k8s.io/exec`.
    public var config: JSONValue?

    public init(server: String, tlsServerName: String? = nil, insecureSkipTLSVerify: Bool = false, certificateAuthorityData: Data? = nil,
                proxyURL: String? = nil, disableCompression: Bool = false, config: JSONValue? = nil) {
        self.server = server
        self.tlsServerName = tlsServerName
        self.insecureSkipTLSVerify = insecureSkipTLSVerify
        self.certificateAuthorityData = certificateAuthorityData
        self.proxyURL = proxyURL
        self.disableCompression = disableCompression
        self.config = config
    }

    /// Field names and omissions as client-go's JSON has them.
    var json: JSONValue {
        var o: [String: JSONValue] = ["server": .string(server)]
        if let tlsServerName, !tlsServerName.isEmpty { o["tls-server-name"] = .string(tlsServerName) }
        if insecureSkipTLSVerify { o["insecure-skip-tls-verify"] = .bool(true) }
        if let ca = certificateAuthorityData, !ca.isEmpty { o["certificate-authority-data"] = .string(ca.base64EncodedString()) }
        if let proxyURL, !proxyURL.isEmpty { o["proxy-url"] = .string(proxyURL) }
        if disableCompression { o["disable-compression"] = .bool(true) }
        if let config { o["config"] = config }
        return .object(o)
    }
}

/// What a plugin returned: a bearer token, a client certificate and key, or both.
public struct ExecCredential: Sendable {
    public var token: String?
    public var clientCertificatePEM: Data?
    public var clientKeyPEM: Data?
    /// nil: good until the server refuses it.
    public var expiration: Date?
    /// Which run of the plugin produced it: a 401 drops only the credential
    /// that got it, not a newer one another request already fetched.
    public let generation: Int

    public init(token: String? = nil, clientCertificatePEM: Data? = nil, clientKeyPEM: Data? = nil, expiration: Date? = nil,
                generation: Int = 0) {
        self.token = token
        self.clientCertificatePEM = clientCertificatePEM
        self.clientKeyPEM = clientKeyPEM
        self.expiration = expiration
        self.generation = generation
    }

    /// As client-go: expired once the clock has passed `expirationTimestamp`.
    public func isExpired(at now: Date) -> Bool {
        guard let expiration else { return false }
        return now >= expiration
    }
}

/// A credential plugin that could not give a credential. The message names
/// the command and the kubeconfig user, and says what to do where it can.
public struct ExecPluginError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// Not on PATH, or no such file: the message carries the installHint.
        case notFound
        /// It exists but could not be started (permissions, not executable).
        case cannotStart
        /// interactiveMode Always, and stdin is not a terminal.
        case needsTerminal
        /// Still running at the timeout: killed.
        case timedOut
        /// More than 1 MiB on stdout: killed.
        case outputTooLarge
        /// It exited non-zero or was killed by a signal.
        case failed
        /// Its output is not a usable ExecCredential.
        case badOutput
    }

    public var kind: Kind
    public var command: String
    public var message: String

    public var description: String { message }
}

/// Runs a kubeconfig exec plugin when a credential is needed and caches what
/// it returns until its `expirationTimestamp` (or, without one, until the API
/// server answers 401, when `KubeClient` calls `invalidate` and asks again).
///
/// Requests needing a credential while the plugin runs wait for that one run
/// (never a second plugin). The plugin runs on a thread of its own
/// (`PluginProcess`), never on the cooperative pool, with a timeout that
/// kills it: a hung plugin holds up only the requests that need its
/// credential, and those for at most `timeout`. A waiting task that is
/// cancelled stops waiting at once.
public final class ExecCredentialSource: Sendable {
    /// How long a plugin may run. client-go has no limit; a controller needs one.
    public static let defaultTimeout: Duration = .seconds(30)
    /// When the plugin may prompt (stdin is a terminal and the mode allows),
    /// a person is typing: at least this long.
    public static let interactiveTimeout: Duration = .seconds(300)
    /// The most stdout read from a plugin (an ExecCredential is a few KiB).
    public static let maxOutputBytes = 1 << 20
    /// The most stderr kept (for messages); more is read and dropped.
    public static let maxStderrBytes = 64 << 10

    public let config: ExecConfig
    /// The kubeconfig user, for messages.
    public let user: String
    /// Sent to the plugin when `config.provideClusterInfo` is set.
    public let cluster: ExecClusterInfo?
    public let timeout: Duration
    private let environment: [String: String]
    private let stdinIsTerminal: Bool

    private struct State {
        var cached: ExecCredential?
        var flight: Flight?
        var generation = 0
        var runs = 0
    }
    private let state = Mutex(State())

    /// `environment` is what the plugin inherits (this process's by default)
    /// and whose PATH finds the command; `stdinIsTerminal` says whether it may
    /// prompt (default: whether fd 0 is a terminal).
    public init(config: ExecConfig, user: String, cluster: ExecClusterInfo? = nil, timeout: Duration = ExecCredentialSource.defaultTimeout,
                environment: [String: String] = ProcessInfo.processInfo.environment, stdinIsTerminal: Bool? = nil) {
        self.config = config
        self.user = user
        self.cluster = cluster
        self.timeout = timeout
        self.environment = environment
        self.stdinIsTerminal = stdinIsTerminal ?? (isatty(STDIN_FILENO) == 1)
    }

    /// How many times the plugin has been started.
    public var runs: Int { state.withLock { $0.runs } }

    /// The cached credential while it is good; otherwise runs the plugin (or
    /// joins the run already under way).
    public func credential() async throws -> ExecCredential {
        enum Step { case ready(ExecCredential), join(Flight), lead(Flight, Int) }
        let now = Date()
        let step: Step = state.withLock { s in
            if let c = s.cached, !c.isExpired(at: now) { return .ready(c) }
            if let f = s.flight { return .join(f) }
            let f = Flight()
            s.flight = f
            s.generation += 1
            s.runs += 1
            return .lead(f, s.generation)
        }
        switch step {
        case .ready(let c):
            return c
        case .join(let f):
            return try await f.wait()
        case .lead(let f, let generation):
            // Not a child task: the run finishes (or times out) for every
            // waiter even if the task that started it is cancelled.
            Task.detached { [self] in
                let result: Result<ExecCredential, Error>
                do {
                    result = .success(try await fetch(generation: generation))
                } catch {
                    result = .failure(error)
                }
                state.withLock { s in
                    if s.flight === f { s.flight = nil }
                    if case .success(let c) = result { s.cached = c }
                }
                f.finish(result)
            }
            return try await f.wait()
        }
    }

    /// The server refused `used` (401): drop it, unless a newer one replaced it already.
    public func invalidate(_ used: ExecCredential) {
        state.withLock { s in
            if s.cached?.generation == used.generation { s.cached = nil }
        }
    }

    private var who: String { "exec plugin \"\(config.command)\" (user \"\(user)\")" }

    private func failure(_ kind: ExecPluginError.Kind, _ text: String) -> ExecPluginError {
        ExecPluginError(kind: kind, command: config.command, message: "\(who) \(text)")
    }

    /// Whether this run may prompt, or why it may not run at all.
    func interactive() throws -> Bool {
        switch config.interactiveMode {
        case .never: return false
        case .ifAvailable: return stdinIsTerminal
        case .always:
            guard stdinIsTerminal else {
                throw failure(.needsTerminal, "has interactiveMode Always, but standard input is not a terminal; aviary never lets a plugin prompt without one")
            }
            return true
        }
    }

    /// `KUBERNETES_EXEC_INFO`: the ExecCredential the plugin is given.
    func execInfo(interactive: Bool) -> String {
        var spec: [String: JSONValue] = ["interactive": .bool(interactive)]
        if config.provideClusterInfo, let cluster { spec["cluster"] = cluster.json }
        let info: JSONValue = ["apiVersion": .string(config.apiVersion.rawValue), "kind": "ExecCredential", "spec": .object(spec)]
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(info)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    /// The file to run: a command with a slash is a path; otherwise the first
    /// executable file of that name on PATH (as Go's exec.LookPath).
    static func executable(_ command: String, path: String?) -> String? {
        func runnable(_ p: String) -> Bool {
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: p, isDirectory: &isDirectory) && !isDirectory.boolValue
                && access(p, X_OK) == 0
        }
        if command.contains("/") { return FileManager.default.fileExists(atPath: command) ? command : nil }
        for dir in (path ?? "").split(separator: ":", omittingEmptySubsequences: false) {
            let candidate = (dir.isEmpty ? "." : String(dir)) + "/" + command
            if runnable(candidate) { return candidate }
        }
        return nil
    }

    private func notFound() -> ExecPluginError {
        let place = config.command.contains("/") ? "not found" : "not found on PATH"
        let hint = config.installHint.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.flatMap { $0.isEmpty ? nil : $0 }
        return failure(.notFound, place + (hint.map { "; install hint: \($0)" } ?? " (the kubeconfig gives no installHint)"))
    }

    func fetch(generation: Int) async throws -> ExecCredential {
        guard let path = Self.executable(config.command, path: environment["PATH"]) else { throw notFound() }
        let interactive = try interactive()
        var env = environment
        for variable in config.env { env[variable.name] = variable.value }
        env["KUBERNETES_EXEC_INFO"] = execInfo(interactive: interactive)
        let limit = interactive ? max(timeout, Self.interactiveTimeout) : timeout
        let outcome: PluginProcess.Outcome
        do {
            outcome = try await PluginProcess.run(path: path, arguments: config.args, environment: env, interactive: interactive,
                                                  timeout: limit, maxStdout: Self.maxOutputBytes, maxStderr: Self.maxStderrBytes)
        } catch let spawn as PluginProcess.SpawnFailure {
            if spawn.code == ENOENT { throw notFound() }
            throw failure(.cannotStart, "cannot be started: \(spawn.description)")
        }
        let stderr = Self.excerpt(outcome.stderr)
        switch outcome.exit {
        case .timedOut:
            throw failure(.timedOut, "did not finish within \(limit) and was killed" + (stderr.isEmpty ? "" : "; it said: \(stderr)"))
        case .stdoutTooLarge:
            throw failure(.outputTooLarge, "wrote more than \(Self.maxOutputBytes) bytes to standard output and was killed")
        case .signal(let signal):
            throw failure(.failed, "was killed by signal \(signal)" + (stderr.isEmpty ? "" : ": \(stderr)"))
        case .status(let status) where status != 0:
            throw failure(.failed, "failed with exit status \(status)" + (stderr.isEmpty ? "" : ": \(stderr)"))
        case .status:
            break
        }
        if !stderr.isEmpty {
            Logger(label: "aviary.kube").info("\(who) said on stderr: \(stderr)")
        }
        do {
            return try Self.parse(outcome.stdout, apiVersion: config.apiVersion, generation: generation)
        } catch let problem as OutputProblem {
            throw failure(.badOutput, "returned an unusable ExecCredential: \(problem.text)")
        }
    }

    struct OutputProblem: Error {
        var text: String
    }

    private struct Output: Decodable {
        struct Status: Decodable {
            var token: String?
            var clientCertificateData: String?
            var clientKeyData: String?
            var expirationTimestamp: String?
        }
        var apiVersion: String?
        var kind: String?
        var status: Status?
    }

    /// Reads a plugin's stdout, checked as client-go checks it.
    static func parse(_ data: Data, apiVersion: ExecConfig.APIVersion, generation: Int) throws -> ExecCredential {
        let output: Output
        do {
            output = try JSONDecoder().decode(Output.self, from: data)
        } catch {
            let shown = String(describing: error).prefix(300)
            throw OutputProblem(text: data.isEmpty ? "its standard output is empty" : "its output is not an ExecCredential in JSON (\(shown))")
        }
        guard output.kind == "ExecCredential" else {
            throw OutputProblem(text: "kind is \(output.kind.map { "\"\($0.prefix(100))\"" } ?? "missing"), not \"ExecCredential\"")
        }
        guard output.apiVersion == apiVersion.rawValue else {
            throw OutputProblem(text: "apiVersion is \(output.apiVersion.map { "\"\($0.prefix(100))\"" } ?? "missing"), "
                                + "but the kubeconfig asks for \"\(apiVersion.rawValue)\"")
        }
        guard let status = output.status else { throw OutputProblem(text: "it has no status") }
        let token = status.token.flatMap { $0.isEmpty ? nil : $0 }
        let cert = status.clientCertificateData.flatMap { $0.isEmpty ? nil : $0 }
        let key = status.clientKeyData.flatMap { $0.isEmpty ? nil : $0 }
        if token == nil, cert == nil, key == nil {
            throw OutputProblem(text: "status has neither a token nor a clientCertificateData and clientKeyData pair")
        }
        if (cert == nil) != (key == nil) {
            throw OutputProblem(text: cert == nil ? "status has clientKeyData without clientCertificateData" : "status has clientCertificateData without clientKeyData")
        }
        if let token, token.utf8.contains(where: { $0 == 0x0d || $0 == 0x0a || $0 == 0 }) {
            throw OutputProblem(text: "status.token has a line break or NUL in it")
        }
        var expiration: Date?
        if let text = status.expirationTimestamp, !text.isEmpty {
            guard let (seconds, micros) = try? RFC3339.parse(text) else {
                throw OutputProblem(text: "status.expirationTimestamp \"\(text.prefix(64))\" is not an RFC 3339 time")
            }
            expiration = Date(timeIntervalSince1970: Double(seconds) + Double(micros) / 1_000_000)
        }
        return ExecCredential(token: token, clientCertificatePEM: cert.map { Data($0.utf8) }, clientKeyPEM: key.map { Data($0.utf8) },
                              expiration: expiration, generation: generation)
    }

    /// Stderr for a message: one line, at most 1 KiB.
    static func excerpt(_ data: Data) -> String {
        let text = String(decoding: data, as: UTF8.self)
            .split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            .joined(separator: " | ")
        guard text.utf8.count > 1024 else { return text }
        var cut = ""
        for ch in text {
            if cut.utf8.count + ch.utf8.count > 1024 { break }
            cut.append(ch)
        }
        return cut + " …"
    }
}

/// One run of a plugin that several requests wait on.
private final class Flight: Sendable {
    private struct State {
        var result: Result<ExecCredential, Error>?
        var waiters: [Int: CheckedContinuation<ExecCredential, Error>] = [:]
        var next = 0
    }
    private let state = Mutex(State())

    func wait() async throws -> ExecCredential {
        let id = state.withLock { s -> Int in
            s.next += 1
            return s.next
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<ExecCredential, Error>) in
                let ready: Result<ExecCredential, Error>? = state.withLock { s in
                    if let r = s.result { return r }
                    if Task.isCancelled { return .failure(CancellationError()) }
                    s.waiters[id] = c
                    return nil
                }
                if let ready { c.resume(with: ready) }
            }
        } onCancel: {
            let c = state.withLock { $0.waiters.removeValue(forKey: id) }
            c?.resume(throwing: CancellationError())
        }
    }

    func finish(_ result: Result<ExecCredential, Error>) {
        let waiters = state.withLock { s -> [CheckedContinuation<ExecCredential, Error>] in
            s.result = result
            defer { s.waiters = [:] }
            return Array(s.waiters.values)
        }
        for c in waiters { c.resume(with: result) }
    }
}
