import Foundation
import Kube
import Logging
import Rollouts
import Synchronization
import Testing
@testable import Controller

/// The controller's side of traffic routers: route objects cached whole,
/// discovery of the route kinds, and the route patch on the wire (a failed
/// version test is a conflict, not a fault).
@Suite struct RouteCacheTests {
    static let virtualService = Data("""
        {"apiVersion": "networking.istio.io/v1beta1", "kind": "VirtualService",
         "metadata": {"name": "web", "namespace": "shop", "resourceVersion": "42", "uid": "u"},
         "spec": {"hosts": ["web"], "http": [{"name": "primary", "retries": {"attempts": 3, "retryOn": "5xx"},
                  "route": [{"destination": {"host": "web-stable"}, "weight": 100}, {"destination": {"host": "web-canary"}, "weight": 0}]}]}}
        """.utf8)

    @Test func aRouteObjectIsCachedWholeWithItsMetadataTyped() throws {
        let route = try JSONDecoder().decode(RouteObject.self, from: Self.virtualService)
        #expect(route.metadata.name == "web" && route.metadata.namespace == "shop" && route.metadata.resourceVersion == "42")
        // Fields no type models are kept: the router patches next to them.
        guard case .array(let http)? = route.object["spec"]?["http"] else { Issue.record("no http routes"); return }
        #expect(http.first?["retries"]?["retryOn"] == "5xx")
        #expect(route.object == (try JSONDecoder().decode(JSONValue.self, from: Self.virtualService)))
        // It encodes back as the object itself (what a cache hands the planner).
        #expect(try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(route)) == route.object)
        #expect(try RouteObject(object: route.object) == route)
        // An object without readable metadata is no route object.
        #expect(throws: (any Error).self) { try JSONDecoder().decode(RouteObject.self, from: Data(#"{"spec": {}}"#.utf8)) }
    }

