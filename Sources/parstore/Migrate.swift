import ArgumentParser
import ParPostgres

struct Migrate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply the SQL migrations the database has not seen yet (idempotent) and create the coming days' partitions."
    )

    @OptionGroup var database: DatabaseOptions

    @Option(help: "The folder of migration files. Env: PARSTORE_MIGRATIONS_DIR. Default: ./migrations, or the one beside the build.")
    var migrations: String?

    func run() throws {
        let applied = try Migrate.apply(databaseURL: database.resolved(), directory: migrations)
        print(applied.isEmpty ? "The database is up to date." : "Applied: \(applied.joined(separator: ", "))")
    }

    static func apply(databaseURL: String, directory: String?) throws -> [String] {
        guard let folder = Migrator.locateDirectory(Settings.value(directory, "PARSTORE_MIGRATIONS_DIR")) else {
            throw ValidationError("the migrations folder was not found; pass --migrations")
        }
        let connection = try PGConnection(databaseURL, applicationName: "parstore-migrate", connectTimeoutSeconds: 10)
        return try Migrator(directory: folder).apply(on: connection)
    }
}
