import Hummingbird
import ParCore

/// `GET /log/checkpoint`: the latest signed checkpoint of the tamper-evident log, as a `c2sp.org/signed-note`
/// (`text/plain`), for auditors and witnesses to keep; 404 before the first.
final class LogEndpoint: Sendable {
    /// Reads the latest note; `nil` when none was signed yet.
    let latestNote: @Sendable () async throws -> String?
    /// Anyone may ask: PostgreSQL is asked at most twice a second per node.
    private let last = RecentAnswer<String?>(maxAge: .milliseconds(500))

    init(latestNote: @escaping @Sendable () async throws -> String?) {
        self.latestNote = latestNote
    }

    func register<Context: RequestContext>(on router: Router<Context>) {
        router.get("log/checkpoint") { _, _ in try await self.checkpoint() }
    }

    func checkpoint() async throws -> Response {
        let note = try await last.value {
            do {
                return try await latestNote()
            } catch {
                throw OAuthError(.temporarilyUnavailable, "The log cannot be read right now; retry later.", status: 503, retryAfter: 1)
            }
        }
        guard let note else {
            return Response(
                status: .notFound,
                headers: [.contentType: "text/plain; charset=utf-8", .cacheControl: "no-store"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: "no checkpoint has been signed yet\n"))
            )
        }
        return Response(
            status: .ok,
            headers: [.contentType: "text/plain; charset=utf-8", .cacheControl: "no-store"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: note))
        )
    }
}
