-- One tenant's fleet-wide circuit breaker: every check and every transition of closed -> open ->
-- half-open -> closed is decided here, atomically, on Redis's clock, so every worker sees the
-- same state and half-open probes are limited across the fleet. Mirrors src/admission/breaker.ts.
-- KEYS[1] the breaker's state hash, KEYS[2] its outcome buckets (fields "<bucket>:s", "<bucket>:f")
-- ARGV[1] op: admit | record | cancel | trip | reset | view
-- ARGV[2] settings JSON {enabled, failureRatio, minSamples, windowMs, cooldownMs, halfOpenProbes}
-- ARGV[3] op argument: record -> "success"|"failed", trip -> hold in ms
-- ARGV[4] record: "1" when the session was a probe
-- Returns a JSON object: {ok, probe, retryInMs, transition, view}.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local op = ARGV[1]
local s = cjson.decode(ARGV[2])
-- 20 buckets per window: the window slides in steps of a twentieth of it.
local bucketMs = math.max(1, math.floor(s.windowMs / 20))

local st = redis.call('HGETALL', KEYS[1])
local b = {}
for i = 1, #st, 2 do b[st[i]] = st[i + 1] end
local state = b.state or 'closed'
local openUntil = tonumber(b.openUntil or '0')
local openForMs = tonumber(b.openForMs or '0')
local manual = b.manual == '1'
local probes = tonumber(b.probes or '0')
local changedAt = tonumber(b.changedAt or '-1')
local transition = cjson.null

local function counts()
  local oldest = math.floor((now - s.windowMs) / bucketMs) + 1
  local failures, samples = 0, 0
  local stale = {}
  local raw = redis.call('HGETALL', KEYS[2])
  for i = 1, #raw, 2 do
    local idx, kind = string.match(raw[i], '^(%-?%d+):(%a)$')
    idx = tonumber(idx)
    if idx and idx < oldest then
      stale[#stale + 1] = raw[i]
    elseif kind == 's' then
      samples = samples + tonumber(raw[i + 1])
    elseif kind == 'f' then
      failures = failures + tonumber(raw[i + 1])
    end
  end
  if #stale > 0 then redis.call('HDEL', KEYS[2], unpack(stale)) end
  return failures, samples
end

local function move(to, reason)
  local from = state
  state = to
  changedAt = now
  if to ~= 'open' then manual = false end
  local failures, samples = counts()
  transition = {
    from = from, to = to, reason = reason, failures = failures, samples = samples,
    cooldownMs = (to == 'open') and openForMs or 0, manual = manual,
  }
end

local function open(forMs, reason, byHand)
  openUntil = now + forMs
  openForMs = forMs
  manual = byHand
  move('open', reason)
end

local function advance()
  if state == 'open' and now >= openUntil then
    local what = manual and 'manual hold' or 'cooldown'
    move('half_open', what .. ' of ' .. openForMs .. ' ms ended')
  end
end

local out = {ok = true, probe = false, retryInMs = 0}

if op == 'admit' then
  if s.enabled or manual then
    advance()
    if state == 'open' then
      out.ok = false
      out.retryInMs = math.max(0, openUntil - now)
    elseif state == 'half_open' then
      if probes >= s.halfOpenProbes then
        out.ok = false
      else
        probes = probes + 1
        out.probe = true
      end
    end
  end
elseif op == 'record' then
  local failed = ARGV[3] == 'failed'
  if ARGV[4] == '1' then
    probes = math.max(0, probes - 1)
    if state == 'half_open' then
      if failed then
        open(s.cooldownMs, 'probe session failed', false)
      else
        redis.call('DEL', KEYS[2])
        move('closed', 'probe session succeeded')
      end
    end
  elseif s.enabled then
    local idx = math.floor(now / bucketMs)
    redis.call('HINCRBY', KEYS[2], idx .. ':s', 1)
    if failed then redis.call('HINCRBY', KEYS[2], idx .. ':f', 1) end
    if state == 'closed' then
      local failures, samples = counts()
      if samples >= s.minSamples and failures / samples >= s.failureRatio then
        open(s.cooldownMs,
          failures .. ' of ' .. samples .. ' sessions failed within ' .. s.windowMs .. ' ms', false)
      end
    end
  end
elseif op == 'cancel' then
  probes = math.max(0, probes - 1)
elseif op == 'trip' then
  open(tonumber(ARGV[3]), 'tripped by operator', true)
elseif op == 'reset' then
  redis.call('DEL', KEYS[2])
  manual = false
  if state ~= 'closed' then move('closed', 'reset by operator') end
elseif op == 'view' then
  advance()
end

redis.call('HSET', KEYS[1], 'state', state, 'openUntil', openUntil, 'openForMs', openForMs,
  'manual', manual and '1' or '0', 'probes', probes, 'changedAt', changedAt)
-- A closed breaker with nothing in its window holds nothing worth keeping: let it expire, so a
-- tenant seen once does not stay in Redis forever. Open and half-open ones stay until they move.
local keep = s.windowMs + s.cooldownMs + 60000
if state == 'closed' then
  redis.call('PEXPIRE', KEYS[1], keep)
  redis.call('PEXPIRE', KEYS[2], keep)
else
  redis.call('PEXPIRE', KEYS[1], math.max(keep, openUntil - now + keep))
  redis.call('PEXPIRE', KEYS[2], math.max(keep, openUntil - now + keep))
end

local failures, samples = counts()
out.transition = transition
out.view = {
  state = state, openUntil = openUntil, probesInFlight = probes, lastTransitionAt = changedAt,
  manual = manual, windowFailures = failures, windowSamples = samples,
}
return cjson.encode(out)
