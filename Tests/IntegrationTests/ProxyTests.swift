import Foundation
import Kube
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A forward proxy on 127.0.0.1 that speaks only `CONNECT host:port`, as
/// kubectl's proxies are used for https: it records each target, resolves a
/// few names of its own (so a name only the proxy knows proves the request
/// went through it), connects, answers 200 and pipes bytes both ways, a
/// thread per direction. Small and bounded: an 8 KiB request head, IPv4
/// upstreams, `stop()` ends every tunnel.
final class ConnectProxy: @unchecked Sendable {
    let port: Int
    private let listener: Int32
    private let hosts: [String: String]
    private let lock = NSLock()
    private var seen: [String] = []
    private var open: Set<Int32> = []
    private let finished = DispatchSemaphore(value: 0)

    /// The `host:port` of every CONNECT, in order.
    var targets: [String] { lock.withLock { seen } }

    /// `hosts` maps names to IPv4 addresses, as the proxy's own DNS would.
    init(hosts: [String: String] = [:]) throws {
        self.hosts = hosts
        let (fd, port) = try Loopback.listen()
        self.port = port
        listener = fd
        Thread { [self] in serve() }.start()
    }

    var url: String { "http://127.0.0.1:\(port)" }

    /// Stops accepting and ends every tunnel.
    func stop() {
        _ = shutdown(listener, Int32(SHUT_RDWR))
        finished.wait()
        for fd in lock.withLock({ open }) { _ = shutdown(fd, Int32(SHUT_RDWR)) }
    }

    private func serve() {
        while true {
            let c = accept(listener, nil, nil)
            if c < 0 {
                close(listener)
                finished.signal()
                return
            }
            lock.withLock { _ = open.insert(c) }
            Thread { [self] in tunnel(c) }.start()
        }
    }

    private func release(_ fds: Int32...) {
        lock.withLock { for fd in fds { open.remove(fd) } }
        for fd in fds { close(fd) }
    }

    private func sendAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return false }
            offset += n
        }
        return true
    }

    private func tunnel(_ client: Int32) {
        var head: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        var end: Range<Data.Index>?
        while end == nil {
            guard head.count < 8192 else { return release(client) }
            let n = recv(client, &buffer, buffer.count, 0)
            if n <= 0 { return release(client) }
            head += buffer[0..<n]
            end = Data(head).range(of: Data("\r\n\r\n".utf8))
        }
        guard let end else { return release(client) }
        let line = String(decoding: head[0..<end.lowerBound], as: UTF8.self).split(separator: "\r\n").first ?? ""
        let parts = line.split(separator: " ")
        guard parts.count == 3, parts[0] == "CONNECT", let colon = parts[1].lastIndex(of: ":"),
              let port = UInt16(parts[1][parts[1].index(after: colon)...]) else {
            _ = sendAll(client, Array("HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n".utf8))
            return release(client)
        }
        let target = String(parts[1])
        lock.withLock { seen.append(target) }
        let host = String(parts[1][..<colon])
        let upstream = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        let resolved = inet_pton(AF_INET, hosts[host] ?? host, &addr.sin_addr) == 1
        let connected = resolved && upstream >= 0 && withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(upstream, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
        guard connected else {
            if upstream >= 0 { close(upstream) }
            _ = sendAll(client, Array("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n".utf8))
            return release(client)
        }
        lock.withLock { _ = open.insert(upstream) }
        guard sendAll(client, Array("HTTP/1.1 200 Connection established\r\n\r\n".utf8)),
              sendAll(upstream, Array(head[end.upperBound...])) else { return release(client, upstream) }
        let done = DispatchSemaphore(value: 0)
        Thread { [self] in
            pipe(from: upstream, to: client)
            done.signal()
        }.start()
        pipe(from: client, to: upstream)
        done.wait()
        release(client, upstream)
    }

    private func pipe(from: Int32, to: Int32) {
        var buffer = [UInt8](repeating: 0, count: 16 << 10)
        while true {
            let n = recv(from, &buffer, buffer.count, 0)
            if n <= 0 || !sendAll(to, Array(buffer[0..<n])) { break }
        }
        _ = shutdown(to, Int32(SHUT_WR))
    }
}

