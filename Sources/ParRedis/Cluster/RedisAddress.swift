/// A cluster node's `host:port`.
struct RedisAddress: Sendable, Hashable, CustomStringConvertible {
    var host: String
    var port: Int

    var description: String { "\(host):\(port)" }

    /// Parses the `host:port` of a redirection (`MOVED 3999 127.0.0.1:6381`); IPv6 hosts contain colons.
    init?(_ text: Substring) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (1...65_535).contains(port)
        else { return nil }
        var host = text[..<colon]
        if host.hasPrefix("["), host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        guard !host.isEmpty else { return nil }
        self.init(host: String(host), port: port)
    }

    init(host: String, port: Int) {
        self.host = host
        self.port = port
    }
}
