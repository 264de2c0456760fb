import AviaryAPI
import Foundation
import Kube
import TestSupport
import Testing
@testable import Analysis
@testable import AnalysisCore

@Suite struct ProviderRequestTests {
    @Test(arguments: [("file:///etc/passwd", "file"), ("gopher://127.0.0.1:6379/_FLUSHALL", "gopher"), ("dict://127.0.0.1:11211/", "dict")])
    func onlyHTTPAndHTTPSWithoutAnyIO(url: String, scheme: String) async {
        let error = await #expect(throws: ProviderError.self) { _ = try await WebProvider(url: url).fetch() }
        #expect(error?.message.contains("the URL scheme \"\(scheme)\" is not allowed; only http and https may be used; "
                                        + "write the address as http://host:port or https://host:port") == true)
        #expect(error?.message.hasPrefix("web at ") == true)
        #expect(error?.transport == false, "a refused request does not count against a circuit")
        let provider = PrometheusProvider(address: url)
        let prometheus = await #expect(throws: ProviderError.self) { _ = try await provider.query("up") }
        #expect(prometheus?.message.hasPrefix("prometheus at \(provider.address): the URL scheme \"\(scheme)\" is not allowed") == true)
    }

    @Test func nonStandardMethodsAreRefused() async {
        let error = await #expect(throws: ProviderError.self) { _ = try await WebProvider(url: "http://127.0.0.1:1/", method: "TRACE").fetch() }
        #expect(error?.message == "web at http://127.0.0.1:1: method \"TRACE\" is not allowed; use one of DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT")
        #expect(WebProvider(url: "http://h/", method: "post").request().method == "POST")
    }

    @Test func headersCannotCarryLineBreaksAndErrorsNameTheKeyNotTheValue() throws {
        #expect(try HeaderLines.make([(key: "X-Scope", value: "team-a")], provider: "web") == ["X-Scope: team-a"])
        let crlf = #expect(throws: ProviderError.self) {
            try HeaderLines.make([(key: "X-Token", value: "s3cr3t\r\nX-Admin: yes")], provider: "web")
        }
        #expect(crlf?.message.hasPrefix("web: header \"X-Token\" has a line break (CR or LF) or NUL in its value; a header value is one line") == true)
        #expect(crlf?.message.contains("s3cr3t") == false)
        let trailing = #expect(throws: ProviderError.self) { try HeaderLines.make([(key: "Authorization", value: "Bearer tok\n")], provider: "prometheus") }
        #expect(trailing?.message.contains("remove the newline") == true)
        let name = #expect(throws: ProviderError.self) { try HeaderLines.make([(key: "X-A: b\r\nX-C", value: "d")], provider: "web") }
        #expect(name?.message.hasPrefix("web: header name \"X-A: b??X-C\" is not a valid HTTP header name") == true)
    }

    @Test func timeoutsHaveDefaultsAndACeiling() {
        #expect(ProviderTimeout.duration(nil, default: ProviderTimeout.web) == .seconds(10))
        #expect(ProviderTimeout.duration(0, default: ProviderTimeout.web) == .seconds(10))
        #expect(ProviderTimeout.duration(-3, default: ProviderTimeout.prometheus) == .seconds(30))
        #expect(ProviderTimeout.duration(45, default: ProviderTimeout.web) == .seconds(45))
        #expect(ProviderTimeout.duration(Int.max, default: ProviderTimeout.web) == .seconds(300))
    }

    @Test func engineErrorsBecomeMessagesAUserCanActOn() {
        func message(_ e: any Error) -> String { (ProviderError.from(e, provider: "web", server: "http://10.0.0.5:80") as? ProviderError)?.message ?? "" }
        #expect(message(ResponseTooLarge(server: "http://10.0.0.5:80", limit: 1_048_576))
            == "web at http://10.0.0.5:80: response larger than 1048576 bytes, so it was dropped; ask for less (a narrower query, "
            + "or an endpoint that returns less), or raise the controller's --provider-max-response-bytes")
        #expect(message(RequestRefused(.address, "address 10.0.0.5 is not allowed by --provider-allow (allowed: 127.0.0.0/8)"))
            == "web at http://10.0.0.5:80: address 10.0.0.5 is not allowed by --provider-allow (allowed: 127.0.0.0/8); "
            + "measure through an allowed address, or ask the cluster admin to add this one to --provider-allow")
        let redirect = ProviderError.redirect(provider: "web", server: "http://h", status: 302, location: "http://169.254.169.254/")
        #expect(redirect.message == "web at http://h: HTTP 302 redirect to http://169.254.169.254/ not followed (redirects never are); set the address to where it points")
    }

    @Test func onlyTransportFailuresCountAgainstACircuit() {
        func counts(_ kind: TransportFailure.Kind) -> Bool {
            (ProviderError.from(TransportFailure(kind: kind, server: "http://p", detail: "x", notSent: true), provider: "web", server: "http://p")
                as? ProviderError)?.transport == true
        }
        #expect(counts(.couldNotConnect) && counts(.couldNotResolve) && counts(.tls) && counts(.timedOut) && counts(.connectionLost))
        #expect(!counts(.cancelled) && !counts(.other))
        #expect(ProviderError("prometheus at http://p: bad_data: parse error").transport == false)
        #expect(!Measurer.isTransportFailure(.failure(ProviderError("web at http://p: HTTP 400"))))
        #expect(Measurer.isTransportFailure(.failure(ProviderError("web at http://p: cannot connect", transport: true))))
        #expect(!Measurer.isTransportFailure(.success(.null)))
    }
}

