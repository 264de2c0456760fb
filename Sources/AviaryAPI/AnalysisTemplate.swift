import Kube

/// AnalysisTemplate (namespaced) and ClusterAnalysisTemplate (cluster-wide):
/// the metrics that judge a release, with Argo Rollouts' field names.
public struct AnalysisTemplate: KubeObject {
    public static let resource = Resource(group: Rollout.group, version: Rollout.version, plural: "analysistemplates", namespaced: true)
    public static let clusterResource = Resource(group: Rollout.group, version: Rollout.version, plural: "clusteranalysistemplates", namespaced: false)

    public var apiVersion: String? = Rollout.apiVersion
    public var kind: String? = "AnalysisTemplate"
    public var metadata: ObjectMeta
    public var spec: AnalysisSpec
}

/// What a template holds and what an AnalysisRun runs.
public struct AnalysisSpec: Codable, Sendable, Hashable {
    public var args: [AnalysisArgument]?
    public var metrics: [Metric]
    public var dryRun: [MetricSelector]?
    public var measurementRetention: [MeasurementRetention]?
    /// AnalysisRun only: stop measuring and finish with what there is.
    public var terminate: Bool?

    public init(args: [AnalysisArgument]? = nil, metrics: [Metric]) {
        self.args = args
        self.metrics = metrics
    }
}

public struct AnalysisArgument: Codable, Sendable, Hashable {
    public var name: String
    public var value: String?
    public var valueFrom: ValueFrom?

    public struct ValueFrom: Codable, Sendable, Hashable {
        public var secretKeyRef: SecretKeyRef?
        public var fieldRef: FieldRef?
        /// "Stable" or "Latest": the hash of that ReplicaSet, for queries that select only its pods.
        public var podTemplateHashValue: String?
    }

    public struct SecretKeyRef: Codable, Sendable, Hashable {
        public var name: String
        public var key: String
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
    public var provider: MetricProvider

    public static let defaultConsecutiveErrorLimit = 4
}

public struct MetricProvider: Codable, Sendable, Hashable {
    public var prometheus: PrometheusMetric?
    public var web: WebMetric?
    /// A Job, kept raw: created as written.
    public var job: JSONValue?
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
    public var authentication: JSONValue?
}

public struct WebMetric: Codable, Sendable, Hashable {
    public var url: String
    public var method: String?
    public var headers: [HeaderPair]?
    public var body: String?
    public var jsonPath: String?
    public var timeoutSeconds: Int?
    public var insecure: Bool?
}

public struct MetricSelector: Codable, Sendable, Hashable {
    /// A metric name, or "*" for all.
    public var metricName: String
}

public struct MeasurementRetention: Codable, Sendable, Hashable {
    public var metricName: String
    public var limit: Int
}

/// One run of a set of metrics (the status is filled in by the analysis runner).
public struct AnalysisRun: KubeObject {
    public static let resource = Resource(group: Rollout.group, version: Rollout.version, plural: "analysisruns", namespaced: true)

    public var apiVersion: String? = Rollout.apiVersion
    public var kind: String? = "AnalysisRun"
    public var metadata: ObjectMeta
    public var spec: AnalysisSpec
    public var status: JSONValue?
}
