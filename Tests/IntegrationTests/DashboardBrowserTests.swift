import AviaryAPI
import Dashboard
import Foundation
import Kube
import Logging
import Testing
import TestSupport

/// The dashboard's page in a real browser: Debian's chromium, headless,
/// driven over WebDriver by chromedriver. The page is served with canned
/// answers in the server's JSON shapes (`CannedDashboard`), so what is tested
/// here is the page: rendering, sorting, filters, keyboard, the chart,
/// hostile strings, live updates and reconnecting. Without chromium and
/// chromedriver these tests fail, naming what to install; they never skip.
@Suite(.serialized)
struct DashboardBrowserTests {
    // MARK: Canned data, in the server's shapes (RolloutRow, RolloutSummary, RunMetric)

    static let hostile = "<img src=x onerror=alert(1)>"

    static func row(_ ns: String, _ name: String, _ phase: String, attention: Int, step: Int? = 2, weight: Int? = 20) -> [String: Any] {
        var r: [String: Any] = [
            "namespace": ns, "name": name, "labels": ["app": name], "strategy": "Canary", "phase": phase, "icon": "",
            "images": ["registry.example/\(name):2.0"], "ready": 4, "desired": 5, "updated": 1, "available": 4,
            "attention": attention, "createdAt": ISO8601DateFormatter().string(from: Date().addingTimeInterval(-3_725)),
        ]
        if let step { r["step"] = step; r["stepCount"] = 5 }
        if let weight { r["setWeight"] = weight; r["actualWeight"] = weight }
        return r
    }

    /// The server's order would be attention first; these come shuffled so the page's own ordering shows.
    static var rows: [[String: Any]] { [
        row("shop", "cart", "Healthy", attention: 3, step: 5, weight: 100),
        row("shop", "web", "Paused", attention: 0),
        row("pay", "api", "Degraded", attention: 1, weight: 0),
        row("shop", hostile, "Progressing", attention: 2),
    ] }

    static func time(_ secondsAgo: Double) -> String {
        ISO8601DateFormatter().string(from: Date().addingTimeInterval(-secondsAgo))
    }

    static func measurement(_ phase: String, _ value: String?, _ number: Double?, ago: Double, message: String? = nil) -> [String: Any] {
        var m: [String: Any] = ["phase": phase, "startedAt": time(ago), "finishedAt": time(ago - 1)]
        if let value { m["value"] = value }
        if let number { m["number"] = number }
        if let message { m["message"] = message }
        return m
    }

