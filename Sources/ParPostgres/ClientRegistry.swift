public import ParCore

/// The client registry in PostgreSQL (`parstore_clients`).
///
/// The command-line tool changes it with a connection of its own; nodes read it through
/// ``PostgresEventStore`` and reload only when `parstore_registry_version` moved.
public enum ClientRegistry {
    static let selectAll = """
        SELECT client_id, auth_method, encode(secret_hash, 'hex'), redirect_uris, scopes, request_lifetime_seconds,
               interaction_lifetime_seconds, require_pushed_authorization_requests
        FROM parstore_clients ORDER BY client_id
        """

    /// The registry's version, bumped by every change.
    public static func version(in store: PostgresEventStore) async throws -> Int64 {
        let rows = try await store.query("SELECT version FROM parstore_registry_version WHERE id = 1")
        return rows.rows.first?.first.flatMap { $0 }.flatMap { Int64($0) } ?? 0
    }

    /// Every registered client.
    public static func all(in store: PostgresEventStore) async throws -> [Client] {
        try await store.query(selectAll).rows.compactMap(client(from:))
    }

    /// Every registered client (command-line tool).
    @available(*, noasync, message: "blocking: call from a thread of its own")
    public static func all(on connection: PGConnection) throws -> [Client] {
        try connection.execute(selectAll).rows.compactMap(client(from:))
    }

    /// Registers a client.
    ///
    /// - Throws: ``ClientRegistryError/alreadyExists`` when the id is taken.
    @available(*, noasync, message: "blocking: call from a thread of its own")
    public static func add(_ client: Client, on connection: PGConnection) throws {
        do {
            try connection.execute(
                """
                INSERT INTO parstore_clients (client_id, auth_method, secret_hash, redirect_uris, scopes,
                    request_lifetime_seconds, interaction_lifetime_seconds, require_pushed_authorization_requests)
                VALUES ($1, $2, decode($3, 'hex'), $4::text[], $5::text[], $6::integer, $7::integer, $8::boolean)
                """,
                [
                    client.id, client.authMethod.rawValue, client.secretHash.map(Secret.hex),
                    PostgresArray.literal(client.redirectURIs), PostgresArray.literal(client.scopes.sorted()),
                    client.requestLifetime.map { String($0.components.seconds) },
                    client.interactionLifetime.map { String($0.components.seconds) },
                    client.requiresPushedRequests ? "true" : "false",
                ]
            )
        } catch {
            if error.sqlState == "23505" { throw ClientRegistryError.alreadyExists(client.id) }
            throw error
        }
    }

    /// Removes a client.
    ///
    /// - Returns: whether it existed.
    @available(*, noasync, message: "blocking: call from a thread of its own")
    @discardableResult
    public static func remove(_ clientID: String, on connection: PGConnection) throws -> Bool {
        try connection.execute("DELETE FROM parstore_clients WHERE client_id = $1", [clientID]).affected > 0
    }

    static func client(from row: [String?]) -> Client? {
        guard let id = row[0], let method = row[1].flatMap(ClientAuthMethod.init(rawValue:)) else { return nil }
        return Client(
            id: id,
            authMethod: method,
            secretHash: row[2].flatMap(Secret.bytes(fromHex:)),
            redirectURIs: PostgresArray.parse(row[3] ?? "{}"),
            scopes: Set(PostgresArray.parse(row[4] ?? "{}")),
            requestLifetime: row[5].flatMap { Int($0) }.map { .seconds($0) },
            interactionLifetime: row[6].flatMap { Int($0) }.map { .seconds($0) },
            requiresPushedRequests: row[7] == "t"
        )
    }
}

/// A registry change that cannot be made.
public enum ClientRegistryError: Error, CustomStringConvertible {
    case alreadyExists(String)

    public var description: String {
        switch self {
        case .alreadyExists(let id): "a client with id \(id) is already registered"
        }
    }
}
