import AviaryAPI
import Foundation
import Kube
import Testing
import TestSupport

/// Notifications for real: the controller process, its ConfigMap and Secret
/// in the cluster, and a real HTTP receiver recording what arrives.
@Suite struct NotificationE2ETests {
    static let steps: JSONValue = [["setWeight": 50], ["pause": [:]]]

    /// A namespace with a 2-replica canary Rollout (50 %, then an indefinite
    /// pause) carrying `annotations`, Healthy at 1.0 under a controller.
    func setUp(_ prefix: String, client: KubeClient, annotations: [String: String],
               configMap: [String: String]? = nil, secret: [String: String] = [:]) async throws -> (RolloutProbe, ControllerProcess) {
        try await TestCluster.installCRDs()
        let ns = try await TestCluster.namespace(prefix, client: client)
        if let configMap { try await writeConfig(configMap, secret: secret, namespace: ns, client: client) }
        try await TestCluster.createExampleCanary(in: ns, client: client, annotations: annotations, steps: Self.steps)
        let controller = try ControllerProcess(namespace: ns)
        let probe = RolloutProbe(client: client, namespace: ns, name: "web")
        try await probe.wait("1.0 Healthy") { $0.status?.phase == .Healthy && $0.status?.availableReplicas == 2 }
        return (probe, controller)
    }

