import ParCore
import Testing

@Suite struct InteractionTests {
    let key = UserAgentBinding.Key(secret: "the nodes' shared secret")

    @Test func aTicketIsDerivedFromTheBrowserAndTheRequestAndRevealsNeither() throws {
        let reference = RequestReference.mint(secondsSince1970: 1_795_000_000)
        let browser = UserAgentBinding.make(key: key)
        let ticket = Ticket(binding: browser, reference: reference)
        #expect(ticket == Ticket(binding: browser, reference: reference), "a reload gets the same ticket")
        #expect(ticket != Ticket(binding: UserAgentBinding.make(key: key), reference: reference), "another browser gets another")
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

    @Test func onlyCookieValuesANodeIssuedAreBindings() {
        let binding = UserAgentBinding.make(key: key)
        #expect(UserAgentBinding(cookie: Substring(binding.value), key: key) == binding)
        #expect(UserAgentBinding(cookie: "short", key: key) == nil)
        #expect(UserAgentBinding(cookie: Substring(String(repeating: "%", count: 43)), key: key) == nil)
        // Well formed, but not MACed by this deployment's key: refused without any lookup.
        #expect(UserAgentBinding(cookie: Substring(String(repeating: "A", count: 43)), key: key) == nil)
        let otherDeployment = UserAgentBinding.Key(secret: "another deployment's secret")
        #expect(UserAgentBinding(cookie: Substring(binding.value), key: otherDeployment) == nil)
        // One flipped bit of the random half breaks the MAC.
        var bytes = Secret.bytes(fromBase64URL: binding.value)!
        bytes[0] ^= 1
        #expect(UserAgentBinding(cookie: Substring(Secret.base64URL(bytes)), key: key) == nil)
    }
}
