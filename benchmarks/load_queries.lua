-- wrk script for benchmarks/load.sh: GET /search with a rotating set of real queries.
--
-- Usage: wrk -t2 -c32 -d30s -s benchmarks/load_queries.lua http://127.0.0.1:8765 -- [MODE]
-- MODE is bm25, dense, hybrid, or "mixed" (the default: modes rotate with the queries).
-- Each thread starts at a different offset of the list; queries are URL-encoded once.
-- done() prints the latency percentiles and the number of non-2xx responses
-- (wrk itself counts only socket errors and non-2xx/3xx).

-- German political news queries matching the bundled demo sample (DER STANDARD 2015-16 and
-- the Putin/Tokajew seed article); a few use the query syntax (phrases, -, field filters).
local queries = {
  "Flüchtlinge Grenze Österreich",
  "Asyl Obergrenze Regierung",
  "Putin Tokajew Gespräche",
  "Kasachstan Russland Weltraum",
  "Bundespräsidentenwahl Stichwahl",
  "FPÖ Strache Wahlkampf",
  "Griechenland Schuldenkrise Eurozone",
  "Syrien Krieg Assad",
  "Terroranschlag Paris",
  "EU Türkei Flüchtlingsabkommen",
  "Merkel Flüchtlingspolitik",
  "Steuerreform Koalition",
  "Hypo Alpe Adria Untersuchungsausschuss",
  "Bildungsreform Schulen",
  "Ukraine Sanktionen gegen Russland",
  "Mindestsicherung Kürzung",
  "Balkanroute Zaun Spielfeld",
  "Islamischer Staat Irak",
  "Wahlen in Polen",
  "Arbeitslosigkeit steigt",
  "Pensionen Reform",
  "Bundesheer Assistenzeinsatz",
  "Verfassungsgerichtshof Urteil",
  "Demonstration gegen die Regierung",
  "\"Angela Merkel\"",
  "Flüchtlinge -Deutschland",
  "title:Putin",
  "SPÖ ÖVP Koalition Streit",
  "Obama Besuch",
  "Proteste Polizei",
  "refugees crossing the border",
  "election results",
}

local modes = { "hybrid", "bm25", "dense" }

local function urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

local paths = {}
local i = 0
non2xx = 0

function init(args)
  local mode = args[1] or "mixed"
  for n, q in ipairs(queries) do
    local m = mode
    if mode == "mixed" then m = modes[(n % #modes) + 1] end
    paths[#paths + 1] = "/search?q=" .. urlencode(q) .. "&mode=" .. m .. "&limit=10"
  end
  i = (id or 0) * 7
end

function request()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end

function response(status, headers, body)
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
end

function done(summary, latency, requests)
  local bad = 0
  for _, t in ipairs(threads) do bad = bad + (t:get("non2xx") or 0) end
  local secs = summary.duration / 1e6
  io.write("------------------------------------------------------------\n")
  io.write(string.format("requests: %d in %.1f s = %.1f req/s\n",
    summary.requests, secs, summary.requests / secs))
  io.write(string.format("latency ms: mean %.1f  p50 %.1f  p90 %.1f  p99 %.1f  max %.1f\n",
    latency.mean / 1000, latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000))
  local e = summary.errors
  io.write(string.format("socket errors: connect %d, read %d, write %d, timeout %d\n",
    e.connect, e.read, e.write, e.timeout))
  io.write(string.format("non-2xx responses: %d\n", bad))
end
