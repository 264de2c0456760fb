import Foundation
import Testing
@testable import Kube

/// One object a user wrote badly must never fail a whole list or a watch.
@Suite struct UndecodableTests {
    static let deep = String(repeating: "[", count: 600) + String(repeating: "]", count: 600)

    func configMap(_ name: String, data: String) -> String {
        #"{"kind":"ConfigMap","metadata":{"name":"\#(name)","namespace":"n","resourceVersion":"5"},"data":\#(data)}"#
    }

    @Test func aListWithADeeplyNestedItemKeepsTheOthers() throws {
        let body = #"{"kind":"ConfigMapList","metadata":{"resourceVersion":"77","continue":"c"},"items":["#
            + configMap("a", data: #"{"k":"v"}"#) + "," + configMap("deep", data: #"{"k":\#(Self.deep)}"#) + ","
            + configMap("b", data: #"{"k":["wrong"]}"#) + "," + configMap("c", data: #"{"k":"v2"}"#) + "]}"
        #expect(throws: (any Error).self) { _ = try JSONDecoder().decode(ObjectList<ConfigMap>.self, from: Data(body.utf8)) }
        let list = try ObjectList<ConfigMap>.decode(Data(body.utf8))
        #expect(list.items.map(\.metadata.name) == ["a", "c"])
        #expect(list.undecodable.map(\.metadata.name) == ["deep", "b"])
        #expect(list.undecodable.first?.error == "the object nests 602 levels deep; aviary reads at most 512")
        #expect(list.undecodable.last?.error == "data.k: expected a string, found a list")
        #expect(list.metadata.resourceVersion == "77")
        #expect(list.metadata.continue == "c")
    }

    @Test func aWatchLineWithADeeplyNestedObjectNamesIt() throws {
        var d = WatchDecoder<ConfigMap>()
        let line = #"{"type":"MODIFIED","object":"# + configMap("deep", data: #"{"k":\#(Self.deep)}"#) + "}\n"
        let ok = #"{"type":"ADDED","object":"# + configMap("fine", data: #"{"k":"v"}"#) + "}\n"
        d.append(Data((line + ok).utf8))
        guard case .undecodable(let u, let deleted)? = try d.next() else { Issue.record("not reported as undecodable"); return }
        #expect(u.metadata.name == "deep")
        #expect(u.metadata.resourceVersion == "5")
        #expect(!deleted)
        #expect(u.error.contains("602 levels deep"))
        guard case .added(let cm)? = try d.next() else { Issue.record("the next event is lost"); return }
        #expect(cm.metadata.name == "fine")
    }

    @Test func aSliceOfALargerBufferScansFromItsOwnStart() {
        let whole = Data(("xxxx" + #"{"a":[1,{"b":"}"}],"c":"d"}"#).utf8)
        let slice = whole[whole.index(whole.startIndex, offsetBy: 4)...]
        let members = JSONScan.members(Data(slice))
        #expect(members?.map(\.key) == ["a", "c"])
        #expect(JSONScan.member("c", of: slice, as: String.self) == "d")
        #expect(JSONScan.depth(slice) == 3)
    }

    @Test func aListsContinueTokenIsReadWithoutWalkingItsItems() {
        // The items are cut off: a scan that walked them would find nothing.
        let page = Data(#"{"kind":"ConfigMapList","metadata":{"resourceVersion":"7","continue":"tok"},"items":[{"metadata":{"#.utf8)
        #expect(JSONScan.firstMember("metadata", of: page, as: ListMeta.self)?.continue == "tok")
        #expect(JSONScan.firstMember("missing", of: page, as: ListMeta.self) == nil)
        // An escaped key is still recognised.
        #expect(JSONScan.firstMember("metadata", of: Data(#"{"meta\u0064ata":{"continue":"x"}}"#.utf8), as: ListMeta.self)?.continue == "x")
    }

    @Test func brokenJSONIsNotScannedPastItsEnd() {
        for text in [#"{"a":"#, #"{"a":[1,2"#, #"{"a":"unterminated}"#, "{", "", #"{"a" 1}"#, #"[1,2"#] {
            _ = JSONScan.members(Data(text.utf8))
            _ = JSONScan.elements(Data(text.utf8), in: 0..<text.utf8.count)
            _ = JSONScan.depth(Data(text.utf8))
        }
    }
}