/// Against a real server on 127.0.0.1, through the providers.
@Suite(.serialized) struct ProviderLimitTests {
    @Test func aLargeAnswerIsAnErrorNotAMemoryProblem() async throws {
        let server = try TinyHTTPServer { _ in TinyHTTPServer.response("200 OK", body: [UInt8](repeating: 0x31, count: 200_000)) }
        defer { server.stop() }
        let web = WebProvider(url: "http://127.0.0.1:\(server.port)/", settings: ProviderSettings(maxResponseBytes: 65_536))
        let error = await #expect(throws: ProviderError.self) { _ = try await web.fetch() }
        #expect(error?.message.hasPrefix("web at http://127.0.0.1:\(server.port): response larger than 65536 bytes, so it was dropped") == true)
        #expect(error?.transport == false)
    }

    @Test func aRedirectIsReportedNotFollowed() async throws {
        let server = try TinyHTTPServer { _ in
            TinyHTTPServer.response("301 Moved Permanently", headers: ["Location: http://169.254.169.254/latest/meta-data/", "Content-Length: 0"], body: [])
        }
        defer { server.stop() }
        let error = await #expect(throws: ProviderError.self) { _ = try await PrometheusProvider(address: "http://127.0.0.1:\(server.port)").query("up") }
        #expect(error?.message == "prometheus at http://127.0.0.1:\(server.port): HTTP 301 redirect to http://169.254.169.254/latest/meta-data/ "
                + "not followed (redirects never are); set the address to where it points")
        #expect(server.connections == 1)
    }

    @Test func theAllowListIsEnforcedForProviders() async throws {
        let server = try TinyHTTPServer { _ in TinyHTTPServer.response("200 OK", body: Array(#"{"ok":true}"#.utf8)) }
        defer { server.stop() }
        let closed = ProviderSettings(allow: try AddressPolicy(parsing: ["prometheus.monitoring.svc", "10.0.0.0/8"]))
        let error = await #expect(throws: ProviderError.self) {
            _ = try await WebProvider(url: "http://127.0.0.1:\(server.port)/", settings: closed).fetch()
        }
        #expect(error?.message == "web at http://127.0.0.1:\(server.port): address 127.0.0.1 is not allowed by --provider-allow "
                + "(allowed: prometheus.monitoring.svc, 10.0.0.0/8); measure through an allowed address, or ask the cluster admin to add this one to --provider-allow")
        #expect(server.connections == 0)
        let open = ProviderSettings(allow: try AddressPolicy(parsing: ["127.0.0.0/8"]))
        #expect(try await WebProvider(url: "http://127.0.0.1:\(server.port)/", jsonPath: "$.ok", settings: open).fetch() == .bool(true))
    }

    @Test func aLongAnswerIsStoredCutWithAMarker() async throws {
        let text = String(repeating: "z", count: 10_000)
        let server = try TinyHTTPServer { _ in TinyHTTPServer.response("200 OK", body: Array("\"\(text)\"".utf8)) }
        defer { server.stop() }
        let client = KubeClient(access: ClusterAccess(server: "https://127.0.0.1:1", tls: TLSSettings(), credentials: .none, source: "test"))
        let measurer = Measurer(client: client, bulkhead: Bulkhead(limit: 1))
        let metric = Metric(name: "m", successCondition: "result == \"ok\"", provider: MetricProvider(web: WebMetric(url: "http://127.0.0.1:\(server.port)/")))
        let run = AnalysisRun(metadata: ObjectMeta(name: "r", namespace: "ns"), spec: AnalysisSpec(metrics: [metric]))
        let m = await measurer.measure(metric, plan: try MetricPlan(metric), run: run, number: 1, now: KubeTime.now())
        #expect(m.phase == .Failed)
        #expect(m.value?.utf8.count ?? 0 <= ValueText.storedLimit)
        #expect(m.value?.hasSuffix("… [truncated, 10000 bytes]") == true)
        #expect(m.message?.hasSuffix("… [truncated, 10000 bytes] did not satisfy result == \"ok\"") == true, "the condition stays readable")
        #expect(m.message?.utf8.count ?? 0 <= ValueText.storedLimit)
    }

    /// Measurer end to end: an unreachable address opens the circuit for its
    /// namespace only; a server answering 400 never opens it.
    @Test func theBreakerIsPerNamespaceAndCountsOnlyTransportFailures() async throws {
        let client = KubeClient(access: ClusterAccess(server: "https://127.0.0.1:1", tls: TLSSettings(), credentials: .none, source: "test"))
        let measurer = Measurer(client: client, bulkhead: Bulkhead(limit: 4), breaker: CircuitBreaker(threshold: 2, coolDown: .seconds(60)))
        func run(_ ns: String) -> AnalysisRun {
            AnalysisRun(metadata: ObjectMeta(name: "r", namespace: ns), spec: AnalysisSpec(metrics: []))
        }
        func measure(_ url: String, in ns: String) async throws -> AnalysisMeasurement {
            var w = WebMetric(url: url)
            w.timeoutSeconds = 2
            let metric = Metric(name: "m", successCondition: "true", provider: MetricProvider(web: w))
            return await measurer.measure(metric, plan: try MetricPlan(metric), run: run(ns), number: 1, now: KubeTime.now())
        }
        let dead = "http://127.0.0.1:1/"
        for _ in 0..<2 {
            let m = try await measure(dead, in: "tenant-a")
            #expect(m.phase == .Error)
            #expect(m.message?.hasPrefix("web at http://127.0.0.1:1: cannot connect") == true)
        }
        #expect(try await measure(dead, in: "tenant-a").message?.hasPrefix("circuit open for http://127.0.0.1:1 after 2 failures in a row") == true)
        #expect(try await measure(dead, in: "tenant-b").message?.hasPrefix("web at http://127.0.0.1:1: cannot connect") == true,
                "another namespace's circuit is its own")

        let server = try TinyHTTPServer { _ in TinyHTTPServer.response("400 Bad Request", headers: ["Content-Length: 0"], body: []) }
        defer { server.stop() }
        for _ in 0..<4 {
            #expect(try await measure("http://127.0.0.1:\(server.port)/", in: "tenant-a").message == "web at http://127.0.0.1:\(server.port): HTTP 400")
        }
    }
}

