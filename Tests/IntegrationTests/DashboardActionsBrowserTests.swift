import AviaryAPI
import Dashboard
import Foundation
import Kube
import Logging
import Testing
import TestSupport

/// The page's action buttons (`--allow-actions`) in a real browser, against
/// canned answers: none without actions; each opens a confirmation that
/// says what will happen; confirming sends one POST with the CSRF token;
/// cancelling (button or Escape) sends nothing; the outcome is said in words.
@Suite(.serialized)
struct DashboardActionsBrowserTests {
    static let csrf = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

    /// The detail page of shop/web with its content drawn.
    static func openWeb(_ server: CannedDashboard, _ web: WebDriver) async throws {
        try await web.navigate(server.url + "/#/shop/web")
        _ = try await web.wait("the steps") { try await web.findAll("ol.steps li.current").isEmpty ? nil : true }
    }

    static func buttons(_ web: WebDriver) async throws -> [String] {
        try await web.wait("the action buttons") {
            let labels = try await DashboardBrowserTests.texts(web, "#actions button[data-verb]")
            return labels.isEmpty ? nil : labels
        }
    }

    static func dialogOpen(_ web: WebDriver) async throws -> Bool {
        try await web.execute("const d = document.getElementById('confirm'); return !!(d && d.open)") as? Bool ?? false
    }

    @Test func noButtonsWithoutActions() async throws {
        try await DashboardBrowserTests.withPage { server, web in
            try await Self.openWeb(server, web)
            _ = try await web.wait("the session read") {
                try await web.execute("return document.documentElement.getAttribute('data-actions')") as? String == "off" ? true : nil
            }
            try await Task.sleep(for: .milliseconds(200))
            #expect(try await web.findAll("#actions").isEmpty)
            #expect(try await web.findAll("button[data-verb], dialog").isEmpty)
            #expect(server.requests.contains("/api/session"))
        }
    }

    @Test func confirmingSendsOnePostWithTheToken() async throws {
        try await DashboardBrowserTests.withPage { server, web in
            server.setSession(["actions": true, "csrf": Self.csrf])
            try await Self.openWeb(server, web)
            #expect(try await Self.buttons(web) == ["Promote", "Promote full", "Abort", "Retry", "Undo", "Restart", "Set image…"])
            try await web.click(web.find("#actions button[data-verb=promote]"))
            _ = try await web.wait("the dialog") { try await Self.dialogOpen(web) ? true : nil }
            #expect(try await web.text(web.find("#confirm h2")) == "Promote shop/web?")
            #expect(try await web.text(web.find("#confirm-d")).hasPrefix("Promote ends the current pause: the update goes on to its next step."))
            // Focus is inside the dialog (on Cancel, so a stray Enter sends nothing).
            #expect(try await web.execute("const a = document.activeElement; return a.closest('dialog') ? a.textContent : null") as? String == "Cancel")
            #expect(server.posts.isEmpty)
            try await web.click(web.find("#confirm button[data-role=confirm]"))
            let post = try await web.wait("the POST") { server.posts.first }
            #expect(post.path == "/api/rollouts/shop/web/actions/promote")
            #expect(post.headers["x-aviary-csrf"] == Self.csrf)
            #expect(post.headers["content-type"] == "application/json")
            #expect(post.body == "{}")
            let result = try await web.wait("the outcome") {
                let t = try await web.text(web.find("#action-result"))
                return t.contains("promoted") ? t : nil
            }
            #expect(result == "✔ shop/web: promoted.")
            #expect(try await web.attribute(web.find("#action-result"), "role") == "status")
            #expect(!(try await Self.dialogOpen(web)))
            // Focus goes back to the button that opened the dialog.
            #expect(try await web.execute("return document.activeElement.getAttribute('data-verb')") as? String == "promote")
            #expect(server.posts.count == 1)
        }
    }

    @Test func cancelAndEscapeSendNothing() async throws {
        try await DashboardBrowserTests.withPage { server, web in
            server.setSession(["actions": true, "csrf": Self.csrf])
            try await Self.openWeb(server, web)
            _ = try await Self.buttons(web)
            try await web.click(web.find("#actions button[data-verb=abort]"))
            _ = try await web.wait("the abort dialog") { try await Self.dialogOpen(web) ? true : nil }
            #expect(try await web.text(web.find("#confirm-d")).contains("traffic goes back to the stable version"))
            try await web.click(web.find("#confirm button[data-role=cancel]"))
            _ = try await web.wait("the dialog closed") { try await Self.dialogOpen(web) ? nil : true }
            try await web.click(web.find("#actions button[data-verb=restart]"))
            _ = try await web.wait("the restart dialog") { try await Self.dialogOpen(web) ? true : nil }
            try await web.press(WebDriver.Key.escape)
            _ = try await web.wait("Escape closed it") { try await Self.dialogOpen(web) ? nil : true }
            #expect(try await web.execute("return document.activeElement.getAttribute('data-verb')") as? String == "restart")
            try await Task.sleep(for: .milliseconds(300))
            #expect(server.posts.isEmpty)
            #expect(try await web.text(web.find("#action-result")).isEmpty)
        }
    }

