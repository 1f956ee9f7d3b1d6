import Foundation

/// Applies the SQL files of `migrations/` that a database has not seen yet, in order, each in its own
/// transaction, and records them in `parstore_schema_migrations`. Safe to run from several processes at once
/// (a session advisory lock serializes them) and as often as you like.
public struct Migrator: Sendable {
    /// One migration file: `NNNN_name.sql`.
    public struct Migration: Sendable, Equatable {
        public var version: Int
        public var name: String
        public var sql: String
    }

    public let migrations: [Migration]

    /// Reads the migrations of a folder.
    ///
    /// - Throws: when the folder cannot be read, holds no migration, or two files share a version.
    public init(directory: String) throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".sql") }.sorted()
        var migrations: [Migration] = []
        for file in files {
            guard let version = Int(file.prefix { $0.isNumber }), file.first?.isNumber == true else { continue }
            let sql = try String(contentsOfFile: directory + "/" + file, encoding: .utf8)
            migrations.append(Migration(version: version, name: String(file.dropLast(4)), sql: sql))
        }
        guard !migrations.isEmpty else { throw MigrationError("no migration files in \(directory)") }
        guard Set(migrations.map(\.version)).count == migrations.count else {
            throw MigrationError("two migration files share a version number in \(directory)")
        }
        self.migrations = migrations
    }

    /// Finds the `migrations` folder: the given one, else `./migrations`, else next to the source tree the
    /// executable was built from.
    public static func locateDirectory(_ explicit: String?) -> String? {
        if let explicit { return explicit }
        var candidates: [String] = []
        candidates.append(FileManager.default.currentDirectoryPath + "/migrations")
        var folder = URL(fileURLWithPath: CommandLine.arguments.first ?? ".").resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<5 {
            candidates.append(folder.appendingPathComponent("migrations").path)
            folder = folder.deletingLastPathComponent()
        }
        return candidates.first { FileManager.default.fileExists(atPath: $0 + "/0001_event_log.sql") }
    }

    /// Applies the missing migrations, then makes sure the coming days' partitions exist.
    ///
    /// - Returns: the names of the migrations applied now (empty when the database was up to date).
    @available(*, noasync, message: "blocking: call from a thread of its own")
    @discardableResult
    public func apply(on connection: PGConnection, partitionDaysAhead: Int = PostgresEventLog.partitionDaysAhead) throws -> [String] {
        try connection.execute("SELECT pg_advisory_lock(hashtext('parstore.migrate'))")
        defer { _ = try? connection.execute("SELECT pg_advisory_unlock(hashtext('parstore.migrate'))") }
        try connection.executeScript(
            """
            CREATE TABLE IF NOT EXISTS parstore_schema_migrations (
                version    integer PRIMARY KEY,
                name       text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """
        )
        let applied = Set(try connection.execute("SELECT version FROM parstore_schema_migrations").rows.compactMap { $0[0].flatMap { Int($0) } })
        var appliedNow: [String] = []
        for migration in migrations where !applied.contains(migration.version) {
            try connection.executeScript("BEGIN")
            do {
                try connection.executeScript(migration.sql)
                try connection.execute(
                    "INSERT INTO parstore_schema_migrations (version, name) VALUES ($1, $2)",
                    [String(migration.version), migration.name]
                )
                try connection.executeScript("COMMIT")
            } catch {
                _ = try? connection.executeScript("ROLLBACK")
                throw MigrationError("migration \(migration.name) failed: \(error)")
            }
            appliedNow.append(migration.name)
        }
        try connection.execute("SELECT parstore_ensure_partitions($1)", [String(partitionDaysAhead)])
        return appliedNow
    }
}

/// A migration could not be read or applied.
public struct MigrationError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