    /// shop/web paused at step `current` (1-based) of 5, with an analysis run whose success-rate failed once.
    static func webDetail(current: Int, extraMeasurement: Bool = false) -> [String: Any] {
        let texts = ["setWeight 20", "analysis success-rate, p95-latency", "setWeight 60", "pause 10s", "setWeight 80"]
        let steps: [[String: Any]] = texts.enumerated().map { i, t in
            var s: [String: Any] = ["index": i + 1, "kind": t.split(separator: " ")[0], "text": t,
                                    "state": i + 1 < current ? "done" : i + 1 == current ? "current" : "pending"]
            if i + 1 == current { s["waitingFor"] = i == 1 ? "analysis run web-5896dfff4b-1 (Running)" : "10s (until 12:00:10)" }
            return s
        }
        var measurements = [
            measurement("Successful", "[0.97]", 0.97, ago: 40),
            measurement("Successful", "[0.96]", 0.96, ago: 30),
            measurement("Failed", "[0.7]", 0.7, ago: 20),
            measurement("Error", nil, nil, ago: 10, message: "Prometheus not reachable at http://127.0.0.1:9/"),
        ]
        if extraMeasurement { measurements.append(measurement("Successful", "[0.99]", 0.99, ago: 1)) }
        let successRate: [String: Any] = [
            "name": "success-rate", "phase": "Running",
            "successCondition": "len(result) == 0 || result[0] >= 0.95",
            "thresholds": [["condition": "success", "operator": ">=", "value": 0.95]],
            "count": measurements.count, "successful": 2, "failed": 1, "inconclusive": 0, "error": 1, "dryRun": false,
            "measurements": measurements,
        ]
        let latency: [String: Any] = [
            "name": "p95-latency", "phase": "Successful",
            "successCondition": "result[0] > 0 && result[0] < 0.5",
            "thresholds": [["condition": "success", "operator": ">", "value": 0.0], ["condition": "success", "operator": "<", "value": 0.5]],
            "count": 2, "successful": 2, "failed": 0, "inconclusive": 0, "error": 0, "dryRun": false,
            "measurements": [measurement("Successful", "[0.047]", 0.047, ago: 30), measurement("Successful", "[0.048]", 0.048, ago: 20)],
        ]
        let summary: [String: Any] = [
            "name": "web", "namespace": "shop", "createdAt": time(3_600), "phase": "Paused", "icon": "⏸",
            "message": "CanaryPauseStep", "strategy": "Canary", "traffic": "replica split", "routed": false,
            "step": current, "stepCount": 5, "setWeight": current >= 3 ? 60 : 20, "actualWeight": current >= 3 ? 60 : 20,
            "routes": [String](), "paused": true, "aborted": false,
            "images": [["image": "registry.example/web:2.0", "role": "canary"], ["image": "registry.example/web:1.0", "role": "stable"]],
            "replicas": ["desired": 5, "current": 6, "updated": 1, "ready": 6, "available": 6],
            "steps": steps,
            "revisions": [
                ["revision": 2, "analysisRuns": ["web-5896dfff4b-1"], "replicaSets": [[
                    "name": "web-5896dfff4b", "role": "canary", "phase": "Healthy", "icon": "✔", "desired": 1, "ready": 1, "available": 1,
                    "images": ["registry.example/web:2.0"],
                    "pods": [["name": "web-5896dfff4b-x1", "phase": "Running", "icon": "✔", "ready": true]],
                ] as [String: Any]]] as [String: Any],
                ["revision": 1, "analysisRuns": [String](), "replicaSets": [[
                    "name": "web-5b8675f4cd", "role": "stable", "phase": "Healthy", "icon": "✔", "desired": 5, "ready": 4, "available": 4,
                    "images": ["registry.example/web:1.0"],
                    "pods": [["name": "web-5b8675f4cd-a", "phase": "Running", "icon": "✔", "ready": true],
                             ["name": "web-5b8675f4cd-b", "phase": "Pending", "icon": "◌", "ready": false]],
                ] as [String: Any]]] as [String: Any],
            ],
            "analysisRuns": [[
                "name": "web-5896dfff4b-1", "phase": "Running", "icon": "◌", "slot": "step 2",
                "message": "success-rate: [0.7] did not satisfy len(result) == 0 || result[0] >= 0.95",
                "counts": ["successful": 4, "failed": 1, "inconclusive": 0, "error": 1],
                "metrics": [successRate, latency],
            ] as [String: Any]],
            "conditions": [[String: Any]](),
        ]
        let events: [[String: Any]] = [
            ["time": time(50), "type": "Normal", "reason": "RolloutStepCompleted", "message": "Rollout step 1/5 completed (setWeight 20)"],
            ["time": time(100), "type": "Normal", "reason": "RolloutUpdated", "message": "Rollout updated to a new template"],
            ["time": time(20), "type": "Warning", "reason": "AnalysisRunFailed", "message": "<b>not bold</b>"],
        ]
        return ["summary": summary, "events": events, "report": NSNull()]
    }

    static func hostileDetail() -> [String: Any] {
        var d = webDetail(current: 1)
        var s = d["summary"] as! [String: Any]
        s["name"] = hostile
        s["message"] = "<script>alert(2)</script>"
        s["steps"] = [["index": 1, "kind": "pause", "text": "<svg onload=alert(3)>", "state": "current", "waitingFor": "<iframe src=javascript:alert(4)>"]]
        d["summary"] = s
        return d
    }

    static func server() throws -> CannedDashboard {
        let s = try CannedDashboard()
        s.setList(rows, namespaces: ["pay", "shop"])
        s.setDetail("shop", "web", webDetail(current: 2))
        s.setDetail("shop", hostile, hostileDetail())
        return s
    }

    // MARK: Helpers

    static func browser(width: Int = 1280, height: Int = 900) async throws -> WebDriver {
        do {
            return try await WebDriver.start(width: width, height: height)
        } catch {
            throw WebDriver.Failure("the browser tests need Debian's chromium and chromium-driver: \(error)")
        }
    }

    /// Runs `body` with a server and a browser, then checks the page logged no errors (a CSP violation, a script error, a 404).
    static func withPage(width: Int = 1280, _ body: (CannedDashboard, WebDriver) async throws -> Void) async throws {
        let server = try server()
        defer { server.stop() }
        let web = try await browser(width: width)
        do {
            try await body(server, web)
            let severe = try await web.browserLog().filter { $0.level == "SEVERE" }
            #expect(severe.isEmpty, "the page logged errors: \(severe.map(\.message))")
        } catch {
            let shot = NSTemporaryDirectory() + "aviary-dashboard-failure-\(UUID().uuidString.prefix(6)).png"
            try? await web.screenshot(to: shot)
            await web.quit()
            throw WebDriver.Failure("\(error) (screenshot: \(shot))")
        }
        await web.quit()
    }

    static func texts(_ web: WebDriver, _ css: String) async throws -> [String] {
        var out: [String] = []
        for e in try await web.findAll(css) { out.append(try await web.text(e)) }
        return out
    }