    /// Creates or replaces the notification ConfigMap and Secret in `namespace`.
    func writeConfig(_ data: [String: String], secret: [String: String], namespace: String, client: KubeClient) async throws {
        let map: JSONValue = ["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": "aviary-notification-configmap"],
                              "data": .object(data.mapValues(JSONValue.string))]
        let sec: JSONValue = ["apiVersion": "v1", "kind": "Secret", "metadata": ["name": "aviary-notification-secret"],
                              "stringData": .object(secret.mapValues(JSONValue.string))]
        for (resource, body, name) in [(Resource.configMaps, map, "aviary-notification-configmap"), (.secrets, sec, "aviary-notification-secret")] {
            if (try? await client.get(resource, name, namespace: namespace) as JSONValue) != nil {
                let _: JSONValue = try await client.patch(resource, name, namespace: namespace, .merge(body))
            } else {
                let _: JSONValue = try await client.create(resource, body, namespace: namespace)
            }
        }
    }

    /// Starts an update and waits for the indefinite pause at 50 %.
    func updateToPause(_ p: RolloutProbe, image: String) async throws {
        try await p.setImage(image)
        try await p.wait("paused at 50 %") { $0.status?.phase == .Paused && $0.status?.currentStepIndex == 1 }
    }

    func pendingIsEmpty(_ p: RolloutProbe) async throws {
        try await p.wait("nothing left to send") { ($0.status?.notifications?.pending ?? []).isEmpty }
    }

    @Test func anAbortIsToldOnceToEachServiceWithTheReasonAndNoSecret() async throws {
        let client = try TestCluster.client()
        let receiver = try RecordingReceiver()
        defer { receiver.stop() }
        let (p, controller) = try await setUp("notify-abort", client: client, annotations: [
            "notifications.aviary.dev/subscribe.on-rollout-aborted.receiver": "",
            "notifications.argoproj.io/subscribe.on-rollout-aborted.slack": "#deploys",
            "notifications.aviary.dev/subscribe.on-rollout-updated.teams": "ops",
        ])
        defer { controller.kill() }
        // Written after the controller started: the watch brings it in, no restart.
        let config = [
            "service.webhook.receiver": "url: \(receiver.url("/hook"))\nheaders:\n- name: Authorization\n  value: Bearer $hook-token\n",
            "service.slack": "token: $slack-token\napiURL: \(receiver.url("/slack/"))\n",
            "service.teams": "recipientUrls:\n  ops: \(receiver.url("/teams"))\n",
        ]
        try await writeConfig(config, secret: ["hook-token": "s3cret-hook", "slack-token": "xoxb-s3cret"], namespace: p.namespace, client: client)
        try await Task.sleep(for: .seconds(1))

        try await updateToPause(p, image: "registry.example/web:2.0")
        try await p.abort()
        let got = await receiver.waitFor(count: 3, timeout: .seconds(30))
        try await pendingIsEmpty(p)
        // One message per event and service: nothing more arrives.
        try await Task.sleep(for: .seconds(2))
        #expect(receiver.requests.count == 3, "\(receiver.requests.map(\.path))")

        let hook = try #require(got.first { $0.path == "/hook" })
        #expect(hook.header("authorization") == "Bearer s3cret-hook")
        let hookBody = try JSONDecoder().decode(JSONValue.self, from: Data(hook.body))
        #expect(hookBody["trigger"] == "on-rollout-aborted")
        let text = hookBody["message"]?.stringValue ?? ""
        #expect(text.contains("Rollout \(p.namespace)/web was ABORTED"), "\(text)")
        #expect(text.contains("registry.example/web:2.0"), "\(text)")
        #expect(text.contains("kubectl aviary get rollout web -n \(p.namespace)"), "\(text)")
        // The short post-rollback report follows.
        #expect(text.contains("Rollout \(p.namespace)/web aborted the update to registry.example/web:2.0"), "\(text)")
        #expect(text.contains("Trigger: aborted by a user"), "\(text)")

        let slack = try #require(got.first { $0.path == "/slack/chat.postMessage" })
        #expect(slack.header("authorization") == "Bearer xoxb-s3cret")
        let slackBody = try JSONDecoder().decode(JSONValue.self, from: Data(slack.body))
        #expect(slackBody["channel"] == "#deploys")
        #expect(slackBody["blocks"]?.item(0)?["type"] == "section")
        #expect(slackBody["text"]?.stringValue?.contains("ABORTED") == true)

        let teams = try #require(got.first { $0.path == "/teams" })
        let teamsBody = try JSONDecoder().decode(JSONValue.self, from: Data(teams.body))
        #expect(teamsBody["@type"] == "MessageCard")
        #expect(teamsBody["text"]?.stringValue?.contains("started an update") == true)
        for r in got { #expect(!r.bodyText.contains("s3cret"), "a secret in a body: \(r.path)") }

        // A second occurrence is a second message; the Secret's new value applies without a restart.
        try await writeConfig(config, secret: ["hook-token": "n3w-hook", "slack-token": "xoxb-s3cret"], namespace: p.namespace, client: client)
        try await Task.sleep(for: .seconds(1))
        _ = try await client.perform(.retry, on: "web", namespace: p.namespace)
        try await p.wait("paused again") { $0.status?.phase == .Paused && $0.status?.abort != true }
        try await p.abort()
        let more = await receiver.waitFor(count: 5, timeout: .seconds(30))
        let hooks = more.filter { $0.path == "/hook" }
        #expect(hooks.count == 2)
        #expect(hooks.last?.header("authorization") == "Bearer n3w-hook")
        await TestCluster.deleteNamespace(p.namespace, client: client)
    }

    @Test func aHangingOrFailingReceiverNeverSlowsTheRollout() async throws {
        let client = try TestCluster.client()
        let hanging = try RecordingReceiver(script: .hang)
        let failing = try RecordingReceiver(script: .always(500))
        defer { hanging.stop(); failing.stop() }
        let config = [
            "service.webhook.hang": "url: \(hanging.url("/hang"))\n",
            "service.webhook.fail": "url: \(failing.url("/fail"))\nbasicAuth:\n  username: aviary\n  password: $password\n",
        ]
        let (p, controller) = try await setUp("notify-slow", client: client, annotations: [
            "notifications.aviary.dev/subscribe.on-rollout-step-completed.hang": "",
            "notifications.aviary.dev/subscribe.on-rollout-updated.hang": "",
            "notifications.aviary.dev/subscribe.on-rollout-updated.fail": "",
        ], configMap: config, secret: ["password": "pa55-s3cret"])
        defer { controller.kill() }
        let started = ContinuousClock.now
        try await updateToPause(p, image: "registry.example/web:2.0")
        try await p.promote()
        try await p.wait("2.0 Healthy") { $0.status?.phase == .Healthy && $0.status?.stableRS == $0.status?.currentPodHash }
        // The update ran at its own pace while a receiver hung (each attempt waits up to 10 s, four
        // attempts): printed, not asserted, as the suite's other timings (a loaded machine is no measure).
        print("notification e2e: update to Healthy in \(ContinuousClock.now - started) with a hanging receiver (its four attempts take over 40 s)")
        #expect(await hanging.waitFor(count: 1, timeout: .seconds(10)).count >= 1)
        // The failing one: the first attempt and retryMax 3 retries (1 s, 2 s, 4 s apart), then a Warning event that names no secret.
        let attempts = await failing.waitFor(count: 4, timeout: .seconds(20))
        #expect(attempts.count == 4)
        try await eventually("a NotificationFailed event", timeout: .seconds(20)) {
            try await p.events().contains { $0.reason == "NotificationFailed" && $0.message.contains("HTTP 500") }
        }
        let failure = try await p.events().first { $0.reason == "NotificationFailed" }
        #expect(failure?.message.contains("after 4 attempts") == true, "\(failure?.message ?? "")")
        #expect(failure?.message.contains("pa55-s3cret") == false)
        try await Task.sleep(for: .seconds(2))
        #expect(failing.requests.count == 4, "one message, retried: \(failing.requests.count) requests")
        await TestCluster.deleteNamespace(p.namespace, client: client)
    }

    @Test func aControllerKilledAfterAnAbortSendsTheMessageExactlyOnce() async throws {
        let client = try TestCluster.client()
        // The first attempt fails, so the first controller is waiting to retry when it is killed.
        let receiver = try RecordingReceiver(script: .sequence([500], then: 200))
        defer { receiver.stop() }
        let (p, first) = try await setUp("notify-kill", client: client, annotations: [
            "notifications.aviary.dev/subscribe.on-rollout-aborted.receiver": "",
        ], configMap: ["service.webhook.receiver": "url: \(receiver.url("/hook"))\n"])
        defer { first.kill() }
        try await updateToPause(p, image: "registry.example/web:2.0")
        try await p.abort()
        _ = await receiver.waitFor(count: 1, timeout: .seconds(20))
        first.kill()
        #expect(try await p.rollout().status?.notifications?.pending?.count == 1, "still owed after the kill")

        let second = try ControllerProcess(namespace: p.namespace)
        defer { second.kill() }
        let got = await receiver.waitFor(count: 2, timeout: .seconds(20))
        #expect(got.count == 2)
        try await pendingIsEmpty(p)
        // Once recorded as sent, a third controller sends nothing again.
        second.kill()
        let third = try ControllerProcess(namespace: p.namespace)
        defer { third.kill() }
        try await Task.sleep(for: .seconds(4))
        let all = receiver.requests
        #expect(all.count == 2, "one failed attempt, one delivery: \(all.count)")
        #expect(all.filter { $0.bodyText.contains("ABORTED") }.count == 2)
        await TestCluster.deleteNamespace(p.namespace, client: client)
    }
}

