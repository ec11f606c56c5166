-- What a client resuming from a Last-Event-ID missed, read atomically.
--
-- KEYS[1]: the stream; KEYS[2]: the hash own id -> entry id.
-- ARGV[1]: the Last-Event-ID; ARGV[2]: "1" when it is an entry id, else it
-- is an own id; ARGV[3]: most entries returned.
-- Returns {entry id it names, entries after it, oldest first} when the
-- stream holds that entry, else {"", the newest entries, newest first}.
local stream = KEYS[1]
local id = ARGV[1]
if ARGV[2] ~= '1' then
  id = redis.call('HGET', KEYS[2], id)
end
if id and #redis.call('XRANGE', stream, id, id) > 0 then
  return {id, redis.call('XRANGE', stream, '(' .. id, '+', 'COUNT', ARGV[3])}
end
return {'', redis.call('XREVRANGE', stream, '+', '-', 'COUNT', ARGV[3])}
