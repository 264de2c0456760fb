import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A listening TCP socket on 127.0.0.1 at a free port: what every test
/// server here (HTTP, CONNECT proxy, a port that never answers) starts from.
public enum Loopback {
    public static func listen(backlog: Int32 = 16) throws -> (fd: Int32, port: Int) {
        let (fd, port) = try bound(reuseAddress: true)
        guard Glibc.listen(fd, backlog) == 0 else {
            close(fd)
            throw POSIXError(.EADDRINUSE)
        }
        return (fd, port)
    }

    /// A port on 127.0.0.1 that refuses connections for as long as the
    /// returned descriptor is open: bound (without SO_REUSEADDR) but not
    /// listening, so the kernel hands it to no other socket. A port merely
    /// closed would be free for the next test's receiver, which would then
    /// record this test's retries. Close the descriptor when done.
    public static func refusingPort() throws -> (fd: Int32, port: Int) {
        try bound(reuseAddress: false)
    }

    /// A TCP socket bound to 127.0.0.1 at a port the kernel picks.
    static func bound(reuseAddress: Bool) throws -> (fd: Int32, port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        if reuseAddress {
            var yes: Int32 = 1
            _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            close(fd)
            throw POSIXError(.EADDRINUSE)
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return (fd, Int(UInt16(bigEndian: addr.sin_port)))
    }
}
