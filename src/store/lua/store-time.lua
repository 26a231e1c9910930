-- Redis's clock in ms, the one every lease and breaker decision uses.
--- @include "redis-clock"

return redisNowMs()
