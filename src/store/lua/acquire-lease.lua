-- Takes one fleet slot for a lease, or says which cap is full. Atomic, on Redis's own clock.
-- KEYS[1] the tenant's lease set, KEYS[2] the fleet's lease set (members "tenant\nleaseId")
-- ARGV[1] tenant, ARGV[2] lease id, ARGV[3] tenant cap (-1: none), ARGV[4] fleet cap (-1: none),
-- ARGV[5] TTL in ms
-- Returns {1} when held, {0, reason, held, cap} when full.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local expires = now + tonumber(ARGV[5])
local member = ARGV[1] .. '\n' .. ARGV[2]

redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)

-- The same lease asked again (a repeated availability request) keeps its one slot.
if redis.call('ZSCORE', KEYS[1], ARGV[2]) then
  redis.call('ZADD', KEYS[1], expires, ARGV[2])
  redis.call('ZADD', KEYS[2], expires, member)
  return {1}
end

local tenantCap = tonumber(ARGV[3])
local held = redis.call('ZCARD', KEYS[1])
if tenantCap >= 0 and held >= tenantCap then
  return {0, 'tenant_capacity', held, tenantCap}
end
local fleetCap = tonumber(ARGV[4])
if fleetCap >= 0 then
  local total = redis.call('ZCARD', KEYS[2])
  if total >= fleetCap then
    return {0, 'fleet_capacity', total, fleetCap}
  end
end

redis.call('ZADD', KEYS[1], expires, ARGV[2])
redis.call('ZADD', KEYS[2], expires, member)
return {1}
