import AviaryAPI
import KubeAPI

/// The checks behind the InvalidSpec condition. Each problem names the field,
/// so `kubectl describe` (and later `kubectl aviary lint`) can point at it.
public enum Validation {
    /// The spec's problems; empty when it is valid. `services` and `templates`
    /// are nil when not known (offline lint), so what they hold is not checked.
    public static func problems(_ rollout: Rollout, services: [String: Service]?, templates: TemplateCatalog? = nil) -> [String] {
        var out: [String] = []
        let spec = rollout.spec
        if spec.workloadRef != nil {
            out.append("spec.workloadRef: not supported by aviary; put the pod template in spec.template")
        }
        out += numberProblems(spec)
        if !out.isEmpty { return out }
        guard let selector = spec.selector, !selector.isEmpty else {
            out.append("spec.selector: required, and must not be empty")
            return out
        }
        guard let template = spec.template, case .object = template else {
            out.append("spec.template: required")
            return out
        }
        var labels: [String: String] = [:]
        switch template["metadata"]?["labels"] {
        case .object(let l)?:
            for (k, v) in l {
                guard case .string(let s) = v else {
                    out.append("spec.template.metadata.labels.\(k): must be a string")
                    return out
                }
                labels[k] = s
            }
        case nil, .null?: break
        default:
            out.append("spec.template.metadata.labels: must be a map of strings")
            return out
        }
        if !selector.matches(labels) {
            out.append("spec.selector: does not match spec.template.metadata.labels")
        }
        guard let strategy = spec.strategy, strategy.canary != nil || strategy.blueGreen != nil else {
            out.append("spec.strategy: one of canary or blueGreen is required")
            return out
        }
        if strategy.canary != nil, strategy.blueGreen != nil {
            out.append("spec.strategy: set one of canary or blueGreen, not both")
            return out
        }
        var analyses: [(String, RolloutAnalysis?)] = []
        if let canary = strategy.canary {
            out += problems(canary, replicas: spec.effectiveReplicas, services: services)
            out += serviceProblems([("spec.strategy.canary.canaryService", canary.canaryService), ("spec.strategy.canary.stableService", canary.stableService)],
                                   labels: labels, services: services)
            analyses = [("spec.strategy.canary.analysis", canary.analysis)]
                + (canary.steps ?? []).enumerated().map { ("spec.strategy.canary.steps[\($0.offset)].analysis", $0.element.analysis) }
        }
        if let bg = strategy.blueGreen {
            out += problems(bg, replicas: spec.effectiveReplicas)
            out += serviceProblems([("spec.strategy.blueGreen.activeService", bg.activeService), ("spec.strategy.blueGreen.previewService", bg.previewService)],
                                   labels: labels, services: services)
            analyses = [("spec.strategy.blueGreen.prePromotionAnalysis", bg.prePromotionAnalysis),
                        ("spec.strategy.blueGreen.postPromotionAnalysis", bg.postPromotionAnalysis)]
        }
        if let templates { out += analysisProblems(analyses, rollout: rollout, templates: templates) }
        return out
    }

    /// Every number a user writes, against `Limits`: checked before anything
    /// else, so no later arithmetic on them can overflow.
    static func numberProblems(_ spec: RolloutSpec) -> [String] {
        var out: [String] = []
        func check(_ field: String, _ value: Int?, _ range: ClosedRange<Int>, unit: String = "") {
            guard let value, !range.contains(value) else { return }
            out.append("\(field): \(value)\(unit) is outside \(range.lowerBound)–\(range.upperBound)\(unit)")
        }
        let seconds = 0...Limits.maxDurationSeconds, history = 0...Limits.maxHistory, replicas = 0...Limits.maxReplicas
        check("spec.replicas", spec.replicas, replicas)
        check("spec.minReadySeconds", spec.minReadySeconds, seconds, unit: "s")
        check("spec.progressDeadlineSeconds", spec.progressDeadlineSeconds, seconds, unit: "s")
        check("spec.revisionHistoryLimit", spec.revisionHistoryLimit, history)
        check("spec.rollbackWindow.revisions", spec.rollbackWindow?.revisions, history)
        check("spec.analysis.successfulRunHistoryLimit", spec.analysis?.successfulRunHistoryLimit, history)
        check("spec.analysis.unsuccessfulRunHistoryLimit", spec.analysis?.unsuccessfulRunHistoryLimit, history)
        if let c = spec.strategy?.canary {
            let at = "spec.strategy.canary"
            check("\(at).scaleDownDelaySeconds", c.scaleDownDelaySeconds, seconds, unit: "s")
            check("\(at).abortScaleDownDelaySeconds", c.abortScaleDownDelaySeconds, seconds, unit: "s")
            if let steps = c.steps, steps.count > Limits.maxSteps {
                out.append("\(at).steps: \(steps.count) steps; aviary accepts at most \(Limits.maxSteps)")
            }
            for (i, step) in (c.steps ?? []).prefix(Limits.maxSteps).enumerated() {
                if case .setCanaryScale(let scale) = step { check("\(at).steps[\(i)].setCanaryScale.replicas", scale.replicas, replicas) }
            }
        }
        if let bg = spec.strategy?.blueGreen {
            let at = "spec.strategy.blueGreen"
            check("\(at).previewReplicaCount", bg.previewReplicaCount, replicas)
            check("\(at).autoPromotionSeconds", bg.autoPromotionSeconds, seconds, unit: "s")
            check("\(at).scaleDownDelaySeconds", bg.scaleDownDelaySeconds, seconds, unit: "s")
            check("\(at).abortScaleDownDelaySeconds", bg.abortScaleDownDelaySeconds, seconds, unit: "s")
            check("\(at).scaleDownDelayRevisionLimit", bg.scaleDownDelayRevisionLimit, history)
        }
        return out
    }

