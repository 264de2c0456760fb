import AviaryAPI
import Foundation
import Kube

/// Takes one measurement of one metric: resolves the arguments, asks the
/// provider (inside the bulkhead, past the circuit breaker, with a timeout),
/// and judges the result. It never throws: every failure is an Error
/// measurement with a message that names the server and holds no secret.
///
/// Everything it writes is redacted of every secret it read (secretKeyRef
/// arguments, a provider's bearer token or basic credentials), then cut to
/// `ValueText.storedLimit`. The bulkhead and the circuit breaker are keyed
/// by the run's namespace, so one tenant cannot starve or trip another.
public struct Measurer: Sendable {
    let client: KubeClient
    let bulkhead: Bulkhead
    let breaker: CircuitBreaker
    let settings: ProviderSettings
    /// Where the `pods` provider reads pods (the controller's cache); nil: a bounded API list.
    let pods: PodSource?

    public init(client: KubeClient, bulkhead: Bulkhead, breaker: CircuitBreaker = CircuitBreaker(),
                settings: ProviderSettings = ProviderSettings(), pods: PodSource? = nil) {
        self.client = client
        self.bulkhead = bulkhead
        self.breaker = breaker
        self.settings = settings
        self.pods = pods
    }

    /// A new measurement (for a job: the started Job, Running).
    public func measure(_ metric: Metric, plan: MetricPlan, run: AnalysisRun, number: Int, now: KubeTime) async -> AnalysisMeasurement {
        if let compare = metric.provider.compare { return await self.compare(compare, metric: metric, run: run, now: now) }
        if let spec = metric.provider.pods { return await measurePods(spec, plan: plan, run: run, now: now) }
        var m = AnalysisMeasurement(phase: .Running, startedAt: now)
        var args = Arguments()
        let namespace = run.metadata.namespace ?? ""
        do {
            args = try await arguments(run)
            if let job = metric.provider.job {
                // Secret arguments become secretKeyRefs before anything is substituted, so no plaintext enters the Job.
                let template = try JobSecrets.prepare(job, secrets: JobSecrets.secretRefs(run.spec.args))
                let name = try await JobProvider(client: client).start(try args.substitute(template), run: run, metric: metric.name, number: number)
                m.metadata = ["job-name": name]
                m.message = "job \(name) started"
                return m
            }
            let (address, fetch) = try await provider(metric.provider, args: &args, namespace: run.metadata.namespace)
            if let refusal = await breaker.refusal(for: address, namespace: namespace) { throw ProviderError(refusal) }
            let result: Result<JSONValue, any Error> = await bulkhead.run(key: namespace) { () async -> Result<JSONValue, any Error> in
                do { return .success(try await fetch()) } catch { return .failure(error) }
            }
            await breaker.record(address, namespace: namespace, success: !Self.isTransportFailure(result))
            judge(&m, value: try result.get(), plan: plan, redact: args.redact)
        } catch {
            m.phase = .Error
            m.message = "\(error)"
        }
        return m.sealed(redacting: args)
    }

    /// How much of a value a judgement's message repeats.
    static let shownInMessage = 1024

    /// Only a server that could not be reached counts against its circuit.
    static func isTransportFailure(_ result: Result<JSONValue, any Error>) -> Bool {
        guard case .failure(let error) = result else { return false }
        return (error as? ProviderError)?.transport == true
    }

    /// A running Job measurement: done when the Job is.
    public func resume(_ running: AnalysisMeasurement, run: AnalysisRun) async -> AnalysisMeasurement {
        var m = running
        guard let job = running.metadata?["job-name"] else {
            m.phase = .Error
            m.message = "measurement lost track of its job"
            m.finishedAt = KubeTime.now()
            return m
        }
        do {
            guard let (ok, message) = try await JobProvider(client: client).outcome(job: job, namespace: run.metadata.namespace) else { return m }
            m.phase = ok ? .Successful : .Failed
            m.message = message
        } catch {
            m.phase = .Error
            m.message = "job \(job): \(error)"
        }
        // The Job never held a secret, but what comes back is scrubbed all the same.
        let args = (try? await arguments(run)) ?? Arguments()
        m.message = m.message.map { ValueText.truncated(args.redact($0)) }
        m.finishedAt = KubeTime.now()
        return m
    }

    /// Conditions decide; messages say which value met which condition.
    /// A long value is shown cut to `shownInMessage` bytes in the message
    /// (redacted first, so the cut never leaves part of a secret), so that
    /// the condition after it stays readable.
    func judge(_ m: inout AnalysisMeasurement, value: JSONValue, plan: MetricPlan, redact: (String) -> String = { $0 }) {
        let text = ValueText.format(value)
        m.value = text
        let shown = ValueText.truncated(redact(text), limit: Self.shownInMessage)
        let (phase, error) = Judgement.measurement(result: value, success: plan.success, failure: plan.failure)
        m.phase = phase
        switch phase {
        case .Failed where plan.failure != nil:
            m.message = "\(shown) met failureCondition \(plan.failureText ?? "")"
        case .Failed:
            m.message = "\(shown) did not satisfy \(plan.successText ?? "")"
        case .Inconclusive:
            m.message = "\(shown) met neither successCondition nor failureCondition"
        case .Error:
            m.message = "\(plan.name): \(error ?? "condition failed")"
        default:
            m.message = nil
        }
    }

