import AviaryAPI
import Foundation
import KubeAPI
import Rollouts
import Testing
@testable import Notifications

@Suite struct SubscriptionTests {
    @Test func bothPrefixesTriggersServicesAndRecipients() {
        let subs = Subscription.read([
            "notifications.aviary.dev/subscribe.on-rollout-aborted.slack": "oncall; releases",
            "notifications.argoproj.io/subscribe.on-rollout-completed.teams": "ops",
            "notifications.argoproj.io/subscribe.slack": "general",
            "notifications.aviary.dev/subscribe.": "nobody",
            "app.kubernetes.io/name": "web",
        ])
        #expect(subs == [
            Subscription(trigger: "", service: "slack", recipients: ["general"]),
            Subscription(trigger: "on-rollout-aborted", service: "slack", recipients: ["oncall", "releases"]),
            Subscription(trigger: "on-rollout-completed", service: "teams", recipients: ["ops"]),
        ])
    }
}

@Suite struct NotificationConfigTests {
    static let data: [String: String] = [
        "service.slack": "token: $slack-token\n",
        "service.webhook.pager": "url: https://pager.example/hook\nheaders:\n- name: Authorization\n  value: Bearer $pager-token\n",
        "template.aborted-short": "message: '{{.rollout.metadata.name}} aborted: {{.event.message}}'\nslack:\n  text: ':red_circle: {{.rollout.metadata.name}}'\n",
        "trigger.degraded": "- when: rollout.status.phase == 'Degraded'\n  send: [aborted-short]\n",
        "defaultTriggers": "- on-rollout-aborted\n- on-rollout-completed\n",
    ]

    @Test func argosLayoutWithSecretsFilledIn() throws {
        let c = NotificationConfig.parse(Self.data, secret: ["slack-token": "xoxb-1", "pager-token": "p-2"])
        #expect(c.problems.isEmpty, "\(c.problems)")
        #expect(c.services["slack"]?.type == .slack)
        #expect(c.services["slack"]?.settings["token"] == "xoxb-1")
        #expect(c.services["pager"]?.type == .webhook)
        #expect(c.services["pager"]?.settings["headers"]?.item(0)?["value"] == "Bearer p-2")
        #expect(c.templates["aborted-short"]?.fields["slack"]?["text"] == ":red_circle: {{.rollout.metadata.name}}")
        #expect(c.triggers["degraded"] == [TriggerCondition(when: "rollout.status.phase == 'Degraded'", send: ["aborted-short"], oncePer: nil)])
        #expect(c.triggers["on-rollout-aborted"] != nil, "built-in triggers stay")
        #expect(c.defaultTriggers == ["on-rollout-aborted", "on-rollout-completed"])
    }

    @Test func everyBadKeyIsNamedAndTheRestStillWorks() {
        let c = NotificationConfig.parse([
            "service.slack": "token: $missing\n",
            "service.pigeon": "coop: roof\n",
            "template.broken": "- not a map\n",
            "trigger.bad-when": "- when: rollout.status.phase ==\n  send: [x]\n",
            "trigger.no-template": "- when: 'true'\n  send: [ghost]\n",
            "service.teams": "recipientUrls: {ops: https://teams.example/hook}\n",
        ])
        #expect(c.services["teams"]?.type == .teams)
        #expect(c.problems.contains("service.slack: $missing is not a key of Secret aviary-notification-secret"))
        #expect(c.problems.contains { $0.hasPrefix("service.pigeon: unknown service type \"pigeon\"") })
        #expect(c.problems.contains("template.broken: must be a map with message and per-service fields"))
        #expect(c.problems.contains { $0.hasPrefix("trigger.bad-when: [0].when:") })
        #expect(c.problems.contains("trigger.no-template: sends template \"ghost\", which is not defined"))
    }
}

@Suite struct TemplateTextTests {
    static let context: JSONValue = ["rollout": ["metadata": ["name": "web", "labels": ["tier": "front"]], "status": ["currentStepIndex": 3]],
                                     "list": ["a", "b"]]

    @Test func pathsAsArgoWritesThem() {
        #expect(TemplateText.render("{{.rollout.metadata.name}} at step {{ .rollout.status.currentStepIndex }}", Self.context) == "web at step 3")
        #expect(TemplateText.render("{{.list.1}} {{.rollout.metadata.labels}}", Self.context) == #"b {"tier":"front"}"#)
        #expect(TemplateText.render("{{.rollout.nope}}!", Self.context) == "<no value>!", "a typo shows, as in Go")
        #expect(TemplateText.render("{{ printf \"%s\" .x }} {{unclosed", Self.context) == "{{ printf \"%s\" .x }} {{unclosed")
    }

