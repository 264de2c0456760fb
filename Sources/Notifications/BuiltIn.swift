import KubeAPI
import Rollouts

/// The triggers and templates every installation has, one per event a
/// person may want to hear about; a ConfigMap key of the same name replaces one.
public enum BuiltIn {
    /// Event reason → built-in trigger, named as Argo names them.
    public static let triggerFor: [EventReason: String] = Dictionary(
        uniqueKeysWithValues: EventReason.allCases.compactMap { r in r.builtInTrigger.map { (r, $0) } })

    static var triggers: [String: [TriggerCondition]] {
        Dictionary(uniqueKeysWithValues: triggerFor.values.map { ($0, [TriggerCondition(when: "true", send: [$0], oncePer: nil)]) })
    }

    /// What, which version, why, and what to do next.
    static let next = "Next: kubectl aviary get rollout {{.rollout.metadata.name}} -n {{.rollout.metadata.namespace}}"

    static var templates: [String: NotificationTemplate] {
        let who = "Rollout {{.rollout.metadata.namespace}}/{{.rollout.metadata.name}}"
        let texts: [String: String] = [
            "on-rollout-updated": "\(who) started an update to revision {{.revision}} ({{.images}}) at {{.time}}. \(next)",
            "on-rollout-step-completed": "\(who): {{.event.message}} at {{.time}}. \(next)",
            "on-rollout-paused": "\(who) is paused at step {{.rollout.status.currentStepIndex}}: {{.event.message}}. To go on: kubectl aviary promote {{.rollout.metadata.name}} -n {{.rollout.metadata.namespace}}",
            "on-rollout-completed": "\(who) completed: revision {{.revision}} ({{.images}}) is stable, at {{.time}}.",
            "on-rollout-aborted": "\(who) was ABORTED at {{.time}}: {{.event.message}}. Traffic is back on the stable version; revision {{.revision}} ({{.images}}) is not serving. \(next); what happened: kubectl aviary report {{.rollout.metadata.name}} -n {{.rollout.metadata.namespace}}{{.report}}",
            "on-analysis-run-running": "\(who): {{.event.message}}. \(next)",
            "on-analysis-run-failed": "\(who): analysis FAILED at {{.time}}: {{.event.message}}. \(next)",
            "on-analysis-run-error": "\(who): analysis could not measure at {{.time}}: {{.event.message}}. \(next)",
            "on-scaling-replica-set": "\(who): {{.event.message}}.",
        ]
        return texts.mapValues { NotificationTemplate(message: $0) }
    }
}
