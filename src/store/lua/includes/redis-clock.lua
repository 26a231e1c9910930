-- Redis's own clock in ms: every lease and breaker decision uses it, never a worker's.
local function redisNowMs()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
