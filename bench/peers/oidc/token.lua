-- wrk script for the oidc-provider peer (bench/peers/oidc): client-credentials
-- token requests (form POST, client_secret_post) with the same body shape as
-- dwb's bench/token.lua; credentials from BENCH_PEER_CLIENT_ID /
-- BENCH_PEER_CLIENT_SECRET (defaults: server.js's). The resource is the peer's
-- one resource server (BENCH_PEER_RESOURCE, default the value dwb's script
-- sends): with it, oidc-provider issues an EdDSA-signed JWT access token.
-- The credentials are sent as given (no URL-encoding): keep them URL-safe;
-- the resource is percent-encoded here.
-- Target: http://127.0.0.1:18791/token
local function env(name, default)
  local v = os.getenv(name)
  if v == nil or v == "" then return default end
  return v
end

local resource = env("BENCH_PEER_RESOURCE", "https://dnvglb2cprod.onmicrosoft.com/bench")
  :gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end)

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "grant_type=client_credentials&client_id=" .. env("BENCH_PEER_CLIENT_ID", "bench-peer")
  .. "&client_secret=" .. env("BENCH_PEER_CLIENT_SECRET", "bench-peer-secret")
  .. "&resource=" .. resource

function response(status, headers, body)
  if status ~= 200 then
    io.stderr:write("unexpected status " .. status .. "\n")
  end
end