/// Reaching the real API server through a proxy: a kubeconfig's proxy-url,
/// and HTTPS_PROXY/NO_PROXY as kubectl reads them.
@Suite(.serialized) struct ProxyTests {
    func port(_ access: ClusterAccess) throws -> Int { try #require(URLComponents(string: access.server)?.port) }

    /// What `KubeClient` decides for `server` (`ProxySetting.environment`), with this environment instead of the process's.
    func decided(_ environment: ProxyEnvironment, _ server: String) -> ProxySetting {
        let proxy = environment.proxy(for: server)
        return proxy.isEmpty ? .direct : .url(proxy)
    }

    @Test func aProxyURLInTheKubeconfigCarriesEveryRequest() async throws {
        let proxy = try ConnectProxy()
        defer { proxy.stop() }
        let admin = try TestCluster.access()
        let dir = NSTemporaryDirectory() + "aviary-proxy-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        // The cluster's own kubeconfig, with proxy-url added: the API server is on loopback, which
        // HTTPS_PROXY would never be used for, but a proxy-url is used for everything (as in client-go).
        let original = try String(contentsOfFile: try TestCluster.kubeconfigPath, encoding: .utf8)
        let withProxy = original.replacingOccurrences(of: "    server: ", with: "    proxy-url: \(proxy.url)\n    server: ")
        #expect(withProxy != original)
        try withProxy.write(toFile: dir + "/kubeconfig", atomically: true, encoding: .utf8)
        let access = try KubeConfig.load(explicitPath: dir + "/kubeconfig").access()
        #expect(access.proxy == .url(proxy.url))
        let client = KubeClient(access: access)
        let namespaces: ObjectList<Metadata> = try await client.list(.namespaces)
        #expect(namespaces.items.contains { $0.metadata.name == "kube-system" })
        let _: Metadata = try await client.get(.namespaces, "default")
        #expect(!proxy.targets.isEmpty)
        #expect(Set(proxy.targets) == ["127.0.0.1:\(try port(admin))"])
    }

    @Test func httpsProxyFromTheEnvironmentAsKubectlReadsIt() async throws {
        let proxy = try ConnectProxy(hosts: ["kubernetes": "127.0.0.1"])
        defer { proxy.stop() }
        var access = try TestCluster.access()
        let apiPort = try port(access)
        // "kubernetes" is a name on the server's certificate that only the proxy can resolve.
        access.server = "https://kubernetes:\(apiPort)"
        let env = ProxyEnvironment(environment: ["HTTPS_PROXY": "127.0.0.1:\(proxy.port)", "NO_PROXY": "10.0.0.0/8,.svc"])
        access.proxy = decided(env, access.server)
        #expect(access.proxy == .url(proxy.url))
        let namespaces: ObjectList<Metadata> = try await KubeClient(access: access).list(.namespaces)
        #expect(!namespaces.items.isEmpty)
        #expect(proxy.targets == ["kubernetes:\(apiPort)"])

        // NO_PROXY names it: a direct connection, which cannot even resolve the name.
        let excluded = ProxyEnvironment(environment: ["HTTPS_PROXY": proxy.url, "NO_PROXY": "kubernetes"])
        access.proxy = decided(excluded, access.server)
        #expect(access.proxy == .direct)
        await #expect {
            let _: ObjectList<Metadata> = try await KubeClient(access: access, retry: .none).list(.namespaces)
        } throws: { error in
            guard case .transport(let failure) = error as? KubeError else { return false }
            return failure.kind == .couldNotResolve
        }

        // Loopback never goes through a proxy (Go's rule), whatever HTTPS_PROXY says.
        var loopback = try TestCluster.access()
        loopback.proxy = decided(ProxyEnvironment(environment: ["HTTPS_PROXY": proxy.url]), loopback.server)
        #expect(loopback.proxy == .direct)
        let _: ObjectList<Metadata> = try await KubeClient(access: loopback).list(.namespaces)
        #expect(proxy.targets == ["kubernetes:\(apiPort)"])
    }

