import Foundation
import Testing
@testable import Kube

@Suite struct KubeTimeTests {
    @Test(arguments: ["2026-11-22T01:02:03Z", "1970-01-01T00:00:00Z", "2000-02-29T23:59:59Z", "1969-12-31T23:59:59Z"])
    func timeRoundTripsExactly(text: String) throws {
        let t = try KubeTime(parsing: text)
        #expect(t.description == text)
        let json = try JSONEncoder().encode([t])
        #expect(String(decoding: json, as: UTF8.self) == "[\"\(text)\"]")
        #expect(try JSONDecoder().decode([KubeTime].self, from: json) == [t])
    }

    @Test func timeMatchesFoundation() throws {
        let t = try KubeTime(parsing: "2026-11-22T01:02:03Z")
        let f = ISO8601DateFormatter()
        #expect(t.date == f.date(from: "2026-11-22T01:02:03Z"))
    }

    @Test func offsetsAreNormalisedToUTC() throws {
        #expect(try KubeTime(parsing: "2026-11-22T03:02:03+02:00").description == "2026-11-22T01:02:03Z")
        #expect(try KubeTime(parsing: "2026-11-21T20:32:03-04:30").description == "2026-11-22T01:02:03Z")
    }

    @Test(arguments: ["2026-11-22T01:02:03.000000Z", "2026-11-22T01:02:03.123456Z", "1969-12-31T23:59:59.999999Z"])
    func microTimeRoundTripsExactly(text: String) throws {
        let t = try MicroTime(parsing: text)
        #expect(t.description == text)
        #expect(try JSONDecoder().decode([MicroTime].self, from: JSONEncoder().encode([t])) == [t])
    }

    @Test func microTimeAlwaysHasSixDigits() throws {
        #expect(try MicroTime(parsing: "2026-11-22T01:02:03.5Z").description == "2026-11-22T01:02:03.500000Z")
        #expect(try MicroTime(parsing: "2026-11-22T01:02:03Z").description == "2026-11-22T01:02:03.000000Z")
        // Nanoseconds from other clients are truncated to microseconds.
        #expect(try MicroTime(parsing: "2026-11-22T01:02:03.123456789Z").microsecondsSinceEpoch % 1_000_000 == 123_456)
    }

    @Test(arguments: ["", "2026-11-22", "2026-13-01T00:00:00Z", "2026-11-22T01:02:03", "2026-11-22T01:02:03.Z", "2026-11-22T01:02:03Zjunk"])
    func rejectsMalformedTimes(text: String) {
        #expect(throws: TimeFormatError.self) { _ = try KubeTime(parsing: text) }
    }
}
