import Foundation
import Hummingbird
import ParCore

extension Request {
    /// The body, or 413 when it is larger than `limit` bytes: by its `Content-Length`, or, for a chunked body, as
    /// soon as the bytes read pass the limit (NIO's `NIOTooManyBytesError`, which Hummingbird maps to 413); 400 when
    /// it cannot be read (a malformed chunked encoding).
    func collectBody(upTo limit: Int) async throws -> [UInt8] {
        let tooLarge = OAuthError(.invalidRequest, "The request body is larger than \(limit) bytes.", status: 413)
        if let length = headers[.contentLength].flatMap({ Int($0) }), length > limit { throw tooLarge }
        do {
            let buffer = try await body.collect(upTo: limit)
            return Array(buffer.readableBytesView)
        } catch let error as any HTTPResponseError where error.status == .contentTooLarge {
            throw tooLarge
        } catch {
            // The body stream failed: a malformed chunked encoding (the HTTP parser's error), a body cut short.
            throw OAuthError.invalidRequest("The request body could not be read (malformed or incomplete).")
        }
    }

    /// Whether the media type (without parameters) is `expected`, compared case-insensitively.
    ///
    /// `expected` is lowercase ASCII, as media types are; compared byte by byte, without building lowercased copies.
    func hasMediaType(_ expected: String) -> Bool {
        guard let value = headers[.contentType] else { return false }
        let mediaType = value[..<(value.firstIndex(of: ";") ?? value.endIndex)].trimmingHTTPWhitespace
        return mediaType.utf8.elementsEqual(expected.utf8) { sent, wanted in
            (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(sent) ? sent | 0x20 == wanted : sent == wanted
        }
    }

    /// The value of a cookie, from every `Cookie` header.
    func cookieValue(named name: String) -> Substring? {
        for header in headers[values: .cookie] {
            for pair in header.split(separator: ";") {
                let trimmed = pair.drop { $0 == " " }
                if let equals = trimmed.firstIndex(of: "="), trimmed[..<equals] == name {
                    return trimmed[trimmed.index(after: equals)...]
                }
            }
        }
        return nil
    }
}
