-- Mixed calls for scripts/soak, in turn: a client-credentials token, the
-- workspace, the catalogue, a filtered page of rows, the management API.
-- Every answer other than 2xx is counted and reported by done().
local ws = os.getenv("SOAK_WS_PATH")
local reader = {
  ["Ocp-Apim-Subscription-Key"] = os.getenv("SOAK_KEY"),
  ["Authorization"] = "Bearer " .. os.getenv("SOAK_TOKEN"),
  ["Content-Type"] = "application/json",
}
local admin = {
  ["Ocp-Apim-Subscription-Key"] = os.getenv("SOAK_ADMIN_KEY"),
  ["Authorization"] = "Bearer " .. os.getenv("SOAK_ADMIN_TOKEN"),
}
local form = { ["Content-Type"] = "application/x-www-form-urlencoded" }
local rows = '{"pageSize":100,"queryFilters":[{"column":"Channel","filterType":"Equals","filterValues":["C7"]}],'
  .. '"sorting":{"column":"Time","order":"Descending"}}'
local reqs = {
  wrk.format("POST", "/oauth2/token", form, os.getenv("SOAK_TOKEN_FORM")),
  wrk.format("GET", ws, reader),
  wrk.format("POST", ws .. "/datasets/query", reader, "{}"),
  wrk.format("POST", ws .. "/datasets/" .. os.getenv("SOAK_DATASET") .. "/query", reader, rows),
  wrk.format("GET", ws .. "/serviceaccounts", admin),
}

local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  n = 0
  bad = 0
  last_bad = ""
end

function request()
  n = n + 1
  return reqs[(n % #reqs) + 1]
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    bad = bad + 1
    last_bad = status .. " " .. string.sub(body or "", 1, 200)
  end
end

function done(summary, latency, requests)
  local total_bad = 0
  for _, t in ipairs(threads) do
    total_bad = total_bad + t:get("bad")
    local lb = t:get("last_bad")
    if lb ~= "" then io.write("last unexpected answer: " .. lb .. "\n") end
  end
  io.write(string.format("unexpected answers: %d\n", total_bad))
end
