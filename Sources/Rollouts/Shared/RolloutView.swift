import AviaryAPI
import KubeAPI

/// Everything one reconcile may look at, read from the informer caches.
public struct RolloutView: Sendable {
    public var rollout: Rollout
    /// ReplicaSets this Rollout owns (or that match it with no owner: adoption candidates).
    public var replicaSets: [ReplicaSet]
    /// The Services the strategy names, by name; a missing one is absent.
    public var services: [String: Service]
    /// Pods of the Rollout's ReplicaSets (by hash label): read for spec.restartAt and role metadata.
    public var pods: [Pod]
    /// AnalysisRuns this Rollout owns.
    public var analysisRuns: [AnalysisRun]
    /// The analysis templates it may reference.
    public var templates: TemplateCatalog
    /// The route objects its traffic router names (`RouteRef.named(by:)`), whole, as
    /// the API server returned them; a missing one is absent.
    public var routes: [RouteRef: JSONValue]
    public var now: KubeTime
    /// ConfigMaps and Secrets the template names, and the Rollout's snapshots;
    /// nil when the controller does not track configuration.
    public var config: ConfigView?

    public init(rollout: Rollout, replicaSets: [ReplicaSet], services: [String: Service], pods: [Pod] = [],
                analysisRuns: [AnalysisRun] = [], templates: TemplateCatalog = TemplateCatalog(),
                routes: [RouteRef: JSONValue] = [:], now: KubeTime, config: ConfigView? = nil) {
        self.config = config
        self.rollout = rollout
        self.replicaSets = replicaSets
        self.services = services
        self.pods = pods
        self.analysisRuns = analysisRuns
        self.templates = templates
        self.routes = routes
        self.now = now
    }
}
