-- One tenant's fleet-wide circuit breaker: every check and every transition is decided here,
-- atomically, on Redis's clock, so every worker sees the same state and half-open probes are
-- limited across the fleet. (A new session's check is made with its lease, in admit-session.lua.)
-- KEYS[1] the breaker's state hash, KEYS[2] its outcome buckets, KEYS[3] the set of breakers
-- that are not closed
-- ARGV[1] op: admit | record | cancel | trip | reset | view
-- ARGV[2] settings JSON {enabled, failureRatio, minSamples, windowMs, cooldownMs, halfOpenProbes}
-- ARGV[3] op argument: record -> "success"|"failed", trip -> hold in ms
-- ARGV[4] record: "1" when the session was a probe
-- Returns a JSON object: {ok, probe, retryInMs, transition, view}.
--- @include "redis-clock"
--- @include "breaker"

local now = redisNowMs()
local op = ARGV[1]
local b = loadBreaker(KEYS[1], KEYS[2], KEYS[3], cjson.decode(ARGV[2]), now)
local out = {ok = true, probe = false, retryInMs = 0}

if op == 'admit' then
  out.ok, out.probe, out.retryInMs = b.admit()
elseif op == 'record' then
  b.record(ARGV[3] == 'failed', ARGV[4] == '1')
elseif op == 'cancel' then
  b.probes = math.max(0, b.probes - 1)
elseif op == 'trip' then
  b.open(tonumber(ARGV[3]), 'tripped by operator', true)
elseif op == 'reset' then
  redis.call('DEL', KEYS[2])
  b.manual = false
  if b.state ~= 'closed' then b.move('closed', 'reset by operator') end
elseif op == 'view' then
  b.advance()
end

b.save()
out.transition = b.transition
out.view = b.view()
return cjson.encode(out)
