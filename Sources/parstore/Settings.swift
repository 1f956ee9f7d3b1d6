import ArgumentParser
import Foundation

/// Where a setting comes from: the flag, else the `PARSTORE_*` environment variable, else the default. The
/// only place that reads the environment.
enum Settings {
    static func value(_ flag: String?, _ variable: String) -> String? {
        if let flag, !flag.isEmpty { return flag }
        if let value = ProcessInfo.processInfo.environment[variable], !value.isEmpty { return value }
        return nil
    }

    /// An integer; out of `Int`'s range is refused like any other non-integer.
    static func integer(_ flag: Int?, _ variable: String) throws -> Int? {
        if let flag { return flag }
        guard let text = value(nil, variable) else { return nil }
        guard let number = Int(text) else { throw ValidationError("\(variable) must be an integer") }
        return number
    }
}

extension Settings {
    /// A secret: the flag, else the environment variable, else the file named by the flag `file` or by the
    /// variable's `_FILE` twin (trailing line breaks dropped). Flags show in `ps`; variables and files do not.
    static func secret(_ flag: String?, file: String?, _ variable: String) throws -> String? {
        if let value = value(flag, variable) { return value }
        guard let path = value(file, variable + "_FILE") else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ValidationError("\(variable)_FILE names a file that cannot be read")
        }
        var text = String(decoding: data, as: UTF8.self)
        while text.last == "\n" || text.last == "\r" { text.removeLast() }
        guard !text.isEmpty else { throw ValidationError("\(variable)_FILE names an empty file") }
        return text
    }

    /// A duration in seconds (fractions allowed), checked before any conversion: finite, 0 to 1e6 seconds.
    static func seconds(_ flag: Double?, _ variable: String) throws -> Duration? {
        try number(flag, variable, unit: "seconds", upTo: 1_000_000).map { .milliseconds(Int64(($0 * 1000).rounded())) }
    }

    /// A duration in milliseconds (fractions allowed), checked before any conversion: finite, 0 to 1e6 ms.
    static func milliseconds(_ flag: Double?, _ variable: String) throws -> Duration? {
        try number(flag, variable, unit: "milliseconds", upTo: 1_000_000).map { .microseconds(Int64(($0 * 1000).rounded())) }
    }

    private static func number(_ flag: Double?, _ variable: String, unit: String, upTo limit: Double) throws -> Double? {
        let number: Double
        if let flag {
            number = flag
        } else if let text = value(nil, variable) {
            guard let parsed = Double(text) else { throw ValidationError("\(variable) must be a number of \(unit)") }
            number = parsed
        } else {
            return nil
        }
        guard number.isFinite, number >= 0, number <= limit else {
            throw ValidationError("\(variable) must be a number of \(unit) between 0 and \(Int(limit))")
        }
        return number
    }

    static func boolean(_ flag: Bool?, _ variable: String) throws -> Bool? {
        if let flag { return flag }
        guard let text = value(nil, variable)?.lowercased() else { return nil }
        switch text {
        case "true", "1", "yes", "on": return true
        case "false", "0", "no", "off": return false
        default: throw ValidationError("\(variable) must be true or false")
        }
    }
}

/// The database connection options shared by the commands that need only PostgreSQL.
struct DatabaseOptions: ParsableArguments {
    @Option(name: .customLong("database-url"), help: "PostgreSQL URL or connection string. Env: PARSTORE_DATABASE_URL.")
    var databaseURL: String?
    @Option(name: .customLong("database-url-file"), help: "File holding the database URL (kept out of ps). Env: PARSTORE_DATABASE_URL_FILE.")
    var databaseURLFile: String?

    func resolved() throws -> String {
        guard let url = try Settings.secret(databaseURL, file: databaseURLFile, "PARSTORE_DATABASE_URL") else {
            throw ValidationError("no database: pass --database-url or set PARSTORE_DATABASE_URL")
        }
        return url
    }
}
