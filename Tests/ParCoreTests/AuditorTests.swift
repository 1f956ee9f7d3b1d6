import Foundation
import ParCore
import Testing

@Suite struct AuditorTests {
    /// An event of request `id`, times in seconds.
    private func event(
        _ id: String,
        _ kind: EventKind,
        _ client: String = "c",
        at: Double,
        deadline: Double = 100,
        ticket: String? = nil
    ) -> (id: String, event: RequestEvent) {
        let event = RequestEvent(
            kind: kind,
            clientID: client,
            at: LogTime(seconds: at),
            deadline: LogTime(seconds: deadline),
            ticketHash: ticket.map { Array($0.utf8) },
            refusal: kind == .refused ? .alreadyUsed : nil
        )
        return (id, event)
    }

    private func makeAuditor() -> Auditor { Auditor(settle: .seconds(30), now: LogTime(seconds: 1000)) }

    @Test func loadedRequestsLiveUntilTheInteractionDeadlineAndEndOnlyThroughTheirTicket() {
        var auditor = makeAuditor()
        // Redeemed through its ticket after the request deadline, before the interaction deadline: fine.
        auditor.replay(request: [
            event("ok", .pushed, at: 10), event("ok", .loaded, at: 20, deadline: 600, ticket: "t"),
            event("ok", .consumed, at: 300, deadline: 600, ticket: "t"),
        ])
        // Still within its interaction lifetime: no terminal event needed yet.
        auditor.replay(request: [event("live", .pushed, at: 900, deadline: 960), event("live", .loaded, at: 910, deadline: 1500, ticket: "u")])
        auditor.replay(request: [
            event("twice", .pushed, at: 10), event("twice", .loaded, at: 20, deadline: 600), event("twice", .loaded, at: 21, deadline: 600),
        ])
        auditor.replay(request: [event("other", .pushed, at: 10), event("other", .loaded, "mallory", at: 20, deadline: 600)])
        auditor.replay(request: [event("tardy", .pushed, at: 10), event("tardy", .loaded, at: 101, deadline: 600)])
        auditor.replay(request: [
            event("bypass", .pushed, at: 10), event("bypass", .loaded, at: 20, deadline: 600, ticket: "t"), event("bypass", .consumed, at: 30),
        ])
        auditor.replay(request: [
            event("overdue", .pushed, at: 10), event("overdue", .loaded, at: 20, deadline: 600, ticket: "t"),
            event("overdue", .consumed, at: 601, ticket: "t"),
        ])
        auditor.replay(request: [event("soon", .pushed, at: 10), event("soon", .loaded, at: 20, deadline: 600), event("soon", .expired, at: 200)])
        let found = auditor.report().violations.map { "\($0.rule.rawValue) \($0.requestID)" }
        #expect(
            found == [
                "multiple_loaded twice", "missing_terminal twice", "loaded_by_other_client other", "missing_terminal other",
                "loaded_after_deadline tardy", "missing_terminal tardy", "consumed_without_ticket bypass",
                "consumed_after_deadline overdue", "expired_before_deadline soon",
            ]
        )
    }

    @Test func aCleanLogHasNoViolationsAndReportsLatencies() {
        var auditor = makeAuditor()
        auditor.replay(request: [event("a", .pushed, at: 10), event("a", .consumed, at: 12)])
        auditor.replay(request: [event("b", .pushed, at: 20), event("b", .refused, "x", at: 21), event("b", .consumed, at: 24)])
        auditor.replay(request: [event("c", .pushed, at: 30), event("c", .expired, at: 140)])
        auditor.replay(request: [event("d", .pushed, at: 990, deadline: 1050)])
        let report = auditor.report()
        #expect(report.violations.isEmpty)
        #expect(report.requests == 4)
        #expect(report.events["pushed"] == 4)
        #expect(report.events["consumed"] == 2)
        #expect(report.pushToRedeem?.count == 2)
        #expect(report.pushToRedeem?.p50 == 2)
        #expect(report.pushToRedeem?.max == 4)
    }

    @Test func eachBrokenInvariantNamesItsRequest() {
        var auditor = makeAuditor()
        auditor.replay(request: [event("orphan", .consumed, at: 10)])
        auditor.replay(request: [event("twice", .pushed, at: 10), event("twice", .pushed, at: 11), event("twice", .consumed, at: 12)])
        auditor.replay(request: [event("both", .pushed, at: 10), event("both", .consumed, at: 12), event("both", .expired, at: 140)])
        auditor.replay(request: [event("thief", .pushed, at: 10), event("thief", .consumed, "mallory", at: 12)])
        auditor.replay(request: [event("late", .pushed, at: 10), event("late", .consumed, at: 101)])
        auditor.replay(request: [event("early", .pushed, at: 10), event("early", .expired, at: 99)])
        auditor.replay(request: [event("open", .pushed, at: 10)])
        let found = auditor.report().violations.map { "\($0.rule.rawValue) \($0.requestID)" }
        #expect(
            found == [
                "no_pushed_event orphan", "duplicate_pushed twice", "multiple_terminal both", "consumed_by_other_client thief",
                "consumed_after_deadline late", "expired_before_deadline early", "missing_terminal open",
            ]
        )
    }
}

extension AuditorTests {
    @Test func eachEventMustBeWhatTheStateMachineDecides() {
        var auditor = makeAuditor()
        // Loaded after its redemption: no state allows that.
        auditor.replay(request: [
            event("revived", .pushed, at: 10), event("revived", .consumed, at: 12), event("revived", .loaded, at: 13, deadline: 600, ticket: "t"),
        ])
        // Redeemed by request_uri once loaded: only the ticket may end it.
        auditor.replay(request: [
            event("sidestep", .pushed, at: 10), event("sidestep", .loaded, at: 20, deadline: 600, ticket: "t"),
            event("sidestep", .consumed, at: 30),
        ])
        // Through a ticket the load did not hand out.
        auditor.replay(request: [
            event("forged", .pushed, at: 10), event("forged", .loaded, at: 20, deadline: 600, ticket: "t"),
            event("forged", .consumed, at: 30, deadline: 600, ticket: "u"),
        ])
        // The ticket's consumption recorded under another client than the request's.
        auditor.replay(request: [
            event("relabelled", .pushed, at: 10), event("relabelled", .loaded, at: 20, deadline: 600, ticket: "t"),
            event("relabelled", .consumed, "mallory", at: 30, deadline: 600, ticket: "t"),
        ])
        let found = auditor.report().violations.map { "\($0.rule.rawValue) \($0.requestID)" }
        #expect(
            found == [
                "loaded_after_terminal revived", "consumed_without_ticket sidestep", "consumed_without_ticket forged",
                "consumed_by_other_client relabelled",
            ]
        )
    }
}

extension Auditor {
    fileprivate mutating func replay(request logged: [(id: String, event: RequestEvent)]) {
        replay(requestID: logged[0].id, events: logged.map(\.event))
    }
}

@Suite struct JSONTextTests {
    @Test func escapesPerRFC8259() {
        #expect(JSONText.string("a\"b\\c\n\u{1}é") == #""a\"b\\c\n\u0001é""#)
        #expect(JSONText.object([(name: "x", value: "1"), (name: "y", value: "")]) == #"{"x":"1","y":""}"#)
    }
}
