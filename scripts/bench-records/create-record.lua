-- wrk script: POST /Patient, each request a new resident (valid GB 11643 ID card number, sex digit and birth date
-- agreeing), so every request passes validation, claims its identity key and gets a record number.
local weights = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
local checks = "10X98765432"
local counter = 0
local threads = 0

-- runs in the main state: hands each thread its number (a global of the thread's own state)
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end

local function id_card(n)
  -- n -> birth date (1940-01-01 + n % 20000 days) and a 3-digit sequence; a random county prefix block keeps runs apart
  local day = n % 20000
  local t = os.time({year = 1940, month = 1, day = 1, hour = 12}) + day * 86400
  local birth = os.date("!%Y%m%d", t)
  local seq = string.format("%03d", math.floor(n / 20000) % 1000)
  local first17 = "500101" .. birth .. seq
  local sum = 0
  for i = 1, 17 do sum = sum + tonumber(first17:sub(i, i)) * weights[i] end
  local idx = sum % 11 + 1
  local male = tonumber(seq:sub(3, 3)) % 2 == 1
  return first17 .. checks:sub(idx, idx), os.date("!%Y-%m-%d", t), male and "male" or "female"
end

function init(args)
  base = tonumber(args[1] or "0") + (tid or 0) * 1000000
end

function request()
  counter = counter + 1
  local card, birth, gender = id_card(base + counter)
  local body = string.format([[{"resourceType":"Patient","identifier":[{"system":"urn:oid:2.16.156.10011.1.3","value":"%s"}],"name":[{"text":"测试%d"}],"gender":"%s","birthDate":"%s","telecom":[{"system":"phone","value":"139%08d"}],"address":[{"text":"重庆市万州区"}],"managingOrganization":{"reference":"Organization/bench-chc"}}]], card, counter, gender, birth, (base + counter) % 100000000)
  return wrk.format("POST", "/Patient", {["Content-Type"] = "application/fhir+json", ["Authorization"] = "Bearer " .. (os.getenv("FHIR_TOKEN") or "")}, body)
end

function response(status, headers, body)
  if status ~= 201 and not reported then
    reported = true
    print("unexpected status " .. status .. ": " .. body:sub(1, 300))
  end
end
