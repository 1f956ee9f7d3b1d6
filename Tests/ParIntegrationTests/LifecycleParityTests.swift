import Foundation
import ParCore
import ParPostgres
import ParTesting
import ParWorker
import Testing

/// The lifecycle's rules live in ParCore's state machine (``RequestState``) and are executed, many requests per
/// statement, by PostgreSQL's hot-path statements. The same random sequences of inputs go through both here, and
/// every outcome, and the log each leaves, must agree.
@Suite struct LifecycleParityTests {
    /// A small deterministic generator (SplitMix64), so that a failing sequence can be run again.
    private struct Generator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    /// One step of a sequence. Deadlines are an hour ahead or two seconds behind, so that "before the deadline"
    /// means the same on PostgreSQL's clock and on this process's (the same machine's).
    private enum Step: CustomStringConvertible {
        case load(client: String, browser: Int, live: Bool)
        case redeem(client: String)
        case redeemTicket(browser: Int, attempt: String?)
        case readTicket(browser: Int)

        var description: String {
            switch self {
            case .load(let client, let browser, let live): "load(\(client), browser \(browser)\(live ? "" : ", already over"))"
            case .redeem(let client): "redeem(\(client))"
            case .redeemTicket(let browser, let attempt): "redeemTicket(browser \(browser), attempt \(attempt ?? "none"))"
            case .readTicket(let browser): "readTicket(browser \(browser))"
            }
        }

        static func random(using generator: inout Generator) -> Step {
            let client = ["owner", "owner", "owner", "mallory"].randomElement(using: &generator)!
            let browser = Int.random(in: 0..<2, using: &generator)
            switch Int.random(in: 0..<4, using: &generator) {
            case 0: return .load(client: client, browser: browser, live: Int.random(in: 0..<5, using: &generator) > 0)
            case 1: return .redeem(client: client)
            case 2: return .redeemTicket(browser: browser, attempt: [nil, "k1", "k2"].randomElement(using: &generator)!)
            default: return .readTicket(browser: browser)
            }
        }
    }

    private static let hour = Duration.seconds(3600)
    /// A lifetime already over when it starts.
    private static let over = Duration.zero - .seconds(2)

