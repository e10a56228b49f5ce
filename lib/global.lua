#!lua name=evthrottle_v1
-- evthrottle's global decision (docs/design.md, "Global throttles").
-- Loaded by the library with FUNCTION LOAD REPLACE; called as
--     FCALL evt_decide_v1 1 CFG KEY TS WINDOW TTL_MS
-- and, for the changes every host applies (stored and published in one step),
--     FCALL evt_window_v1 1 CFG WINDOW     (WINDOW in decimal)
--     FCALL evt_clear_v1 1 CFG
--     FCALL evt_clear_key_v1 1 CFG KEY
-- CFG is the throttle's settings hash "evt:{NAME}:cfg"; the key decided is
-- "evt:{NAME}:EPOCH:" .. KEY, EPOCH the hash's field epoch (0 if none), read
-- here so that every host uses the epoch Redis holds (same hash slot: {NAME}).
-- TS and WINDOW are unsigned 64-bit nanoseconds written as 20 decimal digits,
-- zero-padded; the stored value is TS in the same form.  Lua numbers are doubles
-- (exact to 2^53 only), so a value is handled as two halves of 10 digits, each
-- below 10^10 < 2^53: every sum and compare below is exact.
-- Returns {1, TS, EPOCH} (processed: the key's last is TS now) or {0, LAST,
-- EPOCH} (throttled, the key's last unchanged).  The rule is the seed's:
--     process iff no last, or TS >= LAST and TS - LAST >= WINDOW.

local TEN10 = 10000000000

local function halves(s)
  return tonumber(string.sub(s, 1, 10)), tonumber(string.sub(s, 11, 20))
end

-- a < b for {hi, lo} pairs
local function less(ah, al, bh, bl)
  return ah < bh or (ah == bh and al < bl)
end

local function decide(keys, args)
  local ts, window, ttl = args[2], args[3], args[4]
  if #ts ~= 20 or #window ~= 20 then
    return redis.error_reply('ERR evt_decide_v1: TS and WINDOW must be 20 digits')
  end
  local epoch = redis.call('HGET', keys[1], 'epoch') or '0'
  local key = string.sub(keys[1], 1, -4) .. epoch .. ':' .. args[1]
  local last = redis.call('GET', key)
  -- A value not in the 20-digit form (written by anything else) is no last:
  -- treated as absent, it is overwritten, and no Lua error fails the call.
  if last and (#last ~= 20 or string.find(last, '%D')) then
    last = false
  end
  if last then
    local th, tl = halves(ts)
    local lh, ll = halves(last)
    if less(th, tl, lh, ll) then
      return {0, last, epoch}
    end
    -- TS - LAST >= WINDOW  <=>  TS >= LAST + WINDOW (a 21-digit sum: no overflow)
    local wh, wl = halves(window)
    local sl, sh = ll + wl, lh + wh
    if sl >= TEN10 then
      sl, sh = sl - TEN10, sh + 1
    end
    if less(th, tl, sh, sl) then
      return {0, last, epoch}
    end
  end
  redis.call('SET', key, ts, 'PX', ttl)
  return {1, ts, epoch}
end

-- The throttle's channel, beside its settings: "evt:{NAME}:changes".  Every
-- change is published there by the call that stores it (a function runs alone:
-- no host can read the stored change before the message is sent).  Messages:
--     "window W"          the window is W ns (decimal)
--     "clear E"           everything cleared: the epoch is E now
--     "key E " .. KEY     KEY (any bytes) deleted under epoch E
local function channel(cfg)
  return string.sub(cfg, 1, -4) .. 'changes'
end

local function set_window(keys, args)
  redis.call('HSET', keys[1], 'window', args[1])
  redis.call('PUBLISH', channel(keys[1]), 'window ' .. args[1])
  return 0
end

-- Returns the new epoch.
local function clear(keys)
  local epoch = redis.call('HINCRBY', keys[1], 'epoch', 1)
  redis.call('PUBLISH', channel(keys[1]), 'clear ' .. epoch)
  return epoch
end

-- Returns how many keys were deleted (0 or 1).
local function clear_key(keys, args)
  local epoch = redis.call('HGET', keys[1], 'epoch') or '0'
  local n = redis.call('DEL', string.sub(keys[1], 1, -4) .. epoch .. ':' .. args[1])
  redis.call('PUBLISH', channel(keys[1]), 'key ' .. epoch .. ' ' .. args[1])
  return n
end

redis.register_function('evt_decide_v1', decide)
redis.register_function('evt_window_v1', set_window)
redis.register_function('evt_clear_v1', clear)
redis.register_function('evt_clear_key_v1', clear_key)
