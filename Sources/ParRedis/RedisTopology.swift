import Foundation

/// One Redis server: where it is, and how to log in.
public struct RedisEndpoint: Sendable, Hashable {
    public var host: String
    public var port: Int
    public var password: String?
    public var database: Int

    public init(host: String = "127.0.0.1", port: Int = 6379, password: String? = nil, database: Int = 0) {
        self.host = host
        self.port = port
        self.password = password
        self.database = database
    }
}

/// How a node reaches Redis: one server, or a Redis Cluster through any of its nodes.
public enum RedisTopology: Sendable, Equatable {
    /// `redis://[:password@]host[:port][/db]`.
    case standalone(RedisEndpoint)
    /// `redis+cluster://[:password@]host:port[,host:port...]`: seed nodes, any of which may be down at start; the
    /// cluster's own map says where every slot is. Clusters have database 0 only.
    case cluster(seeds: [RedisEndpoint])

    /// Parses either form; `nil` when malformed.
    public init?(url: String) {
        let cluster = url.hasPrefix("redis+cluster://")
        guard cluster || url.hasPrefix("redis://") else { return nil }
        var rest = Substring(url.dropFirst(cluster ? "redis+cluster://".count : "redis://".count))
        var password: String? = nil
        if let at = rest.lastIndex(of: "@") {
            let userInfo = rest[..<at]
            rest = rest[rest.index(after: at)...]
            // `:password`, or `user:password` where only the default user is meant.
            guard let colon = userInfo.firstIndex(of: ":"), let decoded = String(userInfo[userInfo.index(after: colon)...]).removingPercentEncoding
            else { return nil }
            password = decoded
        }
        var path = Substring("")
        if let slash = rest.firstIndex(of: "/") {
            path = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
        }
        guard path.isEmpty || (path.allSatisfy(\.isNumber) && path.count <= 4) else { return nil }
        let database = Int(path) ?? 0
        let hosts = rest.split(separator: ",", omittingEmptySubsequences: false)
        guard !hosts.isEmpty, cluster || hosts.count == 1 else { return nil }
        var endpoints: [RedisEndpoint] = []
        for host in hosts {
            guard let endpoint = Self.endpoint(host, defaultPort: 6379, password: password, database: database) else { return nil }
            endpoints.append(endpoint)
        }
        if cluster {
            guard database == 0 else { return nil }
            self = .cluster(seeds: endpoints)
        } else {
            self = .standalone(endpoints[0])
        }
    }

    /// `host[:port]`, `[v6]:port`.
    private static func endpoint(_ text: Substring, defaultPort: Int, password: String?, database: Int) -> RedisEndpoint? {
        var host = text
        var port = defaultPort
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return nil }
            let after = host[host.index(after: close)...]
            host = host[host.index(after: host.startIndex)..<close]
            if !after.isEmpty {
                guard after.hasPrefix(":"), let value = Int(after.dropFirst()) else { return nil }
                port = value
            }
        } else if let colon = host.lastIndex(of: ":") {
            guard let value = Int(host[host.index(after: colon)...]) else { return nil }
            port = value
            host = host[..<colon]
        }
        guard !host.isEmpty, (1...65_535).contains(port),
            host.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" || $0 == ":" || $0 == "_" })
        else { return nil }
        return RedisEndpoint(host: String(host), port: port, password: password, database: database)
    }
}
