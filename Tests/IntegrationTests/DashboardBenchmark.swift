import Foundation
import Testing
import TestSupport

/// The dashboard list's rendering speed in headless chromium: 1,000 canned
/// RolloutRows (4 phases, 10 namespaces) served with the real page assets by
/// `CannedDashboard`. A benchmark, not a test: it prints figures and asserts
/// no time. It runs with AVIARY_BENCH=1 (`scripts/bench-dashboard.sh`, 5
/// runs), and once in CI (CI=true), where it shows that 1,000 rows render;
/// a local `swift test` without either leaves it out.
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["AVIARY_BENCH"] == "1" || ProcessInfo.processInfo.environment["CI"] == "true",
                             "a benchmark: AVIARY_BENCH=1 scripts/bench-dashboard.sh (in CI it runs once)"))
struct DashboardBenchmark {
    static let count = Int(ProcessInfo.processInfo.environment["AVIARY_BENCH_ROWS"] ?? "") ?? 1000
    static let runs = Int(ProcessInfo.processInfo.environment["AVIARY_BENCH_RUNS"] ?? "") ?? (ProcessInfo.processInfo.environment["AVIARY_BENCH"] == "1" ? 5 : 1)
    static let phases = ["Healthy", "Progressing", "Paused", "Degraded"]

    static func rows() -> [[String: Any]] {
        let created = ISO8601DateFormatter().string(from: Date().addingTimeInterval(-3_725))
        return (0..<count).map { i in
            let phase = phases[i % phases.count]
            let name = "svc-\(i)"
            return [
                "namespace": "team-\(i % 10)", "name": name, "labels": ["app": name, "tier": i % 3 == 0 ? "web" : "api"],
                "strategy": i % 5 == 0 ? "BlueGreen" : "Canary", "phase": phase, "icon": "",
                "images": ["registry.example/\(name):2.\(i % 7)"], "ready": 4, "desired": 5, "updated": 1, "available": 4,
                "step": 2, "stepCount": 5, "setWeight": 20, "actualWeight": 20,
                "attention": ["Paused": 0, "Degraded": 1, "Progressing": 2, "Healthy": 3][phase]!, "createdAt": created,
            ]
        }
    }

    /// Installed in the page: resolves `window.__bench` with performance.now() at the moment
    /// `#rollouts tbody` holds `want` rows in a table other than `old` (DOM), after a forced
    /// layout (layout), and after the next frame (painted: rAF, then a task).
    static let watch = """
        const want = arguments[0];
        const old = document.querySelector('#rollouts');
        window.__bench = null;
        const check = () => {
          const t = document.querySelector('#rollouts');
          if (!t || t === old || t.tBodies[0].rows.length !== want) return false;
          const dom = performance.now();
          void document.body.offsetHeight;
          const layout = performance.now();
          requestAnimationFrame(() => setTimeout(() => { window.__bench = { dom, layout, painted: performance.now() }; }, 0));
          return true;
        };
        if (check()) return performance.now();
        const o = new MutationObserver(() => { if (check()) o.disconnect(); });
        o.observe(document.documentElement, { childList: true, subtree: true });
        return performance.now();
        """

    static func result(_ web: WebDriver) async throws -> (dom: Double, layout: Double, painted: Double) {
        try await web.wait("the list to render", timeout: .seconds(30), every: .milliseconds(20)) {
            guard let r = try await web.execute("return window.__bench") as? [String: Any],
                  let d = r["dom"] as? Double, let l = r["layout"] as? Double, let p = r["painted"] as? Double else { return nil }
            return (d, l, p)
        }
    }

    @Test func listOf1000() async throws {
        let canned = try CannedDashboard()
        defer { canned.stop() }
        let all = Self.rows()
        canned.setList(all, namespaces: (0..<10).map { "team-\($0)" })
        let web = try await WebDriver.start()
        let degraded = all.filter { $0["phase"] as? String == "Degraded" }.count

        var load: [(Double, Double, Double, Double)] = []
        var filter: [Double] = [], clear: [Double] = [], changed: [Double] = []
        for _ in 0..<Self.runs {
            // Load: a fresh document each time; times are performance.now() (ms since navigation start).
            try await web.navigate("about:blank")
            try await web.navigate(canned.url + "/#/")
            // navigate() returns at the load event; the list arrives by fetch after app.js runs.
            let already = try await web.execute("const t = document.querySelector('#rollouts'); return t ? t.tBodies[0].rows.length : 0") as? Int ?? 0
            if already == Self.count {
                // Rendered before we could watch: the earliest bound we have is now.
                let now = try await web.execute("return performance.now()") as? Double ?? .nan
                load.append((now, now, now, 1))
            } else {
                // Watch for the table (old is null, so any table with all rows counts).
                try await web.execute(Self.watch.replacingOccurrences(of: "t === old ||", with: ""), [Self.count])
                let r = try await Self.result(web)
                load.append((r.dom, r.layout, r.painted, 0))
            }
            _ = try await web.wait("the stream to open", timeout: .seconds(10)) { canned.streamCount > 0 ? true : nil }

            // Filter change: the phase select to Degraded (what the select's change handler does: set the hash).
            try await web.execute(Self.watch, [degraded])
            let t0 = try await web.execute("location.hash = '#/?phase=Degraded'; return performance.now()") as? Double ?? .nan
            var r = try await Self.result(web)
            filter.append(r.painted - t0)
            // Clearing the filter: back to all 1,000.
            try await web.execute(Self.watch, [Self.count])
            let t1 = try await web.execute("location.hash = '#/'; return performance.now()") as? Double ?? .nan
            r = try await Self.result(web)
            clear.append(r.painted - t1)

            // A `changed` event: the page refetches (after its 80 ms debounce) and redraws all 1,000.
            let t2 = try await web.execute(Self.watch, [Self.count]) as? Double ?? .nan
            canned.changed("team-1", "svc-1")
            r = try await Self.result(web)
            changed.append(r.painted - t2)
        }

        await web.quit()

        func stats(_ xs: [Double]) -> String {
            let s = xs.sorted()
            return String(format: "%8.0f %8.0f %8.0f", s[s.count / 2], s.first!, s.last!)
        }
        func line(_ label: String, _ xs: [Double]) -> String {
            label.padding(toLength: 56, withPad: " ", startingAt: 0) + stats(xs)
        }
        let early = load.filter { $0.3 == 1 }.count
        print(([
            "",
            "dashboard benchmark: \(Self.count) rollouts, \(Self.runs) runs, headless chromium, \(ProcessInfo.processInfo.activeProcessorCount) cores",
            "ms".padding(toLength: 56, withPad: " ", startingAt: 0) + "  median      min      max",
            line("load: navigation start → \(Self.count) rows in the DOM", load.map(\.0)),
            line("load: navigation start → laid out", load.map(\.1)),
            line("load: navigation start → painted (next frame)", load.map(\.2)),
            line("filter phase=Degraded (\(degraded) rows) → painted", filter),
            line("clear the filter (\(Self.count) rows) → painted", clear),
            line("`changed` event → \(Self.count) rows painted", changed),
        ] + (early > 0 ? ["(\(early) load runs had rendered before the watch was installed: their figure is an upper bound)"] : []))
            .joined(separator: "\n"))
    }
}
