-- Renews every lease one worker holds, in one call; re-adds them after Redis lost its data.
-- KEYS[1] the fleet's lease set, KEYS[2] the store's epoch key
-- ARGV[1] TTL in ms, ARGV[2] the epoch this worker last saw, ARGV[3] a fresh epoch (used when
-- the key is gone), ARGV[4] tenant lease-set key prefix, then pairs: tenant, lease id.
-- Returns {renewed, reasserted, epoch, lost tenant, lost lease id, ...}.
--- @include "redis-clock"

local now = redisNowMs()
local expires = now + tonumber(ARGV[1])

-- A missing epoch means a Redis that lost its data (a restart without persistence, a flush):
-- then every lease a worker still holds is real and goes back in. A different epoch means another
-- worker got there first after such a loss, and the same holds.
local epoch = redis.call('GET', KEYS[2])
if not epoch then
  redis.call('SET', KEYS[2], ARGV[3])
  epoch = ARGV[3]
end
local dataLost = epoch ~= ARGV[2]

redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local renewed, reasserted = 0, 0
local lost = {}
for i = 5, #ARGV, 2 do
  local tenant, lease = ARGV[i], ARGV[i + 1]
  local tenantKey = ARGV[4] .. tenant
  local member = tenant .. '\n' .. lease
  redis.call('ZREMRANGEBYSCORE', tenantKey, '-inf', now)
  if redis.call('ZSCORE', tenantKey, lease) then
    redis.call('ZADD', tenantKey, expires, lease)
    redis.call('ZADD', KEYS[1], expires, member)
    renewed = renewed + 1
  elseif dataLost then
    redis.call('ZADD', tenantKey, expires, lease)
    redis.call('ZADD', KEYS[1], expires, member)
    reasserted = reasserted + 1
  else
    lost[#lost + 1] = tenant
    lost[#lost + 1] = lease
  end
end

local out = {renewed, reasserted, epoch}
for _, v in ipairs(lost) do out[#out + 1] = v end
return out
