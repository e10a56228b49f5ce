#!lua name=evthrottle_v2
-- evthrottle's global decision (docs/design.md, "Global throttles").
-- Loaded by the library with FUNCTION LOAD REPLACE; called as
--     FCALL evt_decide_v2 1 CFG KEY TS BOUND TTL_MS
-- and, for the changes every host applies (stored and published in one step),
--     FCALL evt_window_v2 1 CFG WINDOW     (WINDOW in decimal)
--     FCALL evt_clear_v2 1 CFG
--     FCALL evt_clear_key_v2 1 CFG KEY
-- CFG is the throttle's settings hash "evt:{NAME}:cfg"; the key decided is
-- "evt:{NAME}:EPOCH:" .. KEY, EPOCH the hash's field epoch (0 if none), read
-- here so that every host uses the epoch Redis holds (same hash slot: {NAME}).
-- TS is an unsigned 64-bit nanosecond timestamp written as 20 decimal digits,
-- zero-padded; the stored value is TS in the same form.  BOUND is TS - WINDOW
-- in the same form, computed by the client in exact u64 arithmetic, or empty
-- when TS < WINDOW.  The seed's rule
--     process iff no last, or TS >= LAST and TS - LAST >= WINDOW
-- is then: process iff no last, or BOUND is not empty and LAST <= BOUND (for
-- TS >= WINDOW, LAST <= TS - WINDOW implies LAST <= TS; for TS < WINDOW,
-- TS - LAST >= WINDOW > TS has no LAST >= 0).  So the server only compares: no
-- sum, one pair of halves per value.  Lua numbers are doubles (exact to 2^53
-- only), so a value is compared as two halves of 10 digits, each below
-- 10^10 < 2^53: exact (never as strings: Lua compares those by strcoll, i.e.
-- by Redis's locale).
-- Returns {1, TS, EPOCH} (processed: the key's last is TS now) or {0, LAST,
-- EPOCH} (throttled, the key's last unchanged).
-- v1 (evt_decide_v1) took WINDOW and added it to LAST here.  The call's server
-- time is mostly Redis's (FCALL, each redis.call, and 3-5 us for a write from
-- a function), not this code's: docs/benchmarks.md, issue 20.

local function halves(s)
  return tonumber(string.sub(s, 1, 10)), tonumber(string.sub(s, 11, 20))
end

-- a < b for {hi, lo} pairs
local function less(ah, al, bh, bl)
  return ah < bh or (ah == bh and al < bl)
end

local function decide(keys, args)
  local ts, bound = args[2], args[3]
  if #ts ~= 20 or (#bound ~= 20 and #bound ~= 0) then
    return redis.error_reply('ERR evt_decide_v2: TS must be 20 digits, BOUND 20 or none')
  end
  local epoch = redis.call('HGET', keys[1], 'epoch') or '0'
  local key = string.sub(keys[1], 1, -4) .. epoch .. ':' .. args[1]
  local last = redis.call('GET', key)
  -- A value not in the 20-digit form (written by anything else) is no last:
  -- treated as absent, it is overwritten, and no Lua error fails the call.
  if last and #last == 20 and not string.find(last, '%D') then
    if #bound == 0 then
      return {0, last, epoch}
    end
    local bh, bl = halves(bound)
    local lh, ll = halves(last)
    if less(bh, bl, lh, ll) then
      return {0, last, epoch}
    end
  end
  redis.call('SET', key, ts, 'PX', args[4])
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

redis.register_function('evt_decide_v2', decide)
redis.register_function('evt_window_v2', set_window)
redis.register_function('evt_clear_v2', clear)
redis.register_function('evt_clear_key_v2', clear_key)