    static func problems(_ canary: CanaryStrategy, replicas: Int, services: [String: Service]?) -> [String] {
        var out: [String] = []
        let at = "spec.strategy.canary"
        if let start = canary.analysis?.startingStep, !(0...(canary.steps ?? []).count).contains(start) {
            out.append("\(at).analysis.startingStep: \(start) is outside the steps (0–\((canary.steps ?? []).count))")
        }
        let maxWeight = canary.trafficRouting?.maxTrafficWeight ?? CanaryTrafficRouting.defaultMaxTrafficWeight
        if let routing = canary.trafficRouting { out += routingProblems(routing, at: "\(at).trafficRouting") }
        var surge = 0, unavailable = 0
        do { surge = try (canary.maxSurge ?? CanaryStrategy.defaultMaxSurge).scaled(total: replicas, roundUp: true) } catch {
            out.append("\(at).maxSurge: \(error)")
        }
        do { unavailable = try (canary.maxUnavailable ?? CanaryStrategy.defaultMaxUnavailable).scaled(total: replicas, roundUp: false) } catch {
            out.append("\(at).maxUnavailable: \(error)")
        }
        if surge == 0, unavailable == 0, out.isEmpty, replicas > 0 {
            out.append("\(at).maxSurge: maxSurge and maxUnavailable cannot both be 0")
        }
        if let c = canary.canaryService, let s = canary.stableService, c == s {
            out.append("\(at).stableService: must differ from canaryService (\"\(c)\")")
        }
        for (i, step) in (canary.steps ?? []).enumerated() {
            let sat = "\(at).steps[\(i)]"
            switch step {
            case .unsupported(let kinds):
                let known: Set = ["setWeight", "pause", "setCanaryScale", "analysis"]
                if let unknown = kinds.first(where: { !known.contains($0) }) {
                    out.append("\(sat).\(unknown): unknown step; aviary supports setWeight, pause, setCanaryScale and analysis")
                } else {
                    out.append(kinds.isEmpty ? "\(sat): empty step" : "\(sat): one step kind per step, found \(kinds.joined(separator: ", "))")
                }
            case .setWeight(let w):
                if !(0...max(1, maxWeight)).contains(w) { out.append("\(sat).setWeight: \(w) is outside 0–\(max(1, maxWeight))") }
            case .pause(let pause):
                do { _ = try pause.seconds() } catch { out.append("\(sat).pause.duration: \(error)") }
            case .setCanaryScale(let scale):
                let set = [scale.replicas != nil, scale.weight != nil, scale.matchTrafficWeight == true].filter { $0 }.count
                if set != 1 {
                    out.append("\(sat).setCanaryScale: set exactly one of replicas, weight or matchTrafficWeight: true")
                } else if let w = scale.weight, !(0...100).contains(w) {
                    out.append("\(sat).setCanaryScale.weight: \(w) is outside 0–100")
                }
            case .analysis:
                break  // checked with the templates, below
            case .setHeaderRoute(let route):
                out += routeStepProblems(sat + ".setHeaderRoute", name: route.name, canary)
                for (j, m) in (route.match ?? []).enumerated() where m.headerValue.problem != nil {
                    out.append("\(sat).setHeaderRoute.match[\(j)].headerValue: \(m.headerValue.problem ?? "")")
                }
            case .setMirrorRoute(let route):
                out += routeStepProblems(sat + ".setMirrorRoute", name: route.name, canary)
                if let p = route.percentage, !(0...100).contains(p) {
                    out.append("\(sat).setMirrorRoute.percentage: \(p) is outside 0–100")
                }
            }
        }
        return out
    }

