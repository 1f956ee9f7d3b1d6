import ArgumentParser
import Foundation
import ParCore
import ParPostgres
import ParServer

/// `parstore data-key …`: the key-encryption keys that wrap each day's data key.
struct DataKeyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data-key",
        abstract: "The key-encryption keys (PARSTORE_DATA_KEY_FILE): make a file, rotate, re-wrap the days' keys.",
        discussion: """
            Rotation: `data-key rotate` puts a new key first in the file (the others stay, so every day stays \
            readable); restart the nodes with the new file, one at a time; `data-key rewrap` re-wraps every day's key \
            under the new one; then the old lines may be removed (rewrap says when).
            """,
        subcommands: [Generate.self, Rotate.self, Rewrap.self]
    )

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "generate", abstract: "Write a new key file with one key-encryption key.")
        @Option(help: "The file to write (created with mode 0600; an existing file is never overwritten).") var output: String
        @Flag(help: "When the file already holds keys, keep it instead of failing.") var keepExisting = false

        func run() throws {
            do {
                if keepExisting, FileManager.default.fileExists(atPath: output) {
                    print("kept \(output): current key \(try DataKeyFile.read(output).current.id)")
                    return
                }
                let keys = KeyEncryptionKeys([.generate()])
                try DataKeyFile.create(output, keys: keys)
                print("wrote \(output): current key \(keys.current.id)")
            } catch {
                throw ValidationError(error.description)
            }
        }
    }

    struct Rotate: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rotate",
            abstract: "Put a new key-encryption key first in the file, keeping the others."
        )
        @Option(name: .customLong(NodeSettings.dataKeyFile.flag), help: "The key file.") var dataKeyFile: String

        func run() throws {
            do {
                let added = try DataKeyFile.rotate(dataKeyFile)
                print("new current key \(added.id); restart the nodes with \(dataKeyFile), then run `parstore data-key rewrap`")
            } catch {
                throw ValidationError(error.description)
            }
        }
    }

    struct Rewrap: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rewrap",
            abstract: "Re-wrap every day's data key that another key wrapped under the file's current key."
        )
        @OptionGroup var database: DatabaseOptions
        @Option(name: .customLong(NodeSettings.dataKeyFile.flag), help: "The key file.") var dataKeyFile: String

        func run() throws {
            let keys: KeyEncryptionKeys
            do {
                keys = try DataKeyFile.read(dataKeyFile)
            } catch {
                throw ValidationError(error.description)
            }
            let connection = try PGConnection(
                try database.resolved(),
                applicationName: "parstore-data-key",
                connectTimeoutSeconds: 10,
                timeout: .seconds(30)
            )
            var rewrapped = 0
            var missing: [String: [PartitionDay]] = [:]
            for row in try DataKeyTable.all(on: connection) where row.kekID != keys.current.id {
                guard let wrapped = row.wrapped else { continue }
                guard let key = keys.key(id: row.kekID)?.unwrap(wrapped, day: row.day) else {
                    missing[row.kekID, default: []].append(row.day)
                    continue
                }
                let replaced = try DataKeyTable.rewrap(
                    row.day,
                    from: row.kekID,
                    to: keys.current.id,
                    wrapped: keys.current.wrap(key, day: row.day),
                    on: connection
                )
                if replaced { rewrapped += 1 }
            }
            print("re-wrapped \(rewrapped) day(s) under \(keys.current.id)")
            for (id, days) in missing.sorted(by: { $0.key < $1.key }) {
                print("key \(id) is not in the file: \(days.count) day(s) stay unreadable (\(days.map(\.description).joined(separator: ", ")))")
            }
            let old = keys.all.dropFirst().map(\.id)
            if missing.isEmpty, !old.isEmpty {
                print("no day is wrapped by \(old.joined(separator: ", ")) any more: those lines may be removed from \(dataKeyFile)")
            }
            if !missing.isEmpty { throw ExitCode(1) }
        }
    }
}

/// `parstore erase --before DAY`: crypto-shredding of the parameters of past days.
struct Erase: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Destroy the data keys of the days before a date: their requests' parameters are gone for good.",
        discussion: """
            Every other column of those days' events stays: the audit and the tamper-evident log still verify. \
            Backups taken earlier still hold the wrapped keys until the key-encryption key that wrapped them is \
            retired (`data-key rotate`, `data-key rewrap`, then remove its line). Days still holding live \
            requests are refused unless --force; today and later never. Nodes drop their copies within \
            \(ParStoreNode.dataKeyRefreshInterval.components.seconds) s.
            """
    )
    @OptionGroup var database: DatabaseOptions
    @Option(help: "Erase the days before this one (YYYY-MM-DD, UTC; at most today).") var before: String
    @Flag(help: "Erase days that still hold live requests (their redemptions then answer without parameters).") var force = false

    func run() throws {
        guard let day = PartitionDay(compact: Substring(before.filter { $0 != "-" })), before.count == 10 else {
            throw ValidationError("--before takes a date, YYYY-MM-DD")
        }
        let connection = try PGConnection(
            try database.resolved(),
            applicationName: "parstore-erase",
            connectTimeoutSeconds: 10,
            timeout: .seconds(60)
        )
        let todayText = try connection.execute("SELECT to_char(current_date, 'YYYYMMDD')").rows.first?.first ?? nil
        let today = todayText.flatMap { PartitionDay(compact: Substring($0)) }
        guard let today, day <= today else { throw ValidationError("--before is at most today: a day still being written keeps its key") }
        if !force {
            // Only the last few days can hold a live request (a request lives under 600 s, an interaction at most a day).
            let live = try connection.execute(
                """
                SELECT p.day::text, count(*) FROM par_events p
                LEFT JOIN par_events l ON l.day = p.day AND l.request_id = p.request_id AND l.slot = 1
                WHERE p.slot = 0 AND p.day < $1::date AND p.day >= $1::date - 3
                  AND NOT EXISTS (SELECT 1 FROM par_events t WHERE t.day = p.day AND t.request_id = p.request_id AND t.slot = 2)
                  AND coalesce(l.deadline, p.deadline) > now()
                GROUP BY 1 ORDER BY 1
                """,
                [day.description]
            ).rows
            if !live.isEmpty {
                let days = live.map { "\($0[0] ?? "?") (\($0[1] ?? "?") live)" }.joined(separator: ", ")
                throw ValidationError("some days still hold live requests: \(days); wait until they end, or pass --force")
            }
        }
        let erased = try DataKeyTable.erase(before: day, on: connection)
        print("erased the data keys of \(erased.count) day(s)\(erased.isEmpty ? "" : ": " + erased.map(\.description).joined(separator: ", "))")
        // Days of events without a key held their parameters in clear (encryption off, or before it): not erasable.
        let clear = try connection.execute(
            """
            SELECT d::text FROM (
                SELECT to_date(substring(c.relname from 12), 'YYYYMMDD') AS d
                FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                WHERE i.inhparent = 'par_events'::regclass AND c.relname ~ '^par_events_[0-9]{8}$'
            ) days
            WHERE d < $1::date
              AND NOT EXISTS (SELECT 1 FROM parstore_data_keys k WHERE k.day = days.d)
              AND EXISTS (SELECT 1 FROM par_events e WHERE e.day = days.d AND e.slot = 0 AND jsonb_typeof(e.payload) = 'object')
            ORDER BY 1
            """,
            [day.description]
        ).rows.compactMap { $0.first ?? nil }
        if !clear.isEmpty {
            print("days holding parameters in clear, which only retention removes: \(clear.joined(separator: ", "))")
        }
    }
}