    static func waitForRows(_ web: WebDriver, count: Int) async throws -> [String] {
        try await web.wait("\(count) rows in the rollout table") {
            let names = try await texts(web, "#rollouts tbody td.name")
            return names.count == count ? names : nil
        }
    }

    // MARK: Tests

    @Test func listShowsEveryColumnAttentionFirst() async throws {
        try await Self.withPage { server, web in
            try await web.navigate(server.url + "/")
            let names = try await Self.waitForRows(web, count: 4)
            #expect(names == ["web", "api", Self.hostile, "cart"])
            let statuses = try await Self.texts(web, "#rollouts tbody td.status")
            // Status as an icon and a word, never by colour alone.
            #expect(statuses == ["‖ Paused", "✖ Degraded", "⟳ Progressing", "✔ Healthy"])
            let first = try await web.findAll("#rollouts tbody tr").first!
            let cells = try await web.findAll("td", in: first)
            var row: [String] = []
            for c in cells { row.append(try await web.text(c)) }
            #expect(row == ["‖ Paused", "shop", "web", "Canary", "2/5", "20% / 20%", "registry.example/web:2.0", "4/5", "1h2m"])
            let live = try await web.wait("the live stream") { try await web.attribute(web.find("#live"), "data-state") == "live" ? true : nil }
            #expect(live)
        }
    }

    @Test func filterByPhaseAsksTheServerAndKeepsTheAddress() async throws {
        try await Self.withPage { server, web in
            try await web.navigate(server.url + "/")
            _ = try await Self.waitForRows(web, count: 4)
            let select = try await web.find("#f-phase")
            try await web.click(select)
            try await web.sendKeys(select, "Degraded")
            try await web.press(WebDriver.Key.enter) // closes the open list, which commits the choice
            let names = try await Self.waitForRows(web, count: 1)
            #expect(names == ["api"])
            #expect(try await web.currentURL().hasSuffix("#/?phase=Degraded"))
            #expect(server.requests.contains("/api/rollouts?phase=Degraded"))
            // The address alone brings the filter back (a bookmark, a reload).
            try await web.navigate(server.url + "/#/?namespace=shop")
            let shop = try await Self.waitForRows(web, count: 3)
            #expect(Set(shop) == ["web", Self.hostile, "cart"])
            #expect(try await web.execute("return document.getElementById('f-namespace').value") as? String == "shop")
        }
    }

    @Test func keyboardAloneOpensARollout() async throws {
        try await Self.withPage { server, web in
            try await web.navigate(server.url + "/")
            _ = try await Self.waitForRows(web, count: 4)
            var reached = false
            for _ in 0..<40 {
                try await web.press(WebDriver.Key.tab)
                let focused = try await web.execute("const a = document.activeElement; return a && a.tagName === 'A' ? a.textContent : ''") as? String
                if focused == "web" { reached = true; break }
            }
            #expect(reached, "Tab never reached the link to shop/web")
            try await web.press(WebDriver.Key.enter)
            let heading = try await web.wait("the rollout's page") {
                let h = try await web.text(web.find("h1"))
                return h.contains("web") ? h : nil
            }
            #expect(heading == "shop / web")
            #expect(try await web.currentURL().hasSuffix("#/shop/web"))
            // Focus moves to the heading, so a screen reader starts at the new page.
            #expect(try await web.execute("return document.activeElement.tagName") as? String == "H1")
            // The focus ring is visible (outline) on a focused link.
            try await web.press(WebDriver.Key.tab)
            let outline = try await web.execute("return getComputedStyle(document.activeElement).outlineStyle") as? String
            #expect(outline != "none")
        }
    }

