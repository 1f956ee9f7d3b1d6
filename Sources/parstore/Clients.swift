import ArgumentParser
import Foundation
import ParCore
import ParPostgres

struct Clients: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage the client registry. Running nodes see a change within seconds.",
        subcommands: [Add.self, List.self, Remove.self]
    )

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Register a client. For secret methods, a 256-bit secret is printed once and stored only as a hash."
        )

        @OptionGroup var database: DatabaseOptions
        @Option(name: .customLong("client-id")) var clientID: String
        @Option(name: .customLong("auth-method"), help: "client_secret_basic, client_secret_post or none.")
        var authMethod: String
        @Option(name: .customLong("redirect-uri"), help: "A redirect URI; repeat for several.") var redirectURIs: [String] = []
        @Option(help: "The scope values the client may request, space-separated.") var scope: String = ""
        @Option(name: .customLong("request-lifetime"), help: "Push to first use, seconds (1-599). Default: the node's.")
        var requestLifetime: Int?
        @Option(name: .customLong("interaction-lifetime"), help: "Load to redemption, seconds (1-86400). Default: the node's.")
        var interactionLifetime: Int?
        @Flag(name: .customLong("require-par"), help: "Refuse this client's authorization requests that were not pushed.")
        var requirePAR = false
        @Flag(help: "Print JSON.") var json = false

        func validate() throws {
            guard Client.isValidID(clientID) else {
                throw ValidationError("--client-id must be 1 to 200 printable ASCII characters without spaces or ':'")
            }
            guard ClientAuthMethod(rawValue: authMethod) != nil else {
                throw ValidationError("--auth-method must be client_secret_basic, client_secret_post or none")
            }
            if let requestLifetime, !(1...599).contains(requestLifetime) {
                throw ValidationError("--request-lifetime must be 1 to 599 seconds (FAPI 2.0: below 600)")
            }
            if let interactionLifetime, !(1...86_400).contains(interactionLifetime) {
                throw ValidationError("--interaction-lifetime must be 1 to 86400 seconds")
            }
            guard !redirectURIs.isEmpty else { throw ValidationError("at least one --redirect-uri is required") }
            for uri in redirectURIs {
                guard let url = URLComponents(string: uri), url.scheme != nil, url.fragment == nil else {
                    throw ValidationError("--redirect-uri must be an absolute URI without a fragment")
                }
            }
        }

        func run() throws {
            let method = ClientAuthMethod(rawValue: authMethod)!
            let secret = method.usesSecret ? Secret.random(byteCount: 32) : nil
            let client = Client(
                id: clientID,
                authMethod: method,
                secretHash: secret.map(Secret.sha256),
                redirectURIs: redirectURIs,
                scopes: Set(scope.split(separator: " ").map(String.init)),
                requestLifetime: requestLifetime.map { .seconds($0) },
                interactionLifetime: interactionLifetime.map { .seconds($0) },
                requiresPushedRequests: requirePAR
            )
            let connection = try PGConnection(database.resolved(), applicationName: "parstore-clients")
            try ClientRegistry.add(client, on: connection)
            if json {
                print(Clients.json(client, secret: secret))
            } else {
                print(Clients.text(client))
                if let secret {
                    print("client_secret: \(secret)")
                    print("Keep the secret now: it is stored only as a hash and cannot be shown again.")
                }
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the registered clients.")
        @OptionGroup var database: DatabaseOptions
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let clients = try ClientRegistry.all(on: PGConnection(database.resolved(), applicationName: "parstore-clients"))
            if json {
                print("[" + clients.map { Clients.json($0, secret: nil) }.joined(separator: ",") + "]")
            } else if clients.isEmpty {
                print("No clients are registered.")
            } else {
                print(clients.map(Clients.text).joined(separator: "\n\n"))
            }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a client.")
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The client id.") var clientID: String

        func run() throws {
            guard try ClientRegistry.remove(clientID, on: PGConnection(database.resolved(), applicationName: "parstore-clients")) else {
                throw ValidationError("no client with id \(clientID)")
            }
            print("Removed \(clientID).")
        }
    }

    static func text(_ client: Client) -> String {
        """
        client_id:     \(client.id)
        auth_method:   \(client.authMethod.rawValue)
        redirect_uris: \(client.redirectURIs.joined(separator: " "))
        scope:         \(client.scopes.sorted().joined(separator: " "))
        request_lifetime:     \(client.requestLifetime.map { "\($0.components.seconds) s" } ?? "node default")
        interaction_lifetime: \(client.interactionLifetime.map { "\($0.components.seconds) s" } ?? "node default")
        require_pushed_authorization_requests: \(client.requiresPushedRequests)
        """
    }

    static func json(_ client: Client, secret: String?) -> String {
        var pairs: [String] = [
            #""client_id":"# + JSONText.string(client.id),
            #""token_endpoint_auth_method":"# + JSONText.string(client.authMethod.rawValue),
            #""redirect_uris":["# + client.redirectURIs.map(JSONText.string).joined(separator: ",") + "]",
            #""scope":"# + JSONText.string(client.scopes.sorted().joined(separator: " ")),
            #""require_pushed_authorization_requests":\#(client.requiresPushedRequests)"#,
        ]
        if let lifetime = client.requestLifetime { pairs.append(#""request_lifetime":\#(lifetime.components.seconds)"#) }
        if let lifetime = client.interactionLifetime { pairs.append(#""interaction_lifetime":\#(lifetime.components.seconds)"#) }
        if let secret { pairs.append(#""client_secret":"# + JSONText.string(secret)) }
        return "{" + pairs.joined(separator: ",") + "}"
    }
}
