import Foundation

/// Where requests may go: a list of host names (exact, or `*.suffix` for any
/// name under a domain) and networks (IPv4 or IPv6 CIDRs, or single
/// addresses). The controller's `--provider-allow` makes one for analysis
/// providers; without it nothing is checked.
///
/// How a request is judged:
/// - a URL whose host is an IP address is allowed when a network holds it;
/// - a host name matching a name rule is allowed as written (it is trusted by
///   name, whatever it resolves to);
/// - any other name is allowed only when there are network rules, and then
///   each address curl is about to connect to (after DNS) must be in one, so
///   a name that resolves somewhere else (DNS rebinding) is still refused;
/// - with a policy, proxies from the environment are not used, so what is
///   checked is what is connected to.
public struct AddressPolicy: Sendable, Hashable, CustomStringConvertible {
    public enum Rule: Sendable, Hashable {
        /// A host name, lower-cased, without a trailing dot.
        case host(String)
        /// `*.example.com`: any name ending in `.example.com` (not `example.com` itself).
        case domain(String)
        case network(IPNetwork)
    }

    public var rules: [Rule]
    /// The flag or setting that made this policy, for messages.
    public var origin: String

    public init(rules: [Rule], origin: String = "--provider-allow") {
        self.rules = rules
        self.origin = origin
    }

    /// Reads entries such as `prometheus.monitoring.svc`, `*.internal`,
    /// `10.0.0.0/8`, `fd00::/8`, `127.0.0.1`; each entry may itself be a
    /// comma-separated list. Empty entries are skipped.
    public init(parsing entries: [String], origin: String = "--provider-allow") throws {
        var rules: [Rule] = []
        for entry in entries {
            for part in entry.split(separator: ",") {
                let text = part.trimmingCharacters(in: .whitespaces)
                if text.isEmpty { continue }
                rules.append(try Self.rule(text))
            }
        }
        self.init(rules: rules, origin: origin)
    }

    public struct ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        public var entry: String
        public var reason: String
        public var description: String {
            "\"\(entry)\": \(reason); write a host name (prometheus.monitoring.svc), a domain (*.monitoring.svc), or a network (10.0.0.0/8, fd00::/8)"
        }
    }

    static func rule(_ text: String) throws -> Rule {
        if text.contains("/") {
            guard let network = IPNetwork(text) else { throw ParseError(entry: text, reason: "not a network in CIDR notation") }
            return .network(network)
        }
        if let address = IPAddress(Self.unbracketed(text)) {
            return .network(IPNetwork(address: address, prefix: address.bitCount))
        }
        let lower = Self.normalizedName(text)
        if lower.hasPrefix("*.") {
            let suffix = String(lower.dropFirst(2))
            guard Self.isHostName(suffix) else { throw ParseError(entry: text, reason: "not a domain") }
            return .domain(suffix)
        }
        guard Self.isHostName(lower) else { throw ParseError(entry: text, reason: "not a host name") }
        return .host(lower)
    }

    public var description: String {
        rules.map { rule -> String in
            switch rule {
            case .host(let h): return h
            case .domain(let d): return "*.\(d)"
            case .network(let n): return n.description
            }
        }.joined(separator: ", ")
    }

    /// What to do about a URL's host, before any I/O.
    public enum Verdict: Sendable, Equatable {
        case allowed
        case refused(String)
        /// Allowed only if every address actually connected to is in one of the networks.
        case checkAddresses
    }

    public func verdict(host rawHost: String) -> Verdict {
        let host = Self.unbracketed(rawHost)
        if let address = IPAddress(host) {
            return allows(address) ? .allowed : .refused(refusal(address: address.description))
        }
        let name = Self.normalizedName(host)
        for rule in rules {
            switch rule {
            case .host(let h) where h == name: return .allowed
            case .domain(let d) where name.hasSuffix("." + d): return .allowed
            default: continue
            }
        }
        let hasNetworks = rules.contains { if case .network = $0 { return true } else { return false } }
        return hasNetworks ? .checkAddresses : .refused("host \(name) is not allowed by \(origin) (allowed: \(self))")
    }

    public func allows(_ address: IPAddress) -> Bool {
        rules.contains { rule in
            if case .network(let n) = rule { return n.contains(address) }
            return false
        }
    }

    /// The message for an address no rule allows.
    public func refusal(address: String) -> String {
        "address \(address) is not allowed by \(origin) (allowed: \(self))"
    }

    static func unbracketed(_ host: String) -> String {
        if host.hasPrefix("["), host.hasSuffix("]") { return String(host.dropFirst().dropLast()) }
        return host
    }

    static func normalizedName(_ host: String) -> String {
        var h = host.lowercased()
        while h.hasSuffix(".") { h.removeLast() }
        return h
    }

    static func isHostName(_ name: String) -> Bool {
        guard !name.isEmpty, name.utf8.count <= 253 else { return false }
        return name.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            !label.isEmpty && label.utf8.count <= 63 && label.utf8.allSatisfy { b in
                (b >= 0x61 && b <= 0x7a) || (b >= 0x30 && b <= 0x39) || b == 0x2d || b == 0x5f
            }
        }
    }
}

