import CHiredis
import ParCore
@testable import ParRedis
import Testing

/// The parts of the Redis client that need no server: hash slots, redirections, slot maps, URLs, replies.
@Suite struct HashSlotTests {
    /// CRC16-XMODEM's check value, and slots Redis itself reports (`CLUSTER KEYSLOT`).
    @Test func slotsAreRedisOwn() {
        #expect(HashSlot.crc16(Array("123456789".utf8)) == 0x31C3)
        #expect(HashSlot.of("foo") == 12182)
        #expect(HashSlot.of("bar") == 5061)
        #expect(HashSlot.of("") == 0)
    }

    /// Only the first non-empty `{tag}` is hashed: keys one function call touches share a slot.
    @Test func hashTagsPinKeysToOneSlot() {
        #expect(HashSlot.of("{user1000}.following") == HashSlot.of("{user1000}.followers"))
        #expect(HashSlot.of("{user1000}.following") == HashSlot.of("user1000"))
        #expect(HashSlot.of("foo{}{bar}") == HashSlot.of("foo{}{bar}") && HashSlot.of("foo{}{bar}") != HashSlot.of("bar"), "an empty tag hashes the whole key")
        #expect(HashSlot.of("foo{{bar}}zap") == HashSlot.of("{bar"), "the tag runs to the first closing brace")
        #expect(HashSlot.of("foo{bar}{zap}") == HashSlot.of("bar"), "only the first tag counts")
    }

    @Test func requestKeysSpreadOverTheSlots() {
        var slots = Set<Int>()
        for _ in 0..<2000 { slots.insert(HashSlot.of(RedisRequestCache.key(.mint(secondsSince1970: 1_800_000_000)))) }
        #expect(slots.count > 1800, "2000 random requests land on nearly as many slots")
    }
}

@Suite struct ClusterRoutingTests {
    @Test func redirectionsAreRead() {
        let moved = Redirection("MOVED 3999 127.0.0.1:6381")
        #expect(moved?.kind == .moved && moved?.slot == 3999 && moved?.address == RedisAddress(host: "127.0.0.1", port: 6381))
        let ask = Redirection("ASK 16383 [::1]:7000")
        #expect(ask?.kind == .ask && ask?.slot == 16383 && ask?.address == RedisAddress(host: "::1", port: 7000))
        for garbage in ["MOVED 16384 127.0.0.1:6381", "MOVED -1 h:1", "MOVED 1 127.0.0.1", "MOVED 1 :6379", "CLUSTERDOWN The cluster is down", "ASK 1 h:0", "TRYAGAIN", ""] {
            #expect(Redirection(garbage) == nil, "\(garbage)")
        }
    }

    /// `CLUSTER SLOTS`: ranges to primaries; an empty or `?` host is the node that answered.
    @Test func slotMapsAreReadFromClusterSlots() throws {
        let source = RedisAddress(host: "127.0.0.1", port: 7000)
        func primary(_ host: String, _ port: Int) -> RedisValue { .array([.string(host), .integer(port), .string("id")]) }
        let reply = RedisValue.array([
            .array([.integer(0), .integer(5460), primary("127.0.0.1", 7001), primary("127.0.0.1", 7004)]),
            .array([.integer(5461), .integer(10922), primary("", 7000)]),
            .array([.integer(10923), .integer(16000), primary("?", 7000)]),
        ])
        let map = try #require(SlotMap(clusterSlots: reply, source: source))
        #expect(map.primary(of: 0) == RedisAddress(host: "127.0.0.1", port: 7001))
        #expect(map.primary(of: 5461) == source && map.primary(of: 16000) == source)
        #expect(map.primary(of: 16001) == nil)
        #expect(map.unassignedSlots == 16383 - 16000)
        #expect(map.slotCounts() == [RedisAddress(host: "127.0.0.1", port: 7001): 5461, source: 16001 - 5461])

        var moved = map
        moved.assign(100...100, to: RedisAddress(host: "127.0.0.1", port: 7002))
        #expect(moved.primary(of: 100)?.port == 7002 && moved.primary(of: 101)?.port == 7001)

        #expect(SlotMap(clusterSlots: .array([.array([.integer(10), .integer(5), primary("h", 1)])]), source: source) == nil, "a reversed range")
        #expect(SlotMap(clusterSlots: .array([.array([.integer(0), .integer(16384), primary("h", 1)])]), source: source) == nil, "past the last slot")
        #expect(SlotMap(clusterSlots: .error("ERR This instance has cluster support disabled"), source: source) == nil)
    }
}

