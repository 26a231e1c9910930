-- Fleet-wide leases: a tenant's sorted set (members: lease ids) and the fleet's (members
-- "tenant\nleaseId"), both scored by the lease's expiry on Redis's clock.

-- Whether the lease can be held, after dropping expired members. Returns {1} when it can (or is
-- already held), {0, reason, held, cap} when a cap is full. Changes nothing but the expired.
local function leaseVerdict(tenantKey, fleetKey, leaseId, tenantCap, fleetCap, now)
  redis.call('ZREMRANGEBYSCORE', tenantKey, '-inf', now)
  redis.call('ZREMRANGEBYSCORE', fleetKey, '-inf', now)
  -- The same lease asked again (a repeated availability request) keeps its one slot.
  if redis.call('ZSCORE', tenantKey, leaseId) then return {1} end
  local held = redis.call('ZCARD', tenantKey)
  if tenantCap >= 0 and held >= tenantCap then
    return {0, 'tenant_capacity', held, tenantCap}
  end
  if fleetCap >= 0 then
    local total = redis.call('ZCARD', fleetKey)
    if total >= fleetCap then return {0, 'fleet_capacity', total, fleetCap} end
  end
  return {1}
end

local function holdLease(tenantKey, fleetKey, tenant, leaseId, expires)
  redis.call('ZADD', tenantKey, expires, leaseId)
  redis.call('ZADD', fleetKey, expires, tenant .. '\n' .. leaseId)
end