@Suite struct RedactionTests {
    func args(_ secret: String) async throws -> Arguments {
        try await Arguments.resolve([AnalysisArgument(name: "token", valueFrom: .init(secretKeyRef: .init(name: "s", key: "k")))]) { _ in secret }
    }

    @Test func everyFormOfASecretIsRedacted() async throws {
        let secret = "p@ss word/+=é"
        let a = try await args(secret)
        let forms = [
            secret,
            "p%40ss%20word%2F%2B%3D%C3%A9",        // strict percent-encoding
            "p%40ss+word%2F%2B%3D%C3%A9",          // form encoding
            "p%40ss%20word%2f%2b%3d%c3%a9",        // lower-case hex
            "p@ss%20word/+=%C3%A9",                // a lenient query encoder
            Data(secret.utf8).base64EncodedString(),
            Data(secret.utf8).base64EncodedString().replacingOccurrences(of: "=", with: ""),
            Data(secret.utf8).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_"),
            #"p@ss word\/+=é"#,                    // JSON with escaped slashes
        ]
        for form in forms {
            #expect(a.redact("before \(form) after") == "before ***** after", "form \(form)")
        }
    }

    @Test func aTrimmedSecretIsRedactedToo() async throws {
        let a = try await args("tok3n-value\n")
        #expect(a.redact("Bearer tok3n-value rejected") == "Bearer ***** rejected")
        #expect(a.redact(Data("tok3n-value".utf8).base64EncodedString()) == "*****")
    }