    @Test func theStateMachineAndPostgreSQLDecideEverySequenceAlike() async throws {
        let servers = try await TestServers.shared.shared()
        let database = TestDatabase(url: servers.databaseURL)
        let run = Secret.random(byteCount: 6)
        let owners = ["parity-kept-" + run, "parity-removed-" + run]
        for owner in owners { try await database.register(owner) }
        let events = TestEventLog(url: servers.databaseURL, nodeID: "parity")
        let store = events.log
        let key = UserAgentBinding.Key(secret: "parity")
        let browsers = [UserAgentBinding.make(key: key), UserAgentBinding.make(key: key)]

        var generator = Generator(state: 20261201)
        let sequences = (0..<240).map { index in
            (
                owner: owners[index % 2],
                live: Int.random(in: 0..<6, using: &generator) > 0,
                steps: (0..<Int.random(in: 1...6, using: &generator)).map { _ in Step.random(using: &generator) }
            )
        }
        // Every request is pushed first; then one owner is removed, so that its requests are dead from then on.
        var references: [RequestReference] = []
        var models: [RequestState] = []
        for sequence in sequences {
            let reference = RequestReference.mint(secondsSince1970: Date().timeIntervalSince1970)
            let lifetime = sequence.live ? Self.hour : Self.over
            let appended = try await store.append(
                EventRecord(day: reference.day, requestID: reference.requestID, kind: .pushed, clientID: sequence.owner, lifetime: lifetime, payload: "{}")
            )
            #expect(appended.inserted)
            var model = RequestState()
            let decision = model.decide(.push(clientID: sequence.owner, lifetime: lifetime), at: Self.now)
            #expect(decision.outcome == .pushed)
            model.apply(decision.event!)
            references.append(reference)
            models.append(model)
        }
        let removed = owners[1]
        #expect(try await runOnOwnThread { try ClientTable.remove(removed, on: PGConnection(servers.databaseURL)) })

        var disagreements: [String] = []
        await withTaskGroup(of: (index: Int, found: [String], model: RequestState).self) { group in
            for (index, sequence) in sequences.enumerated() {
                let reference = references[index]
                let initial = models[index]
                group.addTask {
                    var model = initial
                    var found: [String] = []
                    for (number, step) in sequence.steps.enumerated() {
                        let registered = sequence.owner == owners[0]
                        let client = { (name: String) in name == "owner" ? sequence.owner : name }
                        let expected: LifecycleDecision
                        let actual: String
                        switch step {
                        case .load(let name, let browser, let live):
                            let binding = browsers[browser]
                            let request = LoadRequest(
                                reference: reference,
                                clientID: client(name),
                                binding: binding,
                                interactionLifetime: live ? Self.hour : Self.over
                            )
                            expected = model.decide(
                                .load(clientID: client(name), binding: binding.hash, ticket: request.ticket.hash, interactionLifetime: request.interactionLifetime),
                                at: Self.now,
                                ownerIsRegistered: registered
                            )
                            actual = Self.describe(try? await store.load(request))
                        case .redeem(let name):
                            expected = model.decide(.redeem(clientID: client(name)), at: Self.now, ownerIsRegistered: registered)
                            actual = Self.describe(try? await store.consume(ConsumeRequest(reference: reference, clientID: client(name))))
                        case .redeemTicket(let browser, let attempt):
                            let redemption = TicketRedemption(ticket: Ticket(binding: browsers[browser], reference: reference), attemptKey: attempt)
                            expected = model.decide(
                                .redeemTicket(ticket: redemption.ticket.hash, attempt: redemption.attemptHash),
                                at: Self.now,
                                ownerIsRegistered: registered
                            )
                            actual = Self.describe(try? await store.redeem(redemption))
                        case .readTicket(let browser):
                            let ticket = Ticket(binding: browsers[browser], reference: reference)
                            expected = model.decide(.readTicket(ticket: ticket.hash), at: Self.now, ownerIsRegistered: registered)
                            actual = Self.describe(try? await store.read(ticket))
                        }
                        if let event = expected.event, event.kind != .refused { model.apply(event) }
                        if Self.describe(expected.outcome) != actual {
                            found.append(
                                "\(reference.requestIDHex) (\(sequence.owner), \(sequence.live ? "live" : "already over")) step \(number) \(step): "
                                    + "state machine \(Self.describe(expected.outcome)), PostgreSQL \(actual); steps \(sequence.steps)"
                            )
                            break
                        }
                    }
                    return (index, found, model)
                }
            }
            for await (index, found, model) in group {
                disagreements += found
                models[index] = model
            }
        }
        #expect(disagreements.isEmpty, "\(disagreements.prefix(5).joined(separator: "\n"))")

        // The requests whose deadline passed end as the sweeper ends them (its watermark may be past them already, and
        // the sweepers of other tests' nodes on this server may end some of them at the same moment: never twice).
        try await database.query(
            """
            INSERT INTO par_events (day, request_id, slot, kind, client_id, deadline, node_id)
            SELECT p.day, p.request_id, 2, 'expired', p.client_id, coalesce(l.deadline, p.deadline), 'parity'
            FROM par_events p
            LEFT JOIN par_events l ON l.day = p.day AND l.request_id = p.request_id AND l.slot = 1
            WHERE p.slot = 0 AND p.request_id = ANY(SELECT decode(x, 'hex') FROM unnest($1::text[]) x)
              AND coalesce(l.deadline, p.deadline) <= now()
              AND NOT EXISTS (SELECT 1 FROM par_events t WHERE t.day = p.day AND t.request_id = p.request_id AND t.slot = 2)
            ON CONFLICT (day, request_id, slot) DO NOTHING
            """,
            ["{" + references.map(\.requestIDHex).joined(separator: ",") + "}"]
        )
        for index in models.indices {
            let decision = models[index].decide(.expire(grace: .zero), at: Self.now)
            if let event = decision.event { models[index].apply(event) }
        }

        // And the log PostgreSQL kept folds into the state the machine reached.
        let hexes = references.map(\.requestIDHex)
        let rows = try await database.query(
            """
            SELECT encode(request_id, 'hex'), kind, client_id, encode(binding_hash, 'hex'), encode(ticket_hash, 'hex'),
                   encode(attempt_hash, 'hex')
            FROM par_events WHERE request_id = ANY(SELECT decode(x, 'hex') FROM unnest($1::text[]) x) AND kind <> 'refused'
            ORDER BY seq
            """,
            ["{" + hexes.joined(separator: ",") + "}"]
        )
        var logs: [String: [String]] = [:]
        for row in rows { logs[row[0]!, default: []].append([row[1], row[2], row[3], row[4], row[5]].map { $0 ?? "-" }.joined(separator: " ")) }
        var mismatched: [String] = []
        for (index, reference) in references.enumerated() where disagreements.isEmpty {
            let log = logs[reference.requestIDHex] ?? []
            if log != Self.summary(models[index]) { mismatched.append("\(log) against \(Self.summary(models[index]))") }
        }
        #expect(mismatched.isEmpty, "\(mismatched.count) logs differ from the state machine's: \(mismatched.prefix(3))")
        await events.shutdown()
    }

    /// PostgreSQL decides on its own clock; every deadline here is an hour from it.
    private static var now: LogTime { LogTime(seconds: Date().timeIntervalSince1970) }

    private static func describe(_ outcome: LifecycleDecision.Outcome) -> String {
        switch outcome {
        case .loaded: "loaded"
        case .reloaded: "reloaded"
        case .consumed: "consumed"
        case .live: "live"
        case .refused(let reason): reason.rawValue
        case .pushed, .expired, .notDue: "\(outcome)"
        }
    }

    private static func describe(_ result: LoadResult?) -> String {
        switch result {
        case .loaded?: "loaded"
        case .reloaded?: "reloaded"
        case .refused(let reason)?: reason.rawValue
        case nil: "error"
        }
    }

    private static func describe(_ result: RedemptionResult?) -> String {
        switch result {
        case .redeemed?: "consumed"
        case .refused(let reason)?: reason.rawValue
        case nil: "error"
        }
    }

    private static func describe(_ result: Result<TicketedRequest, RefusalReason>?) -> String {
        switch result {
        case .success?: "live"
        case .failure(let reason)?: reason.rawValue
        case nil: "error"
        }
    }

    /// The log lines (kind, client, binding, ticket, attempt) the state implies, refusals left out.
    private static func summary(_ state: RequestState) -> [String] {
        let hex = { (bytes: [UInt8]?) in bytes.map(Secret.hex) ?? "-" }
        var lines: [String] = []
        if let pushed = state.pushed { lines.append("pushed \(pushed.clientID) - - -") }
        let owner = state.pushed?.clientID ?? "?"
        if let loaded = state.loaded { lines.append("loaded \(owner) \(hex(loaded.bindingHash)) \(hex(loaded.ticketHash)) -") }
        switch state.terminal {
        case .consumed(_, let attempt)?:
            lines.append(state.loaded.map { "consumed \(owner) - \(hex($0.ticketHash)) \(hex(attempt))" } ?? "consumed \(owner) - - -")
        case .expired?: lines.append("expired \(owner) - - -")
        case nil: break
        }
        return lines
    }
}
