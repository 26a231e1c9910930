-- One tenant's fleet-wide circuit breaker, read from Redis into a table whose functions decide
-- every check and transition of closed -> open -> half-open -> closed. Mirrors
-- src/admission/breaker.ts. Nothing is written back until `save()`.
-- stateKey: the state hash; bucketsKey: outcome buckets (fields "<bucket>:s", "<bucket>:f");
-- indexKey: the set of the state keys of breakers that are not closed;
-- s: settings {enabled, failureRatio, minSamples, windowMs, cooldownMs, halfOpenProbes}.
local function loadBreaker(stateKey, bucketsKey, indexKey, s, now)
  -- 20 buckets per window: the window slides in steps of a twentieth of it.
  local bucketMs = math.max(1, math.floor(s.windowMs / 20))
  local st = redis.call('HGETALL', stateKey)
  local h = {}
  for i = 1, #st, 2 do h[st[i]] = st[i + 1] end
  local b = {
    state = h.state or 'closed',
    openUntil = tonumber(h.openUntil or '0'),
    openForMs = tonumber(h.openForMs or '0'),
    manual = h.manual == '1',
    probes = tonumber(h.probes or '0'),
    changedAt = tonumber(h.changedAt or '-1'),
    transition = cjson.null,
  }

  function b.counts()
    local oldest = math.floor((now - s.windowMs) / bucketMs) + 1
    local failures, samples = 0, 0
    local stale = {}
    local raw = redis.call('HGETALL', bucketsKey)
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
    if #stale > 0 then redis.call('HDEL', bucketsKey, unpack(stale)) end
    return failures, samples
  end

  function b.move(to, reason)
    local from = b.state
    b.state = to
    b.changedAt = now
    if to ~= 'open' then b.manual = false end
    local failures, samples = b.counts()
    b.transition = {
      from = from, to = to, reason = reason, failures = failures, samples = samples,
      cooldownMs = (to == 'open') and b.openForMs or 0, manual = b.manual,
    }
  end

  function b.open(forMs, reason, byHand)
    b.openUntil = now + forMs
    b.openForMs = forMs
    b.manual = byHand
    b.move('open', reason)
  end

  function b.advance()
    if b.state == 'open' and now >= b.openUntil then
      local what = b.manual and 'manual hold' or 'cooldown'
      b.move('half_open', what .. ' of ' .. b.openForMs .. ' ms ended')
    end
  end

  -- The verdict for one new session: ok, whether it is a half-open probe (its slot taken), and
  -- how long an open breaker has left.
  function b.admit()
    if not (s.enabled or b.manual) then return true, false, 0 end
    b.advance()
    if b.state == 'open' then return false, false, math.max(0, b.openUntil - now) end
    if b.state == 'half_open' then
      if b.probes >= s.halfOpenProbes then return false, false, 0 end
      b.probes = b.probes + 1
      return true, true, 0
    end
    return true, false, 0
  end

  function b.record(failed, probe)
    if probe then
      b.probes = math.max(0, b.probes - 1)
      if b.state == 'half_open' then
        if failed then
          b.open(s.cooldownMs, 'probe session failed', false)
        else
          redis.call('DEL', bucketsKey)
          b.move('closed', 'probe session succeeded')
        end
      end
    elseif s.enabled then
      local idx = math.floor(now / bucketMs)
      redis.call('HINCRBY', bucketsKey, idx .. ':s', 1)
      if failed then redis.call('HINCRBY', bucketsKey, idx .. ':f', 1) end
      if b.state == 'closed' then
        local failures, samples = b.counts()
        if samples >= s.minSamples and failures / samples >= s.failureRatio then
          b.open(s.cooldownMs,
            failures .. ' of ' .. samples .. ' sessions failed within ' .. s.windowMs .. ' ms', false)
        end
      end
    end
  end

  function b.save()
    redis.call('HSET', stateKey, 'state', b.state, 'openUntil', b.openUntil, 'openForMs',
      b.openForMs, 'manual', b.manual and '1' or '0', 'probes', b.probes, 'changedAt', b.changedAt)
    -- A closed breaker with nothing in its window holds nothing worth keeping: let it expire, so
    -- a tenant seen once does not stay in Redis forever. Open and half-open ones stay until they
    -- move.
    local keep = s.windowMs + s.cooldownMs + 60000
    if b.state ~= 'closed' then keep = math.max(keep, b.openUntil - now + keep) end
    redis.call('PEXPIRE', stateKey, keep)
    redis.call('PEXPIRE', bucketsKey, keep)
    if b.state == 'closed' then
      redis.call('SREM', indexKey, stateKey)
    else
      redis.call('SADD', indexKey, stateKey)
    end
  end

  function b.view()
    local failures, samples = b.counts()
    return {
      state = b.state, openUntil = b.openUntil, probesInFlight = b.probes,
      lastTransitionAt = b.changedAt, manual = b.manual, windowFailures = failures,
      windowSamples = samples,
    }
  end

  return b
end