@Suite struct RedisTopologyTests {
    @Test func urlsOfBothFormsAreRead() {
        #expect(RedisTopology(url: "redis://127.0.0.1:6380/2") == .standalone(RedisEndpoint(host: "127.0.0.1", port: 6380, database: 2)))
        #expect(RedisTopology(url: "redis://:p%40ss@cache") == .standalone(RedisEndpoint(host: "cache", port: 6379, password: "p@ss")))
        #expect(
            RedisTopology(url: "redis+cluster://:pw@10.0.0.1:7000,[::1]:7001,node-3")
                == .cluster(seeds: [
                    RedisEndpoint(host: "10.0.0.1", port: 7000, password: "pw"), RedisEndpoint(host: "::1", port: 7001, password: "pw"),
                    RedisEndpoint(host: "node-3", port: 6379, password: "pw"),
                ])
        )
    }

    @Test func malformedUrlsAreRefused() {
        for url in [
            "http://127.0.0.1", "redis://a:1,b:2", "redis+cluster://h:1/1", "redis://h:0", "redis://h:65536", "redis://h:x", "redis://",
            "redis://h/12345", "redis://h/-1", "redis://[::1", "redis+cluster://h:1,,h:2", "redis://user@h", "redis://h h:1",
        ] {
            #expect(RedisTopology(url: url) == nil, "\(url)")
        }
    }
}

/// Replies as hiredis's reader builds them from the bytes Redis sends (RESP2), read into `RedisValue`.
@Suite struct RedisReplyTests {
    private func parse(_ text: String) throws -> RedisValue { try parse(bytes: Array(text.utf8)) }

    private func parse(bytes data: [UInt8]) throws -> RedisValue {
        let reader = try #require(redisReaderCreate())
        defer { redisReaderFree(reader) }
        data.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { _ = redisReaderFeed(reader, $0.baseAddress, buffer.count) }
        }
        var reply: UnsafeMutableRawPointer? = nil
        #expect(redisReaderGetReply(reader, &reply) == REDIS_OK)
        let pointer = try #require(reply)
        defer { freeReplyObject(pointer) }
        return RedisConnection.value(pointer.assumingMemoryBound(to: redisReply.self))
    }

    @Test func everyReplyTypeIsRead() throws {
        #expect(try parse("+OK\r\n") == .status("OK"))
        #expect(try parse("-ERR unknown\r\n") == .error("ERR unknown"))
        #expect(try parse(":-9223372036854775808\r\n") == .integer(Int.min))
        #expect(try parse("$8\r\nconsumed\r\n") == .string("consumed"))
        #expect(try parse("$-1\r\n") == .null)
        #expect(try parse("*-1\r\n") == .null)
        #expect(try parse("*0\r\n") == .array([]))
        #expect(try parse("*2\r\n:1\r\n*1\r\n$1\r\nx\r\n") == .array([.integer(1), .array([.string("x")])]))
    }

    /// Bulk strings are binary: a NUL inside is kept (the length counts, not the terminator), and bytes that are
    /// not UTF-8 become replacement characters instead of a crash.
    @Test func bulkStringsAreReadByLength() throws {
        #expect(try parse("$3\r\na\0b\r\n") == .string("a\0b"))
        #expect(try parse(bytes: Array("$2\r\n".utf8) + [0xFF, 0xFE] + Array("\r\n".utf8)) == .string("\u{FFFD}\u{FFFD}"))
    }
}
