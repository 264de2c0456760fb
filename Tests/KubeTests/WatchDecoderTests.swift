import Foundation
import Testing
@testable import Kube

@Suite struct WatchDecoderTests {
    func line(_ type: String, _ name: String, rv: String, data: String = "x") -> String {
        #"{"type":"\#(type)","object":{"kind":"ConfigMap","metadata":{"name":"\#(name)","resourceVersion":"\#(rv)"},"data":{"k":"\#(data)"}}}"# + "\n"
    }

    func drain(_ d: inout WatchDecoder<ConfigMap>) throws -> [String] {
        var out: [String] = []
        while let e = try d.next() {
            switch e {
            case .added(let o): out.append("added \(o.metadata.name!)")
            case .modified(let o): out.append("modified \(o.metadata.name!)")
            case .deleted(let o): out.append("deleted \(o.metadata.name!)")
            case .bookmark(let rv): out.append("bookmark \(rv)")
            case .undecodable(let u, let deleted): out.append("\(deleted ? "deleted-" : "")undecodable \(u.metadata.name ?? "") \(u.error)")
            }
        }
        return out
    }

    @Test func eventsSplitAcrossReadsArriveWhole() throws {
        let stream = line("ADDED", "a", rv: "1") + line("MODIFIED", "a", rv: "2") + line("DELETED", "a", rv: "3")
        var d = WatchDecoder<ConfigMap>()
        var seen: [String] = []
        // One byte at a time: the worst split there is.
        for byte in Data(stream.utf8) {
            d.append(Data([byte]))
            seen += try drain(&d)
        }
        #expect(seen == ["added a", "modified a", "deleted a"])
        #expect(d.pendingBytes == 0)
    }

    @Test func manyEventsInOneRead() throws {
        var d = WatchDecoder<ConfigMap>()
        d.append(Data((0..<100).map { line("ADDED", "n\($0)", rv: "\($0)") }.joined().utf8))
        #expect(try drain(&d).count == 100)
    }

    @Test func eventsOfSeveralMegabytes() throws {
        let big = String(repeating: "z", count: 6 << 20)
        var d = WatchDecoder<ConfigMap>()
        let bytes = Data((line("ADDED", "big", rv: "7", data: big) + line("ADDED", "small", rv: "8")).utf8)
        var events: [WatchEvent<ConfigMap>] = []
        for start in stride(from: 0, to: bytes.count, by: 16384) {
            d.append(bytes[start..<min(start + 16384, bytes.count)])
            while let e = try d.next() { events.append(e) }
        }
        #expect(events.count == 2)
        #expect(events.first?.object?.data?["k"]?.count == 6 << 20)
    }

    @Test func bookmarksCarryOnlyAResourceVersion() throws {
        var d = WatchDecoder<ConfigMap>()
        d.append(Data(#"{"type":"BOOKMARK","object":{"kind":"ConfigMap","metadata":{"resourceVersion":"12345"}}}"#.utf8 + [0x0A]))
        #expect(try drain(&d) == ["bookmark 12345"])
    }

    @Test func errorEventsThrowTheServersStatus() throws {
        var d = WatchDecoder<ConfigMap>()
        d.append(Data((line("ADDED", "a", rv: "1") +
            #"{"type":"ERROR","object":{"kind":"Status","status":"Failure","message":"too old resource version: 1 (5)","reason":"Expired","code":410}}"# + "\n").utf8))
        #expect(try d.next() != nil)
        #expect {
            _ = try d.next()
        } throws: { error in
            guard let k = error as? KubeError else { return false }
            return k.isGone && k.status?.reason == "Expired"
        }
    }

    @Test func anObjectThatDoesNotFitIsReportedByNameAndFieldNotRetriedForever() throws {
        var d = WatchDecoder<ConfigMap>()
        d.append(Data((#"{"type":"MODIFIED","object":{"metadata":{"name":"odd","resourceVersion":"41"},"data":{"k":["not","a","string"]}}}"# + "\n" +
            line("ADDED", "b", rv: "42")).utf8))
        #expect(try drain(&d) == ["undecodable odd data.k: expected a string, found a list", "added b"])
    }

    @Test func garbageIsADecodingErrorNotACrash() {
        var d = WatchDecoder<ConfigMap>()
        d.append(Data("not json\n".utf8))
        #expect(throws: KubeError.self) { _ = try d.next() }
    }

    @Test func unboundedLinesAreRefused() {
        var lines = LineSplitter(maxLineLength: 1024)
        lines.append(Data(repeating: 0x41, count: 2048))
        #expect(throws: LineSplitter.LineTooLong.self) { _ = try lines.nextLine() }
    }
}