    @Test func discoveryReadsTheResourcesAGroupVersionServes() {
        let body = Data("""
            {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "networking.istio.io/v1beta1",
             "resources": [{"name": "virtualservices", "namespaced": true, "kind": "VirtualService", "verbs": ["get"]},
                           {"name": "virtualservices/status", "namespaced": true, "kind": "VirtualService", "verbs": ["get"]},
                           {"name": "destinationrules", "namespaced": true, "kind": "DestinationRule", "verbs": ["get"]}]}
            """.utf8)
        #expect(RouteInformers.servedResources(body) == ["virtualservices", "virtualservices/status", "destinationrules"])
        #expect(RouteInformers.servedResources(Data(#"{"kind": "APIResourceList", "resources": []}"#.utf8)) == [])
        #expect(RouteInformers.servedResources(Data("not json".utf8)) == [])
        // The kinds and the group versions discovery asks for.
        #expect(RouteKind.allCases.map(\.resource.apiVersion).sorted()
                == ["gateway.networking.k8s.io/v1", "networking.istio.io/v1beta1", "networking.istio.io/v1beta1"])
    }

    static let ops: [JSONPatchOperation] = [.test("/metadata/resourceVersion", "42"), .replace("/spec/http/0/route/0/weight", 80),
                                            .replace("/spec/http/0/route/1/weight", 20)]

    @Test func aRoutePatchIsAJSONPatchInTheRoutesNamespaceWhoseAnswerIsCached() throws {
        let ref = RouteRef(.httpRoute, namespace: "gateways", name: "web")
        let requests = try Executor.requests(for: .patchRoute(ref, Self.ops), namespace: "shop")
        #expect(requests == [WriteRequest(.jsonPatch(Self.ops), .httpRoutes, namespace: "gateways", name: "web", answer: .route(.httpRoute))])
        let r = try #require(requests.first)
        #expect(r.method == "PATCH")
        #expect(r.path == "/apis/gateway.networking.k8s.io/v1/namespaces/gateways/httproutes/web")
        let (body, contentType) = try r.body()
        #expect(contentType == "application/json-patch+json")
        let sent = try JSONDecoder().decode(JSONValue.self, from: body)
        #expect(sent == [["op": "test", "path": "/metadata/resourceVersion", "value": "42"],
                         ["op": "replace", "path": "/spec/http/0/route/0/weight", "value": 80],
                         ["op": "replace", "path": "/spec/http/0/route/1/weight", "value": 20]])
        let vs = try Executor.requests(for: .patchRoute(RouteRef(.virtualService, namespace: "shop", name: "web"), Self.ops), namespace: "shop")
        #expect(vs.first?.path == "/apis/networking.istio.io/v1beta1/namespaces/shop/virtualservices/web")
        #expect(vs.first?.answer == .route(.virtualService))
    }

    @Test func aFailedVersionTestIsAStaleWriteAndASchemaViolationIsNot() throws {
        let ref = RouteRef(.virtualService, namespace: "shop", name: "web")
        let request = try #require(try Executor.requests(for: .patchRoute(ref, Self.ops), namespace: "shop").first)
        func answer(_ json: String) throws -> KubeError {
            let status = try JSONDecoder().decode(Status.self, from: Data(json.utf8))
            return KubeError.api(code: status.code ?? 0, status: status)
        }
        // What kube-apiserver 1.20 answers when a test op fails: 422, the generic message, no details.
        let failedTest = try answer("""
            {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "reason": "Invalid", "details": {}, "code": 422,
             "message": "the server rejected our request due to an error in our request"}
            """)
        #expect(request.failedTest(failedTest))
        // Servers that pass json-patch's own words on.
        #expect(request.failedTest(try answer(#"{"code": 422, "reason": "Invalid", "message": "testing value /metadata/resourceVersion failed: test failed"}"#)))
        // A value the CRD's schema refuses is a real error, reported as such.
        let invalid = try answer("""
            {"status": "Failure", "reason": "Invalid", "code": 422,
             "message": "VirtualService.networking.istio.io \\"web\\" is invalid: spec.http.route.weight: Invalid value",
             "details": {"name": "web", "group": "networking.istio.io", "kind": "VirtualService",
                         "causes": [{"reason": "FieldValueInvalid", "message": "must be of type integer", "field": "spec.http.route.weight"}]}}
            """)
        #expect(!request.failedTest(invalid))
        #expect(!request.failedTest(KubeError.api(code: 404, status: Status(reason: "NotFound", code: 404))))
        // Without a test op a 422 cannot be one.
        let plain = WriteRequest(.jsonPatch([.replace("/spec/x", 1)]), .virtualServices, namespace: "shop", name: "web")
        #expect(!plain.failedTest(failedTest))
        // Stale writes are retried quietly, like a 409.
        #expect(StaleWrite(path: request.path).isStaleWrite)
        #expect(KubeError.api(code: 409, status: Status(reason: "Conflict", code: 409)).isStaleWrite)
        #expect(!invalid.isStaleWrite)
    }

    /// What discovery answers, per group version, changeable mid-test: a
    /// document, nil (404: not installed), or a failure.
    final class FakeDiscovery: Sendable {
        enum Answer: Sendable { case served([String]), missing, failing }
        let answers = Mutex<[String: Answer]>([:])
        func set(_ groupVersion: String, _ answer: Answer) { answers.withLock { $0[groupVersion] = answer } }
        func lookUp(_ groupVersion: String) throws -> Data? {
            switch answers.withLock({ $0[groupVersion] }) ?? .missing {
            case .served(let names):
                return try JSONEncoder().encode(["kind": "APIResourceList", "resources": .array(names.map { ["name": .string($0)] })] as JSONValue)
            case .missing: return nil
            case .failing: throw KubeError.transport(TransportFailure(kind: .couldNotConnect, server: "test", detail: "refused", notSent: true))
            }
        }
    }

    static func routeInformers(_ discovery: FakeDiscovery) -> RouteInformers {
        var informers: [RouteKind: Informer<RouteObject>] = [:]
        for kind in RouteKind.allCases {
            informers[kind] = Informer(events: AsyncThrowingStream<Reflector<RouteObject>.Event, any Error> { $0.finish() })
        }
        return RouteInformers(informers: informers, logger: Logger(label: "test")) { try discovery.lookUp($0) }
    }

    /// Istio installed after the controller started: until then its Rollouts
    /// see the VirtualService absent (InvalidSpec, said by the planner); a
    /// failed lookup makes them wait instead; once served and listed, the
    /// cache hands the planner the object.
    @Test func aKindStartsOnceServedAndRolloutsWaitOnlyWhileItIsUnknownOrListing() async throws {
        let discovery = FakeDiscovery()
        let routes = Self.routeInformers(discovery)
        let vs = RouteRef(.virtualService, namespace: "shop", name: "web")
        let httpRoute = RouteRef(.httpRoute, namespace: "shop", name: "web")

        // Nothing installed: no kind starts, and the objects are absent.
        #expect(await routes.discover().isEmpty)
        #expect(routes.objects([vs, httpRoute]) == [:])
        #expect(routes.objects([]) == [:])

        // Istio's group cannot be asked (the API server is unreachable): its Rollouts wait; Gateway API's do not.
        discovery.set("networking.istio.io/v1beta1", .failing)
        #expect(await routes.discover().isEmpty)
        #expect(routes.objects([vs]) == nil)
        #expect(routes.objects([httpRoute]) == [:])

        // Istio installed: both its kinds start; until their lists are in, its Rollouts wait.
        discovery.set("networking.istio.io/v1beta1", .served(["virtualservices", "virtualservices/status", "destinationrules"]))
        #expect(Set(await routes.discover()) == [.virtualService, .destinationRule])
        #expect(routes.objects([vs]) == nil)
        let object = try JSONDecoder().decode(RouteObject.self, from: Self.virtualService)
        routes.informers[.virtualService]?.apply(.replaced([object], resourceVersion: "42"))
        routes.informers[.destinationRule]?.apply(.replaced([], resourceVersion: "42"))
        #expect(routes.objects([vs, httpRoute]) == [vs: object.object])
        #expect(routes.objects([RouteRef(.virtualService, namespace: "other", name: "web")]) == [:])
        // Started kinds are not started twice.
        #expect(await routes.discover().isEmpty)
        #expect(routes.objects([vs]) == [vs: object.object])

        // A group that serves other resources only does not start the kind.
        discovery.set("gateway.networking.k8s.io/v1", .served(["gateways", "gatewayclasses"]))
        #expect(await routes.discover().isEmpty)
        discovery.set("gateway.networking.k8s.io/v1", .served(["httproutes"]))
        #expect(await routes.discover() == [.httpRoute])

        // Istio uninstalled: its kinds stop (no watch failing every few seconds), its objects are absent;
        // a failed lookup stops nothing. Installed again, they start again.
        discovery.set("networking.istio.io/v1beta1", .failing)
        #expect(await routes.discover().isEmpty)
        #expect(routes.objects([vs]) == nil)
        discovery.set("networking.istio.io/v1beta1", .missing)
        #expect(await routes.discover().isEmpty)
        #expect(routes.objects([vs]) == [:])
        discovery.set("networking.istio.io/v1beta1", .served(["virtualservices", "destinationrules"]))
        #expect(Set(await routes.discover()) == [.virtualService, .destinationRule])
    }

    @Test func aChangeOfAnyRouteObjectReachesTheOneHandlerWithItsKind() throws {
        let routes = Self.routeInformers(FakeDiscovery())
        let seen = Mutex<[String]>([])
        routes.onChange { kind, o in seen.withLock { $0.append("\(kind.rawValue) \(o.metadata.name ?? "")@\(o.metadata.resourceVersion ?? "")") } }
        let object = try JSONDecoder().decode(RouteObject.self, from: Self.virtualService)
        routes.informers[.virtualService]?.apply(.replaced([object], resourceVersion: "42"))
        var edited = object.object
        if case .object(var o) = edited, case .object(var meta)? = o["metadata"] {
            meta["resourceVersion"] = "43"
            o["metadata"] = .object(meta)
            edited = .object(o)
        }
        routes.informers[.virtualService]?.apply(.modified(try RouteObject(object: edited)))
        routes.informers[.virtualService]?.apply(.deleted(try RouteObject(object: edited)))
        #expect(seen.withLock { $0 } == ["VirtualService web@42", "VirtualService web@43", "VirtualService web@43"])
        // Our own patch's answer goes into the cache without a change (the watch reports it too).
        routes.store(.virtualService, object)
        #expect(seen.withLock { $0 }.count == 3)
    }
}
