/// Durations as Argo manifests write them: "250ms", "30s", "5m", "1h30m", or a
/// bare number of seconds.
public enum DurationText {
    /// Seconds, finite, from 0 to `Limits.maxDurationSeconds`; anything else
    /// (negative, "inf", "1e19", a year and a day) is an error that says so.
    public static func seconds(_ text: String) throws -> Double {
        let value = try unbounded(text)
        guard value.isFinite, value >= 0, value <= Double(Limits.maxDurationSeconds) else {
            throw DurationError(text: text, tooLong: true)
        }
        return value
    }

    /// Whole seconds, rounded up (a 250ms interval is 1 s), within the same bounds.
    public static func wholeSeconds(_ text: String) throws -> Int {
        let value = try seconds(text).rounded(.up)
        guard let whole = Int(exactly: value) else { throw DurationError(text: text, tooLong: true) }
        return whole
    }

    static func unbounded(_ text: String) throws -> Double {
        if text.count > 64 { throw DurationError(text: String(text.prefix(64)) + "…") }
        if let v = Double(text) {
            guard v.isFinite, v >= 0 else { throw DurationError(text: text, tooLong: v.isInfinite && v > 0) }
            return v
        }
        var total = 0.0
        var number = ""
        var rest = Substring(text)
        while let ch = rest.first {
            rest = rest.dropFirst()
            if ch.isNumber || ch == "." {
                number.append(ch)
                continue
            }
            guard let n = Double(number) else { throw DurationError(text: text) }
            switch ch {
            case "h": total += n * 3600
            case "m" where rest.first == "s":
                rest = rest.dropFirst()
                total += n / 1000
            case "m": total += n * 60
            case "s": total += n
            default: throw DurationError(text: text)
            }
            number = ""
        }
        guard number.isEmpty, !text.isEmpty else { throw DurationError(text: text) }
        return total
    }
}

public struct DurationError: Error, CustomStringConvertible, Equatable {
    public let text: String
    /// A duration that parses but is out of range (longer than a year, infinite).
    public var tooLong = false

    public init(text: String, tooLong: Bool = false) {
        self.text = text
        self.tooLong = tooLong
    }

    public var description: String {
        tooLong ? "\"\(text)\" is longer than the largest duration aviary accepts (\(Limits.maxDurationSeconds)s, one year)"
            : "\"\(text)\" is not a duration like 30s, 5m, 1h or a number of seconds"
    }
}