    @Test func aHugeExpansionIsCut() {
        let big: JSONValue = ["x": .string(String(repeating: "a", count: 10_000))]
        let out = TemplateText.render(String(repeating: "{{.x}}", count: 100), big)
        #expect(out.utf8.count <= TemplateText.maxLength + 3)
    }
}

@Suite struct NotifierTests {
    static func rollout(_ annotations: [String: String]) -> Rollout {
        var meta = ObjectMeta(name: "web", namespace: "shop")
        meta.annotations = annotations
        var r = Rollout(metadata: meta, spec: RolloutSpec(replicas: 2, selector: LabelSelector(matchLabels: ["app": "web"]),
                                                          template: ["spec": ["containers": [["name": "web", "image": "registry.example/web:3.0"]]]]))
        var status = RolloutStatus()
        status.phase = .Degraded
        r.status = status
        return r
    }

    static let config = NotificationConfig.parse(NotificationConfigTests.data, secret: ["slack-token": "xoxb-1", "pager-token": "p-2"])
    static let time = KubeTime(secondsSinceEpoch: 1_800_000_000)
    static let aborted = Rollouts.Event(reason: .rolloutAborted, message: "Rollout aborted update to revision 3: analysis run web-1 Failed: success-rate: [0.5]", warning: true)

    @Test func theBuiltInAbortMessageSaysWhatWhichVersionWhyAndWhatNext() throws {
        let r = Self.rollout(["notifications.aviary.dev/subscribe.on-rollout-aborted.slack": "oncall"])
        let result = Notifier.notifications(for: Self.aborted, rollout: r, config: Self.config, time: Self.time, extra: ["revision": "3"])
        let sent = result.notifications, problems = result.problems
        #expect(problems.isEmpty)
        let n = try #require(sent.first)
        #expect(sent.count == 1)
        #expect((n.trigger, n.service, n.recipients) == ("on-rollout-aborted", "slack", ["oncall"]))
        #expect(n.message == "Rollout shop/web was ABORTED at 2027-01-15T08:00:00Z: Rollout aborted update to revision 3: analysis run web-1 Failed: success-rate: [0.5]. "
                + "Traffic is back on the stable version; revision 3 (web=registry.example/web:3.0) is not serving. "
                + "Next: kubectl aviary get rollout web -n shop; what happened: kubectl aviary report web -n shop")
    }

    @Test func otherEventsDoNotFireTheTriggerAndCustomTriggersUseTheirWhen() {
        let r = Self.rollout(["notifications.aviary.dev/subscribe.on-rollout-aborted.slack": "oncall",
                              "notifications.aviary.dev/subscribe.degraded.pager": "team-a"])
        let scaled = Rollouts.Event(reason: .scalingReplicaSet, message: "Scaled up ReplicaSet web-abc from 1 to 2")
        let result = Notifier.notifications(for: scaled, rollout: r, config: Self.config, time: Self.time)
        let sent = result.notifications
        #expect(sent.map(\.trigger) == ["degraded"], "only the custom trigger, whose when holds: the Rollout is Degraded")
        #expect(sent.first?.message == "web aborted: Scaled up ReplicaSet web-abc from 1 to 2")

        var healthy = r
        healthy.status?.phase = .Healthy
        #expect(Notifier.notifications(for: scaled, rollout: healthy, config: Self.config, time: Self.time).notifications.isEmpty)
    }

    @Test func defaultTriggersForASubscriptionWithoutOneAndPerServiceFields() throws {
        let r = Self.rollout(["notifications.argoproj.io/subscribe.slack": "general"])
        let result = Notifier.notifications(for: Self.aborted, rollout: r, config: Self.config, time: Self.time)
        let sent = result.notifications
        #expect(sent.map(\.trigger) == ["on-rollout-aborted"])

        var config = Self.config
        config.triggers["on-rollout-aborted"] = [TriggerCondition(when: "true", send: ["aborted-short"], oncePer: nil)]
        let short = try #require(Notifier.notifications(for: Self.aborted, rollout: r, config: config, time: Self.time).notifications.first)
        #expect(short.fields?["text"] == ":red_circle: web")
    }

    @Test func aSubscriptionToAnUnknownServiceIsAProblemNotACrash() {
        let r = Self.rollout(["notifications.aviary.dev/subscribe.on-rollout-aborted.carrier-pigeon": "roof"])
        let result = Notifier.notifications(for: Self.aborted, rollout: r, config: Self.config, time: Self.time)
        let sent = result.notifications, problems = result.problems
        #expect(sent.isEmpty)
        #expect(problems == ["subscription on-rollout-aborted.carrier-pigeon: no service.carrier-pigeon in aviary-notification-configmap"])
    }
}

