// swift-tools-version:6.2
import Foundation
import PackageDescription

// One settings list for every target: Swift 6 language mode (strict concurrency) and zero warnings.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    .treatAllWarnings(as: .error),
]

let package = Package(
    name: "parstore",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "parstore", targets: ["parstore"]),
        .executable(name: "parbench", targets: ["parbench"]),
        .library(name: "ParCore", targets: ["ParCore"]),
        .library(name: "ParServer", targets: ["ParServer"]),
        .library(name: "ParTesting", targets: ["ParTesting"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.36.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.7.1"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.4.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
    ],
    targets: [
        // System libraries: the C clients of PostgreSQL and Redis, from Debian's libpq-dev and libhiredis-dev.
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"]), .brew(["libpq"])]),
        .systemLibrary(name: "CHiredis", pkgConfig: "hiredis", providers: [.apt(["libhiredis-dev"]), .brew(["hiredis"])]),

        // The domain: parsing, validation, clients, request_uri minting, events, OAuth errors. No I/O.
        .target(
            name: "ParCore",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        // What proves who is calling and with which key: JWS (client assertions, request objects, DPoP proofs)
        // and client certificates forwarded by a TLS-terminating proxy. No I/O: replay checks are the caller's.
        .target(
            name: "ParCredentials",
            dependencies: [
                "ParCore",
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        // A blocking connection owned by one OS thread, serving async callers in batches.
        .target(
            name: "ParWorker",
            dependencies: [
                "CGNU",
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ParPostgres",
            dependencies: ["ParCore", "ParWorker", "CLibPQ"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ParRedis",
            dependencies: ["ParCore", "ParWorker", "CHiredis"],
            swiftSettings: swiftSettings
        ),
        // The request store the HTTP faces see: PostgreSQL's event log decides, Redis filters in front.
        .target(
            name: "ParStores",
            dependencies: [
                "ParCore", "ParPostgres", "ParRedis",
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // glibc's GNU extensions: posix_spawn's close-from action (children that must not inherit the node's
        // descriptors) and thread names.
        .target(name: "CGNU"),
        // Private PostgreSQL and Redis servers under a data folder (the embedded default and the test fixtures).
        .target(
            name: "ParEmbedded",
            dependencies: ["CGNU"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ParServer",
            dependencies: [
                "ParCore", "ParCredentials", "ParPostgres", "ParRedis", "ParStores", "ParWorker",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "parstore",
            dependencies: [
                "ParServer", "ParPostgres", "ParCore", "ParCredentials", "ParEmbedded", "ParWorker",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // The benchmark suite's load generator: speaks HTTP only, to ParStore or any RFC 9126 server.
        .executableTarget(
            name: "parbench",
            dependencies: [
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            swiftSettings: swiftSettings
        ),

        // What the tests stand on, as Hummingbird ships HummingbirdTesting: private PostgreSQL and Redis servers,
        // nodes made for tests, and keys and certificates a hostile client could make.
        .target(
            name: "ParTesting",
            dependencies: [
                "ParEmbedded", "ParServer", "ParPostgres", "ParRedis", "ParCore", "ParWorker",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ],
            swiftSettings: swiftSettings
        ),
    ] + testTargets
)

// Tests: pure unit tests, and integration tests on real servers (their fixtures are the ParTesting library). Declared
// only where the Tests folder is: an image build copies Package.swift and Sources alone.
var testTargets: [Target] {
    guard FileManager.default.fileExists(atPath: Context.packageDirectory + "/Tests") else { return [] }
    return [
        .testTarget(name: "ParCoreTests", dependencies: ["ParCore"], swiftSettings: swiftSettings),
        .testTarget(name: "ParWorkerTests", dependencies: ["ParWorker"], swiftSettings: swiftSettings),
        .testTarget(name: "ParPostgresTests", dependencies: ["ParPostgres", "ParCore", "ParWorker"], swiftSettings: swiftSettings),
        .testTarget(name: "ParRedisTests", dependencies: ["ParRedis", "ParCore", "CHiredis"], swiftSettings: swiftSettings),
        .testTarget(
            name: "ParCredentialsTests",
            dependencies: [
                "ParCredentials", "ParCore", "ParTesting",
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ParIntegrationTests",
            dependencies: [
                "ParTesting", "ParServer", "ParPostgres", "ParRedis", "ParCore", "ParCredentials", "ParEmbedded", "ParWorker",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
}