extension NotificationE2ETests {
    /// Self-service: a team's own ConfigMap adds its services for its
    /// Rollouts, but a `$key` in it is looked up in the team's Secret only,
    /// never in the controller's.
    @Test func aTenantConfigurationCannotReachTheControllersSecret() async throws {
        let client = try TestCluster.client()
        let central = try RecordingReceiver(), tenant = try RecordingReceiver()
        defer { central.stop(); tenant.stop() }
        let global = try await TestCluster.namespace("notify-global", client: client)
        try await writeConfig(["service.webhook.central": "url: \(central.url("/central"))\nheaders:\n- name: X-Token\n  value: $token\n"],
                              secret: ["token": "gl0bal-s3cret"], namespace: global, client: client)
        try await TestCluster.installCRDs()
        let ns = try await TestCluster.namespace("notify-tenant", client: client)
        // The tenant names the controller's Secret key; its own Secret does not have it.
        try await writeConfig(["service.webhook.own": "url: \(tenant.url("/own"))\nheaders:\n- name: X-Token\n  value: $token\n",
                               "service.webhook.plain": "url: \(tenant.url("/plain"))\n"],
                              secret: ["other": "x"], namespace: ns, client: client)
        try await TestCluster.createExampleCanary(in: ns, client: client, annotations: [
            "notifications.aviary.dev/subscribe.on-rollout-updated.central": "",
            "notifications.aviary.dev/subscribe.on-rollout-updated.own": "",
            "notifications.aviary.dev/subscribe.on-rollout-updated.plain": "",
        ], steps: Self.steps)
        let controller = try ControllerProcess(namespace: ns, arguments: ["--leader-elect", "false", "--notifications-namespace", global,
                                                                          "--self-service-notifications", "true"])
        defer { controller.kill() }
        let p = RolloutProbe(client: client, namespace: ns, name: "web")
        try await p.wait("1.0 Healthy") { $0.status?.phase == .Healthy && $0.status?.availableReplicas == 2 }
        try await updateToPause(p, image: "registry.example/web:2.0")
        let fromCentral = await central.waitFor(count: 1, timeout: .seconds(20))
        let fromTenant = await tenant.waitFor(count: 1, timeout: .seconds(20))
        #expect(fromCentral.first?.header("x-token") == "gl0bal-s3cret")
        #expect(fromTenant.map(\.path) == ["/plain"], "only the tenant's service without a missing $key")
        #expect(!fromTenant.contains { $0.bodyText.contains("gl0bal") || ($0.header("x-token") ?? "").contains("gl0bal") })
        try await eventually("the tenant is told why its service is not used", timeout: .seconds(20)) {
            try await p.events().contains { $0.reason == "NotificationFailed" && $0.message.contains("no service.own") && $0.message.contains("$token is not a key") }
        }
        await TestCluster.deleteNamespace(ns, client: client)
        await TestCluster.deleteNamespace(global, client: client)
    }
}