    @Test func providerCredentialsAreRegistered() {
        var a = Arguments()
        a.addSecret("alice")
        a.addSecret("hunter2")
        a.addSecret("alice:hunter2")
        let header = "Basic " + Data("alice:hunter2".utf8).base64EncodedString()
        #expect(a.redact("server said: bad \(header)") == "server said: bad Basic *****")
        #expect(a.redact("user alice, password hunter2") == "user *****, password *****")
        a.addSecret("")
        #expect(a.secrets == ["alice", "hunter2", "alice:hunter2"], "empty secrets are ignored; none twice")
    }
}

@Suite struct StoredSizeTests {
    @Test func truncationIsVisibleAndUTF8Safe() {
        #expect(ValueText.truncated("short") == "short")
        let big = String(repeating: "é", count: 3000)  // 6000 bytes
        let cut = ValueText.truncated(big)
        #expect(cut.utf8.count <= ValueText.storedLimit)
        #expect(cut.hasSuffix("… [truncated, 6000 bytes]"))
        #expect(cut.hasPrefix("éé"))
        #expect(!cut.unicodeScalars.contains("\u{FFFD}"))
        let mib = String(repeating: "a", count: 1 << 20)
        #expect(ValueText.truncated(mib).hasSuffix("… [truncated, 1048576 bytes]"))
        #expect(ValueText.truncated("abcdef", limit: 3) == "… [truncated, 6 bytes]", "a tiny limit keeps just the marker")
    }

    func plan(_ name: String = "m") throws -> MetricPlan {
        try MetricPlan(Metric(name: name, interval: "1s", successCondition: "true", provider: MetricProvider(web: WebMetric(url: "http://x"))))
    }

    @Test func retentionHasACeiling() throws {
        let p = try plan()
        var status = AnalysisRunStatus()
        for i in 0..<150 {
            RunRecorder.record(AnalysisMeasurement(phase: .Successful, value: "\(i)"), of: p, in: &status, retention: 1_000_000)
        }
        #expect(status.result("m")?.measurements?.count == RunRecorder.maxRetention)
        #expect(status.result("m")?.measurements?.last?.value == "149")
        #expect(status.result("m")?.count == 150)
    }

    @Test func storedValuesAndMessagesAreCut() throws {
        let p = try plan()
        var status = AnalysisRunStatus()
        let huge = String(repeating: "x", count: 100_000)
        RunRecorder.record(AnalysisMeasurement(phase: .Error, message: huge, value: huge), of: p, in: &status, retention: 10)
        let m = try #require(status.result("m")?.measurements?.last)
        #expect(m.value?.utf8.count ?? 0 <= ValueText.storedLimit)
        #expect(m.message?.hasSuffix("… [truncated, 100000 bytes]") == true)
        #expect((status.result("m")?.message?.utf8.count ?? 0) <= ValueText.storedLimit)
    }

    @Test func aRunsMeasurementsStayWithinTheBudget() throws {
        let plans = try (0..<5).map { try plan("m\($0)") }
        var status = AnalysisRunStatus()
        let big = String(repeating: "v", count: 4000)
        for round in 0..<100 {
            for p in plans {
                RunRecorder.record(AnalysisMeasurement(phase: .Successful, message: big, value: big + "\(round)"), of: p, in: &status, retention: 100)
            }
        }
        let all = status.metricResults?.flatMap { $0.measurements ?? [] } ?? []
        #expect(all.reduce(0) { $0 + RunRecorder.size($1) } <= RunRecorder.measurementBudget)
        for p in plans {
            #expect(status.result(p.name)?.measurements?.last?.value?.hasSuffix("99") == true, "each metric keeps its latest")
            #expect(status.result(p.name)?.count == 100)
        }
        let encoded = try JSONEncoder().encode(status)
        #expect(encoded.count < 1_000_000, "far below what the API server accepts")
    }

