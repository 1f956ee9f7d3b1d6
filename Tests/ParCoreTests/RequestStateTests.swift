import ParCore
import Testing

/// The request lifecycle's state machine, on a fixed clock: every transition and every refusal.
@Suite struct RequestStateTests {
    private let t0 = LogTime(seconds: 1_000)
    private let lifetime = Duration.seconds(60)
    private let interaction = Duration.seconds(600)
    private let binding: [UInt8] = Array(repeating: 1, count: 32)
    private let otherBinding: [UInt8] = Array(repeating: 2, count: 32)
    private let ticket: [UInt8] = Array(repeating: 3, count: 32)
    private let attempt: [UInt8] = Array(repeating: 4, count: 32)

    private func at(_ seconds: Double) -> LogTime { t0 + .milliseconds(Int64(seconds * 1000)) }

    /// Decides `input` at `time` and folds the event it appends, if any.
    @discardableResult
    private func step(_ state: inout RequestState, _ input: LifecycleInput, at time: LogTime, registered: Bool = true) -> LifecycleDecision {
        let decision = state.decide(input, at: time, ownerIsRegistered: registered)
        if let event = decision.event { state.apply(event) }
        return decision
    }

    private func pushed() -> RequestState {
        var state = RequestState()
        step(&state, .push(clientID: "c", lifetime: lifetime), at: t0)
        return state
    }

    private func loaded() -> RequestState {
        var state = pushed()
        step(&state, .load(clientID: "c", binding: binding, ticket: ticket, interactionLifetime: interaction), at: at(10))
        return state
    }

    private var load: LifecycleInput { .load(clientID: "c", binding: binding, ticket: ticket, interactionLifetime: interaction) }

    // MARK: push

    @Test func aPushStartsTheRequestWithItsDeadline() {
        let decision = RequestState().decide(.push(clientID: "c", lifetime: lifetime), at: t0)
        #expect(decision.outcome == .pushed)
        #expect(decision.event == RequestEvent(kind: .pushed, clientID: "c", at: t0, deadline: at(60)))
        var state = pushed()
        #expect(step(&state, .push(clientID: "c", lifetime: lifetime), at: at(1)) == LifecycleDecision(.refused(.alreadyUsed)))
    }

    // MARK: redeem by request_uri

    @Test func theClientThatPushedRedeemsOnceBeforeTheDeadline() {
        var state = pushed()
        let first = step(&state, .redeem(clientID: "c"), at: at(59.999))
        #expect(first.outcome == .consumed)
        #expect(first.event == RequestEvent(kind: .consumed, clientID: "c", at: at(59.999), deadline: at(60)))
        #expect(state.terminal == .consumed(at: at(59.999), attemptHash: nil))
        let second = step(&state, .redeem(clientID: "c"), at: at(59.9995))
        #expect(second.outcome == .refused(.alreadyUsed))
        #expect(second.event?.kind == .refused && second.event?.refusal == .alreadyUsed)
        // Recorded once per reason: the third refusal appends nothing.
        #expect(step(&state, .redeem(clientID: "c"), at: at(61)) == LifecycleDecision(.refused(.alreadyUsed)))
    }

    @Test func aRedemptionIsRefusedForEveryReasonInOrder() {
        #expect(RequestState().decide(.redeem(clientID: "c"), at: t0) == LifecycleDecision(.refused(.unknown)))  // never recorded
        var state = pushed()
        let thief = step(&state, .redeem(clientID: "mallory"), at: at(1))
        #expect(thief.outcome == .refused(.wrongClient))
        #expect(thief.event == RequestEvent(kind: .refused, clientID: "mallory", at: at(1), deadline: at(60), refusal: .wrongClient))
        #expect(state.terminal == nil)  // it stays redeemable by its own client
        #expect(state.decide(.redeem(clientID: "c"), at: at(2), ownerIsRegistered: false).outcome == .refused(.unregisteredClient))
        // The deadline is exclusive.
        #expect(state.decide(.redeem(clientID: "c"), at: at(60)).outcome == .refused(.expired))
        step(&state, .expire(grace: .zero), at: at(61))
        #expect(state.decide(.redeem(clientID: "c"), at: at(62)).outcome == .refused(.expired))
        // Once loaded, only the ticket redeems it.
        #expect(loaded().decide(.redeem(clientID: "c"), at: at(20)).outcome == .refused(.alreadyUsed))
    }

    // MARK: load

