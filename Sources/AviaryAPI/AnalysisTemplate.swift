import KubeAPI

/// AnalysisTemplate (namespaced) and ClusterAnalysisTemplate (cluster-wide):
/// the metrics that judge a release, with Argo Rollouts' field names.
public struct AnalysisTemplate: KubeObject {
    public static let resource = Resource(group: Rollout.group, version: Rollout.version, plural: "analysistemplates", namespaced: true)
    public static let clusterResource = Resource(group: Rollout.group, version: Rollout.version, plural: "clusteranalysistemplates", namespaced: false)

    public var apiVersion: String? = Rollout.apiVersion
    public var kind: String? = "AnalysisTemplate"
    public var metadata: ObjectMeta
    public var spec: AnalysisSpec

    public init(metadata: ObjectMeta, spec: AnalysisSpec) {
        self.metadata = metadata
        self.spec = spec
    }
}

/// What a template holds and what an AnalysisRun runs.
public struct AnalysisSpec: Codable, Sendable, Hashable {
    public var args: [AnalysisArgument]?
    public var metrics: [Metric]
    public var dryRun: [MetricSelector]?
    public var measurementRetention: [MeasurementRetention]?
    /// AnalysisRun only: stop measuring and finish with what there is.
    public var terminate: Bool?
    /// Aviary: a judgement across metrics, e.g. `success-rate && (latency || latency-relaxed)`
    /// (see `Verdict`); without it, the worst metric decides, as in Argo.
    public var verdict: String?
    /// AnalysisTemplate only: other templates whose metrics, args, dryRun and
    /// measurementRetention this one includes (resolved when a run is built).
    public var templates: [AnalysisTemplateRef]?
    /// AnalysisRun only: how long a finished run is kept before the controller deletes it.
    public var ttlStrategy: TTLStrategy?

    public func isDryRun(_ metric: String) -> Bool {
        dryRun?.contains { $0.metricName == metric || $0.metricName == "*" } ?? false
    }

    /// How many measurements of a metric the status keeps (the counts keep them all).
    public func retention(_ metric: String) -> Int {
        measurementRetention?.first { $0.metricName == metric || $0.metricName == "*" }?.limit ?? Metric.defaultMeasurementRetention
    }

    public init(args: [AnalysisArgument]? = nil, metrics: [Metric]) {
        self.args = args
        self.metrics = metrics
    }
}

public struct AnalysisArgument: Codable, Sendable, Hashable {
    public var name: String
    public var value: String?
    public var valueFrom: ValueFrom?

    public init(name: String, value: String? = nil, valueFrom: ValueFrom? = nil) {
        self.name = name
        self.value = value
        self.valueFrom = valueFrom
    }

    public struct ValueFrom: Codable, Sendable, Hashable {
        public var secretKeyRef: SecretKeyRef?
        public var fieldRef: FieldRef?
        /// "Stable" or "Latest": the hash of that ReplicaSet, for queries that select only its pods.
        public var podTemplateHashValue: String?

        public init(secretKeyRef: SecretKeyRef? = nil, fieldRef: FieldRef? = nil, podTemplateHashValue: String? = nil) {
            self.secretKeyRef = secretKeyRef
            self.fieldRef = fieldRef
            self.podTemplateHashValue = podTemplateHashValue
        }
    }

    public struct SecretKeyRef: Codable, Sendable, Hashable {
        public var name: String
        public var key: String

        public init(name: String, key: String) {
            self.name = name
            self.key = key
        }
    }

    public struct FieldRef: Codable, Sendable, Hashable {
        public var fieldPath: String
    }
}

public struct Metric: Codable, Sendable, Hashable {
    public var name: String
    public var interval: String?
    public var initialDelay: String?
    public var count: IntOrString?
    public var successCondition: String?
    public var failureCondition: String?
    public var failureLimit: IntOrString?
    public var inconclusiveLimit: IntOrString?
    public var consecutiveErrorLimit: IntOrString?
    /// Successful after this many successful measurements in a row (0, the default: off).
    public var consecutiveSuccessLimit: IntOrString?
    public var provider: MetricProvider
    /// What this metric's failure does to the update (an Aviary extension; see `OnFailure`).
    public var onFailure: OnFailure?

    public init(name: String, interval: String? = nil, count: IntOrString? = nil, successCondition: String? = nil,
                failureCondition: String? = nil, failureLimit: IntOrString? = nil, provider: MetricProvider) {
        self.name = name
        self.interval = interval
        self.count = count
        self.successCondition = successCondition
        self.failureCondition = failureCondition
        self.failureLimit = failureLimit
        self.provider = provider
    }

