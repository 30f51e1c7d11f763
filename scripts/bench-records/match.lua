-- wrk script: POST /Patient/$match for residents loaded by load.py (name + birth date + sex, no ID card: the demographic path).
local counter = 0
function init(args) total = tonumber(args[1] or "100000") end
function request()
  counter = counter + 1
  local n = (counter * 7919) % total
  local t = os.time({year = 1940, month = 1, day = 1, hour = 12}) + (n % 20000) * 86400
  local body = string.format([[{"resourceType":"Parameters","parameter":[{"name":"resource","resource":{"resourceType":"Patient","name":[{"text":"测试%d"}],"birthDate":"%s","telecom":[{"system":"phone","value":"139%08d"}]}},{"name":"count","valueInteger":5}]}]], n, os.date("!%Y-%m-%d", t), n)
  return wrk.format("POST", "/Patient/$match", {["Content-Type"] = "application/fhir+json", ["Authorization"] = "Bearer " .. (os.getenv("FHIR_TOKEN") or "")}, body)
end