    @Test func setImageAndUndoSendTheirFieldsAndARefusalIsSaid() async throws {
        try await DashboardBrowserTests.withPage { server, web in
            server.setSession(["actions": true, "csrf": Self.csrf])
            let refusal = "could not set the image of shop/web: the API server refused (403 Forbidden): User \"ann\" cannot patch resource \"rollouts\""
            server.setPostAnswer("403 Forbidden", ["error": refusal])
            try await Self.openWeb(server, web)
            _ = try await Self.buttons(web)
            try await web.click(web.find("#actions button[data-verb=set-image]"))
            _ = try await web.wait("the set-image dialog") { try await Self.dialogOpen(web) ? true : nil }
            #expect(try await web.execute("return document.activeElement.id") as? String == "confirm-container")
            // Empty fields: said in the dialog, nothing sent.
            try await web.click(web.find("#confirm button[data-role=confirm]"))
            #expect(try await web.text(web.find("#confirm .error-text")) == "Give both the container's name and the new image.")
            #expect(try await Self.dialogOpen(web))
            try await web.sendKeys(web.find("#confirm-container"), "web")
            try await web.sendKeys(web.find("#confirm-image"), "registry.example/web:3.0" + WebDriver.Key.enter)
            let post = try await web.wait("the POST") { server.posts.first }
            #expect(post.path == "/api/rollouts/shop/web/actions/set-image")
            let body = try JSONSerialization.jsonObject(with: Data(post.body.utf8)) as? NSDictionary
            #expect(body == ["container": "web", "image": "registry.example/web:3.0"])
            let said = try await web.wait("the refusal") {
                let t = try await web.text(web.find("#action-result"))
                return t.hasPrefix("✖") ? t : nil
            }
            #expect(said == "✖ Not done: " + refusal + ".")

            // Undo to a chosen revision.
            server.setPostAnswer("200 OK", ["ok": true, "message": "rolled back to revision 1"])
            try await web.click(web.find("#actions button[data-verb=undo]"))
            _ = try await web.wait("the undo dialog") { try await Self.dialogOpen(web) ? true : nil }
            #expect(try await DashboardBrowserTests.texts(web, "#confirm-revision option") == ["The revision before the current one", "Revision 1"])
            _ = try await web.execute("const s = document.getElementById('confirm-revision'); s.value = '1'; return true")
            try await web.click(web.find("#confirm button[data-role=confirm]"))
            let undo = try await web.wait("the undo POST") { server.posts.count == 2 ? server.posts[1] : nil }
            #expect(undo.path == "/api/rollouts/shop/web/actions/undo" && undo.body == #"{"revision":1}"#)
            let done = try await web.wait("the outcome") {
                let t = try await web.text(web.find("#action-result"))
                return t.hasPrefix("✔") ? t : nil
            }
            #expect(done == "✔ shop/web: rolled back to revision 1.")
            // The 403 is the test's point; the browser logs it, so clear the log before the common check.
            _ = try await web.browserLog()
        }
    }
}