    public static let defaultConsecutiveErrorLimit = 4
    public static let defaultMeasurementRetention = 10
}

public struct MetricProvider: Codable, Sendable, Hashable {
    public var prometheus: PrometheusMetric?
    public var web: WebMetric?
    /// A Job, kept raw: created as written.
    public var job: JSONValue?
    /// Aviary: the health of the pods under test, read from the API (see `PodsMetric`).
    public var pods: PodsMetric?
    /// Aviary: canary against baseline, judged statistically (see `CompareMetric`).
    public var compare: CompareMetric?

    public init(prometheus: PrometheusMetric? = nil, web: WebMetric? = nil, job: JSONValue? = nil, pods: PodsMetric? = nil) {
        self.prometheus = prometheus
        self.web = web
        self.job = job
        self.pods = pods
    }

    /// The provider's name, for messages and the circuit breaker.
    public var kind: String { prometheus != nil ? "prometheus" : web != nil ? "web" : job != nil ? "job" : pods != nil ? "pods" : compare != nil ? "compare" : "none" }
}

/// The built-in `pods` provider: restarts, readiness and termination reasons
/// of one ReplicaSet's pods, so a crashing release is caught without
/// Prometheus. By default the pods of the run's `rollouts-pod-template-hash`
/// label (the ReplicaSet under test).
public struct PodsMetric: Codable, Sendable, Hashable {
    /// Another ReplicaSet's hash, e.g. `{{args.stable-hash}}`; arguments are substituted.
    public var podTemplateHash: String?

    public init(podTemplateHash: String? = nil) { self.podTemplateHash = podTemplateHash }
}

public struct HeaderPair: Codable, Sendable, Hashable {
    public var key: String
    public var value: String
}

public struct PrometheusMetric: Codable, Sendable, Hashable {
    public var address: String?
    public var query: String
    /// Seconds.
    public var timeout: Int?
    public var insecure: Bool?
    public var headers: [HeaderPair]?
    /// `bearer` or `basic`, each read from a Secret in the run's namespace, or `oauth2`.
    public var authentication: PrometheusAuthentication?
    /// Asks `/api/v1/query_range` instead of `/api/v1/query`.
    public var rangeQuery: PrometheusRangeQuery?

    public init(address: String? = nil, query: String) {
        self.address = address
        self.query = query
    }
}

/// Credentials for Prometheus, never written anywhere but the request.
public struct PrometheusAuthentication: Codable, Sendable, Hashable {
    public var bearer: AnalysisArgument.SecretKeyRef?
    public var basic: Basic?
    /// A client-credentials grant: the token is fetched, cached and sent as a bearer token.
    public var oauth2: OAuth2Config?

    public struct Basic: Codable, Sendable, Hashable {
        public var username: String?
        public var usernameSecretKeyRef: AnalysisArgument.SecretKeyRef?
        public var passwordSecretKeyRef: AnalysisArgument.SecretKeyRef
    }
}

public struct WebMetric: Codable, Sendable, Hashable {
    public var url: String
    public var method: String?
    public var headers: [HeaderPair]?
    public var body: String?
    public var jsonPath: String?
    public var timeoutSeconds: Int?
    public var insecure: Bool?
    /// `oauth2`: a client-credentials grant, as for Prometheus.
    public var authentication: WebAuthentication?

    public init(url: String, jsonPath: String? = nil) {
        self.url = url
        self.jsonPath = jsonPath
    }
}

public struct MetricSelector: Codable, Sendable, Hashable {
    /// A metric name, or "*" for all.
    public var metricName: String

    public init(metricName: String) { self.metricName = metricName }
}

public struct MeasurementRetention: Codable, Sendable, Hashable {
    public var metricName: String
    public var limit: Int

    public init(metricName: String, limit: Int) {
        self.metricName = metricName
        self.limit = limit
    }
}

/// One run of a set of metrics (the status is filled in by the analysis runner).
public struct AnalysisRun: KubeObject {
    public static let resource = Resource(group: Rollout.group, version: Rollout.version, plural: "analysisruns", namespaced: true)

    public var apiVersion: String? = Rollout.apiVersion
    public var kind: String? = "AnalysisRun"
    public var metadata: ObjectMeta
    public var spec: AnalysisSpec
    public var status: AnalysisRunStatus?

    public init(metadata: ObjectMeta, spec: AnalysisSpec, status: AnalysisRunStatus? = nil) {
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }

    public var phase: AnalysisPhase { status?.phase ?? .Pending }
}
