-- Puts back the breakers a worker last saw open or half-open, after Redis lost its data. A tenant
-- whose breaker has moved since (an operator's reset, new failures) keeps its newer state; one
-- only created since, closed and never moved, is overwritten. Half-open comes back as open with
-- no time left, so its next session is a probe.
-- KEYS[1] the set of breakers that are not closed
-- ARGV[1] the breaker state key prefix, then groups: tenant, ms left, open hold in ms, manual (0|1)
-- Returns how many were put back.
--- @include "redis-clock"

-- Until the breaker's next save sets its expiry from the tenant's settings.
local KEEP_AFTER_HOLD_MS = 600000

local now = redisNowMs()
local restored = 0
for i = 2, #ARGV, 4 do
  local key = ARGV[1] .. ARGV[i]
  local changedAt = tonumber(redis.call('HGET', key, 'changedAt') or '-1')
  if changedAt < 0 then
    local left = tonumber(ARGV[i + 1])
    redis.call('HSET', key, 'state', 'open', 'openUntil', now + left, 'openForMs', ARGV[i + 2],
      'manual', ARGV[i + 3], 'probes', 0, 'changedAt', now)
    redis.call('PEXPIRE', key, left + KEEP_AFTER_HOLD_MS)
    redis.call('SADD', KEYS[1], key)
    restored = restored + 1
  end
end
return restored
