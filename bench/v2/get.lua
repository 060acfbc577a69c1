-- v2 get load: GET /v2/keys/bench/k<n> over the 10000 keys the set load wrote.
local counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", "/v2/keys/bench/k" .. (counter % 10000))
end