@Suite struct PayloadTests {
    static func note(_ type: ServiceType, service: String, recipients: [String], fields: JSONValue? = nil) -> Notifications.Notification {
        Notifications.Notification(trigger: "on-rollout-aborted", service: service, type: type, recipients: recipients, message: "web aborted", fields: fields)
    }

    @Test func slackWithATokenPostsBlockKitToEachChannel() throws {
        let svc = NotificationService(name: "slack", type: .slack, settings: ["token": "xoxb-1", "username": "aviary", "icon": ":bird:"])
        let reqs = try Payloads.requests(Self.note(.slack, service: "slack", recipients: ["oncall", "releases"]), service: svc)
        #expect(reqs.count == 2)
        #expect(reqs[0].url == "https://slack.com/api/chat.postMessage")
        #expect(reqs[0].headers.contains("Authorization: Bearer xoxb-1"))
        #expect(reqs[0].secrets == ["xoxb-1"])
        #expect(reqs[1].body == ["text": "web aborted", "channel": "releases", "username": "aviary", "icon_emoji": ":bird:",
                                 "blocks": [["type": "section", "text": ["type": "mrkdwn", "text": "web aborted"]]]])
    }

    @Test func slackIncomingWebhookAndTemplateFields() throws {
        let svc = NotificationService(name: "slack", type: .slack, settings: ["url": "https://hooks.slack.example/T/B/x"])
        let reqs = try Payloads.requests(Self.note(.slack, service: "slack", recipients: [], fields: ["attachments": [["color": "#E96D76"]]]), service: svc)
        #expect(reqs.map(\.url) == ["https://hooks.slack.example/T/B/x"])
        #expect(reqs[0].body["attachments"] == [["color": "#E96D76"]])
        #expect(reqs[0].secrets == ["https://hooks.slack.example/T/B/x"], "an incoming-webhook URL is a secret")
    }

    @Test func webhookWithHeadersBasicAuthAndABodyTemplate() throws {
        let svc = NotificationService(name: "pager", type: .webhook, settings: [
            "url": "https://pager.example", "headers": [["name": "X-Token", "value": "t-1"]], "basicAuth": ["username": "u", "password": "p"]])
        let fields: JSONValue = ["pager": ["method": "put", "path": "/v1/alerts", "body": "{\"summary\": \"web aborted\"}"]]
        let req = try #require(try Payloads.requests(Self.note(.webhook, service: "pager", recipients: [], fields: fields), service: svc).first)
        #expect(req.method == "PUT")
        #expect(req.url == "https://pager.example/v1/alerts")
        #expect(req.headers == ["X-Token: t-1", "Authorization: Basic dTpw", "Content-Type: application/json"])
        #expect(req.body == ["summary": "web aborted"])
        #expect(Set(req.secrets) == ["t-1", "p", "dTpw"])
    }

    @Test func teamsDiscordAndGoogleChatUseTheirFormats() throws {
        let teams = NotificationService(name: "teams", type: .teams, settings: ["recipientUrls": ["ops": "https://teams.example/1"]])
        let discord = NotificationService(name: "discord", type: .discord, settings: ["webhooks": ["rel": "https://discord.example/2"]])
        let chat = NotificationService(name: "googlechat", type: .googlechat, settings: ["webhooks": ["sre": "https://chat.example/3"]])
        #expect(try Payloads.requests(Self.note(.teams, service: "teams", recipients: ["ops"]), service: teams).first?.body
                == ["@type": "MessageCard", "@context": "https://schema.org/extensions", "summary": "web aborted", "text": "web aborted"])
        #expect(try Payloads.requests(Self.note(.discord, service: "discord", recipients: ["rel"]), service: discord).first?.body == ["content": "web aborted"])
        #expect(try Payloads.requests(Self.note(.googlechat, service: "googlechat", recipients: ["sre"]), service: chat).first?.body == ["text": "web aborted"])
        #expect(throws: Payloads.Problem(description: "service.teams: no recipientUrls.nobody for recipient \"nobody\"")) {
            try Payloads.requests(Self.note(.teams, service: "teams", recipients: ["nobody"]), service: teams)
        }
    }
}

/// `oncePer`, and what templates can say about analysis.
@Suite struct NotifierOnceAndAnalysisTests {
    static let config = NotificationConfig.parse([
        "service.webhook.hook": "url: https://hook.example\n",
        "template.new-version": "message: 'new version {{.rollout.status.currentPodHash}}; {{.analysis.decidedBy.name}} measured {{.analysis.decidedBy.values}} ({{.analysis.decidedBy.failureCondition}})'\n",
        "trigger.on-new-version": "- when: 'true'\n  oncePer: rollout.status.currentPodHash\n  send: [new-version]\n",
    ])

