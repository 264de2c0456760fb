import CCurl
import Foundation
import Testing
@testable import Kube

/// AVIARY_CURL_VERBOSE=1 describes transfers on stderr, never with credentials.
@Suite(.serialized) struct VerboseRedactionTests {
    /// What `aviary_debug_redacting` prints for one header block.
    func printed(_ type: curl_infotype, _ text: String) -> String {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { return "" }
        fflush(nil)
        let saved = dup(2)
        dup2(fds[1], 2)
        var bytes = Array(text.utf8CString.dropLast())
        _ = bytes.withUnsafeMutableBufferPointer { aviary_debug_redacting(nil, type, $0.baseAddress, $0.count, nil) }
        fflush(nil)
        dup2(saved, 2)
        close(saved)
        close(fds[1])
        var out = Data()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(fds[0], &buffer, buffer.count)
            if n <= 0 { break }
            out.append(contentsOf: buffer[0..<n])
        }
        close(fds[0])
        return String(decoding: out, as: UTF8.self)
    }

    @Test func credentialsAreBlanked() {
        let out = printed(CURLINFO_HEADER_OUT, "GET /api HTTP/2\r\nHost: k8s\r\nauthorization: Bearer eyJ.s3cr3t\r\nCookie: session=abc\r\nAccept: */*\r\n\r\n")
        #expect(out.contains("> GET /api HTTP/2\n"))
        #expect(out.contains("> Host: k8s\n"))
        #expect(out.contains("> authorization: [redacted]\n"))
        #expect(out.contains("> Cookie: [redacted]\n"))
        #expect(!out.contains("s3cr3t"))
        #expect(!out.contains("session=abc"))
        #expect(printed(CURLINFO_DATA_OUT, "{\"password\":\"p\"}").isEmpty, "bodies are never printed")
        #expect(printed(CURLINFO_TEXT, "Connected to k8s\n") == "* Connected to k8s\n")
    }
}
