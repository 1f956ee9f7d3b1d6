import Hummingbird
import ParCore

/// The HTML page a browser sees when `/authorize` refuses: the error code and a sentence, never a redirect.
enum ErrorPage {
    static func response(_ error: OAuthError) -> Response {
        let html = """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex">
            <title>Sign-in request refused</title></head>
            <body><main><h1>This sign-in request cannot continue</h1>
            <p>\(escape(error.description))</p>
            <p>Error: <code>\(escape(error.code.rawValue))</code>\(error.reason.map { " (<code>\(escape($0))</code>)" } ?? "")</p>
            <p>Go back to the application and start again.</p></main></body></html>
            """
        var headers: HTTPFields = [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"]
        if let retryAfter = error.retryAfter { headers[.retryAfter] = String(retryAfter) }
        return Response(status: HTTPResponse.Status(code: error.status), headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: html)))
    }

    private static func escape(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }
}
