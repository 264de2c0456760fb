import AviaryAPI
import Foundation
import Kube

/// Takes one measurement of one metric: resolves the arguments, asks the
/// provider (inside the bulkhead, past the circuit breaker, with a timeout),
/// and judges the result. It never throws: every failure is an Error
/// measurement with a message that names the server and holds no secret.
public struct Measurer: Sendable {
    let client: KubeClient
    let bulkhead: Bulkhead
    let breaker: CircuitBreaker

    public init(client: KubeClient, bulkhead: Bulkhead, breaker: CircuitBreaker = CircuitBreaker()) {
        self.client = client
        self.bulkhead = bulkhead
        self.breaker = breaker
    }

    /// A new measurement (for a job: the started Job, Running).
    public func measure(_ metric: Metric, plan: MetricPlan, run: AnalysisRun, number: Int, now: KubeTime) async -> AnalysisMeasurement {
        var m = AnalysisMeasurement(phase: .Running, startedAt: now)
        var args = Arguments()
        do {
            args = try await arguments(run)
            if let job = metric.provider.job {
                let name = try await JobProvider(client: client).start(try args.substitute(job), run: run, metric: metric.name, number: number)
                m.metadata = ["job-name": name]
                m.message = "job \(name) started"
                return m
            }
            let (address, fetch) = try await provider(metric.provider, args: args, namespace: run.metadata.namespace)
            if let refusal = await breaker.refusal(for: address) { throw ProviderError(refusal) }
            let result: Result<JSONValue, any Error> = await bulkhead.run { () async -> Result<JSONValue, any Error> in
                do { return .success(try await fetch()) } catch { return .failure(error) }
            }
            await breaker.record(address, success: (try? result.get()) != nil)
            judge(&m, value: try result.get(), plan: plan)
        } catch {
            m.phase = .Error
            m.message = "\(error)"
        }
        m.message = m.message.map(args.redact)
        m.value = m.value.map(args.redact)
        m.finishedAt = m.phase == .Running ? nil : KubeTime.now()
        return m
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
        m.finishedAt = KubeTime.now()
        return m
    }

    /// Conditions decide; messages say which value met which condition.
    func judge(_ m: inout AnalysisMeasurement, value: JSONValue, plan: MetricPlan) {
        let text = ValueText.format(value)
        m.value = text
        let (phase, error) = Judgement.measurement(result: value, success: plan.success, failure: plan.failure)
        m.phase = phase
        switch phase {
        case .Failed where plan.failure != nil:
            m.message = "\(text) met failureCondition \(plan.failureText ?? "")"
        case .Failed:
            m.message = "\(text) did not satisfy \(plan.successText ?? "")"
        case .Inconclusive:
            m.message = "\(text) met neither successCondition nor failureCondition"
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

    /// The address (the circuit's key) and the call, with arguments substituted.
    func provider(_ p: MetricProvider, args: Arguments, namespace: String?) async throws -> (String, @Sendable () async throws -> JSONValue) {
        func headers(_ pairs: [HeaderPair]?) throws -> [String] {
            try (pairs ?? []).map { "\($0.key): \(try args.substitute($0.value))" }
        }
        if let prom = p.prometheus {
            guard let written = prom.address, case let address = try args.substitute(written), !address.isEmpty else {
                throw ProviderError("provider.prometheus.address is required")
            }
            var hs = try headers(prom.headers)
            if let bearer = prom.authentication?.bearer {
                hs.append("Authorization: Bearer \(try await secret(bearer, namespace: namespace))")
            } else if let basic = prom.authentication?.basic {
                let user = try await basic.usernameSecretKeyRef.asyncMap { try await secret($0, namespace: namespace) } ?? basic.username ?? ""
                let password = try await secret(basic.passwordSecretKeyRef, namespace: namespace)
                hs.append("Authorization: Basic \(Data("\(user):\(password)".utf8).base64EncodedString())")
            }
            let provider = PrometheusProvider(address: address, timeout: .seconds(prom.timeout ?? 30), headers: hs, insecure: prom.insecure ?? false)
            let query = try args.substitute(prom.query)
            return (provider.address, { try await provider.query(query) })
        }
        if let web = p.web {
            let url = try args.substitute(web.url)
            let provider = WebProvider(url: url, method: web.method ?? "GET", headers: try headers(web.headers),
                                       body: try web.body.map(args.substitute), jsonPath: web.jsonPath,
                                       timeout: .seconds(web.timeoutSeconds ?? 10), insecure: web.insecure ?? false)
            let server = HTTPRequest(method: "GET", url: url).server
            return (server, { try await provider.fetch() })
        }
        throw ProviderError("no provider: set one of prometheus, web or job")
    }
}

extension Optional {
    func asyncMap<U>(_ f: (Wrapped) async throws -> U) async rethrows -> U? {
        guard let self else { return nil }
        return try await f(self)
    }
}
