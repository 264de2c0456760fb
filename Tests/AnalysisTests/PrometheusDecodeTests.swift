import Foundation
import Kube
import Testing
@testable import Analysis
@testable import AnalysisCore

@Suite struct PrometheusDecodeTests {
    func decode(_ json: String, status: Int = 200) throws -> JSONValue {
        try PrometheusProvider.decode(Data(json.utf8), status: status, address: "http://p:9090")
    }

    @Test func resultShapes() throws {
        #expect(try decode(#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"0.5"]},{"metric":{},"value":[1,"2"]}]}}"#) == [0.5, 2])
        #expect(try decode(#"{"status":"success","data":{"resultType":"scalar","result":[1,"3"]}}"#) == 3)
        #expect(try decode(#"{"status":"success","data":{"resultType":"vector","result":[]}}"#) == [])
        #expect(try decode(#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"1"],[2,"2"]]}]}}"#) == [[1, 2]])
        guard case .array(let nan) = try decode(#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"NaN"]}]}}"#),
              case .number(let n)? = nan.first else { Issue.record("expected a number"); return }
        #expect(n.isNaN)
    }

    @Test func errorsNameTheServer() {
        #expect {
            _ = try decode(#"{"status":"error","errorType":"bad_data","error":"parse error"}"#, status: 400)
        } throws: { "\($0)" == "prometheus at http://p:9090: bad_data: parse error" }
        #expect {
            _ = try decode("<html>proxy error</html>", status: 502)
        } throws: { "\($0)" == "prometheus at http://p:9090: HTTP 502 with a body that is not JSON" }
    }
}
