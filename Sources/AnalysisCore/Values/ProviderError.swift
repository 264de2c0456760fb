import KubeAPI

/// A measurement provider's failure, naming where it failed.
public struct ProviderError: Error, Equatable, Sendable, CustomStringConvertible {
    public var message: String
    /// The server could not be reached or did not answer (resolve, connect,
    /// TLS, timeout, connection lost): the only failures the circuit breaker
    /// counts. A 4xx, a bad query or an undecodable answer is the metric's
    /// fault, not the server's, and must not open the circuit for anyone.
    public var transport: Bool

    public init(_ message: String, transport: Bool = false) {
        self.message = message
        self.transport = transport
    }

    public var description: String { message }
}
