-- wrk script: client-credentials token requests (form POST) with the
-- credentials given in the environment.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "grant_type=client_credentials&client_id=" .. os.getenv("BENCH_CLIENT_ID")
  .. "&client_secret=" .. os.getenv("BENCH_CLIENT_SECRET")
  .. "&resource=https%3A%2F%2Fdnvglb2cprod.onmicrosoft.com%2Fbench"

function response(status, headers, body)
  if status ~= 200 then
    io.stderr:write("unexpected status " .. status .. "\n")
  end
end
