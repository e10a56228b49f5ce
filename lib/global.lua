#!lua name=evthrottle
-- evthrottle's global decision (docs/design.md, "Global throttles").
-- Loaded by the library with FUNCTION LOAD REPLACE; called as
--     FCALL evt_decide 1 KEY TS WINDOW TTL_MS
-- TS and WINDOW are unsigned 64-bit nanoseconds written as 20 decimal digits,
-- zero-padded; the stored value is TS in the same form.  Lua numbers are doubles
-- (exact to 2^53 only), so a value is handled as two halves of 10 digits, each
-- below 10^10 < 2^53: every sum and compare below is exact.
-- Returns {1, TS} (processed: the key's last is TS now) or {0, LAST} (throttled,
-- the key's last unchanged).  The rule is the seed's:
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
  local ts, window, ttl = args[1], args[2], args[3]
  if #ts ~= 20 or #window ~= 20 then
    return redis.error_reply('ERR evt_decide: TS and WINDOW must be 20 digits')
  end
  local last = redis.call('GET', keys[1])
  if last then
    local th, tl = halves(ts)
    local lh, ll = halves(last)
    if less(th, tl, lh, ll) then
      return {0, last}
    end
    -- TS - LAST >= WINDOW  <=>  TS >= LAST + WINDOW (a 21-digit sum: no overflow)
    local wh, wl = halves(window)
    local sl, sh = ll + wl, lh + wh
    if sl >= TEN10 then
      sl, sh = sl - TEN10, sh + 1
    end
    if less(th, tl, sh, sl) then
      return {0, last}
    end
  end
  redis.call('SET', keys[1], ts, 'PX', ttl)
  return {1, ts}
end

redis.register_function('evt_decide', decide)
