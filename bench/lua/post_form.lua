-- POST of a fixed form with HTTP Basic client authentication (token, introspection).
dofile(os.getenv("SK_BENCH_DIR") .. "/lua/report.lua")
wrk.method = "POST"
wrk.body = os.getenv("SK_FORM")
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic " .. os.getenv("SK_BASIC")
