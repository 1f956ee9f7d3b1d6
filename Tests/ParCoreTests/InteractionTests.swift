import ParCore
import Testing

@Suite struct InteractionTests {
    @Test func aTicketIsDerivedFromTheBrowserAndTheRequestAndRevealsNeither() throws {
        let reference = RequestReference.mint(secondsSince1970: 1_795_000_000)
        let browser = UserAgentBinding.make()
        let ticket = Ticket(binding: browser, reference: reference)
        #expect(ticket == Ticket(binding: browser, reference: reference), "a reload gets the same ticket")
        #expect(ticket != Ticket(binding: UserAgentBinding.make(), reference: reference), "another browser gets another")
        #expect(ticket != Ticket(binding: browser, reference: RequestReference.mint(secondsSince1970: 1_795_000_000)))
        #expect(ticket.value.hasPrefix("t1.20261118."))
        #expect(ticket.day == reference.day, "the ticket finds the request's partition")
        #expect(!ticket.value.contains(browser.value) && !ticket.value.contains(reference.value))
        #expect(Ticket(ticket.value) == ticket)
        #expect(ticket.hash == Secret.sha256(ticket.value))
    }

    @Test(arguments: [
        "", "t1.20261118.short", "t2.20261118.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "t1.20261399.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "t1.20261118.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/",
    ])
    func malformedTicketsAreRefused(_ text: String) {
        #expect(Ticket(text) == nil)
    }

    @Test func onlyCookieValuesParStoreCouldHaveSetAreBindings() {
        let binding = UserAgentBinding.make()
        #expect(UserAgentBinding(cookie: Substring(binding.value)) == binding)
        #expect(UserAgentBinding(cookie: "short") == nil)
        #expect(UserAgentBinding(cookie: Substring(String(repeating: "%", count: 43))) == nil)
    }
}
