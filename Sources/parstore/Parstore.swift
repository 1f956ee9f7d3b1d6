import ArgumentParser
import NIOCore
import NIOPosix

@main
struct Parstore: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "parstore",
        abstract: "ParStore: the Pushed Authorization Request (RFC 9126) store of an OAuth 2.0 authorization server.",
        subcommands: [
            Serve.self, Migrate.self, Clients.self, Audit.self, Export.self, LogCommand.self, DataKeyCommand.self, Erase.self, Rebuild.self, RetentionCommand.self,
            SettingsTable.self,
            DevServers.self,
        ]
    )

    /// Runs Swift concurrency on the NIO event loops that serve HTTP, installed before any task starts: a request's
    /// handler then runs on its connection's thread instead of hopping to the cooperative pool and back, and the
    /// node has two fewer threads (on the 2-core bench machine: same throughput, lower p99). Nothing here blocks
    /// in async code: libpq and hiredis run on worker threads of their own.
    static func main() async {
        NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        await main(nil)
    }
}
