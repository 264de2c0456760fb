import KubeAPI

/// Times as a report accepts them: years 1 to 9999. Anything else (a
/// hand-written status can hold any number) reads as unknown, so no date
/// arithmetic or formatting ever sees a value it could overflow on.
enum ReportTime {
    static let earliest: Int64 = -62_135_596_800 // 0001-01-01T00:00:00Z
    static let latest: Int64 = 253_402_300_799 // 9999-12-31T23:59:59Z

    static func sane(_ t: KubeTime?) -> KubeTime? {
        guard let t, (earliest...latest).contains(t.secondsSinceEpoch) else { return nil }
        return t
    }

    static func sane(micros: Int64?) -> Int64? {
        guard let micros, (earliest * 1_000_000...latest * 1_000_000).contains(micros) else { return nil }
        return micros
    }

    static func sane(seconds: Int64) -> Bool { (earliest...latest).contains(seconds) }
}
