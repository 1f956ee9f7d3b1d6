/// The Redis function library, loaded on every server (every primary of a cluster) as the node connects to it,
/// never `EVALSHA`.
///
/// A live request is a hash under `parstore:req:<hex SHA-256 of the reference>` (the raw reference is never a
/// key) with fields `c` (client) and `s` (state: `p` pushed, `u` used): what the redemption filter reads back,
/// nothing more (the parameters are read from PostgreSQL, which decides). The key expires at the deadline
/// PostgreSQL chose. `parstore_rate` keeps one rate-limit key per client. Answers use the lifecycle's words: a
/// ``RefusalReason`` raw value, or `consumed`.
enum RedisFunctionLibrary {
    /// The library's version, which `parstore_version` returns. Raise it with every change to the functions; a later
    /// version must keep serving the calls of the earlier one (nodes of both run side by side in a rolling upgrade).
    static let version = 4

    /// Loads the library on the server behind `connection` unless it holds this version or a later one already
    /// (a newer node of a rolling upgrade loaded it; replacing it would take its functions away).
    @available(*, noasync, message: "blocking: call from a worker thread")
    static func ensureLoaded(on connection: RedisConnection) throws(RedisError) {
        if case .integer(let loaded) = try connection.command(["FCALL", "parstore_version", "0"]), loaded >= version {
            return
        }
        if case .error(let message) = try connection.command(["FUNCTION", "LOAD", "REPLACE", source]) {
            throw RedisError(.reply, message: "FUNCTION LOAD failed: \(message)")
        }
    }

    static let source = #"""
        #!lua name=parstore

        -- KEYS[1]: request key; ARGV: client id, deadline ms (nodes of version 2 send two more values: ignored).
        -- Never overwrites: 1 when stored, 0 when the key already existed.
        local function push(keys, args)
          if redis.call('EXISTS', keys[1]) == 1 then return 0 end
          redis.call('HSET', keys[1], 'c', args[1], 's', 'p')
          redis.call('PEXPIREAT', keys[1], args[2])
          return 1
        end

        -- KEYS[1]: request key; ARGV: the redeeming client id. 'consumed' when this client takes the request now
        -- (PostgreSQL must still commit it), else the refusal: 'unknown' (no record: ask PostgreSQL),
        -- 'wrong_client' (nothing changes) or 'already_used'.
        local function consume(keys, args)
          local v = redis.call('HMGET', keys[1], 'c', 's')
          if not v[1] then return 'unknown' end
          if v[1] ~= args[1] then return 'wrong_client' end
          if v[2] ~= 'p' then return 'already_used' end
          redis.call('HSET', keys[1], 's', 'u')
          return 'consumed'
        end

        -- Version 2's name and answer for `consume`, served to nodes of version 2 during a rolling upgrade (they
        -- read only the status; records pushed by version 3 have no parameters or times).
        local function claim(keys, args)
          local status = consume(keys, args)
          if status == 'consumed' then
            local v = redis.call('HMGET', keys[1], 'p', 't', 'd')
            return {'ok', v[1] or '{}', v[2] or '0', v[3] or '0'}
          end
          if status == 'already_used' then return {'used'} end
          return {status}
        end

        -- KEYS[1]: request key; ARGV: client id, deadline ms, state ('p' or 'u'). A request rebuilt from the log
        -- (`parstore rebuild`). Never overwrites: 1 when stored, 0 when the key already existed.
        local function restore(keys, args)
          if redis.call('EXISTS', keys[1]) == 1 then return 0 end
          redis.call('HSET', keys[1], 'c', args[1], 's', args[3])
          redis.call('PEXPIREAT', keys[1], args[2])
          return 1
        end

        -- KEYS[1]: request key; ARGV: client id, deadline ms. Marks a request used, whether Redis held it or not:
        -- a consumption PostgreSQL decided alone, which a rebuild running meanwhile must not bring back unused.
        local function used(keys, args)
          redis.call('HSET', keys[1], 'c', args[1], 's', 'u')
          redis.call('PEXPIREAT', keys[1], args[2])
          return 1
        end

        -- Gives a claim back when the arbiter could not be reached, so the request stays usable.
        local function unclaim(keys, args)
          if redis.call('HGET', keys[1], 's') == 'u' then
            redis.call('HSET', keys[1], 's', 'p')
            return 1
          end
          return 0
        end

        -- KEYS[1]: a subject's rate key; ARGV: emission interval (µs), burst. GCRA on Redis's clock:
        -- 0 when admitted, else the µs to wait. The key holds the theoretical arrival time.
        local function rate(keys, args)
          local t = redis.call('TIME')
          local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
          local interval = tonumber(args[1])
          local tolerance = interval * (tonumber(args[2]) - 1)
          local tat = tonumber(redis.call('GET', keys[1]) or now)
          if tat < now then tat = now end
          if tat - now > tolerance then return math.ceil(tat - now - tolerance) end
          tat = tat + interval
          redis.call('SET', keys[1], string.format('%d', tat), 'PX', math.ceil((tat - now) / 1000) + 1)
          return 0
        end

        redis.register_function{function_name = 'parstore_version', flags = {'no-writes'},
                                callback = function() return \#(version) end}
        redis.register_function('parstore_push', push)
        redis.register_function('parstore_rate', rate)
        redis.register_function('parstore_consume', consume)
        redis.register_function('parstore_claim', claim)
        redis.register_function('parstore_unclaim', unclaim)
        redis.register_function('parstore_restore', restore)
        redis.register_function('parstore_used', used)
        """#
}