/// deploy/base's notifications Role on a real API server: the controller's
/// ServiceAccount lists and watches the two objects by name (the field
/// selector the controller sends), and nothing else in the namespace.
@Suite struct NotificationRBACTests {
    @Test func theRoleReadsTheTwoObjectsByNameAndNothingElse() async throws {
        let client = try TestCluster.client()
        let ns = try await TestCluster.namespace("notify-rbac", client: client)
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        _ = try await TestCluster.kubectl("-n", ns, "create", "serviceaccount", "aviary-controller")
        _ = try await TestCluster.kubectl("-n", ns, "apply", "-f", root.appendingPathComponent("deploy/base/notifications-role.yaml").path)
        _ = try await TestCluster.kubectl("-n", ns, "create", "configmap", "aviary-notification-configmap", "--from-literal=defaultTriggers=[]")
        let who = "--as=system:serviceaccount:\(ns):aviary-controller"
        let base = "/api/v1/namespaces/\(ns)/configmaps"
        try await eventually("the Role in force") {
            (try? await TestCluster.kubectl("get", "--raw", "\(base)?fieldSelector=metadata.name%3Daviary-notification-configmap", who)) != nil
        }
        let watched = try await TestCluster.kubectl("get", "--raw", "\(base)?fieldSelector=metadata.name%3Daviary-notification-configmap&watch=1&timeoutSeconds=1", who)
        #expect(watched.contains("\"ADDED\""))
        await #expect(throws: (any Error).self) { _ = try await TestCluster.kubectl("get", "--raw", base, who) }
        await #expect(throws: (any Error).self) {
            _ = try await TestCluster.kubectl("get", "--raw", "/api/v1/namespaces/\(ns)/secrets?fieldSelector=metadata.name%3Dother", who)
        }
        await TestCluster.deleteNamespace(ns, client: client)
    }
}