    @Test func detailShowsStepsTrafficTreeChartAndEvents() async throws {
        try await Self.withPage { server, web in
            try await web.navigate(server.url + "/#/shop/web")
            let current = try await web.wait("the steps") { try await Self.texts(web, "ol.steps li.current").first }
            #expect(current.contains("▶ current"))
            #expect(current.contains("analysis success-rate, p95-latency"))
            #expect(current.contains("Waiting for: analysis run web-5896dfff4b-1 (Running)"))
            #expect(try await web.findAll("ol.steps li[aria-current=step]").count == 1)
            #expect(try await Self.texts(web, "ol.steps li.done").count == 1)
            let traffic = try await web.text(web.find("#traffic")).split(whereSeparator: \.isWhitespace).joined(separator: " ")
            #expect(traffic.contains("Canary, set 20%") && traffic.contains("Stable, actual 80%"))
            let tree = try await web.text(web.find("#revisions"))
            #expect(tree.contains("ReplicaSet web-5b8675f4cd (stable)"))
            #expect(tree.contains("✖ Not ready web-5b8675f4cd-b"))

            // The chart: the success condition as a threshold line at 0.95, the failure as a cross, the error as a triangle.
            let charts = try await web.findAll("svg.chart")
            #expect(charts.count == 2)
            let line = try await web.findAll("svg.chart line.threshold-success", in: try await web.find("#analysis"))
            #expect(line.count == 1)
            let geometry = try await web.execute("""
                const svg = document.querySelector('svg.chart');
                const line = svg.querySelector('line.threshold-success');
                const pts = Array.from(svg.querySelectorAll('g.pt')).map(g => ({
                  phase: g.getAttribute('data-phase'), shape: g.firstChild.tagName, y: g.transform.baseVal[0].matrix.f }));
                return { y: Number(line.getAttribute('y1')), pts };
                """) as? [String: Any]
            let points = geometry?["pts"] as? [[String: Any]] ?? []
            #expect(points.map { $0["phase"] as? String } == ["successful", "successful", "failed", "error"])
            #expect(points.map { $0["shape"] as? String } == ["circle", "circle", "path", "path"])
            let y = geometry?["y"] as? Double ?? 0
            let ys = points.compactMap { $0["y"] as? Double }
            // Higher values are drawn higher: 0.97 and 0.96 above the 0.95 line, the failed 0.7 below it.
            #expect(ys.count == 4 && ys[0] < y && ys[1] < y && ys[2] > y)
            let label = try await web.text(web.find("svg.chart text.threshold-label"))
            #expect(label == "success: result >= 0.95")
            let analysis = try await web.text(web.find("#analysis"))
            #expect(analysis.contains("Decided by: success-rate: [0.7] did not satisfy"))
            #expect(analysis.contains("failed (1)") && analysis.contains("error (1)"))
            // A condition that is not a single comparison gets no line, and says why.
            #expect(analysis.contains("No success line: result[0] > 0 && result[0] < 0.5 is more than one comparison with a number."))
            #expect(try await web.findAll("svg.chart")[1...].count == 1)
            #expect(try await web.execute("return document.querySelectorAll('svg.chart')[1].querySelectorAll('line.threshold').length") as? Int == 0)

            if let dir = ProcessInfo.processInfo.environment["AVIARY_DASHBOARD_SCREENSHOTS"] {
                try await web.execute("document.getElementById('analysis').scrollIntoView()")
                try await web.screenshot(to: dir + "/dashboard-analysis.png")
            }
            // Events in time order, whatever order they came in; markup in them is text.
            let reasons = try await Self.texts(web, "#events tbody td:nth-child(3)")
            #expect(reasons == ["RolloutUpdated", "RolloutStepCompleted", "AnalysisRunFailed"])
            #expect(try await Self.texts(web, "#events tbody td.message").last == "<b>not bold</b>")
            #expect(try await web.findAll("#events b").isEmpty)
        }
    }

    @Test func hostileNamesAreText() async throws {
        try await Self.withPage { server, web in
            try await web.navigate(server.url + "/")
            _ = try await Self.waitForRows(web, count: 4)
            #expect(try await web.findAll("main img").isEmpty)
            let link = try await web.find("#rollouts tbody tr:nth-child(3) td.name a")
            #expect(try await web.text(link) == Self.hostile)
            try await web.click(link)
            let heading = try await web.wait("the hostile rollout's page") {
                let h = try await web.text(web.find("h1"))
                return h.contains("img") ? h : nil
            }
            #expect(heading == "shop / " + Self.hostile)
            let page = try await web.text(web.find("main"))
            #expect(page.contains("<script>alert(2)</script>"))
            #expect(page.contains("<svg onload=alert(3)>"))
            #expect(page.contains("Waiting for: <iframe src=javascript:alert(4)>"))
            let injected = try await web.execute("return document.querySelectorAll('main img, main script, main iframe, ol.steps svg').length") as? Int
            #expect(injected == 0)
            #expect(await web.alertText() == nil)
            #expect(try await web.execute("return document.title") as? String == "Aviary: shop/" + Self.hostile)
        }
    }