/// Actions from the page against the real thing: the dashboard's server with
/// `--allow-actions` (acting with the test's kubeconfig), the controller, the
/// local control plane. Promote a paused canary and see it finish; abort the next one.
@Suite(.serialized)
struct DashboardActionsE2ETests {
    @Test func promoteAndAbortFromThePage() async throws {
        let client = try TestCluster.client()
        try await TestCluster.installCRDs()
        let ns = try await TestCluster.namespace("dashboard-actions", client: client)
        try await TestCluster.createExampleCanary(in: ns, client: client, steps: [["setWeight": 50], ["pause": [:]]])
        let controller = try ControllerProcess(namespace: ns)
        defer { controller.kill() }
        let probe = RolloutProbe(client: client, namespace: ns, name: "web")
        try await probe.wait("1.0 Healthy") { $0.status?.phase == .Healthy && $0.status?.availableReplicas == 2 }

        var options = DashboardServer.Options(address: "127.0.0.1", port: 0)
        options.actions = DashboardActions { _ in client }
        let dashboard = try await InProcessDashboard.start(client: client, namespace: ns, options: options)
        defer { dashboard.stop() }
        let port = dashboard.port

        let web = try await DashboardBrowserTests.browser()
        func act(_ verb: String) async throws {
            // The live stream re-draws the page at any moment, so a button found may be stale by the click: find and click again.
            _ = try await web.wait("the \(verb) button clicked") { try await web.click(web.find("#actions button[data-verb=\(verb)]")); return true }
            _ = try await web.wait("the \(verb) dialog") { try await DashboardActionsBrowserTests.dialogOpen(web) ? true : nil }
            try await web.click(web.find("#confirm button[data-role=confirm]"))
        }
        do {
            try await web.navigate("http://127.0.0.1:\(port)/#/\(ns)/web")
            _ = try await web.wait("the rollout's page", timeout: .seconds(10)) { try await web.findAll("ol.steps li").count == 2 ? true : nil }
            _ = try await DashboardActionsBrowserTests.buttons(web)

            // 2.0 pauses at 50 %; Promote on the page, and it goes on to Healthy.
            try await probe.setImage("registry.example/web:2.0")
            try await probe.wait("paused at 50 %", timeout: .seconds(30)) { $0.status?.phase == .Paused && $0.status?.currentStepIndex == 1 }
            _ = try await web.wait("the pause on the page", timeout: .seconds(5)) {
                try await DashboardBrowserTests.texts(web, "ol.steps li.current").first.flatMap { $0.contains("pause") ? true : nil }
            }
            try await act("promote")
            let promoted = try await web.wait("the outcome", timeout: .seconds(10)) {
                let t = try await web.text(web.find("#action-result"))
                return t.hasPrefix("✔") || t.hasPrefix("✖") ? t : nil
            }
            #expect(promoted == "✔ \(ns)/web: promoted.")
            try await probe.wait("2.0 Healthy after the promote", timeout: .seconds(60)) {
                $0.status?.phase == .Healthy && $0.status?.currentStepIndex == 2 && $0.status?.stableRS == $0.status?.currentPodHash
            }
            let healthy = try await web.wait("Healthy on the page", timeout: .seconds(10)) {
                try await web.text(web.find("#summary")).contains("✔ Healthy") ? true : nil
            }
            #expect(healthy)

            // 3.0 pauses; Abort on the page: aborted, Degraded, the report.
            try await probe.setImage("registry.example/web:3.0")
            try await probe.wait("3.0 paused at 50 %", timeout: .seconds(30)) { $0.status?.phase == .Paused && $0.status?.currentStepIndex == 1 }
            _ = try await web.wait("the new pause on the page", timeout: .seconds(5)) {
                try await web.text(web.find("#summary")).contains("‖ Paused") ? true : nil
            }
            try await act("abort")
            let aborted = try await web.wait("the abort's outcome", timeout: .seconds(10)) {
                let t = try await web.text(web.find("#action-result"))
                return t.contains("abort") || t.hasPrefix("✖") ? t : nil
            }
            #expect(aborted == "✔ \(ns)/web: aborted.")
            try await probe.wait("aborted", timeout: .seconds(30)) { $0.status?.abort == true && $0.status?.phase == .Degraded }
            let report = try await web.wait("the report", timeout: .seconds(15)) {
                try await web.findAll("#report").isEmpty ? nil : try await web.text(web.find("#report"))
            }
            #expect(report.contains("✖ Aborted"))
            let severe = try await web.browserLog().filter { $0.level == "SEVERE" }
            #expect(severe.isEmpty, "the page logged errors: \(severe.map(\.message))")
        } catch {
            let shot = NSTemporaryDirectory() + "aviary-dashboard-actions-failure-\(UUID().uuidString.prefix(6)).png"
            try? await web.screenshot(to: shot)
            await web.quit()
            await TestCluster.deleteNamespace(ns, client: client)
            throw WebDriver.Failure("\(error) (screenshot: \(shot))")
        }
        await web.quit()
        await TestCluster.deleteNamespace(ns, client: client)
    }

    /// A user RBAC does not allow: the real API server's refusal comes back in words, and nothing is written.
    @Test func anRBACRefusalIsSaidInWords() async throws {
        let client = try TestCluster.client()
        try await TestCluster.installCRDs()
        let ns = try await TestCluster.namespace("dashboard-forbidden", client: client)
        try await TestCluster.createExampleCanary(in: ns, client: client, steps: [["pause": [:]]])
        var options = DashboardServer.Options(address: "127.0.0.1", port: 0)
        let csrf = CSRFGuard()
        // As "ann", who has no role anywhere: the API server decides, as it would for her own kubeconfig.
        let ann = try client.impersonating(user: "ann", groups: ["system:authenticated"])
        options.actions = DashboardActions(csrf: csrf) { _ in ann }
        let dashboard = try await InProcessDashboard.start(client: client, namespace: ns, options: options)
        defer { dashboard.stop() }
        let port = dashboard.port
        let r = try await RawHTTP.request(port: port, "/api/rollouts/\(ns)/web/actions/abort", method: "POST",
                                          headers: ["X-Aviary-CSRF": csrf.token, "Content-Type": "application/json"])
        #expect(r.status == 403)
        let error = (try JSONSerialization.jsonObject(with: Data(r.body.utf8)) as? [String: Any])?["error"] as? String ?? ""
        #expect(error.hasPrefix("could not abort \(ns)/web: the API server refused (403 Forbidden): "), "\(error)")
        #expect(error.contains("User \"ann\" cannot get resource \"rollouts\""), "\(error)")
        let after: Rollout = try await client.get(Rollout.resource, "web", namespace: ns)
        #expect(after.status?.abort != true)
        await TestCluster.deleteNamespace(ns, client: client)
    }
}
