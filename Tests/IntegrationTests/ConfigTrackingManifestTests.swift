import AviaryAPI
import Foundation
import Kube
import Rollouts
import Testing

/// deploy/config-tracking and deploy/namespaced-config-tracking (README,
/// "Configuration as part of a release"): each is its base install plus the
/// rights on ConfigMaps and Secrets and AVIARY_CONFIG_TRACKING=true, and
/// nothing else; the default installs stay without them; the local API server
/// accepts them (a server-side dry run); and on that server the rules let the
/// controller's ServiceAccount copy a ConfigMap or Secret, as the controller
/// does, where the plain install's rules do not.
@Suite struct ConfigTrackingManifestTests {
    static let overlays = ["deploy/config-tracking", "deploy/namespaced-config-tracking"]
    static let roleName = "aviary-controller-config-tracking"
    static let verbs: Set<String> = ["get", "list", "watch", "create", "delete", "patch"]
    static let env: JSONValue = ["name": "AVIARY_CONFIG_TRACKING", "value": "true"]

    static func isNamespaced(_ overlay: String) -> Bool { overlay.hasSuffix("namespaced-config-tracking") }
    static func base(of overlay: String) -> String { isNamespaced(overlay) ? "deploy/namespaced" : "deploy/cluster" }
    static func key(_ doc: JSONValue) -> String {
        "\(doc["kind"]?.stringValue ?? "") \(doc["metadata"]?["namespace"]?.stringValue ?? "-")/\(doc["metadata"]?["name"]?.stringValue ?? "")"
    }
    static func strings(_ value: JSONValue?) -> [String] { (value?.arrayValue ?? []).compactMap(\.stringValue) }
    static func container(_ deployment: JSONValue?) -> JSONValue? { deployment?["spec"]?["template"]?["spec"]?["containers"]?.item(0) }

