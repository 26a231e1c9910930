-- Redis's clock in ms, the one every lease and breaker decision uses.
local t = redis.call('TIME')
return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
