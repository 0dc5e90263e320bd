// The Lua scripts of the Redis store. Each read-modify-write runs as one script, so Redis executes
// it atomically and the request pays one round trip. The window math is sliding-window.ts's, so both
// stores count alike (the one addition, for clock skew between replicas, is marked in `slide`).
// node-redis sends EVALSHA and falls back to EVAL on NOSCRIPT.
import { defineScript, type CommandParser } from 'redis';
import type { ClientKeys } from './redis-keys.js';

// Shared by both scripts. Numbers are Lua doubles: exact for epoch ms, as in JavaScript.
const SLIDE = `
-- One hit on a counter stored as "start:current:previous" (or false when absent), at \`now\`.
-- Returns the new stored value and the sliding count (sliding-window.ts: addHit, slidingCount).
local function slide(stored, window, now)
  local start = now - now % window
  local current, previous = 0, 0
  if stored then
    local s, c, p = string.match(stored, '^(%d+):(%d+):(%d+)$')
    s, c, p = tonumber(s), tonumber(c), tonumber(p)
    if s and s >= start then
      -- Still the current bucket. A later start was opened by a replica whose clock runs ahead:
      -- count into it rather than move the bucket back and lose its hits.
      start, current, previous = s, c, p
    elseif s == start - window then
      previous = c -- the stored bucket has just become the previous one
    end -- anything older no longer overlaps the window: start afresh
  end
  current = current + 1
  -- The previous bucket counts by its overlap with the window ending now (at most all of it).
  local overlap = math.min(1, 1 - (now - start) / window)
  -- Not rounded, as in sliding-window.ts: a burst across a bucket boundary must still be caught.
  local count = current + previous * overlap
  return string.format('%.0f:%.0f:%.0f', start, current, previous), count
end
`;

const HIT = `${SLIDE}
-- One request of one client (Store.hit): throttle check, a hit on every limit, limit check and
-- throttle set, all or nothing.
-- KEYS[1]  the client's throttle: epoch ms until which it is throttled
-- KEYS[2]  the client's window counters: a hash, one field per limit
-- ARGV[1]  now, epoch ms (the caller's clock, so tests control time)
-- ARGV[2]  block length, ms
-- ARGV[3…] one triple per limit: hash field, limit, window ms
-- Returns {epoch ms until which the client is throttled (0: it is not), requests left in the
-- tightest window, that window's 0-based position among the limits} (Store.hit's Quota).
local now, block = tonumber(ARGV[1]), tonumber(ARGV[2])

-- A throttled client is not counted. A throttle already over by our clock is left to expire:
-- deleting it could end the block early for a replica whose clock is behind.
local throttled_until = tonumber(redis.call('GET', KEYS[1]))
if throttled_until and throttled_until > now then
  return {throttled_until, 0, 0}
end

local over, longest = false, 0
local remaining, tightest = math.huge, 0
for i = 3, #ARGV, 3 do
  local field, limit, window = ARGV[i], tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2])
  local value, count = slide(redis.call('HGET', KEYS[2], field), window, now)
  redis.call('HSET', KEYS[2], field, value)
  if count > limit then over = true end
  if window > longest then longest = window end
  if limit - count < remaining then remaining, tightest = limit - count, (i - 3) / 3 end
end
if over or remaining < 0 then remaining = 0 end
remaining = math.floor(remaining) -- counts are fractional; what is left is whole requests

-- A counter matters for two windows after its bucket starts (as current, then as previous).
-- Only ever lengthen the hash's life: a rule with a longer window may share it.
if longest > 0 and redis.call('PTTL', KEYS[2]) < 2 * longest then
  redis.call('PEXPIRE', KEYS[2], 2 * longest)
end

if not over then
  return {0, remaining, tightest}
end
local until_ms = now + block
redis.call('SET', KEYS[1], string.format('%.0f', until_ms), 'PX', block)
return {until_ms, 0, tightest}
`;

const ATTEMPT = `${SLIDE}
-- One captcha attempt of one client (Store.attempt).
-- KEYS[1]  the client's attempt counter: "start:current:previous"
-- ARGV     now (epoch ms), limit, window ms
-- Returns 1 while the attempts stay within the limit, 0 beyond.
local now, limit, window = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local value, count = slide(redis.call('GET', KEYS[1]), window, now)
redis.call('SET', KEYS[1], value, 'PX', 2 * window)
if count <= limit then return 1 end
return 0
`;

const RELEASE = `
-- Lifts a client's throttle and resets its request counters (Store.release), and tells every
-- replica, whose memory of the throttle must go too. The attempt counter stays, so passing a
-- captcha does not buy a fresh allowance of captcha attempts.
-- KEYS[1]  the client's throttle
-- KEYS[2]  the client's window counters
-- ARGV[1]  the channel of lifts
-- ARGV[2]  the client
redis.call('DEL', KEYS[1], KEYS[2])
return redis.call('PUBLISH', ARGV[1], ARGV[2])
`;

export const SCRIPTS = {
  hit: defineScript({
    SCRIPT: HIT,
    NUMBER_OF_KEYS: 2,
    parseCommand(parser: CommandParser, keys: ClientKeys, args: readonly string[]) {
      parser.pushKey(keys.throttle);
      parser.pushKey(keys.windows);
      parser.push(...args);
    },
    transformReply: (reply: unknown) => {
      const [untilMs, remaining, index] = (reply as unknown[]).map(Number);
      return { untilMs: untilMs ?? 0, remaining: remaining ?? 0, index: index ?? 0 };
    },
  }),
  attempt: defineScript({
    SCRIPT: ATTEMPT,
    NUMBER_OF_KEYS: 1,
    parseCommand(parser: CommandParser, keys: ClientKeys, args: readonly string[]) {
      parser.pushKey(keys.attempts);
      parser.push(...args);
    },
    transformReply: (reply: unknown) => Number(reply),
  }),
  release: defineScript({
    SCRIPT: RELEASE,
    NUMBER_OF_KEYS: 2,
    parseCommand(parser: CommandParser, keys: ClientKeys, args: readonly string[]) {
      parser.pushKey(keys.throttle);
      parser.pushKey(keys.windows);
      parser.push(...args);
    },
    transformReply: (reply: unknown) => Number(reply),
  }),
};
