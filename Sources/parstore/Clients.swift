import ArgumentParser
import Foundation
import ParCore
import ParCredentials
import ParPostgres
import Yams

struct Clients: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage the client registry. Running nodes see a change within seconds.",
        subcommands: [Add.self, Import.self, List.self, Remove.self]
    )

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Register a client. For secret methods, a 256-bit secret is printed once and stored only as a hash."
        )

        @OptionGroup var database: DatabaseOptions
        @Option(name: .customLong("client-id")) var clientID: String
        @Option(
            name: .customLong("auth-method"),
            help: "client_secret_basic, client_secret_post, private_key_jwt, tls_client_auth, self_signed_tls_client_auth or none."
        )
        var authMethod: String
        @Option(name: .customLong("redirect-uri"), help: "A redirect URI; repeat for several.") var redirectURIs: [String] = []
        @Option(help: "The scope values the client may request, space-separated.") var scope: String = ""
        @Option(name: .customLong("request-lifetime"), help: "Push to first use, seconds (1-599). Default: the node's.")
        var requestLifetime: Int?
        @Option(name: .customLong("interaction-lifetime"), help: "Load to redemption, seconds (1-86400). Default: the node's.")
        var interactionLifetime: Int?
        @Flag(name: .customLong("require-par"), help: "Refuse this client's authorization requests that were not pushed.")
        var requirePAR = false
        @Option(name: .customLong("jwks-file"), help: "The client's public keys (a JWKS file): private_key_jwt, request objects.")
        var jwksFile: String?
        @Option(name: .customLong("tls-subject-dn"), help: "tls_client_auth: the certificate's subject DN (RFC 4514).")
        var tlsSubjectDN: String?
        @Option(name: .customLong("tls-san-dns"), help: "tls_client_auth: a DNS name SAN.") var tlsSANDNS: String?
        @Option(name: .customLong("tls-san-uri"), help: "tls_client_auth: a URI SAN.") var tlsSANURI: String?
        @Option(name: .customLong("tls-san-ip"), help: "tls_client_auth: an IP address SAN.") var tlsSANIP: String?
        @Option(name: .customLong("tls-san-email"), help: "tls_client_auth: an email SAN.") var tlsSANEmail: String?
        @Option(
            name: .customLong("certificate-file"),
            help: "self_signed_tls_client_auth: a PEM certificate whose thumbprint is registered; repeat for several."
        )
        var certificateFiles: [String] = []
        @Option(name: .customLong("certificate-thumbprint"), help: "self_signed_tls_client_auth: a base64url SHA-256 thumbprint.")
        var thumbprints: [String] = []
        @Option(help: "standard or fapi2 (FAPI 2.0 Security Profile).") var profile: String = "standard"
        @Option(name: .customLong("authorization-details-type"), help: "An authorization_details type it may request; repeat.")
        var authorizationDetailsTypes: [String] = []
        @Flag(name: .customLong("require-signed-request-object"), help: "Accept only PARs carrying a signed request object.")
        var requireSignedRequestObject = false
        @Flag(name: .customLong("allow-unregistered-redirect-uris"), help: "Let PARs name redirect URIs that are not registered.")
        var allowUnregisteredRedirectURIs = false
        @Option(name: .customLong("redirect-uri-prefix"), help: "Unregistered redirect URIs must start with this; repeat.")
        var redirectURIPrefixes: [String] = []
        @Option(name: .customLong("rate-limit"), help: "Pushes per second (0.1 is 6 a minute). Default: the node's.") var rateLimit: Double?
        @Option(name: .customLong("rate-burst"), help: "Pushes at once. Default: the rate.") var rateBurst: Int?
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            var document = ClientDocument(clientID: clientID, authMethod: authMethod)
            document.redirect_uris = redirectURIs
            document.scope = scope
            document.request_lifetime = requestLifetime
            document.interaction_lifetime = interactionLifetime
            document.require_pushed_authorization_requests = requirePAR
            document.jwks_file = jwksFile
            document.tls_client_auth_subject_dn = tlsSubjectDN
            document.tls_client_auth_san_dns = tlsSANDNS
            document.tls_client_auth_san_uri = tlsSANURI
            document.tls_client_auth_san_ip = tlsSANIP
            document.tls_client_auth_san_email = tlsSANEmail
            var allThumbprints = thumbprints
            for path in certificateFiles {
                guard let pem = try? String(contentsOfFile: path, encoding: .utf8), let certificate = ClientCertificate(headerValue: pem) else {
                    throw ValidationError("\(path) is not a PEM certificate")
                }
                allThumbprints.append(certificate.thumbprint)
            }
            document.tls_client_certificate_thumbprints = allThumbprints.isEmpty ? nil : allThumbprints
            document.profile = profile
            document.authorization_details_types = authorizationDetailsTypes
            document.require_signed_request_object = requireSignedRequestObject
            document.allow_unregistered_redirect_uris = allowUnregisteredRedirectURIs
            document.redirect_uri_prefixes = redirectURIPrefixes
            document.rate_limit = rateLimit
            document.rate_limit_burst = rateBurst
            let (client, secret) = try document.client(existing: nil, folder: nil)

            let connection = try PGConnection(database.resolved(), applicationName: "parstore-clients")
            try ClientTable.add(client, on: connection)
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

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Register or update the clients declared in a JSON or YAML file; running it again changes nothing.",
            discussion: """
                The file holds a list of clients (or {"clients": [...]}) with RFC 7591 names: client_id, \
                token_endpoint_auth_method, redirect_uris, scope, jwks or jwks_file, tls_client_auth_subject_dn / \
                _san_dns / _san_uri / _san_ip / _san_email, tls_client_certificate_thumbprints, profile, \
                authorization_details_types, require_signed_request_object, require_pushed_authorization_requests, \
                allow_unregistered_redirect_uris, redirect_uri_prefixes, request_lifetime, interaction_lifetime, \
                rate_limit, rate_limit_burst, and client_secret or client_secret_sha256. A secret client without \
                either keeps its registered secret, or gets a new one printed once. Clients not in the file are \
                left alone. Everything is checked before anything is written, in one transaction.
                """
        )

        @OptionGroup var database: DatabaseOptions
        @Argument(help: "A .json, .yaml or .yml file.") var file: String

        private struct Wrapped: Decodable { var clients: [ClientDocument] }

        /// The most nodes a client file may expand to. Aliases share what they name until it is decoded, so a few
        /// lines of nested aliases ("billion laughs") would expand to billions of nodes: such a file is refused.
        static let maxYAMLNodes = 100_000

        /// The YAML document, refused when it expands beyond ``maxYAMLNodes`` nodes; counting stops there.
        static func boundedYAML(_ text: String) throws -> Node {
            guard let root = try Yams.compose(yaml: text) else { throw ValidationError("the file is empty") }
            var budget = maxYAMLNodes
            var pending = [root]
            while let node = pending.popLast() {
                budget -= 1
                guard budget >= 0 else {
                    throw ValidationError("the file expands to more than \(maxYAMLNodes) YAML nodes (nested aliases?)")
                }
                switch node {
                case .mapping(let mapping): for (key, value) in mapping { pending += [key, value] }
                case .sequence(let sequence): pending += sequence
                case .scalar, .alias: break
                }
            }
            return root
        }

        func run() throws {
            let url = URL(fileURLWithPath: file)
            guard let data = try? Data(contentsOf: url) else { throw ValidationError("cannot read \(file)") }
            let documents: [ClientDocument]
            do {
                let yaml = ["yaml", "yml"].contains(url.pathExtension.lowercased())
                let text = String(decoding: data, as: UTF8.self)
                // A list of clients, or an object with a clients list.
                let node = yaml ? try Self.boundedYAML(text) : nil
                func decode<T: Decodable>(_ type: T.Type) throws -> T {
                    if let node { return try YAMLDecoder().decode(type, from: node) }
                    return try JSONDecoder().decode(type, from: data)
                }
                do {
                    documents = try decode([ClientDocument].self)
                } catch {
                    guard let wrapped = try? decode(Wrapped.self) else { throw error }
                    documents = wrapped.clients
                }
            } catch {
                throw ValidationError("\(file) is not a list of clients: \(error)")
            }
            guard Set(documents.map(\.client_id)).count == documents.count else {
                throw ValidationError("\(file) declares a client id more than once")
            }
            let connection = try PGConnection(database.resolved(), applicationName: "parstore-clients")
            let registered = Dictionary(try ClientTable.all(on: connection).map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
            let folder = url.deletingLastPathComponent()
            let planned = try documents.map { document in
                let (client, secret) = try document.client(existing: registered[document.client_id], folder: folder)
                return (client: client, secret: secret, existing: registered[document.client_id])
            }
            var created = 0, updated = 0, unchanged = 0
            try connection.execute("BEGIN")
            do {
                for entry in planned {
                    if let existing = entry.existing {
                        if Clients.sameRegistration(existing, entry.client) {
                            unchanged += 1
                        } else {
                            try ClientTable.replace(entry.client, on: connection)
                            updated += 1
                        }
                    } else {
                        try ClientTable.add(entry.client, on: connection)
                        created += 1
                    }
                }
                try connection.execute("COMMIT")
            } catch {
                _ = try? connection.execute("ROLLBACK")
                throw error
            }
            for entry in planned {
                if let secret = entry.secret { print("\(entry.client.id) client_secret: \(secret)") }
            }
            print("\(created) created, \(updated) updated, \(unchanged) unchanged.")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the registered clients.")
        @OptionGroup var database: DatabaseOptions
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let clients = try ClientTable.all(on: PGConnection(database.resolved(), applicationName: "parstore-clients"))
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
            guard try ClientTable.remove(clientID, on: PGConnection(database.resolved(), applicationName: "parstore-clients")) else {
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
        profile:       \(client.profile.rawValue)
        """
    }

    /// Whether two registrations say the same (the JWKS compared as JSON, not as text).
    static func sameRegistration(_ lhs: Client, _ rhs: Client) -> Bool {
        func normalized(_ client: Client) -> Client {
            var copy = client
            copy.jwks = client.jwks.flatMap { try? JSONDecoder().decode(JSONValue.self, from: Data($0.utf8)).jsonText() }
            return copy
        }
        return normalized(lhs) == normalized(rhs)
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
        pairs.append(#""profile":"# + JSONText.string(client.profile.rawValue))
        if let jwks = client.jwks { pairs.append(#""jwks":"# + jwks) }
        if !client.authorizationDetailsTypes.isEmpty {
            pairs.append(
                #""authorization_details_types":["# + client.authorizationDetailsTypes.sorted().map(JSONText.string).joined(separator: ",") + "]"
            )
        }
        if let rate = client.rateLimit { pairs.append(#""rate_limit":\#(rate.perSecond),"rate_limit_burst":\#(rate.burst)"#) }
        if let secret { pairs.append(#""client_secret":"# + JSONText.string(secret)) }
        return "{" + pairs.joined(separator: ",") + "}"
    }
}