    @Test func tlsServerNameIsWhatTheCertificateIsCheckedAgainstEvenThroughAProxy() async throws {
        var access = try TestCluster.access()
        let apiPort = try port(access)
        // The URL's host (127.0.0.1) is on the certificate too; the name checked is tls-server-name.
        access.tls.serverName = "kubernetes.default.svc"
        let _: ObjectList<Metadata> = try await KubeClient(access: access).list(.namespaces)

        access.tls.serverName = "not-on-the-certificate.example"
        await #expect {
            let _: ObjectList<Metadata> = try await KubeClient(access: access, retry: .none).list(.namespaces)
        } throws: { error in
            guard case .transport(let failure) = error as? KubeError else { return false }
            return failure.kind == .tls && "\(error)".contains("https://127.0.0.1:\(apiPort)")
        }

        // Through a proxy, the proxy is asked for the real host; TLS inside the tunnel checks the name.
        let proxy = try ConnectProxy()
        defer { proxy.stop() }
        access.tls.serverName = "kubernetes"
        access.proxy = .url(proxy.url)
        let _: ObjectList<Metadata> = try await KubeClient(access: access).list(.namespaces)
        #expect(proxy.targets == ["127.0.0.1:\(apiPort)"])
    }

    @Test func aTLSServerNameFromTheKubeconfig() async throws {
        let dir = NSTemporaryDirectory() + "aviary-sni-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let original = try String(contentsOfFile: try TestCluster.kubeconfigPath, encoding: .utf8)
        try original.replacingOccurrences(of: "    server: ", with: "    tls-server-name: kubernetes.default\n    server: ")
            .write(toFile: dir + "/kubeconfig", atomically: true, encoding: .utf8)
        let access = try KubeConfig.load(explicitPath: dir + "/kubeconfig").access()
        #expect(access.tls.serverName == "kubernetes.default")
        let _: Metadata = try await KubeClient(access: access).get(.namespaces, "default")
    }
}

/// gzip as client-go asks for it, against the real API server (which
/// compresses answers over 128 KiB).
@Suite struct CompressionTests {
    @Test func listsComeGzippedUnlessTheKubeconfigDisablesIt() async throws {
        let admin = try TestCluster.client()
        let ns = try await TestCluster.namespace("gzip", client: admin)
        defer { Task { await TestCluster.deleteNamespace(ns, client: admin) } }
        let payload = String(repeating: "compressible ", count: 400)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<40 {
                group.addTask {
                    let _ = try await admin.create(.configMaps, ConfigMap(metadata: ObjectMeta(name: "cm-\(i)"), data: ["v": payload]), namespace: ns)
                }
            }
            try await group.waitForAll()
        }
        let path = Resource.configMaps.path(namespace: ns)
        let zipped = try await admin.send("GET", path)
        #expect(zipped.headers["content-encoding"] == "gzip")
        let list = try ObjectList<ConfigMap>.decode(zipped.body)
        #expect(list.items.count == 40, "curl decoded the body")

        var access = admin.access
        access.disableCompression = true
        let plain = try await KubeClient(access: access).send("GET", path)
        #expect(plain.headers["content-encoding"] == nil)
        #expect(plain.body.count > 128 << 10)
        #expect(try ObjectList<ConfigMap>.decode(plain.body).items.count == 40)

        // The typed list goes the same way.
        let typed: ObjectList<ConfigMap> = try await admin.list(.configMaps, namespace: ns)
        #expect(typed.items.count == 40)
    }
}
