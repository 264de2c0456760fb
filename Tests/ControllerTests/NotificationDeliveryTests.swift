import AviaryAPI
import Controller
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Kube
import Notifications
import Rollouts
import Testing
import TestSupport

/// A notification from end to end, as a user configures it: the ConfigMap's
/// data and the Secret's (with `$key`s) through `NotificationConfig.parse`,
/// a Rollout's subscription annotations and an event through the `Notifier`,
/// each service's wire format (`Payloads`), the `NotificationSender`, and
/// what a real HTTP receiver on loopback gets: method, path, headers, body.
@Suite struct NotificationDeliveryTests {
    /// Argo's retries (3), with waits short enough for a test.
    static let sender = NotificationSender(retryMax: 3, waitMin: .milliseconds(10), waitMax: .milliseconds(40), timeout: .seconds(5))
    static let time = KubeTime(secondsSinceEpoch: 1_800_000_000)
    static let why = "Rollout aborted update to revision 3: analysis run web-6d4f8b7c9-3-1 Failed: success-rate: [0.5]"
    static let aborted = Rollouts.Event(reason: .rolloutAborted, message: why, warning: true)
    static let completed = Rollouts.Event(reason: .rolloutCompleted, message: "Rollout completed update to revision 3 (6d4f8b7c9)")
    static let report = "\nRollout shop/web aborted the update to web=registry.example/web:3.0 (pod template hash 6d4f8b7c9); traffic went back to stable 5c8d7f9b6."
    static let scaled = Rollouts.Event(reason: .scalingReplicaSet, message: "Scaled up ReplicaSet web-6d4f8b7c9 from 1 to 2")

    /// A Rollout as the API server returns it, with these annotations.
    static func rollout(_ annotations: [String: String]) throws -> Rollout {
        let encoded = String(decoding: try JSONEncoder().encode(annotations), as: UTF8.self)
        let json = """
            {"apiVersion": "aviary.dev/v1alpha1", "kind": "Rollout",
             "metadata": {"name": "web", "namespace": "shop", "generation": 3, "annotations": \(encoded)},
             "spec": {"replicas": 4, "selector": {"matchLabels": {"app": "web"}},
                      "template": {"metadata": {"labels": {"app": "web"}},
                                   "spec": {"containers": [{"name": "web", "image": "registry.example/web:3.0"}]}},
                      "strategy": {"canary": {"steps": [{"setWeight": 25}, {"pause": {}}]}}},
             "status": {"phase": "Degraded", "currentPodHash": "6d4f8b7c9", "stableRS": "5c8d7f9b6", "currentStepIndex": 1, "abort": true}}
            """
        return try JSONDecoder().decode(Rollout.self, from: Data(json.utf8))
    }

    struct Delivery {
        var notifications: [Notifications.Notification]
        var requests: [OutgoingRequest]
        var outcomes: [NotificationSender.Outcome]
    }

    /// ConfigMap and Secret → notifications for `event` → requests → sent one after the other.
    static func deliver(_ event: Rollouts.Event, annotations: [String: String], data: [String: String], secret: [String: String],
                        sender: NotificationSender = sender) async throws -> Delivery {
        let config = NotificationConfig.parse(data, secret: secret)
        #expect(config.problems.isEmpty, "\(config.problems)")
        // As the controller's delivery does: an abort's notification carries the short report.
        let extra: [String: JSONValue] = event.reason == .rolloutAborted ? ["report": .string(report)] : [:]
        let result = Notifier.notifications(for: event, rollout: try rollout(annotations), config: config, time: time, extra: extra)
        let notifications = result.notifications, problems = result.problems
        #expect(problems.isEmpty, "\(problems)")
        var requests: [OutgoingRequest] = []
        for n in notifications {
            let service = try #require(config.services[n.service])
            requests += try Payloads.requests(n, service: service)
        }
        var outcomes: [NotificationSender.Outcome] = []
        for r in requests { outcomes.append(await sender.send(r)) }
        return Delivery(notifications: notifications, requests: requests, outcomes: outcomes)
    }