    @Test func aLoadBindsTheRequestToOneUserAgent() {
        var state = pushed()
        let first = step(&state, load, at: at(10))
        #expect(first.outcome == .loaded)
        #expect(
            first.event
                == RequestEvent(kind: .loaded, clientID: "c", at: at(10), deadline: at(610), bindingHash: binding, ticketHash: ticket)
        )
        #expect(state.deadline == at(610))
        // The same browser again, even past the request's deadline: the same ticket, nothing appended.
        #expect(step(&state, load, at: at(300)) == LifecycleDecision(.reloaded))
        #expect(step(&state, load, at: at(610)).outcome == .refused(.expired))
        let other = LifecycleInput.load(clientID: "c", binding: otherBinding, ticket: [9], interactionLifetime: interaction)
        #expect(step(&state, other, at: at(20)).outcome == .refused(.wrongUserAgent))
    }

    @Test func aLoadIsRefusedForEveryReasonInOrder() {
        #expect(RequestState().decide(load, at: t0) == LifecycleDecision(.refused(.unknown)))
        let state = pushed()
        let mallory = LifecycleInput.load(clientID: "mallory", binding: binding, ticket: ticket, interactionLifetime: interaction)
        #expect(state.decide(mallory, at: at(1)).outcome == .refused(.wrongClient))
        #expect(state.decide(load, at: at(1), ownerIsRegistered: false).outcome == .refused(.unregisteredClient))
        #expect(state.decide(load, at: at(60)).outcome == .refused(.expired))
        var used = pushed()
        step(&used, .redeem(clientID: "c"), at: at(1))
        #expect(used.decide(load, at: at(2)).outcome == .refused(.alreadyUsed))
        var expired = pushed()
        step(&expired, .expire(grace: .zero), at: at(61))
        #expect(expired.decide(load, at: at(62)).outcome == .refused(.expired))
    }

    // MARK: redeem through the ticket

    @Test func theTicketRedeemsOnceBeforeTheInteractionDeadlineAndTheSameAttemptAgain() {
        var state = loaded()
        let redeem = LifecycleInput.redeemTicket(ticket: ticket, attempt: attempt)
        // Past the request's own deadline, within the interaction's.
        let first = step(&state, redeem, at: at(300))
        #expect(first.outcome == .consumed)
        #expect(
            first.event
                == RequestEvent(kind: .consumed, clientID: "c", at: at(300), deadline: at(610), ticketHash: ticket, attemptHash: attempt)
        )
        // The same attempt asked again (its answer was lost): the request again, nothing appended.
        #expect(step(&state, redeem, at: at(301)) == LifecycleDecision(.consumed))
        #expect(step(&state, redeem, at: at(610)).outcome == .refused(.alreadyUsed))
        #expect(step(&state, .redeemTicket(ticket: ticket, attempt: [7]), at: at(302)).outcome == .refused(.alreadyUsed))
        #expect(step(&state, .redeemTicket(ticket: ticket, attempt: nil), at: at(302)).outcome == .refused(.alreadyUsed))
    }

    @Test func aTicketRedemptionIsRefusedForEveryReasonInOrder() {
        let redeem = LifecycleInput.redeemTicket(ticket: ticket, attempt: nil)
        #expect(pushed().decide(redeem, at: at(1)) == LifecycleDecision(.refused(.unknown)))  // not loaded
        let state = loaded()
        #expect(state.decide(.redeemTicket(ticket: [8], attempt: nil), at: at(11)).outcome == .refused(.unknown))
        #expect(state.decide(redeem, at: at(11), ownerIsRegistered: false).outcome == .refused(.unregisteredClient))
        let late = state.decide(redeem, at: at(610))
        #expect(late.outcome == .refused(.expired))
        #expect(late.event == RequestEvent(kind: .refused, clientID: "c", at: at(610), deadline: at(60), refusal: .expired))
        var expired = loaded()
        #expect(step(&expired, .expire(grace: .seconds(5)), at: at(614)).outcome == .notDue)
        #expect(step(&expired, .expire(grace: .seconds(5)), at: at(615)).outcome == .expired)
        #expect(expired.decide(redeem, at: at(616)).outcome == .refused(.expired))
    }

    @Test func readingATicketChangesNothing() {
        var state = loaded()
        let read = LifecycleInput.readTicket(ticket: ticket)
        #expect(state.decide(read, at: at(11)) == LifecycleDecision(.live))
        #expect(state.decide(.readTicket(ticket: [8]), at: at(11)) == LifecycleDecision(.refused(.unknown)))
        #expect(state.decide(read, at: at(11), ownerIsRegistered: false) == LifecycleDecision(.refused(.unregisteredClient)))
        #expect(state.decide(read, at: at(610)) == LifecycleDecision(.refused(.expired)))
        step(&state, .redeemTicket(ticket: ticket, attempt: nil), at: at(12))
        #expect(state.decide(read, at: at(13)) == LifecycleDecision(.refused(.alreadyUsed)))
    }

    // MARK: expire

    @Test func theSweeperEndsOnlyWhatIsPastItsDeadlineAndTheGrace() {
        #expect(RequestState().decide(.expire(grace: .zero), at: t0) == LifecycleDecision(.refused(.unknown)))
        var state = pushed()
        #expect(step(&state, .expire(grace: .seconds(2)), at: at(61.999)) == LifecycleDecision(.notDue))
        let expiry = step(&state, .expire(grace: .seconds(2)), at: at(62))
        #expect(expiry == LifecycleDecision(.expired, event: RequestEvent(kind: .expired, clientID: "c", at: at(62), deadline: at(60))))
        #expect(step(&state, .expire(grace: .zero), at: at(63)) == LifecycleDecision(.refused(.alreadyUsed)))
        var used = pushed()
        step(&used, .redeem(clientID: "c"), at: at(1))
        #expect(used.decide(.expire(grace: .zero), at: at(100)) == LifecycleDecision(.refused(.alreadyUsed)))
    }

    // MARK: folding

    @Test func foldingTheAppendedEventsGivesTheSameState() {
        var state = RequestState()
        var log: [RequestEvent] = []
        for (input, time) in [
            (LifecycleInput.push(clientID: "c", lifetime: lifetime), t0), (.redeem(clientID: "mallory"), at(1)),
            (load, at(2)), (.redeem(clientID: "c"), at(3)), (.redeemTicket(ticket: ticket, attempt: attempt), at(4)),
            (.redeemTicket(ticket: ticket, attempt: nil), at(5)),
        ] {
            if let event = step(&state, input, at: time).event { log.append(event) }
        }
        #expect(log.map(\.kind) == [.pushed, .refused, .loaded, .refused, .consumed])
        #expect(RequestState(folding: log) == state)
        #expect(state.recordedRefusals == [.wrongClient, .alreadyUsed])
        // Every appended event is the one its own input decides: what the Auditor checks.
        var replayed = RequestState()
        for event in log {
            if let input = event.input { #expect(replayed.decide(input, at: event.at).event == event) }
            replayed.apply(event)
        }
    }
}
