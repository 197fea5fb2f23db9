-- wrk script: unique SenseTime pushes, replies checked.
--
-- wrk -s bench/push.lua URL -- TEMPLATE NONCE CHECK
--   TEMPLATE  a file with one push body in which every "@@@@@@@@-uuid-uuid-uuid-@@@@@@@@@@@@"
--             (36 characters) becomes the record's uuid and every
--             "################################" (32 characters, base64 alphabet once
--             substituted) becomes 32 hex digits unique to the record: the tail of the
--             snapshot's base64, so that each record carries a distinct image.
--   NONCE     8 hex digits unique to the run: uuids never repeat across runs.
--   CHECK     "1": count replies that are not 200 or whose body lacks "code":200 (this
--             makes wrk parse every reply: it costs wrk CPU); "0": only wrk's own count of
--             statuses > 399.
-- done() prints one line "FACEPUSH_WRK {json}" with the counts and latency percentiles.
-- The placeholders keep their length, so Content-Length is the same for every request.

local UUID = "@@@@@@@@-uuid-uuid-uuid-@@@@@@@@@@@@"
local TAIL = "################################"

local threads = {}
local counter = 0

function setup(thread)
   thread:set("tid", #threads)
   table.insert(threads, thread)
end

local pieces, kinds, nonce
bad_status, bad_body, checked = 0, 0, 0

function init(args)
   local file = assert(io.open(args[1], "rb"))
   local body = file:read("*a")
   file:close()
   nonce = args[2]
   assert(#nonce == 8, "NONCE must be 8 hex digits")
   local req = wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
   -- The request split at every placeholder; kinds[i] says which one follows pieces[i].
   pieces, kinds = {}, {}
   local from = 1
   while true do
      local u = string.find(req, UUID, from, true)
      local t = string.find(req, TAIL, from, true)
      local at, kind = u, "u"
      if t and (not u or t < u) then at, kind = t, "t" end
      if not at then
         table.insert(pieces, string.sub(req, from))
         break
      end
      table.insert(pieces, string.sub(req, from, at - 1))
      table.insert(kinds, kind)
      from = at + 36 * (kind == "u" and 1 or 0) + 32 * (kind == "t" and 1 or 0)
   end
   assert(#kinds > 0, "TEMPLATE has no uuid placeholder")
   if args[3] ~= "1" then response = nil end
end

function request()
   counter = counter + 1
   local uid = string.format("%s-%04x-4000-8000-%012x", nonce, tid, counter)
   local tail = string.format("%s%04x%020x", nonce, tid, counter)
   local out = {pieces[1]}
   for i = 1, #kinds do
      out[#out + 1] = kinds[i] == "u" and uid or tail
      out[#out + 1] = pieces[i + 1]
   end
   return table.concat(out)
end

function response(status, headers, body)
   checked = checked + 1
   if status ~= 200 then
      bad_status = bad_status + 1
   elseif not string.find(body, '"code":200', 1, true) then
      bad_body = bad_body + 1
   end
end

function done(summary, latency, requests)
   local s, b, c, sent = 0, 0, 0, 0
   for _, thread in ipairs(threads) do
      s = s + thread:get("bad_status")
      b = b + thread:get("bad_body")
      c = c + thread:get("checked")
   end
   local e = summary.errors
   io.write(string.format(
      'FACEPUSH_WRK {"requests":%d,"duration_us":%d,"bad_status":%d,"bad_body":%d,' ..
      '"checked":%d,"errors_status":%d,"errors_connect":%d,"errors_read":%d,' ..
      '"errors_write":%d,"errors_timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
      '"max_us":%d,"threads":%d}\n',
      summary.requests, summary.duration, s, b, c, e.status, e.connect, e.read, e.write,
      e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency.max, #threads))
end
