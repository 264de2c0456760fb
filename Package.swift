// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Aviary",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "aviary", targets: ["Aviary"]),
        .executable(name: "aviary-podsim", targets: ["PodSim"]),
        .executable(name: "aviary-client-bench", targets: ["ClientBench"]),
        .executable(name: "aviary-scale-bench", targets: ["ScaleBench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.1.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/swhitty/FlyingFox", from: "0.27.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
    ],
    targets: [
        // libcurl (Debian's OpenSSL flavour) plus a header of inline shims for its variadic calls.
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        // Kubernetes object types, JSON, time and list/watch decoding: no network, no libcurl.
        .target(name: "KubeAPI", dependencies: ["Yams"]),
        // The Kubernetes API client: config, HTTP engine on curl's multi interface, verbs, watch. Re-exports KubeAPI.
        .target(
            name: "Kube",
            dependencies: [
                "KubeAPI",
                "CCurl",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "DequeModule", package: "swift-collections"),
                "Yams",
            ]
        ),
        // Aviary's own resources: Rollout (and later AnalysisTemplate, AnalysisRun), as compact Codable types.
        .target(name: "AviaryAPI", dependencies: ["KubeAPI"]),
        // The decisions: pure functions from what the cluster looks like to what to do next.
        .target(name: "Rollouts", dependencies: ["AviaryAPI", "AnalysisCore", "KubeAPI"]),
        // Notifications, as decisions: subscriptions, Argo's configuration layout, triggers and templates (no network).
        .target(name: "Notifications", dependencies: ["Rollouts", "AviaryAPI", "AnalysisCore", "KubeAPI"]),
        // The controller runtime: informer caches, work queue, workers, and the executor that applies plans.
        .target(
            name: "Controller",
            dependencies: [
                "Rollouts", "Analysis", "AviaryAPI", "Kube", "Notifications", "Plugin",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "DequeModule", package: "swift-collections"),
            ]
        ),
        // glibc's allocator knobs (mallopt, malloc_trim), which Swift's Glibc module does not export.
        .target(name: "CAllocator"),
        // Running as a service: leader election, health and metrics endpoints, JSON logs, graceful shutdown.
        .target(
            name: "Runtime",
            dependencies: [
                "Controller", "Kube", "CAllocator",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "FlyingFox", package: "FlyingFox"),
            ]
        ),
        // The analysis that needs no network: the condition language, judgement, the run's schedule and recorder.
        .target(name: "AnalysisCore", dependencies: ["AviaryAPI", "KubeAPI"]),
        // The providers (Prometheus, web, Job) and the measuring machinery; re-exports AnalysisCore.
        .target(name: "Analysis", dependencies: ["AnalysisCore", "AviaryAPI", "Kube", .product(name: "DequeModule", package: "swift-collections")]),
        // Marks pods Ready, since the local control plane has no kubelet.
        .executableTarget(
            name: "PodSim",
            dependencies: [
                "Kube",
                .product(name: "FlyingFox", package: "FlyingFox"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // What the kubectl plugin prints (pure renderers, tested against golden text).
        .target(name: "Plugin", dependencies: ["AviaryAPI", "KubeAPI"]),
        // `aviary dashboard`: a read-only web page over informer caches (JSON API, server-sent events, the page embedded).
        .target(
            name: "Dashboard",
            dependencies: [
                "Plugin", "Controller", "Kube", "AviaryAPI", "Rollouts",
                .product(name: "FlyingFox", package: "FlyingFox"),
                .product(name: "FlyingSocks", package: "FlyingFox"),
                .product(name: "Logging", package: "swift-log"),
            ],
            resources: [.embedInCode("Assets")]
        ),
        // The `aviary` command.
        .executableTarget(
            name: "Aviary",
            dependencies: [
                "Kube",
                "AviaryAPI",
                "Rollouts",
                "Analysis",
                "Plugin",
                "Controller",
                "Runtime",
                "Dashboard",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Client throughput and memory benchmark (scripts/bench-client.sh drives it).
        .executableTarget(
            name: "ClientBench",
            dependencies: [
                "Kube",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The scale benchmark's driver (scripts/bench-scale.sh).
        .executableTarget(
            name: "ScaleBench",
            dependencies: ["Kube", "AviaryAPI", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        // Helpers shared by test targets (a tiny HTTP server on loopback).
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "KubeTests", dependencies: ["Kube", "TestSupport"]),
        .testTarget(name: "PluginTests", dependencies: ["Plugin", "AviaryAPI", "KubeAPI"]),
        .testTarget(name: "DashboardTests", dependencies: ["Dashboard", "Plugin", "AviaryAPI", "KubeAPI", "Kube", "Controller", "Rollouts", "TestSupport", .product(name: "FlyingFox", package: "FlyingFox")]),
        .testTarget(name: "RolloutsTests", dependencies: ["Rollouts", "AnalysisCore", "AviaryAPI", "KubeAPI"]),
        .testTarget(name: "NotificationsTests", dependencies: ["Notifications", "Rollouts", "AviaryAPI", "KubeAPI"]),
        .testTarget(name: "ControllerTests", dependencies: ["Controller", "Runtime", "Kube", "Notifications", "TestSupport"]),
        .testTarget(name: "AnalysisTests", dependencies: ["Analysis", "AnalysisCore", "AviaryAPI", "Kube", "TestSupport"]),
        .testTarget(name: "IntegrationTests", dependencies: ["Kube", "AviaryAPI", "Analysis", "Rollouts", "Notifications", "Dashboard", "Controller", "TestSupport"], exclude: ["Fixtures"]),
    ],
    swiftLanguageModes: [.v6]
)
