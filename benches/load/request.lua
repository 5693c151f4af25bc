-- One request shape per run, from the environment:
--   LOAD_METHOD (GET or POST), LOAD_PATH, LOAD_AUTH (the Authorization
--   header's value), LOAD_BODY (a form body, for POST).
-- At the end it prints one line the load script turns into a table row:
--   RESULT <requests/s> <p50 ms> <p90 ms> <p99 ms> <non-2xx> <errors> <max ms>
wrk.method = os.getenv("LOAD_METHOD") or "GET"
wrk.path = os.getenv("LOAD_PATH") or "/"
wrk.headers["Authorization"] = os.getenv("LOAD_AUTH")
local body = os.getenv("LOAD_BODY")
if body and body ~= "" then
  wrk.body = body
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end

function done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout
  io.write(string.format("RESULT %.0f %.3f %.3f %.3f %d %d %.3f\n",
    summary.requests / seconds,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, summary.errors.status, errors,
    latency.max / 1000))
end