    @Test func countsSaturate() {
        #expect(RunRecorder.plusOne(nil) == 1)
        #expect(RunRecorder.plusOne(Int.max) == Int.max)
        #expect(RunRecorder.plusOne(-7) == 1)
    }
}

@Suite struct FairnessTests {
    @Test func theNextSlotGoesToTheKeyHoldingTheFewest() {
        #expect(Bulkhead.next(waiting: ["a", "a", "b"], held: ["a": 3, "b": 1], perKeyLimit: 10) == 2)
        #expect(Bulkhead.next(waiting: ["a", "b"], held: ["a": 2, "b": 2], perKeyLimit: 10) == 0, "equals: the longest waiting")
        #expect(Bulkhead.next(waiting: ["a", "a"], held: ["a": 3], perKeyLimit: 3) == nil, "never past the per-key limit")
        #expect(Bulkhead.fairPerKeyLimit(30) == 23)
        #expect(Bulkhead.fairPerKeyLimit(4) == 3)
        #expect(Bulkhead.fairPerKeyLimit(2) == 1)
        #expect(Bulkhead.fairPerKeyLimit(1) == 1)
    }

    /// Waits (up to 10 s) until `condition` holds: tasks start when the pool gets to them.
    func eventually(_ condition: () async -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if await condition() { return true }
            try await Task.sleep(for: .milliseconds(10))
        }
        return false
    }

    /// A namespace flooding the bulkhead cannot keep another out: the other
    /// starts while every one of the first's measurements is still running.
    @Test func aFloodingNamespaceLeavesRoomForOthers() async throws {
        let bulkhead = Bulkhead(limit: 4, perKeyLimit: Bulkhead.fairPerKeyLimit(4))
        let gate = Gate()
        let flood = Task {
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<10 {
                    group.addTask { await bulkhead.run(key: "noisy") { await gate.wait() } }
                }
            }
        }
        #expect(try await eventually { await bulkhead.waitingCount == 7 })
        #expect(await bulkhead.holding("noisy") == 3, "three quarters at most")
        // The quiet namespace gets its slot at once, though nothing of the flood has finished.
        await bulkhead.run(key: "quiet") {}
        #expect(await bulkhead.holding("noisy") == 3)
        await gate.open()
        await flood.value
        #expect(await bulkhead.holding("noisy") == 0)
    }

    @Test func waitersTakeTurnsFewestFirst() async throws {
        let bulkhead = Bulkhead(limit: 4, perKeyLimit: 4)
        let gate = Gate()
        let first = Task {
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<4 { group.addTask { await bulkhead.run(key: "a") { await gate.wait() } } }
            }
        }
        #expect(try await eventually { await bulkhead.holding("a") == 4 })
        let gateB = Gate()
        let more = Task {
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<4 { group.addTask { await bulkhead.run(key: "a") { await gateB.wait() } } }
                for _ in 0..<4 { group.addTask { await bulkhead.run(key: "b") { await gateB.wait() } } }
            }
        }
        #expect(try await eventually { await bulkhead.waitingCount == 8 })
        await gate.open()
        await first.value
        #expect(try await eventually { await bulkhead.waitingCount == 4 })
        #expect(await bulkhead.holding("a") == 2, "with both waiting, each gets half")
        #expect(await bulkhead.holding("b") == 2)
        await gateB.open()
        await more.value
    }

    @Test func workersAreSharedByNamespace() {
        var share = FairShare(limit: 10)
        func take(_ key: String) -> Bool { share.take(key) }
        var a = 0
        while take("a") { a += 1 }
        #expect(a == 8, "alone: three quarters of the workers")
        let newcomer = take("b")
        #expect(newcomer, "a newcomer starts at once")
        let overShare = take("a")
        #expect(!overShare)
        for _ in 0..<4 { share.give("a") }
        #expect(share.held["a"] == 4)
        let fifth = take("a"), sixth = take("a")
        #expect(fifth, "two namespaces: five each")
        #expect(!sixth)
        let b = (0..<4).map { _ in take("b") }
        #expect(b == [true, true, true, true])
        let bOver = take("b"), c = take("c")
        #expect(!bOver)
        #expect(!c, "the pool is full")
        var one = FairShare(limit: 1)
        let first = one.take("a"), second = one.take("a")
        #expect(first && !second)
    }

    actor Gate {
        var isOpen = false
        var waiters: [CheckedContinuation<Void, Never>] = []
        func wait() async {
            if isOpen { return }
            await withCheckedContinuation { waiters.append($0) }
        }
        func open() {
            isOpen = true
            for w in waiters { w.resume() }
            waiters = []
        }
    }
}