    @Test(arguments: overlays)
    func theOverlayIsItsBasePlusTheRightsAndTheFlag(_ path: String) async throws {
        let docs = try await DashboardManifestTests.rendered(path)
        let baseDocs = try await DashboardManifestTests.rendered(Self.base(of: path))
        let namespace = Self.isNamespaced(path) ? "aviary" : "aviary-system"
        for doc in docs {
            let key = "\(doc["apiVersion"]?.stringValue ?? "") \(doc["kind"]?.stringValue ?? "")"
            #expect(InstallManifest.minimumMinor[key].map { $0 <= 21 } == true, "\(path): \(key) is not in InstallManifest.minimumMinor or needs more than 1.21")
        }

        // Every document of the base, unchanged but for the Deployment's one added variable.
        let byKey = Dictionary(docs.map { (Self.key($0), $0) }, uniquingKeysWith: { a, _ in a })
        for doc in baseDocs {
            let mine = try #require(byKey[Self.key(doc)], "\(path) keeps \(Self.key(doc)) of \(Self.base(of: path))")
            guard doc["kind"] == "Deployment" else {
                #expect(mine == doc, "\(path): \(Self.key(doc)) as in \(Self.base(of: path))")
                continue
            }
            let env = try #require(Self.container(mine)?["env"]?.arrayValue)
            let baseEnv = try #require(Self.container(doc)?["env"]?.arrayValue)
            #expect(env == baseEnv + [Self.env], "\(path): the controller gets AVIARY_CONFIG_TRACKING=true, once")
            #expect(mine.setting(["spec", "template", "spec", "containers"], to: .null) == doc.setting(["spec", "template", "spec", "containers"], to: .null))
            #expect(Self.container(mine)?.setting(["env"], to: .null) == Self.container(doc)?.setting(["env"], to: .null))
            #expect(Self.strings(Self.container(mine)?["args"]) == ["controller"], "the flag comes from the environment")
        }

        // And the rights: one (Cluster)Role, bound to the controller's ServiceAccount.
        let baseKeys = Set(baseDocs.map(Self.key))
        let added = docs.filter { !baseKeys.contains(Self.key($0)) }
        let (roleKind, bindingKind) = Self.isNamespaced(path) ? ("Role", "RoleBinding") : ("ClusterRole", "ClusterRoleBinding")
        #expect(added.map { $0["kind"]?.stringValue ?? "" }.sorted() == [roleKind, bindingKind].sorted(), "\(path) adds: \(added.map(Self.key))")
        if Self.isNamespaced(path) {
            #expect(!docs.contains { $0["kind"] == "ClusterRole" || $0["kind"] == "ClusterRoleBinding" }, "\(path): no cluster-wide rights")
        }
        let role = try #require(added.first { $0["kind"]?.stringValue == roleKind })
        #expect(role["metadata"]?["name"]?.stringValue == Self.roleName)
        let rules = role["rules"]?.arrayValue ?? []
        #expect(rules.count == 1)
        for rule in rules {
            #expect(Self.strings(rule["apiGroups"]) == [""])
            #expect(Set(Self.strings(rule["resources"])) == ["configmaps", "secrets"])
            #expect(Set(Self.strings(rule["verbs"])) == Self.verbs)
            #expect(rule["resourceNames"] == nil, "snapshots have names of their own: no resourceNames")
        }
        let binding = try #require(added.first { $0["kind"]?.stringValue == bindingKind })
        #expect(binding["roleRef"] == ["apiGroup": "rbac.authorization.k8s.io", "kind": .string(roleKind), "name": .string(Self.roleName)])
        #expect(binding["subjects"] == [["kind": "ServiceAccount", "name": "aviary-controller", "namespace": .string(namespace)]],
                "\(path): bound to the ServiceAccount the Deployment runs as")
        let deployment = try #require(docs.first { $0["kind"] == "Deployment" })
        #expect(deployment["spec"]?["template"]?["spec"]?["serviceAccountName"] == "aviary-controller")
        #expect(deployment["metadata"]?["namespace"]?.stringValue == namespace)
    }

    /// deploy/install.yaml and deploy/namespace-install.yaml (and so deploy/cluster
    /// and deploy/namespaced, which they render) grant no write, list or watch on
    /// ConfigMaps or Secrets beyond the notifications objects by name, and leave
    /// configuration tracking off.
    @Test(arguments: InstallManifest.files)
    func theDefaultInstallsLeaveItOut(_ path: String) throws {
        let docs = try InstallManifest.documents(path)
        #expect(!docs.contains { $0.name.contains("config-tracking") }, "\(path) holds no config-tracking objects")
        #expect(!docs.contains { $0.text.contains("AVIARY_CONFIG_TRACKING") || $0.text.contains("--config-tracking") })
        for doc in docs where doc.kind == "ClusterRole" || doc.kind == "Role" {
            for rule in doc.value["rules"]?.arrayValue ?? [] {
                let resources = Set(Self.strings(rule["resources"]))
                guard !resources.isDisjoint(with: ["configmaps", "secrets", "*"]) else { continue }
                let verbs = Set(Self.strings(rule["verbs"]))
                #expect(verbs.isDisjoint(with: ["create", "delete", "patch", "update", "deletecollection", "*"]),
                        "\(path): \(doc.kind) \(doc.name) writes \(resources.sorted()): \(verbs.sorted())")
                if rule["resourceNames"] == nil {
                    #expect(verbs.isSubset(of: ["get"]), "\(path): \(doc.kind) \(doc.name) reads every one of \(resources.sorted()): \(verbs.sorted())")
                }
            }
        }
    }

    /// A server-side dry run of the whole overlay, both as `kubectl apply` and
    /// as `--server-side`. The PodDisruptionBudget (policy/v1, newer than the
    /// local 1.20 server) is left out: InstallManifestTests checks it.
    @Test(arguments: overlays)
    func theAPIServerAcceptsIt(_ path: String) async throws {
        let admin = try TestCluster.client()
        // A dry run creates no namespace: the install's own (made for real and left, empty, as InstallManifestTests does).
        do {
            let _: Metadata = try await admin.create(.namespaces, Metadata(metadata: ObjectMeta(name: Self.isNamespaced(path) ? "aviary" : "aviary-system")))
        } catch let e as KubeError where e.isAlreadyExists {}
        let docs = try await DashboardManifestTests.rendered(path).filter { $0["kind"] != "PodDisruptionBudget" }
        let file = try Self.temporaryFile(docs)
        defer { try? FileManager.default.removeItem(atPath: file) }
        for mode in [["--dry-run=server"], ["--server-side", "--dry-run=server"]] {
            let (status, output) = try await InstallLock.shared.run { try await InstallManifestTests.kubectl(["apply"] + mode + ["-f", file]) }
            let accepted = output.split(separator: "\n").filter { $0.hasSuffix("(server dry run)") }
            #expect(status == 0 && accepted.count == docs.count, "kubectl apply \(mode.joined(separator: " ")) of \(path) rendered:\n\(output)")
        }
    }

    /// The rules on the real API server. The installs' own bindings name
    /// aviary-system/aviary-controller, which DeployE2ETests runs as (and checks
    /// that it cannot list Secrets) at the same time; so the rules rendered here
    /// are bound, under names of their own, to two ServiceAccounts of a test
    /// namespace: `tracking` gets what deploy/config-tracking binds (deploy/cluster's
    /// ClusterRole and the config-tracking one), `plain` what deploy/cluster binds.
    /// `tracking` copies a ConfigMap and a Secret as the controller does (get the
    /// source, create an immutable snapshot, patch its ownerReferences, delete
    /// it) in any namespace; `plain` may not.
    @Test func theClusterWideRulesLetTheControllerCopySecretsAndThePlainOnesDoNot() async throws {
        let admin = try TestCluster.client()
        let ns = try await TestCluster.namespace("cfg-rbac", client: admin)
        let other = try await TestCluster.namespace("cfg-rbac-other", client: admin)
        let suffix = "-\(ns)"
        let tracking = try await Self.rebound(path: "deploy/config-tracking", kinds: ["ClusterRole", "ClusterRoleBinding"],
                                              suffix: suffix + "-tracking", subject: ["kind": "ServiceAccount", "name": "tracking", "namespace": .string(ns)])
        let plain = try await Self.rebound(path: "deploy/cluster", kinds: ["ClusterRole", "ClusterRoleBinding"],
                                           suffix: suffix + "-plain", subject: ["kind": "ServiceAccount", "name": "plain", "namespace": .string(ns)])
        #expect(tracking.count == 4 && plain.count == 2, "deploy/config-tracking binds two ClusterRoles, deploy/cluster one")
        let file = try Self.temporaryFile(tracking + plain)
        defer { try? FileManager.default.removeItem(atPath: file) }
        do {
            _ = try await TestCluster.kubectl("apply", "-f", file)
            let asTracking = "--as=system:serviceaccount:\(ns):tracking", asPlain = "--as=system:serviceaccount:\(ns):plain"
            // Both bindings in force (the authorizer's cache follows within moments): what both may do.
            try await eventually("the bindings in force (deploy/cluster's: patch services; config-tracking's: create configmaps)", timeout: .seconds(60)) {
                let tracked = try await Self.can(asTracking, "patch", "services", in: ns)
                let plained = try await Self.can(asPlain, "patch", "services", in: ns)
                let copies = try await Self.can(asTracking, "create", "configmaps", in: ns)
                return tracked && plained && copies
            }
            for namespace in [ns, other] {
                for resource in ["configmaps", "secrets"] {
                    for verb in Self.verbs.sorted() {
                        #expect(try await Self.can(asTracking, verb, resource, in: namespace), "config-tracking: \(verb) \(resource) in \(namespace)")
                    }
                    for verb in ["list", "watch", "create", "delete", "patch"] {
                        #expect(try await !Self.can(asPlain, verb, resource, in: namespace), "deploy/cluster alone: no \(verb) \(resource) in \(namespace)")
                    }
                }
                #expect(try await Self.can(asPlain, "get", "secrets", in: namespace), "deploy/cluster: get a Secret (an analysis argument)")
                #expect(try await !Self.can(asTracking, "update", "secrets", in: namespace), "no update: snapshots are immutable")
            }

            // What the controller does, for real, as each identity.
            let owner = try await TestCluster.kubectl("-n", other, "create", "configmap", "owner", "-o", "jsonpath={.metadata.uid}")
            _ = try await TestCluster.kubectl("-n", other, "create", "configmap", "web-config", "--from-literal=greeting=hello")
            _ = try await TestCluster.kubectl("-n", other, "create", "secret", "generic", "web-secret", "--from-literal=password=s3cret")
            for kind in ["configmap", "secret"] {
                let source = kind == "configmap" ? "web-config" : "web-secret"
                let snapshot: JSONValue = [
                    "apiVersion": "v1", "kind": kind == "configmap" ? "ConfigMap" : "Secret", "immutable": true,
                    "metadata": ["name": .string(source + "-0123456789"), "namespace": .string(other),
                                 "labels": ["aviary.dev/config-snapshot": "true"]],
                    "data": kind == "configmap" ? ["greeting": "hello"] : ["password": .string(Data("s3cret".utf8).base64EncodedString())],
                ]
                let snapshotFile = try Self.temporaryFile([snapshot])
                defer { try? FileManager.default.removeItem(atPath: snapshotFile) }
                await #expect(throws: (any Error).self, "deploy/cluster alone cannot list \(kind)s") {
                    _ = try await TestCluster.kubectl("-n", other, "get", kind, asPlain)
                }
                await #expect(throws: (any Error).self, "deploy/cluster alone cannot create a \(kind)") {
                    _ = try await TestCluster.kubectl("create", "-f", snapshotFile, asPlain)
                }
                #expect(try await TestCluster.kubectl("-n", other, "get", kind, asTracking).contains(source))
                _ = try await TestCluster.kubectl("-n", other, "get", kind, source, "-o", "name", asTracking)
                // Allowed to watch (a refusal throws); 5 s, as a loaded server may end a 1 s watch before its first event.
                let watched = try await TestCluster.kubectl("get", "--raw", "/api/v1/namespaces/\(other)/\(kind)s?watch=1&timeoutSeconds=5", asTracking)
                #expect(watched.contains("\"ADDED\""))
                _ = try await TestCluster.kubectl("create", "-f", snapshotFile, asTracking)
                let ownerReferences: JSONValue = ["metadata": ["ownerReferences": [[
                    "apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": .string(owner.trimmingCharacters(in: .whitespacesAndNewlines)),
                ]]]]
                let patch = String(decoding: try JSONEncoder().encode(ownerReferences), as: UTF8.self)
                await #expect(throws: (any Error).self, "deploy/cluster alone cannot patch a \(kind)") {
                    _ = try await TestCluster.kubectl("-n", other, "patch", kind, source + "-0123456789", "--type=merge", "-p", patch, asPlain)
                }
                _ = try await TestCluster.kubectl("-n", other, "patch", kind, source + "-0123456789", "--type=merge", "-p", patch, asTracking)
                let owners = try await TestCluster.kubectl("-n", other, "get", kind, source + "-0123456789", "-o", "jsonpath={.metadata.ownerReferences[0].name}")
                #expect(owners == "owner", "an immutable snapshot's ownerReferences can still be set")
                await #expect(throws: (any Error).self, "deploy/cluster alone cannot delete a \(kind)") {
                    _ = try await TestCluster.kubectl("-n", other, "delete", kind, source + "-0123456789", asPlain)
                }
                _ = try await TestCluster.kubectl("-n", other, "delete", kind, source + "-0123456789", asTracking)
            }
        } catch {
            await Self.cleanUp(file, namespaces: [ns, other], admin: admin)
            throw error
        }
        await Self.cleanUp(file, namespaces: [ns, other], admin: admin)
    }

    /// deploy/namespaced-config-tracking's Role, in a test namespace: the
    /// ServiceAccount may copy ConfigMaps and Secrets there and nowhere else.
    @Test func theNamespacedRulesStayInTheirNamespace() async throws {
        let admin = try TestCluster.client()
        let ns = try await TestCluster.namespace("cfg-rbac-ns", client: admin)
        let other = try await TestCluster.namespace("cfg-rbac-ns-other", client: admin)
        // In the test namespace instead of `aviary` (the binding's subject moves with it, as kustomize's `namespace:` moves it).
        let docs = try await DashboardManifestTests.rendered("deploy/namespaced-config-tracking")
            .filter { ["Role", "RoleBinding"].contains($0["kind"]?.stringValue ?? "") && $0["metadata"]?["name"]?.stringValue == Self.roleName }
            .map { doc in
                let moved = doc.setting(["metadata", "namespace"], to: .string(ns))
                guard let subjects = doc["subjects"]?.arrayValue else { return moved }
                #expect(subjects.map { $0["namespace"] } == [.string("aviary")], "the subject is the ServiceAccount of the install's namespace")
                return moved.setting(["subjects"], to: .array(subjects.map { $0.setting(["namespace"], to: .string(ns)) }))
            }
        #expect(docs.count == 2)
        let file = try Self.temporaryFile(docs)
        defer { try? FileManager.default.removeItem(atPath: file) }
        do {
            _ = try await TestCluster.kubectl("apply", "-f", file)
            let who = "--as=system:serviceaccount:\(ns):aviary-controller"
            try await eventually("the Role in force", timeout: .seconds(60)) { try await Self.can(who, "create", "secrets", in: ns) }
            for resource in ["configmaps", "secrets"] {
                for verb in Self.verbs.sorted() {
                    #expect(try await Self.can(who, verb, resource, in: ns), "\(verb) \(resource) in its namespace")
                    #expect(try await !Self.can(who, verb, resource, in: other), "no \(verb) \(resource) in another namespace")
                }
            }
        } catch {
            await Self.cleanUp(nil, namespaces: [ns, other], admin: admin)
            throw error
        }
        await Self.cleanUp(nil, namespaces: [ns, other], admin: admin)
    }

    /// `kubectl auth can-i` (a SubjectAccessReview) as `who`: yes (exit 0) or no (exit 1).
    static func can(_ who: String, _ verb: String, _ resource: String, in namespace: String) async throws -> Bool {
        var args = ["auth", "can-i", verb]
        if let slash = resource.firstIndex(of: "/") {
            args += [String(resource[..<slash]), "--subresource=" + resource[resource.index(after: slash)...]]
        } else {
            args.append(resource)
        }
        let (status, output) = try await InstallManifestTests.kubectl(args + ["-n", namespace, who])
        let answer = output.split(separator: "\n").last.map(String.init) ?? ""
        guard status == 0 || answer.hasPrefix("no") else { throw KubeError.config("kubectl \(args.joined(separator: " ")) \(who): \(output)") }
        return status == 0
    }

    /// The `kinds` documents of `path`, renamed with `suffix` (and each binding's
    /// roleRef with them), every binding's subjects replaced by `subject`.
    static func rebound(path: String, kinds: Set<String>, suffix: String, subject: JSONValue) async throws -> [JSONValue] {
        try await DashboardManifestTests.rendered(path).filter { kinds.contains($0["kind"]?.stringValue ?? "") }.map { rendered in
            var doc = rendered.setting(["metadata", "name"], to: .string((rendered["metadata"]?["name"]?.stringValue ?? "") + suffix))
            if let role = doc["roleRef"]?["name"]?.stringValue {
                doc = doc.setting(["roleRef", "name"], to: .string(role + suffix)).setting(["subjects"], to: [subject])
            }
            return doc
        }
    }

    /// The documents as one v1 List in a JSON file, for kubectl (which applies each item); the caller removes it.
    static func temporaryFile(_ docs: [JSONValue]) throws -> String {
        let file = NSTemporaryDirectory() + "aviary-config-tracking-\(UUID().uuidString.prefix(6)).json"
        let list: JSONValue = ["apiVersion": "v1", "kind": "List", "items": .array(docs)]
        try JSONEncoder().encode(list).write(to: URL(fileURLWithPath: file))
        return file
    }

    /// Deletes the cluster-wide objects of `file` and the namespaces (the rest goes with them).
    static func cleanUp(_ file: String?, namespaces: [String], admin: KubeClient) async {
        if let file { _ = try? await InstallManifestTests.kubectl(["delete", "--ignore-not-found", "--wait=false", "-f", file]) }
        for ns in namespaces { await TestCluster.deleteNamespace(ns, client: admin) }
    }
}

