import Foundation

/// Kubernetes `Time`: RFC 3339 in whole seconds ("2026-11-22T01:02:03Z").
/// Kept as integral seconds so a decode/encode round trip is exact.
public struct KubeTime: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    public var secondsSinceEpoch: Int64

    public init(secondsSinceEpoch: Int64) { self.secondsSinceEpoch = secondsSinceEpoch }
    public init(_ date: Date) { self.secondsSinceEpoch = Int64(date.timeIntervalSince1970.rounded(.down)) }
    public static func now() -> KubeTime { KubeTime(Date()) }

    public var date: Date { Date(timeIntervalSince1970: TimeInterval(secondsSinceEpoch)) }
    public var description: String { RFC3339.format(seconds: secondsSinceEpoch, micros: nil) }

    public static func < (a: KubeTime, b: KubeTime) -> Bool { a.secondsSinceEpoch < b.secondsSinceEpoch }

    public init(parsing text: String) throws {
        let (s, _) = try RFC3339.parse(text)
        self.secondsSinceEpoch = s
    }

    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do { try self.init(parsing: text) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "\(error)"))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

/// Kubernetes `MicroTime`: RFC 3339 with exactly six fractional digits, which
/// Lease's acquireTime and renewTime require.
public struct MicroTime: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    public var microsecondsSinceEpoch: Int64

    public init(microsecondsSinceEpoch: Int64) { self.microsecondsSinceEpoch = microsecondsSinceEpoch }
    public init(_ date: Date) { self.microsecondsSinceEpoch = Int64((date.timeIntervalSince1970 * 1_000_000).rounded(.down)) }
    public static func now() -> MicroTime { MicroTime(Date()) }

    public var date: Date { Date(timeIntervalSince1970: TimeInterval(microsecondsSinceEpoch) / 1_000_000) }
    public var description: String {
        let s = microsecondsSinceEpoch.floorDiv(1_000_000)
        return RFC3339.format(seconds: s, micros: microsecondsSinceEpoch - s * 1_000_000)
    }

    public static func < (a: MicroTime, b: MicroTime) -> Bool { a.microsecondsSinceEpoch < b.microsecondsSinceEpoch }

    public init(parsing text: String) throws {
        let (s, us) = try RFC3339.parse(text)
        self.microsecondsSinceEpoch = s * 1_000_000 + us
    }

    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do { try self.init(parsing: text) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "\(error)"))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

public struct TimeFormatError: Error, CustomStringConvertible {
    public let text: String
    public var description: String { "not an RFC 3339 time: \"\(text)\"" }
}

extension Int64 {
    fileprivate func floorDiv(_ d: Int64) -> Int64 {
        let q = self / d
        return (self % d != 0 && (self < 0) != (d < 0)) ? q - 1 : q
    }
}

/// Hand-rolled RFC 3339 for speed and exactness (no DateFormatter, no Double).
package enum RFC3339 {
    static func format(seconds: Int64, micros: Int64?) -> String {
        let days = seconds.floorDiv(86_400)
        let rem = seconds - days * 86_400
        let (y, m, d) = civil(fromDays: days)
        var out = pad(y, 4) + "-" + pad(m, 2) + "-" + pad(d, 2) + "T"
        out += pad(rem / 3600, 2) + ":" + pad(rem % 3600 / 60, 2) + ":" + pad(rem % 60, 2)
        if let micros { out += "." + pad(micros, 6) }
        return out + "Z"
    }

    /// Returns seconds since the epoch and the sub-second part in microseconds.
    package static func parse(_ text: String) throws -> (Int64, Int64) {
        let b = Array(text.utf8)
        func num(_ at: Int, _ len: Int) throws -> Int64 {
            guard at + len <= b.count else { throw TimeFormatError(text: text) }
            var v: Int64 = 0
            for i in at..<at + len {
                let c = b[i]
                guard c >= 48, c <= 57 else { throw TimeFormatError(text: text) }
                v = v * 10 + Int64(c - 48)
            }
            return v
        }
        func expect(_ at: Int, _ chars: String) throws {
            guard at < b.count, chars.utf8.contains(b[at]) else { throw TimeFormatError(text: text) }
        }
        let y = try num(0, 4); try expect(4, "-")
        let mo = try num(5, 2); try expect(7, "-")
        let d = try num(8, 2); try expect(10, "Tt ")
        let h = try num(11, 2); try expect(13, ":")
        let mi = try num(14, 2); try expect(16, ":")
        let s = try num(17, 2)
        guard (1...12).contains(mo), (1...31).contains(d), h < 24, mi < 60, s < 61 else { throw TimeFormatError(text: text) }
        var i = 19
        var micros: Int64 = 0
        if i < b.count, b[i] == UInt8(ascii: ".") {
            i += 1
            var digits = 0
            while i < b.count, b[i] >= 48, b[i] <= 57 {
                if digits < 6 { micros = micros * 10 + Int64(b[i] - 48) }
                digits += 1; i += 1
            }
            guard digits > 0 else { throw TimeFormatError(text: text) }
            for _ in digits..<max(digits, 6) { micros *= 10 }
        }
        var offset: Int64 = 0
        guard i < b.count else { throw TimeFormatError(text: text) }
        if b[i] == UInt8(ascii: "Z") || b[i] == UInt8(ascii: "z") {
            i += 1
        } else if b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") {
            let sign: Int64 = b[i] == UInt8(ascii: "-") ? -1 : 1
            let oh = try num(i + 1, 2); try expect(i + 3, ":")
            let om = try num(i + 4, 2)
            offset = sign * (oh * 3600 + om * 60)
            i += 6
        } else {
            throw TimeFormatError(text: text)
        }
        guard i == b.count else { throw TimeFormatError(text: text) }
        let secs = days(fromCivil: y, mo, d) * 86_400 + h * 3600 + mi * 60 + s - offset
        return (secs, micros)
    }

    private static func pad(_ v: Int64, _ width: Int) -> String {
        let s = String(v)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }

    // Howard Hinnant's days-from-civil algorithms (proleptic Gregorian).
    static func days(fromCivil y0: Int64, _ m: Int64, _ d: Int64) -> Int64 {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civil(fromDays z0: Int64) -> (Int64, Int64, Int64) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }
}
