-- One new session's whole fleet decision in one round trip: the tenant's breaker (taking a
-- half-open probe slot when it lets the session through as a probe), then the tenant and fleet
-- caps, and the lease. Atomic, on Redis's clock: a probe slot is only taken with the lease, so a
-- session turned away by a cap never holds one.
-- KEYS[1] the breaker's state hash, KEYS[2] its outcome buckets, KEYS[3] the tenant's lease set,
-- KEYS[4] the fleet's lease set, KEYS[5] the set of breakers that are not closed
-- ARGV[1] breaker settings JSON, ARGV[2] tenant, ARGV[3] lease id, ARGV[4] tenant cap (-1: none),
-- ARGV[5] fleet cap (-1: none), ARGV[6] lease TTL in ms
-- Returns {1, probe (0|1)} when admitted, {0, 'breaker_open', retry in ms} when the breaker says
-- no, {0, reason, held, cap} when a cap is full.
--- @include "redis-clock"
--- @include "breaker"
--- @include "leases"

local now = redisNowMs()
local settings = cjson.decode(ARGV[1])
local b = loadBreaker(KEYS[1], KEYS[2], KEYS[5], settings, now)
local before = b.state
local ok, probe, retryInMs = b.admit()
local reply
if not ok then
  reply = {0, 'breaker_open', retryInMs}
else
  reply = leaseVerdict(KEYS[3], KEYS[4], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5]), now)
  if reply[1] == 1 then
    holdLease(KEYS[3], KEYS[4], ARGV[2], ARGV[3], now + tonumber(ARGV[6]))
    reply = {1, probe and 1 or 0}
  elseif probe then
    b.probes = b.probes - 1
  end
end
-- A closed breaker that stayed closed has nothing new to write: the common decision costs no
-- breaker writes. Any other state is saved, which also keeps it from expiring while it is in use.
if b.state ~= 'closed' or b.state ~= before then b.save() end
return reply
