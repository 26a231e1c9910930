-- Takes one fleet slot for a lease, or says which cap is full. Atomic, on Redis's own clock.
-- KEYS[1] the tenant's lease set, KEYS[2] the fleet's lease set (members "tenant\nleaseId")
-- ARGV[1] tenant, ARGV[2] lease id, ARGV[3] tenant cap (-1: none), ARGV[4] fleet cap (-1: none),
-- ARGV[5] TTL in ms
-- Returns {1} when held, {0, reason, held, cap} when full.
--- @include "redis-clock"
--- @include "leases"

local now = redisNowMs()
local verdict = leaseVerdict(KEYS[1], KEYS[2], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), now)
if verdict[1] == 1 then holdLease(KEYS[1], KEYS[2], ARGV[1], ARGV[2], now + tonumber(ARGV[5])) end
return verdict
