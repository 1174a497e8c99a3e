"""The Lua scripts behind :mod:`.redis_streams`: every step that moves a message runs as one atomic script.

Two rules keep a queue's waiting messages visible to KEDA's ``redis-streams`` scaler (``lagCount``: the consumer
group's ``lag`` in ``XINFO GROUPS``, the entries added to the stream and never delivered):

- A message given back (nacked, or held by a consumer past the visibility timeout) becomes a fresh entry at the
  end of the stream (or a parked one in the ``:delayed`` sorted set), carrying the deliveries it has had in its
  ``rc`` field; the old entry is acked and deleted. Nothing waits in the pending list, which lag does not count.
- Only delivered entries are ever deleted, so entries added minus entries read is the exact lag. A deletion at or
  after the group's last delivered entry makes Redis report lag as NULL (go-redis, and so KEDA, read -1: no Job
  starts); after each deletion the stream's ``max-deleted-entry-id`` is set back below its first entry (XSETID
  MAXDELETEDID, Redis 7+), where it makes no difference.

A message given back that has been delivered ``max_receives`` times goes to the dead-letter stream at once, as the
next delivery would do (without starting a worker just for that).
"""

from __future__ import annotations

# KEYS: 1 stream, 2 delayed sorted set, 3 dead-letter stream. ARGV (every script): 1 group, 2 now (epoch seconds),
# 3 max_receives (-1: none), 4 the queue's name (the dead-letter entry's source).
_PRELUDE = """
local function forget(id)
  if redis.call('XDEL', KEYS[1], id) == 0 then return end
  local info = redis.call('XINFO', 'STREAM', KEYS[1])
  for i = 1, #info, 2 do
    if info[i] == 'last-generated-id' then
      redis.pcall('XSETID', KEYS[1], info[i + 1], 'MAXDELETEDID', '0-1')  -- Redis 7+ (6.2 has no lag)
      return
    end
  end
end

-- Put a message back: a fresh entry now, parked until `due`, or dead-lettered after max_receives deliveries.
local function give_back(f, rc, due, nonce)
  local maxr = tonumber(ARGV[3])
  if maxr >= 0 and rc >= maxr then
    redis.call('XADD', KEYS[3], '*', 'body', f.body, 'mid', f.mid, 'sent_at', f.sent_at, 'rc', '0',
      'reason', 'received ' .. rc .. ' times without being acked', 'source', ARGV[4])
    return 'dead'
  end
  if due > tonumber(ARGV[2]) then
    local packed = cjson.encode({body = f.body, mid = f.mid, sent_at = f.sent_at, rc = tostring(rc), nonce = nonce})
    redis.call('ZADD', KEYS[2], due, packed)
    return 'parked'
  end
  redis.call('XADD', KEYS[1], '*', 'body', f.body, 'mid', f.mid, 'sent_at', f.sent_at, 'rc', tostring(rc))
  return 'added'
end

local function fields(flat)
  local f = {}
  for i = 1, #flat, 2 do f[flat[i]] = flat[i + 1] end
  return f
end
"""

#: Ack: ARGV 5 the entry id.
ACK = (
    _PRELUDE
    + """
redis.call('XACK', KEYS[1], ARGV[1], ARGV[5])
forget(ARGV[5])
return 1
"""
)

#: Dead-letter now: ARGV 5 entry id, 6 body, 7 mid, 8 sent_at, 9 reason.
DEAD_LETTER = (
    _PRELUDE
    + """
redis.call('XADD', KEYS[3], '*', 'body', ARGV[6], 'mid', ARGV[7], 'sent_at', ARGV[8], 'rc', '0',
  'reason', ARGV[9], 'source', ARGV[4])
redis.call('XACK', KEYS[1], ARGV[1], ARGV[5])
forget(ARGV[5])
return 1
"""
)

#: Nack: ARGV 5 entry id, 6 consumer, 7 body, 8 mid, 9 sent_at, 10 deliveries so far, 11 due (epoch seconds),
#: 12 nonce. Only the consumer that holds the entry gives it back (a stale receipt changes nothing: the message
#: was already given back, or another consumer holds it now). Returns 'added', 'parked', 'dead' or 'lost'.
GIVE_BACK = (
    _PRELUDE
    + """
local held = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[5], ARGV[5], 1)
if #held == 0 or held[1][2] ~= ARGV[6] then return 'lost' end
local f = {body = ARGV[7], mid = ARGV[8], sent_at = ARGV[9]}
local how = give_back(f, tonumber(ARGV[10]), tonumber(ARGV[11]), ARGV[12])
redis.call('XACK', KEYS[1], ARGV[1], ARGV[5])
forget(ARGV[5])
return how
"""
)

#: Recover: ARGV 5 visibility timeout (ms), 6 most entries per step. Moves due delayed messages into the stream,
#: and gives back entries held longer than the visibility timeout (their consumer died or hung) with their
#: deliveries counted. Returns {promoted, given back, dead-lettered}.
RECOVER = (
    _PRELUDE
    + """
local limit = tonumber(ARGV[6])
local promoted, back, dead = 0, 0, 0
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[2], 'LIMIT', 0, limit)
for _, packed in ipairs(due) do
  local f = cjson.decode(packed)
  if give_back(f, tonumber(f.rc), 0, '') == 'dead' then dead = dead + 1 else promoted = promoted + 1 end
  redis.call('ZREM', KEYS[2], packed)
end
local stale = redis.call('XPENDING', KEYS[1], ARGV[1], 'IDLE', ARGV[5], '-', '+', limit)
for _, p in ipairs(stale) do
  local id, deliveries = p[1], tonumber(p[4])
  local entry = redis.call('XRANGE', KEYS[1], id, id)
  if #entry > 0 then
    local f = fields(entry[1][2])
    f.body, f.mid, f.sent_at = f.body or '', f.mid or id, f.sent_at or ARGV[2]
    if give_back(f, tonumber(f.rc or '0') + deliveries, 0, '') == 'dead' then dead = dead + 1 else back = back + 1 end
  end
  redis.call('XACK', KEYS[1], ARGV[1], id)
  forget(id)
end
return {promoted, back, dead}
"""
)
