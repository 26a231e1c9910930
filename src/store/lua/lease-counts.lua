-- Live leases per tenant across the fleet, after dropping expired ones.
-- KEYS[1] the fleet's lease set (members "tenant\nleaseId")
-- Returns {tenant, count, tenant, count, ...}.
--- @include "redis-clock"

local now = redisNowMs()
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local counts = {}
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local tenant = string.match(member, '^(.-)\n')
  if tenant then counts[tenant] = (counts[tenant] or 0) + 1 end
end
local out = {}
for tenant, n in pairs(counts) do
  out[#out + 1] = tenant
  out[#out + 1] = n
end
return out
