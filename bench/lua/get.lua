-- GET of a path (discovery, JWKS), optionally with a bearer token (userinfo).
dofile(os.getenv("SK_BENCH_DIR") .. "/lua/report.lua")
local token = os.getenv("SK_BEARER")
if token and token ~= "" then wrk.headers["Authorization"] = "Bearer " .. token end
