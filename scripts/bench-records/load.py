#!/usr/bin/env python3
"""Loads N residents (the scheme of match.lua) through batch Bundles of 500 POST entries. Usage: load.py URL N"""
import datetime, json, os, sys, urllib.request
from concurrent.futures import ThreadPoolExecutor

W = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
C = "10X98765432"
BASE = datetime.date(1940, 1, 1)

def resident(n):
    birth = BASE + datetime.timedelta(days=n % 20000)
    seq = "%03d" % ((n // 20000) % 1000)
    first17 = "500101" + birth.strftime("%Y%m%d") + seq
    card = first17 + C[sum(int(d) * w for d, w in zip(first17, W)) % 11]
    return {"resourceType": "Patient",
            "identifier": [{"system": "urn:oid:2.16.156.10011.1.3", "value": card}],
            "name": [{"text": "测试%d" % n}], "gender": "male" if int(seq[2]) % 2 else "female",
            "birthDate": birth.isoformat(), "telecom": [{"system": "phone", "value": "139%08d" % n}],
            "address": [{"text": "重庆市万州区"}], "managingOrganization": {"reference": "Organization/bench-chc"}}

def send(url, start, count):
    bundle = {"resourceType": "Bundle", "type": "batch",
              "entry": [{"resource": resident(n), "request": {"method": "POST", "url": "Patient"}} for n in range(start, start + count)]}
    req = urllib.request.Request(url + "/", json.dumps(bundle).encode(), {"Content-Type": "application/fhir+json", "Authorization": "Bearer " + os.environ["FHIR_TOKEN"]})
    with urllib.request.urlopen(req, timeout=600) as r:
        statuses = [e["response"]["status"] for e in json.load(r)["entry"]]
    bad = [s for s in statuses if not s.startswith("201")]
    if bad: print("batch at", start, ":", len(bad), "not created, e.g.", bad[0], flush=True)

if __name__ == "__main__":
    url, total = sys.argv[1], int(sys.argv[2])
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda s: send(url, s, min(500, total - s)), range(0, total, 500)))