    static func rollout(hash: String) -> Rollout {
        var r = NotifierTests.rollout(["notifications.aviary.dev/subscribe.on-new-version.hook": "",
                                       "notifications.argoproj.io/subscribe.on-new-version.hook": ""])
        r.status?.currentPodHash = hash
        return r
    }

    static let event = Rollouts.Event(reason: .scalingReplicaSet, message: "scaled")

    @Test func oncePerSendsOncePerValueAndToARecipientOnce() {
        let first = Notifier.notifications(for: Self.event, rollout: Self.rollout(hash: "aaa"), config: Self.config, time: NotifierTests.time)
        #expect(first.notifications.count == 1, "both prefixes name the same subscription")
        #expect(first.oncePer == ["on-new-version[0]": "aaa"])
        let again = Notifier.notifications(for: Self.event, rollout: Self.rollout(hash: "aaa"), config: Self.config, time: NotifierTests.time,
                                           sent: first.oncePer)
        #expect(again.notifications.isEmpty)
        let next = Notifier.notifications(for: Self.event, rollout: Self.rollout(hash: "bbb"), config: Self.config, time: NotifierTests.time,
                                          sent: first.oncePer)
        #expect(next.notifications.count == 1)
        #expect(next.oncePer == ["on-new-version[0]": "bbb"])
    }

    @Test func templatesNameTheMetricThatDecided() throws {
        let run = try JSONDecoder().decode(AnalysisRun.self, from: Data(#"""
        {"metadata": {"name": "web-1"}, "spec": {"metrics": [{"name": "latency", "successCondition": "result < 0.5", "provider": {"prometheus": {"query": "y"}}},
          {"name": "success-rate", "failureCondition": "result < 0.95", "provider": {"prometheus": {"query": "x"}}}]},
         "status": {"phase": "Failed", "metricResults": [{"name": "latency", "phase": "Successful", "measurements": [{"phase": "Successful", "value": "0.1"}]},
          {"name": "success-rate", "phase": "Failed", "failed": 2, "measurements": [{"phase": "Failed", "value": "0.91"}, {"phase": "Failed", "value": "0.9"}]}]}}
        """#.utf8))
        let out = Notifier.notifications(for: Self.event, rollout: Self.rollout(hash: "aaa"), config: Self.config, time: NotifierTests.time,
                                         analysisRuns: [run])
        #expect(out.notifications.first?.message == "new version aaa; success-rate measured 0.91, 0.9 (result < 0.95)")
    }
}

/// Webhook bodies: JSON with values filled in and escaped; JSON with a bare
/// number placeholder; and text, sent as written.
@Suite struct WebhookBodyTests {
    static func request(body: String, message: String = "ok") throws -> OutgoingRequest {
        let config = NotificationConfig.parse([
            "service.webhook.hook": "url: https://hook.example\n",
            "template.t": "webhook:\n  hook:\n    body: |\n      \(body)\n",
            "trigger.on-rollout-aborted": "- send: [t]\n",
        ])
        let r = NotifierTests.rollout(["notifications.aviary.dev/subscribe.on-rollout-aborted.hook": ""])
        let n = try #require(Notifier.notifications(for: Rollouts.Event(reason: .rolloutAborted, message: message), rollout: r,
                                                    config: config, time: NotifierTests.time).notifications.first)
        let service = try #require(config.services["hook"])
        return try #require(try Payloads.requests(n, service: service).first)
    }

    @Test func jsonStaysJSONWhateverTheValues() throws {
        let r = try Self.request(body: #"{"why": "{{.event.message}}", "who": ["{{.rollout.metadata.name}}"]}"#, message: "a \"quote\"\nand a line")
        #expect(r.body == ["why": "a \"quote\"\nand a line", "who": ["web"]])
        #expect(r.rawBody == nil)
    }

    @Test func aBareNumberIsRenderedThenRead() throws {
        let r = try Self.request(body: #"{"replicas": {{.rollout.spec.replicas}}}"#)
        #expect(r.body == ["replicas": 2])
    }

    @Test func textGoesAsWritten() throws {
        let r = try Self.request(body: "rollout={{.rollout.metadata.name}}&state=aborted")
        #expect(r.rawBody == "rollout=web&state=aborted\n", "as written, the block scalar's newline too")
    }
}

@Suite struct SubscriptionBoundsTests {
    @Test func aFloodOfSubscriptionsAndRecipientsIsBounded() {
        var annotations: [String: String] = [:]
        for i in 0..<500 { annotations["notifications.aviary.dev/subscribe.on-rollout-aborted.svc\(i)"] = (0..<500).map { "r\($0)" }.joined(separator: ";") }
        let subs = Subscription.read(annotations)
        #expect(subs.count == Subscription.maxSubscriptions)
        #expect(subs.allSatisfy { $0.recipients.count == Subscription.maxRecipients })
    }
}
