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

    static func integer(_ flag: Int?, _ variable: String) throws -> Int? {
        if let flag { return flag }
        guard let text = value(nil, variable) else { return nil }
        guard let number = Int(text) else { throw ValidationError("\(variable) must be an integer") }
        return number
    }
}

extension Settings {
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

    func resolved() throws -> String {
        guard let url = Settings.value(databaseURL, "PARSTORE_DATABASE_URL") else {
            throw ValidationError("no database: pass --database-url or set PARSTORE_DATABASE_URL")
        }
        return url
    }
}
