import ArgumentParser
import Foundation
import ParCore
import ParPostgres
import ParServer

/// `parstore log …`: the tamper-evident log's keys and proofs.
struct LogCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "log",
        abstract: "The tamper-evident log: its signing key, its verifier key, inclusion proofs.",
        subcommands: [GenerateKey.self, PublicKey.self, Prove.self]
    )

    struct GenerateKey: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "generate-key",
            abstract: "Write a new Ed25519 signing key for the log's checkpoints (the file PARSTORE_LOG_KEY_FILE names).",
            discussion: "The key's name is the checkpoints' origin: a URL-like name of this log without scheme, e.g. as.example.com/parstore."
        )
        @Option(help: "The key's name, the checkpoints' origin.") var name: String
        @Option(help: "The file to write (created with mode 0600; an existing file is never overwritten).") var output: String
        @Flag(help: "When the file already holds a key, keep it (and print its verifier key) instead of failing.")
        var keepExisting = false

        func run() throws {
            guard let signer = NoteSigner(generatingFor: name) else { throw ValidationError("a key name is non-empty, without spaces or '+'") }
            do {
                if keepExisting, FileManager.default.fileExists(atPath: output) {
                    print(try LogKeyFile.read(output).verifier.encoded)
                    return
                }
                try LogKeyFile.create(output, signer: signer)
            } catch {
                throw ValidationError(error.description)
            }
            print(signer.verifier.encoded)
        }
    }

    struct PublicKey: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "public-key",
            abstract: "Print the note verifier key (<name>+<key ID>+<base64 key>) that checks the log's checkpoints."
        )
        @OptionGroup var key: LogKeyOptions

        func run() throws {
            print(try key.signer().verifier.encoded)
        }
    }

    struct Prove: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "prove",
            abstract: "Print, as JSON, the inclusion proof of a request's events against the latest checkpoint.",
            discussion: """
                The answer holds the signed checkpoint, and for each event its leaf index, its leaf (base64 of the \
                exact bytes hashed) and the RFC 9162 audit path from its leaf hash to the checkpoint's root. \
                Anyone holding the verifier key can check it without ParStore.
                """
        )
        @OptionGroup var database: DatabaseOptions
        @Option(help: "The request_uri (urn:ietf:params:oauth:request_uri:…).") var requestURI: String?
        @Option(help: "Or the request's id, as logs and exports name it: SHA-256 of its reference, in hex.") var requestID: String?
        @Option(help: "Prove against this kept checkpoint (a signed note file) instead of the latest.") var checkpoint: String?

        func run() throws {
            let request: LogReader.Request
            switch (requestURI, requestID) {
            case (let uri?, nil):
                guard let reference = RequestReference(requestURI: uri) else {
                    throw ValidationError("--request-uri is not a request_uri ParStore issued")
                }
                request = .reference(reference)
            case (nil, let id?):
                guard let bytes = Secret.bytes(fromHex: id), bytes.count == 32 else { throw ValidationError("--request-id is 64 hexadecimal digits") }
                request = .id(bytes)
            default:
                throw ValidationError("give --request-uri or --request-id")
            }
            let reader = LogReader(connection: try PGConnection(database.resolved(), applicationName: "parstore-log-prove"))
            let note: String
            if let checkpoint {
                guard let data = FileManager.default.contents(atPath: checkpoint) else { throw ValidationError("cannot read \(checkpoint)") }
                note = String(decoding: data, as: UTF8.self)
            } else {
                guard let latest = try LogCheckpoints.latest(on: reader.connection) else {
                    throw ValidationError("no checkpoint has been signed yet")
                }
                note = latest.note
            }
            guard let signed = SignedNote(note), let tree = Checkpoint(body: signed.text) else {
                throw ValidationError("the checkpoint is not a signed tlog checkpoint")
            }
            let entries = try reader.entries(of: request, size: tree.size)
            guard !entries.isEmpty else {
                print("no event of this request is in the tree of \(tree.size) leaves yet")
                throw ExitCode(1)
            }
            let proof = InclusionProofDocument(
                checkpoint: note,
                treeSize: tree.size,
                root: tree.root.base64,
                entries: try entries.map { entry in
                    InclusionProofDocument.Entry(
                        index: entry.index,
                        leaf: Data(entry.leaf.bytes).base64EncodedString(),
                        leafHash: entry.leaf.hash.base64,
                        proof: try reader.inclusionProof(index: entry.index, size: tree.size).map(\.base64),
                        event: ExportedEvent(entry.leaf)
                    )
                }
            )
            print(try JSONLines.encode(proof))
        }
    }
}

/// The JSON `parstore log prove` prints.
struct InclusionProofDocument: Encodable {
    var checkpoint: String
    var treeSize: UInt64
    var root: String
    var entries: [Entry]

    struct Entry: Encodable {
        var index: UInt64
        var leaf: String
        var leafHash: String
        var proof: [String]
        var event: ExportedEvent
    }

    enum CodingKeys: String, CodingKey {
        case checkpoint, treeSize = "tree_size", root, entries
    }
}

extension InclusionProofDocument.Entry {
    enum CodingKeys: String, CodingKey {
        case index, leaf, leafHash = "leaf_hash", proof, event
    }
}

/// Where the signing key comes from: `--log-key-file`, else PARSTORE_LOG_KEY_FILE.
struct LogKeyOptions: ParsableArguments {
    @Option(name: .customLong(NodeSettings.logKeyFile.flag), help: "The log's signing key file. Env: \(NodeSettings.logKeyFile.variable).")
    var keyFile: String?

    func signer() throws -> NoteSigner {
        guard let file = Settings.value(keyFile, NodeSettings.logKeyFile.variable) else {
            throw ValidationError("no signing key: pass --log-key-file or set \(NodeSettings.logKeyFile.variable)")
        }
        do {
            return try LogKeyFile.read(file)
        } catch {
            throw ValidationError(error.description)
        }
    }
}
