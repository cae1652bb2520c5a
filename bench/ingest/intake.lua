-- intake.lua - wrk script for bench/ingest: every request is a real insert.
--
-- POST /api/v1/intake/json with an ext_ref unique across threads and runs:
--   <run tag>-<thread id>-<counter>
-- so the server never answers "duplicate" (200) and every 201 is a durable
-- commit. Counts responses by status; anything but 201 is a failed run.
--
-- Usage: wrk -t2 -c64 -d10s -s intake.lua http://127.0.0.1:PORT -- [RUN_TAG]
-- Prints one machine-readable line at the end:
--   intake.lua: responses=N created=N non201=N errors=N duration_s=S acks_per_sec=R statuses=201:N,...

-- wrk.resolve normally probes each address with a bare connect+close before
-- the run. That probe is not part of the load and a TCP connection that
-- closes before sending a request is a separate test case for the server, so
-- resolve without it.
function wrk.resolve(host, service)
  wrk.addrs = wrk.lookup(host, service)
end

local threads = {}
local next_id = 0

-- Main state, once per thread: hand each thread its id.
function setup(thread)
  next_id = next_id + 1
  thread:set("id", next_id)
  table.insert(threads, thread)
end

-- Thread state from here on.
local tag, prefix
local counter = 0
created = 0
non201 = 0
statuses = {}

function init(args)
  tag = args[1] or tostring(os.time())
  -- The gateway key (args[2]): intake is measured as agencies use it, authenticated.
  if args[2] and args[2] ~= "" then
    wrk.headers["Authorization"] = "Bearer " .. args[2]
  end
  prefix = '{"line":"119","ext_ref":"' .. tag .. "-" .. id .. "-"
  hotspot = args[3] == "hotspot"
  rng = id * 7919
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

-- Where the reports are: spread over central Guangzhou (a 30 km x 22 km box,
-- positions from a per-thread pseudo-random sequence), as a city's calls are;
-- or, with args[3] == "hotspot", all at one spot, the worst case for the
-- likely-duplicate search (every report links its nearest predecessors).
local hotspot = false
local rng = 0

function request()
  counter = counter + 1
  local lon, lat = 113.32, 23.13
  if not hotspot then
    rng = (rng * 1103515245 + 12345) % 2147483648
    lon = 113.18 + (rng % 30000) / 100000
    lat = 23.02 + (math.floor(rng / 30000) % 22000) / 100000
  end
  local body = prefix .. counter ..
    string.format('","category":"accident","priority":1,"title":"居民楼火灾","lon":%.5f,"lat":%.5f}', lon, lat)
  return wrk.format(nil, "/api/v1/intake/json", nil, body)
end

function response(status, headers, body)
  if status == 201 then
    created = created + 1
  else
    non201 = non201 + 1
  end
  statuses[status] = (statuses[status] or 0) + 1
end

-- Main state again: add up the threads.
function done(summary, latency, requests)
  local created_all, non201_all, by_status = 0, 0, {}
  for _, t in ipairs(threads) do
    created_all = created_all + t:get("created")
    non201_all = non201_all + t:get("non201")
    for s, n in pairs(t:get("statuses")) do
      by_status[s] = (by_status[s] or 0) + n
    end
  end
  local keys = {}
  for s in pairs(by_status) do table.insert(keys, s) end
  table.sort(keys)
  local parts = {}
  for _, s in ipairs(keys) do table.insert(parts, s .. ":" .. by_status[s]) end
  local e = summary.errors
  local errors = e.connect + e.read + e.write + e.timeout
  local secs = summary.duration / 1e6
  io.write(string.format(
    "intake.lua: responses=%d created=%d non201=%d errors=%d duration_s=%.3f acks_per_sec=%.1f" ..
    " p50_ms=%.2f p99_ms=%.2f statuses=%s\n",
    summary.requests, created_all, non201_all, errors, secs, created_all / secs,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    #parts > 0 and table.concat(parts, ",") or "none"))
end
