/// The Redis function library (`FUNCTION LOAD REPLACE` on every connection, never `EVALSHA`).
///
/// A live request is a hash under `parstore:req:<hex SHA-256 of the reference>` (the raw reference is never a
/// key) with fields `c` (client), `s` (state: `p` pushed, `u` used), `p` (parameters JSON), `t` (pushed at, ms)
/// and `d` (deadline, ms). The key expires at the deadline PostgreSQL chose.
enum RedisFunctionLibrary {
    static let source = #"""
        #!lua name=parstore

        -- KEYS[1]: request key; ARGV: client id, deadline ms, parameters JSON, pushed-at ms.
        -- Never overwrites: 1 when stored, 0 when the key already existed.
        local function push(keys, args)
          if redis.call('EXISTS', keys[1]) == 1 then return 0 end
          redis.call('HSET', keys[1], 'c', args[1], 's', 'p', 'p', args[3], 't', args[4], 'd', args[2])
          redis.call('PEXPIREAT', keys[1], args[2])
          return 1
        end

        -- KEYS[1]: request key; ARGV: the redeeming client id.
        -- The client is checked inside the atomic step: a wrong client changes nothing.
        local function claim(keys, args)
          local v = redis.call('HMGET', keys[1], 'c', 's', 'p', 't', 'd')
          if not v[1] then return {'unknown'} end
          if v[1] ~= args[1] then return {'wrong_client'} end
          if v[2] ~= 'p' then return {'used'} end
          redis.call('HSET', keys[1], 's', 'u')
          return {'ok', v[3], v[4], v[5]}
        end

        -- Gives a claim back when the arbiter could not be reached, so the request stays usable.
        local function unclaim(keys, args)
          if redis.call('HGET', keys[1], 's') == 'u' then
            redis.call('HSET', keys[1], 's', 'p')
            return 1
          end
          return 0
        end

        redis.register_function('parstore_push', push)
        redis.register_function('parstore_claim', claim)
        redis.register_function('parstore_unclaim', unclaim)
        """#
}