    func arguments(_ run: AnalysisRun) async throws -> Arguments {
        try await Arguments.resolve(run.spec.args ?? []) { ref in try await secret(ref, namespace: run.metadata.namespace) }
    }

    func secret(_ ref: AnalysisArgument.SecretKeyRef, namespace: String?) async throws -> String {
        let secret: Secret
        do {
            secret = try await client.get(.secrets, ref.name, namespace: namespace)
        } catch let e as KubeError {
            throw ProviderError("secret \(ref.name): \(e.status?.message ?? "\(e)")")
        }
        guard let encoded = secret.data?[ref.key], let data = Data(base64Encoded: encoded) else {
            throw ProviderError("secret \(ref.name) has no key \"\(ref.key)\"")
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// The address (the circuit's key) and the call, with arguments
    /// substituted. Credentials read here are added to `args`' secrets, so
    /// they are redacted like secret arguments.
    func provider(_ p: MetricProvider, args: inout Arguments, namespace: String?) async throws -> (String, @Sendable () async throws -> JSONValue) {
        func headers(_ pairs: [HeaderPair]?, _ provider: String, _ args: Arguments) throws -> [String] {
            try HeaderLines.make(try (pairs ?? []).map { (key: $0.key, value: try args.substitute($0.value)) }, provider: provider)
        }
        if let prom = p.prometheus {
            guard let written = prom.address, case let address = try args.substitute(written), !address.isEmpty else {
                throw ProviderError("prometheus: provider.prometheus.address is required, e.g. http://prometheus.monitoring.svc:9090")
            }
            var hs = try headers(prom.headers, "prometheus", args)
            if let bearer = prom.authentication?.bearer {
                let token = try await secret(bearer, namespace: namespace)
                args.addSecret(token)
                hs += try HeaderLines.make([(key: "Authorization", value: "Bearer \(token)")], provider: "prometheus authentication.bearer")
            } else if let basic = prom.authentication?.basic {
                var user = basic.username ?? ""
                if let ref = basic.usernameSecretKeyRef {
                    user = try await secret(ref, namespace: namespace)
                    args.addSecret(user)
                }
                let password = try await secret(basic.passwordSecretKeyRef, namespace: namespace)
                args.addSecret(password)
                args.addSecret("\(user):\(password)")
                hs.append("Authorization: Basic \(Data("\(user):\(password)".utf8).base64EncodedString())")
            }
            let timeout = ProviderTimeout.duration(prom.timeout, default: ProviderTimeout.prometheus)
            var grant: OAuth2Config?
            if let oauth2 = prom.authentication?.oauth2 {
                let (config, header) = try await bearer(oauth2, provider: "prometheus", args: &args, timeout: timeout, insecure: prom.insecure ?? false)
                grant = config
                hs.append(header)
            }
            let provider = PrometheusProvider(address: address, timeout: timeout, headers: hs, insecure: prom.insecure ?? false, settings: settings,
                                              range: try window(prom.rangeQuery, args: args))
            let query = try args.substitute(prom.query)
            let used = grant
            return (provider.address, { try await Self.forgettingOnFailure(used) { try await provider.query(query) } })
        }
        if let web = p.web {
            let url = try args.substitute(web.url)
            var hs = try headers(web.headers, "web", args)
            var grant: OAuth2Config?
            if let oauth2 = web.authentication?.oauth2 {
                let (config, header) = try await bearer(oauth2, provider: "web", args: &args,
                                                        timeout: ProviderTimeout.duration(web.timeoutSeconds, default: ProviderTimeout.web),
                                                        insecure: web.insecure ?? false)
                grant = config
                hs.append(header)
            }
            let provider = WebProvider(url: url, method: web.method ?? "GET", headers: hs,
                                       body: try web.body.map(args.substitute), jsonPath: web.jsonPath,
                                       timeout: ProviderTimeout.duration(web.timeoutSeconds, default: ProviderTimeout.web),
                                       insecure: web.insecure ?? false, settings: settings)
            let server = HTTPRequest(method: "GET", url: url).server
            let used = grant
            return (server, { try await Self.forgettingOnFailure(used) { try await provider.fetch() } })
        }
        throw ProviderError("no provider: set one of prometheus, web, job or pods")
    }
}

extension AnalysisMeasurement {
    /// How every measurement ends: its message and value redacted, then cut
    /// to size (so a cut never leaves part of a secret), and its finish time
    /// once it has a verdict.
    func sealed(redacting args: Arguments) -> AnalysisMeasurement {
        var m = self
        m.message = m.message.map { ValueText.truncated(args.redact($0)) }
        m.value = m.value.map { ValueText.truncated(args.redact($0)) }
        m.finishedAt = m.phase == .Running ? nil : KubeTime.now()
        return m
    }
}