/// The controller in in-cluster mode under exactly what
/// deploy/namespaced-config-tracking grants (its ServiceAccount, Roles and
/// RoleBindings, moved to a test namespace) and with the environment its
/// Deployment sets (AVIARY_NAMESPACE, AVIARY_CONFIG_TRACKING=true): it copies
/// examples/config-tracking.yaml's ConfigMap and Secret, hands the snapshots to
/// the ReplicaSet, and an edit of the ConfigMap starts a canary, with no
/// request refused; the same token reads no Secret elsewhere.
@Suite struct ConfigTrackingInstallE2ETests {
    @Test func theControllerTracksConfigurationUnderTheNamespacedOverlayAndNoMore() async throws {
        try await TestCluster.installCRDs()
        let admin = try TestCluster.client()
        let ns = try await TestCluster.namespace("cfg-install", client: admin)
        let instance = "cfg-\(UInt16.random(in: 1000...9999))"

        // The overlay's namespaced objects, in the test namespace.
        let rendered = try await DashboardManifestTests.rendered("deploy/namespaced-config-tracking")
        let docs = rendered
            .filter { ["ServiceAccount", "Role", "RoleBinding"].contains($0["kind"]?.stringValue ?? "") }
            .map { doc in
                let moved = doc.setting(["metadata", "namespace"], to: .string(ns))
                guard let subjects = doc["subjects"]?.arrayValue else { return moved }
                return moved.setting(["subjects"], to: .array(subjects.map { $0.setting(["namespace"], to: .string(ns)) }))
            }
        #expect(docs.filter { $0["kind"] == "Role" }.count == 4, "the workloads, leader election, notifications and config tracking")
        let file = try ConfigTrackingManifestTests.temporaryFile(docs)
        defer { try? FileManager.default.removeItem(atPath: file) }
        var controller: ControllerProcess?
        do {
            _ = try await TestCluster.kubectl("apply", "-f", file)
            let dir = try await Self.serviceAccountDirectory(admin: admin, namespace: ns)
            defer { try? FileManager.default.removeItem(atPath: dir) }
            try await eventually("the Roles in force", timeout: .seconds(60)) {
                try await ConfigTrackingManifestTests.can("--as=system:serviceaccount:\(ns):aviary-controller", "create", "secrets", in: ns)
            }

            for doc in try TestCluster.example("config-tracking.yaml") {
                switch doc["kind"]?.stringValue {
                case "ConfigMap": let _: JSONValue = try await admin.create(.configMaps, doc, namespace: ns)
                case "Secret": let _: JSONValue = try await admin.create(.secrets, doc, namespace: ns)
                case "Service": let _: JSONValue = try await admin.create(.services, doc, namespace: ns)
                default:
                    let r = doc.overlaid(with: ["metadata": ["labels": ["aviary.dev/instance-id": .string(instance)]]])
                    let _: JSONValue = try await admin.create(Rollout.resource, r, namespace: ns)
                }
            }

            // The Deployment's environment, as the kubelet would give it (the pod's namespace is the test namespace).
            let env = try Self.environment(of: try #require(rendered.first { $0["kind"] == "Deployment" }))
            #expect(env["AVIARY_CONFIG_TRACKING"] == "true" && env["AVIARY_NAMESPACE"] == "<pod namespace>")
            let api = try String(contentsOfFile: try TestCluster.directory + "/api.port", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            var environment = env.mapValues { $0 == "<pod namespace>" ? ns : $0 }
            environment.merge(["KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": api, "AVIARY_SERVICEACCOUNT_DIR": dir,
                               "AVIARY_INSTANCE_ID": instance, "AVIARY_LOG_FORMAT": "text", "PATH": "/usr/bin:/bin"]) { _, new in new }
            controller = try ControllerProcess(namespace: nil, arguments: [], kubeconfig: false, environment: environment,
                                               executable: try DeployE2ETests.binary)
            let p = RolloutProbe(client: admin, namespace: ns, name: "web")
            try await p.wait("web 1.0 Healthy with its snapshots", timeout: .seconds(90)) {
                $0.status?.phase == .Healthy && $0.status?.availableReplicas == 2
            }
            let stable = try await p.rollout().status?.stableRS ?? ""
            let first: ReplicaSet = try await admin.get(.replicaSets, "web-\(stable)", namespace: ns)
            let names = ConfigReferences.find(in: first.spec.template).map(\.ref.name)
            let configSnapshot = try #require(names.first { $0.hasPrefix("web-config-") }, "the ReplicaSet names a snapshot of web-config: \(names)")
            #expect(names.contains { $0.hasPrefix("web-secrets-") }, "and one of web-secrets: \(names)")
            #expect(names.contains("web-flags"), "the opted-out ConfigMap is read live: \(names)")
            // Owned by the ReplicaSet (an ownerReferences patch under the Role).
            try await eventually("the snapshot owned by its ReplicaSet", timeout: .seconds(60)) {
                let cm: JSONValue = try await admin.get(.configMaps, configSnapshot, namespace: ns)
                return cm["metadata"]?["ownerReferences"]?.arrayValue?.contains { $0["name"]?.stringValue == "web-\(stable)" } == true
            }

            let _: JSONValue = try await admin.patch(.configMaps, "web-config", namespace: ns, .merge(["data": ["LOG_LEVEL": "debug"]]))
            try await p.wait("the configuration change paused at 50 %", timeout: .seconds(90)) {
                $0.status?.phase == .Paused && $0.status?.currentStepIndex == 1 && $0.status?.currentPodHash != stable
            }
            let canary: ReplicaSet = try await admin.get(.replicaSets, "web-\(try await p.rollout().status?.currentPodHash ?? "")", namespace: ns)
            let newSnapshot = try #require(ConfigReferences.find(in: canary.spec.template).map(\.ref.name).first { $0.hasPrefix("web-config-") })
            #expect(newSnapshot != configSnapshot)
            let copied: JSONValue = try await admin.get(.configMaps, newSnapshot, namespace: ns)
            #expect(copied["data"]?["LOG_LEVEL"] == "debug" && copied["immutable"] == true)

            let log = try String(contentsOfFile: try #require(controller).log, encoding: .utf8)
            #expect(!log.lowercased().contains("forbidden"), "no request was refused: \(log.split(separator: "\n").filter { $0.lowercased().contains("forbidden") }.prefix(3))")
            #expect(!log.contains(ConfigTrackingE2ETests.secretValue), "the Secret's value is never logged")

            // The same token, outside its namespace: not even a list of Secrets.
            var access = try TestCluster.access()
            access.tls.clientCertPEM = nil
            access.tls.clientKeyPEM = nil
            access.credentials = .bearer(TokenSource(token: try String(contentsOfFile: dir + "/token", encoding: .utf8)))
            let asController = KubeClient(access: access)
            let _: ObjectList<Secret> = try await asController.list(.secrets, namespace: ns)
            await #expect {
                let _: ObjectList<Secret> = try await asController.list(.secrets, namespace: "default")
            } throws: { ($0 as? KubeError)?.status?.code == 403 }
        } catch {
            controller?.kill()
            await TestCluster.deleteNamespace(ns, client: admin)
            throw error
        }
        controller?.kill()
        await TestCluster.deleteNamespace(ns, client: admin)
    }

    /// The controller container's environment in a Deployment; a value from
    /// the downward API's metadata.namespace is "<pod namespace>".
    static func environment(of deployment: JSONValue) throws -> [String: String] {
        let env = try #require(ConfigTrackingManifestTests.container(deployment)?["env"]?.arrayValue)
        var out: [String: String] = [:]
        for variable in env {
            guard let name = variable["name"]?.stringValue else { continue }
            if let value = variable["value"]?.stringValue {
                out[name] = value
            } else if variable["valueFrom"]?["fieldRef"]?["fieldPath"] == "metadata.namespace" {
                out[name] = "<pod namespace>"
            }
        }
        return out
    }

    /// A service-account directory for `namespace`/aviary-controller, as the kubelet would mount it.
    static func serviceAccountDirectory(admin: KubeClient, namespace ns: String) async throws -> String {
        let response = try await admin.send("POST", Resource.serviceAccounts.path(namespace: ns, name: "aviary-controller", subresource: "token"),
                                            body: try JSONEncoder().encode(DeployE2ETests.TokenRequest()), contentType: "application/json")
        let token = try #require(try JSONDecoder().decode(DeployE2ETests.TokenRequest.self, from: response.body).status?.token)
        let dir = NSTemporaryDirectory() + "aviary-sa-\(UUID().uuidString.prefix(6))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try token.write(toFile: dir + "/token", atomically: true, encoding: .utf8)
        try ns.write(toFile: dir + "/namespace", atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(atPath: try TestCluster.directory + "/pki/ca.crt", toPath: dir + "/ca.crt")
        return dir
    }
}