@Suite struct JobSecretsTests {
    let job: JSONValue = [
        "metadata": ["labels": ["app": "check"]],
        "spec": ["template": ["spec": [
            "containers": [[
                "name": "check", "image": "curlimages/curl",
                "command": ["sh", "-c", "curl -H \"Authorization: Bearer $(TOKEN)\" http://{{args.host}}/ok"],
                "env": [["name": "TOKEN", "value": "{{ args.token }}"], ["name": "HOST", "value": "{{args.host}}"]],
            ]],
            "restartPolicy": "Never",
        ]]],
    ]

    @Test func aSecretAsAWholeEnvValueIsFine() {
        #expect(JobSecrets.problems(job: job, secretArgs: ["token"]).isEmpty)
    }

    @Test func aSecretEnvValueBecomesASecretKeyRef() async throws {
        let prepared = try JobSecrets.prepare(job, secrets: ["token": .init(name: "metrics-token", key: "token")])
        guard case .array(let containers)? = prepared["spec"]?["template"]?["spec"]?["containers"], case .array(let env)? = containers.first?["env"] else {
            Issue.record("no containers")
            return
        }
        #expect(env[0] == ["name": "TOKEN", "valueFrom": ["secretKeyRef": ["name": "metrics-token", "key": "token"]]])
        #expect(env[1] == ["name": "HOST", "value": "{{args.host}}"], "other arguments are left to substitution")
        var args = Arguments()
        args.addSecret("s3cr3t")
        let substituted = try await Arguments.resolve([AnalysisArgument(name: "host", value: "web"),
                                                 AnalysisArgument(name: "token", value: "s3cr3t")]) { _ in "" }.substitute(prepared)
        let text = String(decoding: try JSONEncoder().encode(substituted), as: UTF8.self)
        #expect(!text.contains("s3cr3t"), "the plaintext never enters the Job")
    }

    @Test func anyOtherUseIsAProblemNamingTheArgumentAndThePath() {
        var bad = job
        bad = bad.setting(["spec", "template", "spec", "containers"], to: [[
            "name": "check", "image": "busybox",
            "args": ["--token={{args.token}}"],
            "env": [["name": "AUTH", "value": "Bearer {{args.token}}"]],
        ]])
        bad = bad.setting(["metadata", "annotations"], to: ["note": "{{args.token}}"])
        let problems = JobSecrets.problems(job: bad, secretArgs: ["token"])
        #expect(problems.count == 3)
        #expect(problems.contains { $0.hasPrefix("secret argument \"token\" is used in provider.job.spec.template.spec.containers[0].args[0]; a Job may take a secret only as the whole value of a container env entry") })
        #expect(problems.contains { $0.hasPrefix("secret argument \"token\" is used in provider.job.spec.template.spec.containers[0].env[0].value together with other text") })
        #expect(problems.contains { $0.hasPrefix("secret argument \"token\" is used in provider.job.metadata.annotations.note;") })
        #expect(problems.allSatisfy { $0.contains("valueFrom.secretKeyRef") })
        #expect(JobSecrets.problems(job: bad, secretArgs: []).isEmpty)
        #expect(JobSecrets.problems(job: bad, secretArgs: ["other"]).isEmpty)
        #expect(throws: ProviderError.self) { try JobSecrets.prepare(bad, secrets: ["token": .init(name: "s", key: "k")]) }
    }

    @Test func secretRefsAreTheSecretValuedArguments() {
        let refs = JobSecrets.secretRefs([AnalysisArgument(name: "a", value: "x"),
                                          AnalysisArgument(name: "t", valueFrom: .init(secretKeyRef: .init(name: "s", key: "k")))])
        #expect(refs == ["t": .init(name: "s", key: "k")])
    }
}
