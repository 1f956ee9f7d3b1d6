import ArgumentParser

@main
struct Parstore: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "parstore",
        abstract: "ParStore: the Pushed Authorization Request (RFC 9126) store of an OAuth 2.0 authorization server.",
        subcommands: [Serve.self, Migrate.self, Clients.self, Audit.self]
    )
}
