-- Every tenant breaker that is not closed, as a worker keeps it to put back after Redis loses its
-- data. Drops index entries whose breaker is closed or gone (expired).
-- KEYS[1] the set of breakers that are not closed
-- ARGV[1] the breaker state key prefix (the tenant follows it)
-- Returns tenant, state, ms left open (0 for half-open), open hold in ms, manual (0|1), ...
--- @include "redis-clock"

local now = redisNowMs()
local out = {}
for _, key in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local state = redis.call('HGET', key, 'state')
  if not state or state == 'closed' then
    redis.call('SREM', KEYS[1], key)
  else
    local h = redis.call('HMGET', key, 'openUntil', 'openForMs', 'manual')
    local left = 0
    if state == 'open' then left = math.max(0, tonumber(h[1] or '0') - now) end
    out[#out + 1] = string.sub(key, #ARGV[1] + 1)
    out[#out + 1] = state
    out[#out + 1] = left
    out[#out + 1] = tonumber(h[2] or '0')
    out[#out + 1] = (h[3] == '1') and 1 or 0
  end
end
return out