/// An IPv4 or IPv6 address as its bytes. An IPv4-mapped IPv6 address
/// (`::ffff:10.0.0.5`) is its IPv4 address, so it cannot slip past an IPv4 rule.
public struct IPAddress: Sendable, Hashable, CustomStringConvertible {
    public let bytes: [UInt8]

    /// 4 or 16 bytes; nil otherwise.
    public init?(bytes: [UInt8]) {
        if bytes.count == 16, bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xff, bytes[11] == 0xff {
            self.bytes = Array(bytes[12..<16])
        } else if bytes.count == 4 || bytes.count == 16 {
            self.bytes = bytes
        } else {
            return nil
        }
    }

    /// Dotted IPv4 or textual IPv6 (no brackets, no zone); nil for anything else.
    public init?(_ text: String) {
        var v4 = in_addr()
        if text.withCString({ inet_pton(AF_INET, $0, &v4) }) == 1 {
            self.init(bytes: withUnsafeBytes(of: &v4) { Array($0) })
            return
        }
        var v6 = in6_addr()
        if text.withCString({ inet_pton(AF_INET6, $0, &v6) }) == 1 {
            self.init(bytes: withUnsafeBytes(of: &v6) { Array($0) })
            return
        }
        return nil
    }

    public var bitCount: Int { bytes.count * 8 }

    public var description: String {
        if bytes.count == 4 { return bytes.map(String.init).joined(separator: ".") }
        var raw = in6_addr()
        withUnsafeMutableBytes(of: &raw) { dst in
            for (i, b) in bytes.enumerated() where i < dst.count { dst[i] = b }
        }
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        let ok = buffer.withUnsafeMutableBufferPointer { out in
            inet_ntop(AF_INET6, &raw, out.baseAddress, socklen_t(out.count)) != nil
        }
        guard ok else { return bytes.map { String($0, radix: 16) }.joined(separator: ":") }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// An address and a prefix length: `10.0.0.0/8`, `fd00::/8`.
public struct IPNetwork: Sendable, Hashable, CustomStringConvertible {
    public let address: IPAddress
    public let prefix: Int

    public init(address: IPAddress, prefix: Int) {
        self.address = address
        self.prefix = max(0, min(prefix, address.bitCount))
    }

    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let address = IPAddress(String(parts[0])), parts[1].utf8.count <= 3,
              parts[1].utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let bits = Int(parts[1]) else { return nil }
        // A mapped IPv6 network (::ffff:0:0/96 + n) becomes the IPv4 network of n bits.
        let written = parts[0].contains(":") ? 128 : 32
        let prefix = written == 128 && address.bytes.count == 4 ? bits - 96 : bits
        guard prefix >= 0, prefix <= address.bitCount else { return nil }
        self.init(address: address, prefix: prefix)
    }

    public func contains(_ other: IPAddress) -> Bool {
        guard other.bytes.count == address.bytes.count else { return false }
        var left = prefix
        for (a, b) in zip(address.bytes, other.bytes) {
            if left <= 0 { return true }
            let bits = min(8, left)
            let mask = UInt8(truncatingIfNeeded: 0xff << (8 - bits))
            if a & mask != b & mask { return false }
            left -= bits
        }
        return true
    }

    public var description: String { "\(address)/\(prefix)" }
}
