import ParCore
import ParWorker

/// The event log's batches, run on the hot-path worker threads: each is one statement over arrays (`unnest`).
extension PostgresEventLog {
    /// Runs a batch one day at a time (each day's requests live in that day's partition, which has statements of
    /// its own: ``HotPathStatement``), and answers in the batch's order. Nearly every batch holds one day.
    @available(*, noasync)
    static func byDay<Request, Response>(
        _ batch: [Request],
        on connection: some WorkerConnection,
        day: (Request) -> PartitionDay,
        _ run: (PartitionDay, ArraySlice<Request>) throws(PGError) -> [Response]
    ) -> [Result<Response, any Error>] {
        guard let first = batch.first.map(day) else { return [] }
        guard batch.contains(where: { day($0) != first }) else {
            return isolating(batch[...], on: connection) { (part) throws(PGError) in try run(first, part) }
        }
        var results = [Result<Response, any Error>?](repeating: nil, count: batch.count)
        for (group, indices) in Dictionary(grouping: batch.indices, by: { day(batch[$0]) }) {
            let answers = isolating(indices.map { batch[$0] }[...], on: connection) { (part) throws(PGError) in try run(group, part) }
            for (index, answer) in zip(indices, answers) { results[index] = answer }
        }
        return results.map { $0! }
    }

    /// Runs a batch through `run`, and when its statement fails on something other than a lost server, splits it
    /// in halves and runs each again, down to single rows: a bad row fails only its own caller, for about
    /// 2·log2(n) extra round trips instead of one per row. A failed statement changed nothing (it is its own
    /// transaction), so running its rows again is safe.
    @available(*, noasync)
    static func isolating<Request, Response>(
        _ batch: ArraySlice<Request>,
        on connection: some WorkerConnection,
        _ run: (ArraySlice<Request>) throws(PGError) -> [Response]
    ) -> [Result<Response, any Error>] {
        do {
            let responses = try run(batch)
            guard responses.count == batch.count else {
                throw PGError(sqlState: "XX000", message: "a batch statement returned \(responses.count) rows for \(batch.count) inputs")
            }
            return responses.map { .success($0) }
        } catch {
            guard batch.count > 1, !Self.isUnavailable(error), connection.isHealthy else { return batch.map { _ in .failure(error) } }
            let middle = batch.startIndex + batch.count / 2
            return isolating(batch[..<middle], on: connection, run) + isolating(batch[middle...], on: connection, run)
        }
    }

    @available(*, noasync)
    static func append(
        _ records: [EventRecord],
        nodeID: String,
        on connection: HotPathConnection,
        deadline: ContinuousClock.Instant
    ) -> [Result<AppendResult, any Error>] {
        byDay(records, on: connection, day: \.day) { (day, records) throws(PGError) in
            try appendBatch(records, day: day, nodeID: nodeID, on: connection, deadline: deadline)
        }
    }

    @available(*, noasync)
    static func appendBatch(
        _ records: ArraySlice<EventRecord>,
        day: PartitionDay,
        nodeID: String,
        on connection: HotPathConnection,
        deadline: ContinuousClock.Instant
    ) throws(PGError) -> [AppendResult] {
        var uses: (ord: [String?], position: [String?], day: [String?], hash: [String?]) = ([], [], [], [])
        for (ord, record) in records.enumerated() {
            for (position, use) in record.singleUse.enumerated() {
                uses.ord.append(String(ord + 1))
                uses.position.append(String(position))
                uses.day.append(use.day.description)
                uses.hash.append(use.hex)
            }
        }
        let rows = try connection.execute(
            .append,
            day: day,
            [
                PostgresArray.literal(records.map { $0.day.description }),
                PostgresArray.literal(records.map { Secret.hex($0.requestID) }),
                PostgresArray.literal(records.map { $0.slot.map(String.init) }),
                PostgresArray.literal(records.map { $0.kind.rawValue }),
                PostgresArray.literal(records.map { $0.clientID }),
                PostgresArray.literal(records.map { $0.lifetime.map { String($0.milliseconds) } }),
                nodeID,
                PostgresArray.literal(records.map { $0.payload }),
                PostgresArray.literal(uses.ord),
                PostgresArray.literal(uses.position),
                PostgresArray.literal(uses.day),
                PostgresArray.literal(uses.hash),
            ],
            before: deadline
        )
        return rows.rows.map { row in
            AppendResult(
                inserted: row[0] != nil,
                atMillis: Int64(row[0] ?? "") ?? 0,
                deadlineMillis: Int64(row[1] ?? "") ?? 0,
                replayedSingleUse: row[2].flatMap { Int($0) }
            )
        }
    }

