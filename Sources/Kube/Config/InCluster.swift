import Foundation
import Logging

/// The in-cluster configuration: the API server from KUBERNETES_SERVICE_HOST and
/// _PORT, identity and trust from the service-account directory. Tests point
/// `AVIARY_SERVICEACCOUNT_DIR` (or `directory:`) at files of their own.
public enum InCluster {
    public static let defaultDirectory = "/var/run/secrets/kubernetes.io/serviceaccount"

    static func directory(_ override: String?, environment: [String: String]) -> String {
        override ?? environment["AVIARY_SERVICEACCOUNT_DIR"] ?? defaultDirectory
    }

    public static func isAvailable(environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        environment["KUBERNETES_SERVICE_HOST"] != nil && environment["KUBERNETES_SERVICE_PORT"] != nil
    }

    public static func load(directory override: String? = nil,
                            environment: [String: String] = ProcessInfo.processInfo.environment) throws -> ClusterAccess {
        guard let host = environment["KUBERNETES_SERVICE_HOST"], !host.isEmpty,
              let port = environment["KUBERNETES_SERVICE_PORT"], !port.isEmpty else {
            throw KubeError.config("in-cluster config: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set")
        }
        let dir = directory(override, environment: environment)
        let caPath = dir + "/ca.crt"
        // Never fall back to an unverified connection: a missing CA is an error.
        guard let ca = FileManager.default.contents(atPath: caPath), !ca.isEmpty else {
            throw KubeError.config("in-cluster config: cannot read the cluster CA at \(caPath)")
        }
        let tokenPath = dir + "/token"
        guard FileManager.default.fileExists(atPath: tokenPath) else {
            throw KubeError.config("in-cluster config: no service-account token at \(tokenPath)")
        }
        let token = try TokenSource(file: tokenPath)
        let namespace = FileManager.default.contents(atPath: dir + "/namespace")
            .map { String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) } ?? "default"
        let hostPart = host.contains(":") ? "[\(host)]" : host
        return ClusterAccess(server: "https://\(hostPart):\(port)",
                             tls: TLSSettings(caPEM: ca),
                             credentials: .bearer(token),
                             namespace: namespace.isEmpty ? "default" : namespace,
                             source: "in-cluster (\(dir))")
    }
}
