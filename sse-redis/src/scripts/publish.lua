-- Appends one event to an SSE stream, atomically with the map from its own
-- id to its entry, and trims both together: the map holds exactly the own
-- ids of the entries the stream holds. Field names are those of entry.rs.
--
-- KEYS[1]: the stream; KEYS[2]: the hash own id -> entry id.
-- ARGV[1]: the encoded frame; ARGV[2]: "1" when ARGV[3] is the own id;
-- ARGV[4]: entries kept; ARGV[5]: age limit in milliseconds, "0" for none;
-- ARGV[6]: "0" for an untagged event, "1" tagged, "2" tagged and private;
-- ARGV[7]: the topics field when tagged.
-- Returns {entry id, 1} when the stream already holds an entry with this
-- own id (nothing is appended), else {new entry id, 0}.
local stream, ids = KEYS[1], KEYS[2]
local own = nil
if ARGV[2] == '1' then
  own = ARGV[3]
  local held = redis.call('HGET', ids, own)
  if held and #redis.call('XRANGE', stream, held, held) > 0 then
    return {held, 1}
  end
end

-- An untagged event's entry is exactly what it was before topics existed.
local fields = {'f', ARGV[1]}
if own then
  fields[#fields + 1] = 'u'
  fields[#fields + 1] = own
end
if ARGV[6] ~= '0' then
  fields[#fields + 1] = 't'
  fields[#fields + 1] = ARGV[7]
  if ARGV[6] == '2' then
    fields[#fields + 1] = 'p'
    fields[#fields + 1] = '1'
  end
end
local id = redis.call('XADD', stream, '*', unpack(fields))
if own then
  redis.call('HSET', ids, own, id)
end

-- Forgets the own ids of entries about to be trimmed (unless the map names
-- a later entry for that id: the earlier one was trimmed by someone else).
local function forget(entries)
  for _, entry in ipairs(entries) do
    local fields = entry[2]
    for i = 1, #fields - 1, 2 do
      if fields[i] == 'u' and redis.call('HGET', ids, fields[i + 1]) == entry[1] then
        redis.call('HDEL', ids, fields[i + 1])
      end
    end
  end
end

local excess = redis.call('XLEN', stream) - tonumber(ARGV[4])
if excess > 0 then
  forget(redis.call('XRANGE', stream, '-', '+', 'COUNT', excess))
  redis.call('XTRIM', stream, 'MAXLEN', ARGV[4])
end

local max_age = tonumber(ARGV[5])
if max_age > 0 then
  local now = redis.call('TIME')
  local oldest = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) - max_age
  if oldest > 0 then
    oldest = string.format('%.0f', oldest)
    forget(redis.call('XRANGE', stream, '-', '(' .. oldest .. '-0'))
    redis.call('XTRIM', stream, 'MINID', oldest)
  end
end
return {id, 0}