    @Test func aChangeEventRefreshesTheRolloutWithinASecond() async throws {
        try await Self.withPage { server, web in
            try await web.navigate(server.url + "/#/shop/web")
            _ = try await web.wait("step 2 current") { try await Self.texts(web, "ol.steps li.current").first?.contains("analysis") == true ? true : nil }
            _ = try await web.wait("the live stream") { server.streamCount > 0 ? true : nil }
            // Open the measurements table: a refresh keeps it open.
            try await web.click(web.find("#analysis details summary"))
            server.setDetail("shop", "web", Self.webDetail(current: 3, extraMeasurement: true))
            let clock = ContinuousClock()
            let start = clock.now
            server.changed("shop", "web")
            // How fast is printed, not asserted (a loaded CI machine is no benchmark); that it follows without a reload is.
            let current = try await web.wait("step 3 current", timeout: .seconds(10), every: .milliseconds(20)) {
                try await Self.texts(web, "ol.steps li.current").first.flatMap { $0.contains("setWeight 60") ? $0 : nil }
            }
            print("dashboard page: a changed event to the new step on screen in \(clock.now - start)")
            #expect(current.contains("▶ current"))
            #expect(try await web.execute("return document.querySelector('svg.chart').querySelectorAll('g.pt').length") as? Int == 5)
            #expect(try await web.execute("return document.querySelector('#analysis details').open") as? Bool == true)
            // A change to another rollout does not refetch this one.
            let before = server.requests.count
            server.changed("pay", "api")
            try await Task.sleep(for: .milliseconds(400))
            #expect(server.requests.count == before)
        }
    }

    @Test func aDroppedStreamShowsReconnectingAndCatchesUp() async throws {
        try await Self.withPage { server, web in
            try await web.navigate(server.url + "/#/shop/web")
            _ = try await web.wait("the live stream") { try await web.attribute(web.find("#live"), "data-state") == "live" ? true : nil }
            server.setStreamDown(true)
            let words = try await web.wait("the reconnecting state", timeout: .seconds(10)) {
                let live = try await web.find("#live")
                return try await web.attribute(live, "data-state") == "reconnecting" ? try await web.text(live) : nil
            }
            #expect(words.hasPrefix("⟳ Reconnecting…"))
            // Changed while the stream was down: no event arrives, the page catches up on reconnecting.
            server.setDetail("shop", "web", Self.webDetail(current: 4))
            try await Task.sleep(for: .seconds(1))
            server.setStreamDown(false)
            _ = try await web.wait("the stream back", timeout: .seconds(8)) { try await web.attribute(web.find("#live"), "data-state") == "live" ? true : nil }
            let current = try await web.wait("the missed change", timeout: .seconds(10)) {
                try await Self.texts(web, "ol.steps li.current").first.flatMap { $0.contains("pause 10s") ? $0 : nil }
            }
            #expect(current.contains("Waiting for: 10s"))
        }
    }

    /// 200 % zoom on a 1280-pixel screen is a 640-pixel-wide page: nothing may need sideways scrolling but the tables' own.
    @Test func readableAtTwoHundredPercent() async throws {
        try await Self.withPage(width: 640) { server, web in
            for path in ["/", "/#/shop/web"] {
                try await web.navigate(server.url + path)
                _ = try await web.wait("content on \(path)") { try await web.findAll(path == "/" ? "#rollouts" : "svg.chart").isEmpty ? nil : true }
                let overflow = try await web.execute("return document.documentElement.scrollWidth - document.documentElement.clientWidth") as? Int
                #expect(overflow == 0, "\(path) scrolls sideways by \(overflow ?? -1)px at 640px")
            }
        }
    }

    @Test func aMissingRolloutSaysSo() async throws {
        try await Self.withPage { server, web in
            try await web.navigate(server.url + "/#/shop/gone")
            let alert = try await web.wait("the error") { try await Self.texts(web, "[role=alert]").first }
            #expect(alert == "⚠ Not found: no rollout shop/gone.")
            // The 404 is the test's point; the browser logs it, so clear the log before the common check.
            _ = try await web.browserLog()
        }
    }
}

/// The page against the real thing: `aviary dashboard`'s server in-process,
/// its caches fed from the local control plane, a canary moved by the real
/// controller, watched in the browser without a reload.
@Suite(.serialized)
struct DashboardBrowserE2ETests {
    /// `aviary dashboard`'s server for one namespace, in-process on a free port; cancel the task to stop it.
    static func dashboard(client: KubeClient, namespace: String) async throws -> (port: Int, task: Task<Void, Never>) {
        let d = try await InProcessDashboard.start(client: client, namespace: namespace)
        return (d.port, d.task)
    }

    /// A failed browser test: a screenshot of what the page showed, the browser and namespace gone, the error naming the file.
    static func failed(_ error: any Error, web: WebDriver, namespace: String, client: KubeClient) async -> any Error {
        let shot = NSTemporaryDirectory() + "aviary-dashboard-e2e-failure-\(UUID().uuidString.prefix(6)).png"
        try? await web.screenshot(to: shot)
        await web.quit()
        await TestCluster.deleteNamespace(namespace, client: client)
        return WebDriver.Failure("\(error) (screenshot: \(shot))")
    }

