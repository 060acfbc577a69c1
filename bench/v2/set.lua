-- v2 set load: PUT /v2/keys/bench/k<n> with a 256-byte value, keys cycling over 10000.
local counter = 0
local body = "value=" .. string.rep("x", 256)
local headers = { ["Content-Type"] = "application/x-www-form-urlencoded" }
request = function()
  counter = counter + 1
  return wrk.format("PUT", "/v2/keys/bench/k" .. (counter % 10000), headers, body)
end