    static func json(_ r: RecordingReceiver.Recorded) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: Data(r.body))
    }

    /// What a person reads for an abort: which Rollout, why, and what to run next.
    static func expectReadable(_ text: String?, sourceLocation: SourceLocation = #_sourceLocation) {
        let text = text ?? ""
        #expect(text.contains("shop/web"), "\(text)", sourceLocation: sourceLocation)
        #expect(text.contains("ABORTED"), "\(text)", sourceLocation: sourceLocation)
        #expect(text.contains(why), "the reason: \(text)", sourceLocation: sourceLocation)
        #expect(text.contains("kubectl aviary get rollout web -n shop"), "what next: \(text)", sourceLocation: sourceLocation)
        #expect(!text.contains("<no value>"), "every value the built-in text names is there: \(text)", sourceLocation: sourceLocation)
    }

    // MARK: - Each service's shape, as it arrives

    @Test func aWebhookWithAHeaderFromTheSecretBasicAuthAndABodyTemplate() async throws {
        let receiver = try RecordingReceiver()
        defer { receiver.stop() }
        let data = [
            "service.webhook.pager": """
                url: \(receiver.url())
                headers:
                - name: X-Api-Key
                  value: $pager-key
                - name: Content-Type
                  value: application/json; charset=utf-8
                basicAuth:
                  username: aviary
                  password: $pager-password
                """,
            "template.page-on-abort": """
                message: Rollout {{.rollout.metadata.name}} aborted
                webhook:
                  pager:
                    method: PUT
                    path: "/v1/alerts/{{.rollout.metadata.namespace}}/{{.rollout.metadata.name}}?source=aviary"
                    body: |
                      {"summary": "{{.rollout.metadata.name}} aborted", "reason": "{{.event.reason}}", "why": "{{.event.message}}",
                       "revision": "{{.revision}}", "severity": "critical"}
                """,
            "trigger.on-rollout-aborted": "- send: [page-on-abort]\n",
        ]
        let secret = ["pager-key": "k-7f3a9c", "pager-password": "pw-4d2e8b"]
        let annotations = ["notifications.aviary.dev/subscribe.on-rollout-aborted.pager": ""]

        let delivery = try await Self.deliver(Self.aborted, annotations: annotations, data: data, secret: secret)
        #expect(delivery.outcomes == [.sent(status: 200, attempts: 1)])
        let got = receiver.requests
        try #require(got.count == 1, "one request, though the subscription names no recipient (Argo's way for webhooks)")
        let r = got[0]
        #expect(r.method == "PUT")
        #expect(r.path == "/v1/alerts/shop/web?source=aviary")
        #expect(r.header("X-Api-Key") == "k-7f3a9c")
        #expect(r.header("Authorization") == "Basic " + Data("aviary:pw-4d2e8b".utf8).base64EncodedString())
        #expect(r.header("Content-Type") == "application/json; charset=utf-8")
        #expect(r.headers.filter { $0.lowercased().hasPrefix("content-type:") }.count == 1, "the configured Content-Type replaces the default")
        #expect(r.header("Content-Length") == String(r.body.count))
        #expect(try Self.json(r) == ["summary": "web aborted", "reason": "RolloutAborted", "why": .string(Self.why),
                                     "revision": "hash 6d4f8b7c9", "severity": "critical"])

        // Another event does not fire this trigger.
        let other = try await Self.deliver(Self.completed, annotations: annotations, data: data, secret: secret)
        #expect(other.requests.isEmpty)
        #expect(receiver.requests.count == 1)
    }

    @Test func aWebhookWithoutATemplateGetsTheMessageAndTheTrigger() async throws {
        let receiver = try RecordingReceiver()
        defer { receiver.stop() }
        let data = ["service.webhook": "url: \(receiver.url("/hooks/$hook-path"))\n"]
        let delivery = try await Self.deliver(Self.aborted, annotations: ["notifications.argoproj.io/subscribe.on-rollout-aborted.webhook": ""],
                                              data: data, secret: ["hook-path": "T0/B0/x9"])
        #expect(delivery.outcomes == [.sent(status: 200, attempts: 1)])
        let r = try #require(receiver.requests.first)
        #expect((r.method, r.path) == ("POST", "/hooks/T0/B0/x9"))
        #expect(r.header("Content-Type") == "application/json")
        let body = try Self.json(r)
        #expect(body["trigger"] == "on-rollout-aborted")
        Self.expectReadable(body["message"]?.stringValue)
    }

    @Test func aQuoteInTheEventMessageKeepsAWebhookBodyTemplateAnObject() async throws {
        let receiver = try RecordingReceiver()
        defer { receiver.stop() }
        let data = [
            "service.webhook.pager": "url: \(receiver.url())\n",
            "template.page-on-abort": """
                webhook:
                  pager:
                    body: |
                      {"why": "{{.event.message}}"}
                """,
            "trigger.on-rollout-aborted": "- send: [page-on-abort]\n",
        ]
        let quoted = Rollouts.Event(reason: .rolloutAborted, message: #"metric "success-rate" assessed Failed"#, warning: true)
        _ = try await Self.deliver(quoted, annotations: ["notifications.aviary.dev/subscribe.on-rollout-aborted.pager": ""], data: data, secret: [:])
        let r = try #require(receiver.requests.first)
        let body = try Self.json(r)
        #expect(body["why"] == #"metric "success-rate" assessed Failed"#, "\(r.bodyText)")
    }

    @Test func slackByIncomingWebhookURL() async throws {
        let receiver = try RecordingReceiver()
        defer { receiver.stop() }
        let hook = receiver.url("/services/T000/B000/s3cr3tXYZ")
        let delivery = try await Self.deliver(
            Self.aborted, annotations: ["notifications.argoproj.io/subscribe.on-rollout-aborted.slack": "releases"],
            data: ["service.slack": "url: $slack-url\n"], secret: ["slack-url": hook])
        #expect(delivery.outcomes == [.sent(status: 200, attempts: 1)])
        let got = receiver.requests
        try #require(got.count == 1, "the incoming webhook decides the channel: one request")
        #expect((got[0].method, got[0].path) == ("POST", "/services/T000/B000/s3cr3tXYZ"))
        #expect(got[0].header("Content-Type") == "application/json")
        #expect(got[0].header("Authorization") == nil)
        let body = try Self.json(got[0])
        Self.expectReadable(body["text"]?.stringValue)
        #expect(body["blocks"] == [["type": "section", "text": ["type": "mrkdwn", "text": .string(delivery.notifications[0].message)]]])
    }

    @Test func slackByTokenPostsBlockKitToEachChannel() async throws {
        let receiver = try RecordingReceiver()
        defer { receiver.stop() }
        let data = ["service.slack.chat": """
            token: $slack-token
            apiURL: \(receiver.url("/api/"))
            username: aviary
            icon: ":bird:"
            """]
        let delivery = try await Self.deliver(
            Self.aborted, annotations: ["notifications.aviary.dev/subscribe.on-rollout-aborted.chat": "oncall; releases"],
            data: data, secret: ["slack-token": "xoxb-1234-s3cr3t"])
        #expect(delivery.outcomes == [.sent(status: 200, attempts: 1), .sent(status: 200, attempts: 1)])
        let got = receiver.requests
        try #require(got.count == 2, "one request per channel")
        let message = delivery.notifications[0].message
        Self.expectReadable(message)
        for (r, channel) in zip(got, ["oncall", "releases"]) {
            #expect((r.method, r.path) == ("POST", "/api/chat.postMessage"))
            #expect(r.header("Authorization") == "Bearer xoxb-1234-s3cr3t")
            #expect(r.header("Content-Type") == "application/json; charset=utf-8")
            #expect(try Self.json(r) == ["channel": .string(channel), "text": .string(message), "username": "aviary", "icon_emoji": ":bird:",
                                         "blocks": [["type": "section", "text": ["type": "mrkdwn", "text": .string(message)]]]])
        }
    }

    @Test func slacksAPIRefusingWithOkFalseIsAFailure() async throws {
        // Slack's Web API answers most errors (invalid_auth, channel_not_found) with HTTP 200 and "ok": false.
        let receiver = try RecordingReceiver(script: .always(200), responseBody: #"{"ok":false,"error":"channel_not_found"}"#)
        defer { receiver.stop() }
        let delivery = try await Self.deliver(
            Self.aborted, annotations: ["notifications.aviary.dev/subscribe.on-rollout-aborted.slack": "no-such-channel"],
            data: ["service.slack": "token: $t\napiURL: \(receiver.url("/api/"))\n"], secret: ["t": "xoxb-5"])
        #expect(delivery.outcomes.map { if case .failed = $0 { true } else { false } } == [true], "\(delivery.outcomes)")
        #expect(receiver.requests.count == 1, "a refusal is not retried")
        if case .failed(let why, _)? = delivery.outcomes.first { #expect(why.contains("channel_not_found")) }
    }

    @Test func argosSlackAttachmentsWrittenAsJSONTextArriveAsAList() async throws {
        let receiver = try RecordingReceiver()
        defer { receiver.stop() }
        let data = [
            "service.slack": "token: $slack-token\napiURL: \(receiver.url("/api"))\n",
            // As Argo's documentation writes it: attachments as a block of JSON text.
            "template.on-rollout-aborted": """
                message: Rollout {{.rollout.metadata.name}} has been aborted.
                slack:
                  attachments: |
                    [{"title": "{{.rollout.metadata.name}}", "color": "#E96D76",
                      "fields": [{"title": "Strategy", "value": "Canary", "short": true}]}]
                """,
        ]
        _ = try await Self.deliver(Self.aborted, annotations: ["notifications.aviary.dev/subscribe.on-rollout-aborted.slack": "oncall"],
                                   data: data, secret: ["slack-token": "xoxb-9"])
        let r = try #require(receiver.requests.first)
        #expect(r.path == "/api/chat.postMessage")
        let body = try Self.json(r)
        #expect(body["text"] == "Rollout web has been aborted.")
        #expect(body["attachments"] == [["title": "web", "color": "#E96D76", "fields": [["title": "Strategy", "value": "Canary", "short": true]]]])
    }

    @Test func teamsDiscordAndGoogleChatEachGetTheirFormatAtEachRecipientsURL() async throws {
        let receiver = try RecordingReceiver()
        defer { receiver.stop() }
        let data = [
            "service.teams": "recipientUrls:\n  ops: $teams-ops\n  dev: $teams-dev\n",
            "service.discord": "webhooks:\n  releases: $discord\n",
            "service.googlechat": "webhooks:\n  sre: $chat\n",
        ]
        let secret = ["teams-ops": receiver.url("/teams/ops-k1"), "teams-dev": receiver.url("/teams/dev-k2"),
                      "discord": receiver.url("/discord/k3"), "chat": receiver.url("/chat/k4?key=k5")]
        let annotations = ["notifications.aviary.dev/subscribe.on-rollout-aborted.teams": "ops;dev",
                           "notifications.aviary.dev/subscribe.on-rollout-aborted.discord": "releases",
                           "notifications.argoproj.io/subscribe.on-rollout-aborted.googlechat": "sre"]
        let delivery = try await Self.deliver(Self.aborted, annotations: annotations, data: data, secret: secret)
        #expect(delivery.outcomes.count == 4)
        #expect(delivery.outcomes.allSatisfy { $0 == .sent(status: 200, attempts: 1) })
        let got = Dictionary(grouping: receiver.requests, by: \.path)
        #expect(got.keys.sorted() == ["/chat/k4?key=k5", "/discord/k3", "/teams/dev-k2", "/teams/ops-k1"])
        #expect(got.values.allSatisfy { $0.count == 1 && $0[0].method == "POST" && $0[0].header("Content-Type") == "application/json" })

        let message = try #require(delivery.notifications.first?.message)
        Self.expectReadable(message)
        let card: JSONValue = ["@type": "MessageCard", "@context": "https://schema.org/extensions",
                               "summary": .string(String(message.prefix(200))), "text": .string(message)]
        #expect(try Self.json(try #require(got["/teams/ops-k1"]?.first)) == card)
        #expect(try Self.json(try #require(got["/teams/dev-k2"]?.first)) == card)
        #expect(try Self.json(try #require(got["/discord/k3"]?.first)) == ["content": .string(message)])
        #expect(try Self.json(try #require(got["/chat/k4?key=k5"]?.first)) == ["text": .string(message)])
    }

    // MARK: - Who gets what, per event

    @Test func exactlyOneRequestPerRecipientPerEvent() async throws {
        let receiver = try RecordingReceiver()
        defer { receiver.stop() }
        let data = ["service.googlechat.chat": "webhooks:\n  a: $a\n  b: $b\n", "defaultTriggers": "- on-rollout-completed\n"]
        let secret = ["a": receiver.url("/a"), "b": receiver.url("/b")]
        let annotations = [
            "notifications.aviary.dev/subscribe.on-rollout-aborted.chat": "a;b",
            "notifications.argoproj.io/subscribe.on-rollout-aborted.chat": "a; b",  // the same, under Argo's prefix
            "notifications.aviary.dev/subscribe.on-rollout-paused.chat": "b",
        ]
        _ = try await Self.deliver(Self.aborted, annotations: annotations, data: data, secret: secret)
        #expect(receiver.requests.map(\.path) == ["/a", "/b"])

        _ = try await Self.deliver(Self.scaled, annotations: annotations, data: data, secret: secret)
        _ = try await Self.deliver(Self.completed, annotations: annotations, data: data, secret: secret)
        #expect(receiver.requests.count == 2, "no subscription names these events")

        // `subscribe.<service>` alone takes the default triggers.
        _ = try await Self.deliver(Self.completed, annotations: ["notifications.aviary.dev/subscribe.chat": "b"], data: data, secret: secret)
        #expect(receiver.requests.map(\.path) == ["/a", "/b", "/b"])
        #expect(try Self.json(receiver.requests[2])["text"]?.stringValue?.contains("completed") == true)
    }

    @Test func aRecipientNamedByTwoSubscriptionsOfOneTriggerGetsOneMessage() async throws {
        let receiver = try RecordingReceiver()
        defer { receiver.stop() }
        let data = ["service.googlechat.chat": "webhooks:\n  a: $a\n  b: $b\n", "defaultTriggers": "- on-rollout-aborted\n"]
        let secret = ["a": receiver.url("/a"), "b": receiver.url("/b")]
        let annotations = [
            "notifications.aviary.dev/subscribe.on-rollout-aborted.chat": "a;b",
            "notifications.argoproj.io/subscribe.on-rollout-aborted.chat": "b",
            "notifications.aviary.dev/subscribe.chat": "a",  // the default triggers include on-rollout-aborted
        ]
        _ = try await Self.deliver(Self.aborted, annotations: annotations, data: data, secret: secret)
        #expect(receiver.requests.map(\.path).sorted() == ["/a", "/b"])
    }

    // MARK: - Failing without saying a secret

    @Test func aRefusingReceiverIsNotRetriedAndNoSecretIsSaid() async throws {
        let receiver = try RecordingReceiver(script: .always(401), responseBody: #"{"ok":false,"error":"invalid_auth"}"#)
        defer { receiver.stop() }
        let data = [
            "service.webhook.pager": """
                url: \(receiver.url("/hooks/$hook-token?sig=$hook-sig"))
                headers:
                - name: X-Api-Key
                  value: $pager-key
                basicAuth:
                  username: aviary
                  password: $pager-password
                """,
            "service.slack.chat": "token: $slack-token\napiURL: \(receiver.url("/api/"))\n",
            "service.slack": "url: $slack-url\n",
            "service.teams": "recipientUrls:\n  ops: $teams-url\n",
            "service.discord": "webhooks:\n  releases: $discord-url\n",
            "service.googlechat": "webhooks:\n  sre: $chat-url\n",
        ]
        let secret = ["hook-token": "h00k-t0ken", "hook-sig": "s1g-v4lue", "pager-key": "k-7f3a9c", "pager-password": "pw-4d2e8b",
                      "slack-token": "xoxb-1234-s3cr3t", "slack-url": receiver.url("/services/T0/B0/sl4ck-p4th"),
                      "teams-url": receiver.url("/teams/t34ms-k3y"), "discord-url": receiver.url("/discord/d1sc-k3y"),
                      "chat-url": receiver.url("/chat/ch4t-k3y")]
        let annotations = ["notifications.aviary.dev/subscribe.on-rollout-aborted.pager": "",
                           "notifications.aviary.dev/subscribe.on-rollout-aborted.chat": "oncall",
                           "notifications.aviary.dev/subscribe.on-rollout-aborted.slack": "releases",
                           "notifications.aviary.dev/subscribe.on-rollout-aborted.teams": "ops",
                           "notifications.aviary.dev/subscribe.on-rollout-aborted.discord": "releases",
                           "notifications.aviary.dev/subscribe.on-rollout-aborted.googlechat": "sre"]
        let delivery = try await Self.deliver(Self.aborted, annotations: annotations, data: data, secret: secret)
        #expect(delivery.outcomes.count == 6)
        #expect(receiver.requests.count == 6, "a 4xx is not retried")
        let basic = Data("aviary:pw-4d2e8b".utf8).base64EncodedString()
        let secretTexts = ["h00k-t0ken", "s1g-v4lue", "k-7f3a9c", "pw-4d2e8b", basic, "xoxb-1234-s3cr3t",
                           "sl4ck-p4th", "t34ms-k3y", "d1sc-k3y", "ch4t-k3y"]
        for outcome in delivery.outcomes {
            guard case .failed(let text, let attempts) = outcome else {
                Issue.record("not failed: \(outcome)")
                continue
            }
            #expect(attempts == 1)
            #expect(text.contains("HTTP 401"), "\(text)")
            for s in secretTexts { #expect(!text.contains(s), "\(s) in \(text)") }
        }
        // The host is still named, so the operator knows which receiver refused.
        #expect(delivery.outcomes.contains { if case .failed(let text, _) = $0 { text.contains("127.0.0.1") } else { false } })
    }

    // MARK: - Retries

    @Test func serverErrorsAreRetriedUntilOnePasses() async throws {
        let receiver = try RecordingReceiver(script: .sequence([500, 503, 200]))
        defer { receiver.stop() }
        let delivery = try await Self.deliver(
            Self.aborted, annotations: ["notifications.aviary.dev/subscribe.on-rollout-aborted.discord": "releases"],
            data: ["service.discord": "webhooks:\n  releases: $d\n"], secret: ["d": receiver.url("/discord/k")])
        #expect(delivery.outcomes == [.sent(status: 200, attempts: 3)])
        let got = receiver.requests
        try #require(got.count == 3)
        #expect(Set(got.map(\.body)).count == 1, "the same request each time")
        #expect(got[1].instant - got[0].instant >= .milliseconds(10), "waits waitMin before the first retry")
        #expect(got[2].instant - got[1].instant >= .milliseconds(20), "then twice as long")
    }

    @Test func tooManyRequestsIsRetriedAndAClientErrorIsNot() async throws {
        let receiver = try RecordingReceiver(script: .sequence([429], then: 200))
        defer { receiver.stop() }
        let data = ["service.discord": "webhooks:\n  releases: $d\n"]
        let annotations = ["notifications.aviary.dev/subscribe.on-rollout-aborted.discord": "releases"]
        let secret = ["d": receiver.url("/discord/k")]
        #expect(try await Self.deliver(Self.aborted, annotations: annotations, data: data, secret: secret).outcomes == [.sent(status: 200, attempts: 2)])

        receiver.setScript(.always(400))
        let refused = try await Self.deliver(Self.aborted, annotations: annotations, data: data, secret: secret).outcomes
        #expect(refused == [.failed("HTTP 400 from ***", attempts: 1)])
        #expect(receiver.requests.count == 3)
    }

    @Test func aLargeAnswerToADeliveredMessageDoesNotSendItAgain() async throws {
        let receiver = try RecordingReceiver(script: .always(200), responseBody: "{\"padding\": \"" + String(repeating: "x", count: 70_000) + "\"}")
        defer { receiver.stop() }
        let delivery = try await Self.deliver(
            Self.aborted, annotations: ["notifications.aviary.dev/subscribe.on-rollout-aborted.discord": "releases"],
            data: ["service.discord": "webhooks:\n  releases: $d\n"], secret: ["d": receiver.url("/discord/k")])
        let got = receiver.requests.count
        #expect(got == 1, "a 2xx is delivered, however long the answer: never sent again")
        #expect(delivery.outcomes == [.sent(status: 200, attempts: 1)])
    }

    @Test(.timeLimit(.minutes(1)))
    func aHangingReceiverFailsAfterTheTimeoutWithBoundedRetries() async throws {
        let receiver = try RecordingReceiver(script: .hang)
        defer { receiver.stop() }
        let sender = NotificationSender(retryMax: 3, waitMin: .milliseconds(10), waitMax: .milliseconds(40), timeout: .seconds(1))
        let start = ContinuousClock.now
        let delivery = try await Self.deliver(
            Self.aborted, annotations: ["notifications.aviary.dev/subscribe.on-rollout-aborted.pager": ""],
            data: ["service.webhook.pager": "url: \(receiver.url("/hooks/$t"))\n"], secret: ["t": "h4ng-t0ken"], sender: sender)
        let elapsed = ContinuousClock.now - start
        try #require(delivery.outcomes.count == 1)
        guard case .failed(let text, let attempts) = delivery.outcomes[0] else {
            Issue.record("not failed: \(delivery.outcomes[0])")
            return
        }
        #expect(attempts == 4, "the first try and retryMax 3, no more")
        #expect(!text.contains("h4ng-t0ken"), "\(text)")
        #expect(receiver.requests.count == 4, "each try reached the receiver whole")
        #expect(elapsed >= .seconds(3), "each try waited for its timeout: \(elapsed)")
        #expect(elapsed < .seconds(20), "bounded: 4 tries of 1 s and short waits, took \(elapsed)")
    }
}

/// The receiver itself, spoken to byte by byte: chunked bodies, a script
/// changed on the way, and `stop()` with a connection still hanging.
@Suite struct RecordingReceiverTests {
    /// Connects to the receiver, sends `request` as it is, and reads until it closes.
    static func exchange(_ port: Int, _ request: String, keepOpen: Bool = false) throws -> (fd: Int32, answer: String) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(fd)
            throw POSIXError(.ECONNREFUSED)
        }
        let bytes = Array(request.utf8)
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        if keepOpen { return (fd, "") }
        var tv = timeval(tv_sec: 5, tv_usec: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var answer: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            answer += buffer[0..<n]
        }
        close(fd)
        return (-1, String(decoding: answer, as: UTF8.self))
    }

    @Test func aChunkedBodyIsReadWholeAndTheScriptAnswers() async throws {
        let receiver = try RecordingReceiver(script: .sequence([503], then: 202))
        defer { receiver.stop() }
        let chunked = "POST /in?x=1 HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nX-Trace: abc\r\n\r\n"
            + "5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\n\r\n"
        #expect(try Self.exchange(receiver.port, chunked).answer.hasPrefix("HTTP/1.1 503 "))
        let plain = "PUT /two HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\nbody"
        let second = try Self.exchange(receiver.port, plain).answer
        #expect(second.hasPrefix("HTTP/1.1 202 "))
        #expect(second.hasSuffix(#"{"ok":true}"#))
        let got = await receiver.waitFor(count: 2, timeout: .seconds(5))
        try #require(got.count == 2)
        #expect((got[0].method, got[0].path, got[0].bodyText) == ("POST", "/in?x=1", "hello, world"))
        #expect(got[0].header("x-trace") == "abc")
        #expect((got[1].method, got[1].path, got[1].body) == ("PUT", "/two", Array("body".utf8)))
        #expect(got[0].instant <= got[1].instant)

        receiver.setScript(.always(418))
        #expect(try Self.exchange(receiver.port, plain).answer.hasPrefix("HTTP/1.1 418 "))
    }

    @Test(.timeLimit(.minutes(1)))
    func stopLetsGoOfAHangingConnection() async throws {
        let receiver = try RecordingReceiver(script: .hang)
        let (fd, _) = try Self.exchange(receiver.port, "GET /wait HTTP/1.1\r\nHost: t\r\n\r\n", keepOpen: true)
        defer { close(fd) }
        #expect(await receiver.waitFor(count: 1, timeout: .seconds(5)).map(\.path) == ["/wait"])
        let start = ContinuousClock.now
        receiver.stop()
        receiver.stop()  // twice is harmless
        #expect(ContinuousClock.now - start < .seconds(3))
        #expect(await receiver.waitFor(count: 2, timeout: .milliseconds(50)).count == 1, "waitFor returns what arrived when the time is up")
    }
}