    /// Where these tests save their screenshots on every run: `$AVIARY_TEST_ARTIFACTS`, else
    /// `<temp>/aviary-dashboard-screenshots`. The path is printed.
    static func saveScreenshot(_ web: WebDriver, _ name: String) async throws {
        let env = ProcessInfo.processInfo.environment["AVIARY_TEST_ARTIFACTS"] ?? ""
        let dir = env.isEmpty ? (NSTemporaryDirectory() as NSString).appendingPathComponent("aviary-dashboard-screenshots") : env
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let path = (dir as NSString).appendingPathComponent(name)
        try await web.screenshot(to: path)
        print("dashboard screenshot: \(path)")
    }

    /// Both example strategies in one namespace, one controller: the list shows each Healthy, with its strategy.
    @Test func theListShowsACanaryAndABlueGreenRollout() async throws {
        try await TestCluster.installCRDs()
        let client = try TestCluster.client()
        let ns = try await TestCluster.namespace("dashboard-list", client: client)
        let prometheus = try AnalysisE2ETests.prometheusURL
        for t in try AnalysisE2ETests.templates(prometheus: prometheus) {
            let _: JSONValue = try await client.create(AnalysisTemplate.resource, t, namespace: ns)
        }
        try await TestCluster.createExampleCanary(in: ns, client: client, steps: [["setWeight": 50], ["pause": [:]]])
        for doc in try TestCluster.example("bluegreen-rollout.yaml") {
            if doc["kind"] == "Rollout" {
                let r = doc.overlaid(with: ["spec": ["replicas": 2, "strategy": ["blueGreen": [
                    "previewReplicaCount": 1,
                    "prePromotionAnalysis": ["args": [["name": "service", "value": "shop"], ["name": "prometheus", "value": .string(prometheus)]]],
                ]]]])
                let _: JSONValue = try await client.create(Rollout.resource, r, namespace: ns)
            } else {
                let _: JSONValue = try await client.create(.services, doc, namespace: ns)
            }
        }
        let controller = try ControllerProcess(namespace: ns)
        defer { controller.kill() }
        for name in ["web", "shop"] {
            try await RolloutProbe(client: client, namespace: ns, name: name).wait("\(name) Healthy", timeout: .seconds(60)) {
                $0.status?.phase == .Healthy && $0.status?.availableReplicas == $0.spec.replicas
            }
        }

        let (port, running) = try await Self.dashboard(client: client, namespace: ns)
        defer { running.cancel() }
        let web = try await DashboardBrowserTests.browser(width: 1200, height: 900)
        do {
            try await web.navigate("http://127.0.0.1:\(port)/")
            // name → [status, namespace, strategy], once both rows are there and Healthy.
            let rows = try await web.wait("both rollouts Healthy in the list", timeout: .seconds(15)) { () -> [String: [String]]? in
                var rows: [String: [String]] = [:]
                for tr in try await web.findAll("#rollouts tbody tr") {
                    var cells: [String] = []
                    for td in try await web.findAll("td", in: tr) { cells.append(try await web.text(td)) }
                    if cells.count > 3 { rows[cells[2]] = [cells[0], cells[1], cells[3]] }
                }
                return rows.count == 2 && rows.values.allSatisfy({ $0[0] == "✔ Healthy" }) ? rows : nil
            }
            #expect(rows["web"] == ["✔ Healthy", ns, "Canary"])
            #expect(rows["shop"] == ["✔ Healthy", ns, "BlueGreen"])
            try await Self.saveScreenshot(web, "dashboard-list.png")
            let severe = try await web.browserLog().filter { $0.level == "SEVERE" }
            #expect(severe.isEmpty, "the page logged errors: \(severe.map(\.message))")
        } catch {
            throw await Self.failed(error, web: web, namespace: ns, client: client)
        }
        await web.quit()
        await TestCluster.deleteNamespace(ns, client: client)
    }

