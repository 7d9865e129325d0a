// The demo server against clients that do not behave: connections left idle or stopped halfway
// through a request, bodies a web page elsewhere could send, and what /api/info reveals.

import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A raw TCP connection to 127.0.0.1, to send exactly the bytes a test wants.
final class RawConnection: @unchecked Sendable {
    let descriptor: Int32

    init(port: Int) throws {
        #if canImport(Glibc)
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        descriptor = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { close(descriptor); throw ServerStartupFailed(description: "connect failed: errno \(errno)") }
    }

    deinit { close(descriptor) }

    func send(_ text: String) {
        let bytes = Array(text.utf8)
        #if canImport(Glibc)
        _ = bytes.withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        #else
        _ = bytes.withUnsafeBytes { Darwin.send(descriptor, $0.baseAddress, $0.count, 0) }
        #endif
    }

    /// ``readUntilClosed(limit:)`` on a Dispatch thread, leaving Swift's cooperative threads to the server.
    func waitUntilClosed(limit: Double) async -> (text: String, closedAfter: Double?) {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: self.readUntilClosed(limit: limit)) }
        }
    }

    /// Reads until the server closes the connection or `limit` passes; returns what arrived and
    /// whether the connection was closed (and after how long).
    func readUntilClosed(limit: Double) -> (text: String, closedAfter: Double?) {
        let start = Date()
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while Date().timeIntervalSince(start) < limit {
            var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 100) > 0 else { continue }
            let got = recv(descriptor, &buffer, buffer.count, 0)
            if got <= 0 { return (String(decoding: received, as: UTF8.self), Date().timeIntervalSince(start)) }
            received += buffer[0..<got]
        }
        return (String(decoding: received, as: UTF8.self), nil)
    }
}

@Suite("Demo server connections", .serialized)
struct ServerConnectionTests {
    @Test("Idle connections and requests stopped halfway are closed after the idle timeout")
    func idleAndHalfSentConnectionsAreClosed() async throws {
        try await withDemoServer(idleTimeout: .seconds(2), readTimeout: .seconds(10)) { port in
            let partial = [
                "",                                                    // connected, sent nothing
                "GET /api/info HTTP/1.1\r\nHost: 127.0.0.1\r\n",       // headers never finished
                "POST /api/classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{\"train\":",
            ]
            let connections = try partial.map { text in
                let connection = try RawConnection(port: port)
                connection.send(text)
                return connection
            }
            for (connection, text) in zip(connections, partial) {
                let outcome = await connection.waitUntilClosed(limit: 15)
                #expect(outcome.closedAfter != nil, "still open after 15 s: \(text.debugDescription)")
            }
            // A connection kept busy with complete requests stays open and served.
            let answer = try await request(port: port, .get, "/api/info")
            #expect(answer.status == 200)
        }
    }

    @Test("A body that trickles in slower than the read timeout gets 408")
    func slowBodiesTimeOut() async throws {
        try await withDemoServer(idleTimeout: .seconds(5), readTimeout: .seconds(1)) { port in
            let connection = try RawConnection(port: port)
            connection.send("POST /api/classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
            // One byte every 0.5 s keeps the connection from being idle, but the body never ends in time.
            let trickle = Thread {
                for _ in 0..<30 {
                    Thread.sleep(forTimeInterval: 0.5)
                    connection.send(" ")
                }
            }
            trickle.start()
            let outcome = await connection.waitUntilClosed(limit: 6)
            #expect(outcome.text.hasPrefix("HTTP/1.1 408"), "\(outcome.text)")
        }
    }

    @Test("POST /api/classify accepts only application/json bodies (no cross-site form posts)",
          arguments: ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", nil])
    func classifyNeedsJSONContentType(contentType: String?) async throws {
        try await withDemoServer { port in
            let connection = try RawConnection(port: port)
            let body = demoBody()
            let typeLine = contentType.map { "Content-Type: \($0)\r\n" } ?? ""
            connection.send("POST /api/classify HTTP/1.1\r\nHost: x\r\n\(typeLine)Content-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)")
            let outcome = await connection.waitUntilClosed(limit: 10)
            #expect(outcome.text.hasPrefix("HTTP/1.1 415"), "\(outcome.text.prefix(200))")
            #expect(outcome.text.contains("application/json"))
            // The same body as JSON is classified.
            let answer = try await request(port: port, .post, "/api/classify", body: Array(body.utf8))
            #expect(answer.status == 200)
        }
    }

    @Test("GET /api/info names the checkpoint without revealing where it lies")
    func infoShowsTheCheckpointsName() async throws {
        try await withDemoServer { port in
            let object = try #require(try await request(port: port, .get, "/api/info").jsonObject as? [String: String])
            let name = try #require(object["checkpoint"])
            #expect(!name.contains("/") && !name.isEmpty, "\(name)")
        }
    }
}
