public import ParCore

/// The wrapped data keys of days (`parstore_data_keys`, migration 0013).
public enum DataKeyTable {
    /// One day's key as stored.
    public struct Row: Sendable, Equatable {
        public var day: PartitionDay
        /// The ID of the key-encryption key that wrapped it.
        public var kekID: String
        /// The wrapped key; `nil` once erased.
        public var wrapped: [UInt8]?
    }

    /// The rows of `days`.
    public static func rows(of days: [PartitionDay], on queries: PostgresQueries) async throws -> [Row] {
        try parse(await queries.query(select + " WHERE day = ANY($1::date[])", [PostgresArray.literal(days.map(\.description))]))
    }

    /// Stores `wrapped` as the key of `day` unless the day has one already, and returns the day's row: the first
    /// node to store a day's key wins, and every node uses that one.
    public static func create(_ day: PartitionDay, kekID: String, wrapped: [UInt8], on queries: PostgresQueries) async throws -> Row? {
        try parse(
            await queries.query(
                """
                WITH added AS (
                    INSERT INTO parstore_data_keys (day, kek_id, wrapped) VALUES ($1::date, $2, decode($3, 'hex'))
                    ON CONFLICT (day) DO NOTHING
                    RETURNING day, kek_id, wrapped
                )
                SELECT to_char(day, 'YYYYMMDD'), kek_id, encode(wrapped, 'hex') FROM added
                UNION ALL
                SELECT to_char(day, 'YYYYMMDD'), kek_id, encode(wrapped, 'hex') FROM parstore_data_keys
                WHERE day = $1::date AND NOT EXISTS (SELECT 1 FROM added)
                """,
                [day.description, kekID, Secret.hex(wrapped)]
            )
        ).first
    }

    /// Every row, oldest day first (the command-line tools).
    @available(*, noasync, message: "blocking: call from a thread of its own")
    public static func all(on connection: PGConnection) throws -> [Row] {
        try parse(connection.execute(select + " ORDER BY day"))
    }

    /// Destroys the keys of the days before `day`; returns the days erased now.
    @available(*, noasync, message: "blocking: call from a thread of its own")
    public static func erase(before day: PartitionDay, on connection: PGConnection) throws -> [PartitionDay] {
        try connection.execute(
            """
            UPDATE parstore_data_keys SET wrapped = NULL, erased_at = now()
            WHERE day < $1::date AND wrapped IS NOT NULL
            RETURNING to_char(day, 'YYYYMMDD')
            """,
            [day.description]
        ).rows.compactMap { row in row.first.flatMap { $0 }.flatMap { PartitionDay(compact: Substring($0)) } }
    }

    /// Replaces the wrapped key of `day` if it is still wrapped by `previousKEK` (a concurrent rewrap or erasure
    /// wins); returns whether it was replaced.
    @available(*, noasync, message: "blocking: call from a thread of its own")
    public static func rewrap(_ day: PartitionDay, from previousKEK: String, to kekID: String, wrapped: [UInt8], on connection: PGConnection) throws
        -> Bool
    {
        try connection.execute(
            """
            UPDATE parstore_data_keys SET kek_id = $2, wrapped = decode($3, 'hex')
            WHERE day = $1::date AND kek_id = $4 AND wrapped IS NOT NULL
            RETURNING 1
            """,
            [day.description, kekID, Secret.hex(wrapped), previousKEK]
        ).rows.count == 1
    }

    private static let select = "SELECT to_char(day, 'YYYYMMDD'), kek_id, encode(wrapped, 'hex') FROM parstore_data_keys"

    static func parse(_ rows: PGRows) -> [Row] {
        rows.rows.compactMap { row in
            guard let dayText = row[0], let day = PartitionDay(compact: Substring(dayText)), let kekID = row[1] else { return nil }
            return Row(day: day, kekID: kekID, wrapped: row[2].flatMap(Secret.bytes(fromHex:)))
        }
    }
}