    @available(*, noasync)
    static func consume(
        _ requests: [ConsumeRequest],
        nodeID: String,
        on connection: HotPathConnection,
        deadline: ContinuousClock.Instant
    ) -> [Result<RedemptionResult, any Error>] {
        byDay(requests, on: connection, day: \.day) { (day, requests) throws(PGError) in
            let rows = try connection.execute(
                .consume,
                day: day,
                [
                    PostgresArray.literal(requests.map { $0.day.description }),
                    PostgresArray.literal(requests.map { Secret.hex($0.requestID) }),
                    PostgresArray.literal(requests.map { $0.clientID }),
                    nodeID,
                ],
                before: deadline
            )
            return zip(requests, rows.rows).map { request, row in
                RedemptionResult(arbiterRow: row, clientID: request.clientID, requestID: request.requestID, day: request.day)
            }
        }
    }

    @available(*, noasync)
    static func load(
        _ requests: [LoadRequest],
        nodeID: String,
        on connection: HotPathConnection,
        deadline: ContinuousClock.Instant
    ) -> [Result<LoadOutcome, any Error>] {
        byDay(requests, on: connection, day: \.reference.day) { (day, requests) throws(PGError) in
            let rows = try connection.execute(
                .load,
                day: day,
                [
                    PostgresArray.literal(requests.map { $0.reference.day.description }),
                    PostgresArray.literal(requests.map { $0.reference.requestIDHex }),
                    PostgresArray.literal(requests.map { $0.clientID }),
                    PostgresArray.literal(requests.map { Secret.hex($0.binding.hash) }),
                    PostgresArray.literal(requests.map { Secret.hex($0.ticket.hash) }),
                    PostgresArray.literal(requests.map { String($0.interactionLifetime.milliseconds) }),
                    nodeID,
                ],
                before: deadline
            )
            return zip(requests, rows.rows).map { request, row -> LoadOutcome in
                switch row[0] {
                case "loaded": .decided(.loaded(request.ticket))
                case "reloaded": .decided(.reloaded(request.ticket))
                case "retry": .retry
                default: .decided(.refused(row[0].flatMap(RefusalReason.init(rawValue:)) ?? .unknown))
                }
            }
        }
    }

    @available(*, noasync)
    static func redeem(
        _ redemptions: [TicketRedemption],
        nodeID: String,
        on connection: HotPathConnection,
        deadline: ContinuousClock.Instant
    ) -> [Result<RedemptionResult, any Error>] {
        byDay(redemptions, on: connection, day: \.ticket.day) { (day, redemptions) throws(PGError) in
            let rows = try connection.execute(
                .redeemTicket,
                day: day,
                [
                    PostgresArray.literal(redemptions.map { $0.ticket.day.description }),
                    PostgresArray.literal(redemptions.map { "\\x" + Secret.hex($0.ticket.hash) }),  // bytea's hex form
                    nodeID,
                    PostgresArray.literal(redemptions.map { $0.attemptHash.map(Secret.hex) }),
                ],
                before: deadline
            )
            return zip(redemptions, rows.rows).map { redemption, row in
                RedemptionResult(
                    arbiterRow: row,
                    clientID: row[4] ?? "",
                    requestID: row[5].flatMap(Secret.bytes(fromHex:)) ?? [],
                    day: redemption.ticket.day
                )
            }
        }
    }
}

extension RedemptionResult {
    /// What the arbiter decided for one redemption of the request `requestID` of `day`, from its result row.
    init(arbiterRow row: [String?], clientID: String, requestID: [UInt8], day: PartitionDay) {
        switch row[0] {
        case "consumed":
            self = .redeemed(
                RedeemedRequest(
                    clientID: clientID,
                    parameters: StoredParameters(payload: row[1], requestID: requestID, day: day),
                    pushedAtMillis: Int64(row[2] ?? "") ?? 0,
                    expiresAtMillis: Int64(row[3] ?? "") ?? 0
                )
            )
        default: self = .refused(row[0].flatMap(RefusalReason.init(rawValue:)) ?? .unknown)
        }
    }
}
