public import ParCore
public import ParPostgres
import Synchronization

/// Why a day's data key cannot be used.
public enum DataKeyError: Error, Equatable, CustomStringConvertible {
    /// The day's key was destroyed (`parstore erase`).
    case erased(PartitionDay)
    /// The day's key is wrapped by a key-encryption key the key file does not hold, or does not unwrap with it.
    case unwrappable(PartitionDay, kekID: String)
    /// The day has no key (nothing was sealed under one).
    case missing(PartitionDay)

    public var description: String {
        switch self {
        case .erased(let day): "the data key of \(day) was erased"
        case .unwrappable(let day, let kekID):
            "the data key of \(day) is wrapped by key-encryption key \(kekID), which PARSTORE_DATA_KEY_FILE does not hold (or which does not unwrap it)"
        case .missing(let day): "there is no data key for \(day)"
        }
    }
}

/// The data keys of days, unwrapped, for a node's request store: a day's key seals the parameters pushed on that
/// day, and opens them when the request is redeemed or read through its ticket.
///
/// Keys are made by the first node that needs one (``refresh(today:)`` makes today's and tomorrow's ahead, so the
/// push path does not wait for it) and stored only wrapped by the current key-encryption key. The ring re-reads the
/// days it holds at every ``refresh(today:)``: a day erased by `parstore erase` is forgotten by then.
public final class DataKeyRing: Sendable {
    private let keys: KeyEncryptionKeys
    private let queries: PostgresQueries
    /// Unwrapped keys by day; `nil`: erased.
    private let cache = Mutex<[PartitionDay: DataKey?]>([:])

    public init(keys: KeyEncryptionKeys, queries: PostgresQueries) {
        self.keys = keys
        self.queries = queries
    }

    /// The key that seals what is pushed on `day`, made on first use.
    public func sealingKey(for day: PartitionDay) async throws -> DataKey {
        if let cached = cache.withLock({ $0[day] }) {
            guard let key = cached else { throw DataKeyError.erased(day) }
            return key
        }
        if let row = try await DataKeyTable.rows(of: [day], on: queries).first { return try remember(row) }
        guard let made = try await make(day) else { throw DataKeyError.missing(day) }
        return try remember(made)
    }

    /// The key that opens what was sealed on `day`.
    public func openingKey(for day: PartitionDay) async throws -> DataKey {
        if let cached = cache.withLock({ $0[day] }) {
            guard let key = cached else { throw DataKeyError.erased(day) }
            return key
        }
        guard let row = try await DataKeyTable.rows(of: [day], on: queries).first else { throw DataKeyError.missing(day) }
        return try remember(row)
    }

    /// Re-reads the days it holds near `today` (forgetting the others and any erased since) and yesterday's (whose
    /// requests may still be redeemed: their keys are at hand when PostgreSQL is not), and makes today's and
    /// tomorrow's keys if they are missing.
    public func refresh(today: PartitionDay) async throws {
        let window = today.adding(days: -2)...today.adding(days: 1)
        let held = cache.withLock { Set($0.keys) }.filter { window.contains($0) }
        let days = held.union([today.adding(days: -1), today, today.adding(days: 1)])
        var rows = try await DataKeyTable.rows(of: Array(days), on: queries)
        for day in [today, today.adding(days: 1)] where !rows.contains(where: { $0.day == day }) {
            if let made = try await make(day) { rows.append(made) }
        }
        // Erased days are remembered as such; a key that does not unwrap is not remembered (its use reports why).
        var fresh: [PartitionDay: DataKey?] = [:]
        for row in rows {
            guard let wrapped = row.wrapped else {
                fresh[row.day] = .some(nil)
                continue
            }
            if let key = keys.key(id: row.kekID)?.unwrap(wrapped, day: row.day) { fresh[row.day] = key }
        }
        cache.withLock { $0 = fresh }
    }

    /// Stores a new key for `day` unless another node stored one first; returns the day's row.
    private func make(_ day: PartitionDay) async throws -> DataKeyTable.Row? {
        try await DataKeyTable.create(day, kekID: keys.current.id, wrapped: keys.current.wrap(.generate(), day: day), on: queries)
    }

    private func remember(_ row: DataKeyTable.Row) throws -> DataKey {
        guard let wrapped = row.wrapped else {
            cache.withLock { $0[row.day] = .some(nil) }
            throw DataKeyError.erased(row.day)
        }
        guard let key = keys.key(id: row.kekID)?.unwrap(wrapped, day: row.day) else {
            throw DataKeyError.unwrappable(row.day, kekID: row.kekID)
        }
        cache.withLock { $0[row.day] = key }
        return key
    }
}