    /// The example analysis canary against the real Prometheus: a version with 50 % errors is aborted at its
    /// analysis step, and the page charts the measurements as they come, with the threshold and the failures:
    /// one point per measurement the AnalysisRun holds. Saves `dashboard-analysis.png` (docs/dashboard.png) mid-run.
    @Test func thePageChartsARealAnalysisRun() async throws {
        let analysis = AnalysisE2ETests()
        let s = try await analysis.start("dashboard-chart")
        let (port, running) = try await Self.dashboard(client: s.client, namespace: s.ns)
        defer { running.cancel() }
        let web = try await DashboardBrowserTests.browser()
        do {
            try await web.navigate("http://127.0.0.1:\(port)/#/\(s.ns)/web")
            _ = try await web.wait("the rollout's page", timeout: .seconds(10)) { try await web.findAll("ol.steps li").isEmpty ? nil : true }
            try await analysis.release(s.probe, image: "registry.example/web:3.0", errorRate: 0.5, latency: "20ms")
            // Measurements appear while the run goes on, with no reload.
            let firstPoint = try await web.wait("a measurement on the chart", timeout: .seconds(30)) {
                try await web.findAll("#analysis svg.chart g.pt").isEmpty ? nil : true
            }
            #expect(firstPoint)
            // The rollout under analysis, at about the size of a laptop's window: saved on every run (and in docs/dashboard.png).
            try await web.setWindowSize(width: 1200, height: 900)
            _ = try await web.wait("two failures on the success-rate chart", timeout: .seconds(60)) {
                try await web.findAll("#analysis .metric:first-of-type svg.chart g.pt-failed").count >= 2 ? true : nil
            }
            try await web.execute("document.getElementById('analysis').scrollIntoView()")
            try await Self.saveScreenshot(web, "dashboard-analysis.png")
            try await s.probe.wait("3.0 aborted by analysis", timeout: .seconds(90)) { $0.status?.abort == true && $0.status?.phase == .Degraded }
            let chart = try await web.wait("the success-rate chart with its failures", timeout: .seconds(15)) { () -> [String: Any]? in
                let v = try await web.execute("""
                    const metric = Array.from(document.querySelectorAll('#analysis .metric'))
                      .find(m => m.querySelector('h4').textContent.endsWith('success-rate'));
                    if (!metric) return null;
                    const svg = metric.querySelector('svg.chart');
                    const line = svg && svg.querySelector('line.threshold-success');
                    if (!line) return null;
                    const failed = Array.from(svg.querySelectorAll('g.pt-failed')).map(g => g.transform.baseVal[0].matrix.f);
                    return { line: Number(line.getAttribute('y1')), failed, label: svg.querySelector('text.label-success').textContent };
                    """) as? [String: Any]
                return (v?["failed"] as? [Any])?.count ?? 0 >= 4 ? v : nil
            }
            #expect(chart["label"] as? String == "success: result >= 0.95")
            let line = chart["line"] as? Double ?? 0
            let failed = (chart["failed"] as? [Any] ?? []).compactMap { $0 as? Double }
            #expect(failed.count == 4 && failed.allSatisfy { $0 > line }, "failures at 0.5 are drawn below the 0.95 line: \(failed) vs \(line)")
            // The live stream may re-draw the panel between finding it and reading it (a stale element): find it again.
            let analysisText = try await eventuallyValue("the analysis panel's text") { try? await web.text(web.find("#analysis")) }
            #expect(analysisText.contains("Decided by:") && analysisText.contains("did not satisfy len(result) == 0 || result[0] >= 0.95"))
            // Each metric's chart has one point per measurement its AnalysisRun holds (read from the API), and the
            // success-rate charts their threshold line. Compared until they agree: the page follows the watch.
            var api: [String: Int] = [:]
            var page: [String: Int] = [:]
            do {
                _ = try await web.wait("every chart's points to match its AnalysisRun", timeout: .seconds(15)) { () -> Bool? in
                    let runs: ObjectList<AnalysisRun> = try await s.client.list(AnalysisRun.resource, namespace: s.ns)
                    api = [:]
                    for run in runs.items {
                        for m in run.status?.metricResults ?? [] { api[(run.metadata.name ?? "") + "/" + m.name] = m.measurements?.count ?? 0 }
                    }
                    let v = try await web.execute("""
                        const out = {};
                        for (const run of document.querySelectorAll('#analysis article.run')) {
                          const h3 = run.querySelector('h3');
                          const name = Array.from(h3.childNodes).filter(n => n.nodeType === 3).map(n => n.textContent).join('').trim();
                          for (const m of run.querySelectorAll('.metric')) {
                            const metric = Array.from(m.querySelector('h4').childNodes).filter(n => n.nodeType === 3).map(n => n.textContent).join('').trim();
                            out[name + '/' + metric] = m.querySelectorAll('svg.chart g.pt').length;
                          }
                        }
                        return out;
                        """) as? [String: Any] ?? [:]
                    page = v.compactMapValues { ($0 as? Int) ?? ($0 as? Double).map { Int($0) } }
                    return !api.isEmpty && page == api ? true : nil
                }
            } catch {
                Issue.record("chart points (page) \(page) vs measurements (API) \(api): \(error)")
            }
            let successRate = api.filter { $0.key.hasSuffix("/success-rate") }
            #expect(successRate.values.contains { $0 >= 4 }, "the step's success-rate run holds its 4 failures: \(successRate)")
            print("dashboard chart points per run/metric: \(page.sorted { $0.key < $1.key })")
            #expect(try await web.execute("""
                return Array.from(document.querySelectorAll('#analysis .metric'))
                  .filter(m => m.querySelector('h4').textContent.endsWith('success-rate'))
                  .every(m => m.querySelectorAll('svg.chart line.threshold-success').length === 1)
                """) as? Bool == true)
            let report = try await web.wait("the report", timeout: .seconds(10)) {
                try await web.findAll("#report").isEmpty ? nil : try await web.text(web.find("#report"))
            }
            #expect(report.contains("success-rate"))
            if let dir = ProcessInfo.processInfo.environment["AVIARY_DASHBOARD_SCREENSHOTS"] {
                try await web.execute("document.getElementById('analysis').scrollIntoView()")
                try await web.screenshot(to: dir + "/dashboard-e2e-analysis.png")
            }
            let severe = try await web.browserLog().filter { $0.level == "SEVERE" }
            #expect(severe.isEmpty, "the page logged errors: \(severe.map(\.message))")
        } catch {
            let shot = NSTemporaryDirectory() + "aviary-dashboard-e2e-failure-\(UUID().uuidString.prefix(6)).png"
            try? await web.screenshot(to: shot)
            await web.quit()
            await analysis.finish(s)
            throw WebDriver.Failure("\(error) (screenshot: \(shot))")
        }
        await web.quit()
        await analysis.finish(s)
    }

    @Test func thePageFollowsARealRollout() async throws {
        let client = try TestCluster.client()
        try await TestCluster.installCRDs()
        let ns = try await TestCluster.namespace("dashboard-browser", client: client)
        try await TestCluster.createExampleCanary(in: ns, client: client, steps: [["setWeight": 50], ["pause": [:]]])
        let controller = try ControllerProcess(namespace: ns)
        defer { controller.kill() }
        let probe = RolloutProbe(client: client, namespace: ns, name: "web")
        try await probe.wait("1.0 Healthy") { $0.status?.phase == .Healthy && $0.status?.availableReplicas == 2 }

        let (port, running) = try await Self.dashboard(client: client, namespace: ns)
        defer { running.cancel() }
        let web = try await DashboardBrowserTests.browser()
        do {
            try await web.navigate("http://127.0.0.1:\(port)/")
            let status = try await web.wait("web in the list", timeout: .seconds(10)) {
                try await DashboardBrowserTests.texts(web, "#rollouts tbody td.status").first.flatMap { $0 == "✔ Healthy" ? $0 : nil }
            }
            #expect(status == "✔ Healthy")
            #expect(try await DashboardBrowserTests.texts(web, "#rollouts tbody td:nth-child(2)") == [ns])
            try await web.click(web.find("#rollouts tbody td.name a"))
            _ = try await web.wait("the rollout's page") { try await web.findAll("ol.steps li").count == 2 ? true : nil }
            _ = try await web.wait("the live stream") { try await web.attribute(web.find("#live"), "data-state") == "live" ? true : nil }
            #expect(try await web.text(web.find("#revisions")).contains("✔ Ready"))

            // An update: the page shows the pause step as current, with no reload, soon after the Rollout says so.
            try await probe.setImage("registry.example/web:2.0")
            try await probe.wait("paused at 50 %", timeout: .seconds(30)) { $0.status?.phase == .Paused && $0.status?.currentStepIndex == 1 }
            let seen = ContinuousClock.now
            let current = try await web.wait("the pause step current on the page", timeout: .seconds(15)) {
                try await DashboardBrowserTests.texts(web, "ol.steps li.current").first.flatMap { $0.contains("pause") ? $0 : nil }
            }
            print("dashboard page: the pause step showed \(ContinuousClock.now - seen) after the test saw it in the API")
            #expect(current.contains("▶ current"))
            let summary = try await web.wait("Paused in the summary", timeout: .seconds(10)) {
                try await web.text(web.find("#summary")).contains("‖ Paused") ? true : nil
            }
            #expect(summary)

            // An abort: Degraded, and the post-rollback report appears.
            try await probe.abort()
            let outcome = try await web.wait("the report", timeout: .seconds(15)) {
                try await web.findAll("#report").isEmpty ? nil : try await web.text(web.find("#report"))
            }
            #expect(outcome.contains("✖ Aborted"))
            if let dir = ProcessInfo.processInfo.environment["AVIARY_DASHBOARD_SCREENSHOTS"] {
                try await web.screenshot(to: dir + "/dashboard-e2e-aborted.png")
            }
            let degraded = try await web.wait("Degraded in the summary", timeout: .seconds(15)) {
                try await web.text(web.find("#summary")).contains("✖ Degraded") ? true : nil
            }
            #expect(degraded)
            #expect(try await web.findAll("#events tbody tr").count > 3)
            let severe = try await web.browserLog().filter { $0.level == "SEVERE" }
            #expect(severe.isEmpty, "the page logged errors: \(severe.map(\.message))")
        } catch {
            throw await Self.failed(error, web: web, namespace: ns, client: client)
        }
        await web.quit()
        await TestCluster.deleteNamespace(ns, client: client)
    }
}
