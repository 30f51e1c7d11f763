-- wrk script: each request GETs a random path from the file given after "--" (one path per line),
-- and the run ends with one machine-readable line: RESULT <req/s> <p50 ms> <p99 ms> <requests> <errors> <non-2xx>.
local paths = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("seed", counter)
end

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then paths[#paths + 1] = line end
  end
  math.randomseed(os.time() * 100 + (seed or 0))
end

local auth = "Bearer " .. (os.getenv("FHIR_TOKEN") or "")

function request()
  return wrk.format("GET", paths[math.random(#paths)], { ["Accept"] = "application/fhir+json", ["Authorization"] = auth })
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %.0f %.2f %.2f %d %d %d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.requests, e.connect + e.read + e.write + e.timeout, e.status))
end
