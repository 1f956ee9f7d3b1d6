import Foundation
public import ParCore

/// The client registry in PostgreSQL (`parstore_clients`).
///
/// The command-line tool changes it with a connection of its own; nodes read it through
/// ``PostgresQueries`` and reload only when `parstore_registry_version` moved.
public enum ClientTable {
    static let selectAll = """
        SELECT client_id, auth_method, encode(secret_hash, 'hex'), redirect_uris, scopes, request_lifetime_seconds,
               interaction_lifetime_seconds, require_pushed_authorization_requests, jwks::text, profile, settings::text
        FROM parstore_clients ORDER BY client_id
        """

    /// The registry's version, bumped by every change.
    public static func version(in store: PostgresQueries) async throws -> Int64 {
        let rows = try await store.query("SELECT version FROM parstore_registry_version WHERE id = 1")
        return rows.rows.first?.first.flatMap { $0 }.flatMap { Int64($0) } ?? 0
    }

    /// Every registered client.
    public static func all(in store: PostgresQueries) async throws -> [Client] {
        try await store.query(selectAll).rows.compactMap(client(from:))
    }

    /// Every registered client (command-line tool).
    @available(*, noasync, message: "blocking: call from a thread of its own")
    public static func all(on connection: PGConnection) throws -> [Client] {
        try connection.execute(selectAll).rows.compactMap(client(from:))
    }

    /// Registers a client.
    ///
    /// - Throws: ``ClientTableError/alreadyExists`` when the id is taken.
    @available(*, noasync, message: "blocking: call from a thread of its own")
    public static func add(_ client: Client, on connection: PGConnection) throws {
        do {
            try connection.execute(
                """
                INSERT INTO parstore_clients (client_id, auth_method, secret_hash, redirect_uris, scopes,
                    request_lifetime_seconds, interaction_lifetime_seconds, require_pushed_authorization_requests,
                    jwks, profile, settings)
                VALUES ($1, $2, decode($3, 'hex'), $4::text[], $5::text[], $6::integer, $7::integer, $8::boolean,
                    $9::jsonb, $10, $11::jsonb)
                """,
                parameters(of: client)
            )
        } catch {
            if error.sqlState == "23505" { throw ClientTableError.alreadyExists(client.id) }
            throw error
        }
    }

    /// Replaces a registered client whole.
    ///
    /// - Returns: whether it existed.
    @available(*, noasync, message: "blocking: call from a thread of its own")
    @discardableResult
    public static func replace(_ client: Client, on connection: PGConnection) throws -> Bool {
        try connection.execute(
            """
            UPDATE parstore_clients SET auth_method = $2, secret_hash = decode($3, 'hex'), redirect_uris = $4::text[],
                scopes = $5::text[], request_lifetime_seconds = $6::integer, interaction_lifetime_seconds = $7::integer,
                require_pushed_authorization_requests = $8::boolean, jwks = $9::jsonb, profile = $10, settings = $11::jsonb
            WHERE client_id = $1
            """,
            parameters(of: client)
        ).affected > 0
    }

    /// Removes a client.
    ///
    /// - Returns: whether it existed.
    @available(*, noasync, message: "blocking: call from a thread of its own")
    @discardableResult
    public static func remove(_ clientID: String, on connection: PGConnection) throws -> Bool {
        try connection.execute("DELETE FROM parstore_clients WHERE client_id = $1", [clientID]).affected > 0
    }

    private static func parameters(of client: Client) -> [String?] {
        [
            client.id, client.authMethod.rawValue, client.secretHash.map(Secret.hex),
            PostgresArray.literal(client.redirectURIs), PostgresArray.literal(client.scopes.sorted()),
            client.requestLifetime.map { String($0.components.seconds) },
            client.interactionLifetime.map { String($0.components.seconds) },
            client.requiresPushedRequests ? "true" : "false",
            client.jwks, client.profile.rawValue, StoredSettings(client).json,
        ]
    }

    static func client(from row: [String?]) -> Client? {
        guard let id = row[0], let method = row[1].flatMap(ClientAuthMethod.init(rawValue:)),
            let profile = row[9].flatMap(ClientProfile.init(rawValue:))
        else { return nil }
        var client = Client(
            id: id,
            authMethod: method,
            secretHash: row[2].flatMap(Secret.bytes(fromHex:)),
            redirectURIs: PostgresArray.parse(row[3] ?? "{}"),
            scopes: Set(PostgresArray.parse(row[4] ?? "{}")),
            requestLifetime: row[5].flatMap { Int($0) }.map { .seconds($0) },
            interactionLifetime: row[6].flatMap { Int($0) }.map { .seconds($0) },
            requiresPushedRequests: row[7] == "t",
            jwks: row[8],
            profile: profile
        )
        guard let settings = row[10].flatMap({ try? JSONDecoder().decode(StoredSettings.self, from: Data($0.utf8)) }) else { return nil }
        settings.apply(to: &client)
        return client
    }
}
