-- JSON gateway put load: POST /v3/kv/put of 2704 base64 keys (AAxy), a 15-byte value.
--   wrk -t1 -c100 -d5s --latency -s bench/gateway/put.lua http://127.0.0.1:2379
local letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
local counter = 0
request = function()
  counter = counter + 1
  local a = (counter % 52) + 1
  local b = (math.floor(counter / 52) % 52) + 1
  local k = "AA" .. letters:sub(a, a) .. letters:sub(b, b)
  local body = '{"key":"' .. k .. '","value":"dmFsdWV2YWx1ZXZhbHVl"}'
  return wrk.format("POST", "/v3/kv/put", {["Content-Type"]="application/json"}, body)
end
