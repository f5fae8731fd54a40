-- The full authorization-code exchange of a logged-in, consented user: GET /authorize (session
-- cookie) answers with a code, POST /token redeems it. Codes are queued per thread, so any
-- connection may redeem a code another one fetched; every request pair is one exchange.
dofile(os.getenv("SK_BENCH_DIR") .. "/lua/report.lua")
local authorize = os.getenv("SK_AUTHORIZE_PATH")
local cookie = os.getenv("SK_COOKIE")
local basic = os.getenv("SK_BASIC")
local redirect = os.getenv("SK_REDIRECT_ENC")
local codes = {}

request = function()
  local code = table.remove(codes)
  if code then
    return wrk.format("POST", "/token", {
      ["Content-Type"] = "application/x-www-form-urlencoded",
      ["Authorization"] = "Basic " .. basic,
    }, "grant_type=authorization_code&code=" .. code .. "&redirect_uri=" .. redirect)
  end
  return wrk.format("GET", authorize, { ["Cookie"] = cookie })
end

response = function(status, headers, body)
  local location = headers["location"] or headers["Location"]
  if location then
    local code = string.match(location, "[?&]code=([^&]+)")
    if code then table.insert(codes, code) end
  end
end