    /// One router Aviary has, configured so it can be used.
    static func routingProblems(_ routing: CanaryTrafficRouting, at: String) -> [String] {
        var out: [String] = []
        for key in routing.unsupported {
            out.append("\(at).\(key): this traffic router is not supported by aviary; use istio or the Gateway API (plugins: {\(CanaryTrafficRouting.gatewayAPIPlugin): …})")
        }
        for key in (routing.plugins ?? [:]).keys.sorted() where key != CanaryTrafficRouting.gatewayAPIPlugin {
            out.append("\(at).plugins.\(key): aviary has no such plugin; the Gateway API one (\(CanaryTrafficRouting.gatewayAPIPlugin)) is built in")
        }
        var gateway: GatewayAPITrafficRouting?
        do { gateway = try routing.gateway } catch {
            out.append("\(at).plugins.\(CanaryTrafficRouting.gatewayAPIPlugin): \(error)")
        }
        let routers = [routing.istio != nil, gateway != nil].filter { $0 }.count
        if routers > 1 { out.append("\(at): name one router (istio or the Gateway API), not both") }
        if routers == 0, out.isEmpty { out.append("\(at): names no router; set istio or plugins.\(CanaryTrafficRouting.gatewayAPIPlugin)") }
        if let w = routing.maxTrafficWeight, !(1...Limits.maxReplicas).contains(w) {
            out.append("\(at).maxTrafficWeight: \(w) is outside 1–\(Limits.maxReplicas)")
        }
        let names = (routing.managedRoutes ?? []).map(\.name)
        if Set(names).count != names.count { out.append("\(at).managedRoutes: a route is listed twice") }
        return out
    }

    /// A header or mirror route step needs a router and its name in managedRoutes.
    static func routeStepProblems(_ at: String, name: String, _ canary: CanaryStrategy) -> [String] {
        guard let routing = canary.trafficRouting else {
            return ["\(at): needs a traffic router (spec.strategy.canary.trafficRouting)"]
        }
        guard routing.managedRoutes?.contains(where: { $0.name == name }) == true else {
            return ["\(at).name: \"\(name)\" is not in spec.strategy.canary.trafficRouting.managedRoutes"]
        }
        return []
    }

    static func problems(_ bg: BlueGreenStrategy, replicas: Int) -> [String] {
        var out: [String] = []
        let at = "spec.strategy.blueGreen"
        if bg.activeService?.isEmpty ?? true { out.append("\(at).activeService: required") }
        if let a = bg.activeService, let p = bg.previewService, a == p {
            out.append("\(at).previewService: must differ from activeService (\"\(a)\")")
        }
        return out
    }

    /// Each named Service must exist, and its selector (our hash label aside)
    /// must select the template's pods, or switching it would serve nothing.
    static func serviceProblems(_ fields: [(String, String?)], labels: [String: String], services: [String: Service]?) -> [String] {
        guard let services else { return [] }
        var out: [String] = []
        for case let (field, name?) in fields {
            guard let service = services[name] else {
                out.append("\(field): Service \"\(name)\" not found")
                continue
            }
            let selector = (service.spec?.selector ?? [:]).filter { $0.key != podTemplateHashLabel }
            if let clash = selector.sorted(by: { $0.key < $1.key }).first(where: { labels[$0.key] != $0.value }) {
                out.append("\(field): Service \"\(name)\" selects \(clash.key)=\(clash.value), which spec.template.metadata.labels does not match")
            }
        }
        return out
    }

    /// Each analysis the Rollout references must build into a run: its
    /// templates exist, their conditions parse, every argument has a value.
    static func analysisProblems(_ uses: [(String, RolloutAnalysis?)], rollout: Rollout, templates: TemplateCatalog) -> [String] {
        var out: [String] = []
        for case let (field, analysis?) in uses {
            do {
                _ = try AnalysisRunBuilder.spec(analysis, rollout: rollout, catalog: templates, hashes: .init(stable: "stable", latest: "latest"))
            } catch let e as AnalysisSpecError {
                out += e.problems.map { "\(field): \($0)" }
            } catch {
                out.append("\(field): \(error)")
            }
        }
        return out
    }
}
