#!/usr/bin/env python3
"""The timing part of scripts/soak: does POST /oauth2/token take measurably
longer (or shorter) for an unknown client id than for a known client id with
a wrong secret? Both kinds are tried many times, interleaved at random, each
from its own loopback source address (127.x.y.z) so that the per-address
throttle never answers instead of the credential check, and each client id
at most 9 times (the per-client throttle locks the 10th failure). Tried
"cold" (first failure of a client id: the server reads the store) and
"warm" (a later failure: the server answers from its account cache). Prints
medians, spreads and the difference of medians with a bootstrap 95%
interval; exits non-zero when an interval excludes zero by more than
TOLERANCE_US microseconds."""

import argparse
import http.client
import json
import random
import statistics
import time
import urllib.parse
import uuid

import requests


def attempt(port, source, client_id):
    body = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": client_id,
                                   "client_secret": "dwbs_" + "x" * 43})
    c = http.client.HTTPConnection("127.0.0.1", port, source_address=(source, 0), timeout=10)
    c.connect()
    t = time.perf_counter()
    c.request("POST", "/oauth2/token", body, {"Content-Type": "application/x-www-form-urlencoded"})
    r = c.getresponse()
    r.read()
    elapsed = (time.perf_counter() - t) * 1e6
    c.close()
    if r.status != 401:
        raise SystemExit(f"expected 401, got {r.status} from {source} for {client_id}")
    return elapsed


def sources():
    for b in range(2, 255):
        for c in range(1, 255):
            yield f"127.{b}.{c}.1"


def interval(a, b, rounds=2000):
    diffs = []
    for _ in range(rounds):
        ra = [random.choice(a) for _ in a]
        rb = [random.choice(b) for _ in b]
        diffs.append(statistics.median(ra) - statistics.median(rb))
    diffs.sort()
    return diffs[int(rounds * 0.025)], diffs[int(rounds * 0.975)]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--ws-url", required=True)
    p.add_argument("--admin", required=True)
    p.add_argument("--accounts", type=int, default=150)
    p.add_argument("--tolerance-us", type=float, default=50.0)
    p.add_argument("--out")
    a = p.parse_args()
    admin = json.loads(a.admin)
    base = f"http://127.0.0.1:{a.port}"
    tok = requests.post(f"{base}/oauth2/token", data={
        "grant_type": "client_credentials", "client_id": admin["serviceAccountId"],
        "client_secret": admin["serviceAccountSecret"]}).json()["access_token"]
    h = {"Ocp-Apim-Subscription-Key": admin["apiKey"], "Authorization": f"Bearer {tok}"}
    known = []
    for i in range(a.accounts):
        r = requests.post(f"{a.ws_url}/serviceaccounts", headers=h, json={
            "name": f"timing {i}", "contactEmail": "timing@example.org", "access": {"type": "workspace", "level": "Reader"}})
        r.raise_for_status()
        known.append(r.json()["id"])
    unknown = [str(uuid.uuid4()) for _ in known]
    # Each client id: one cold try, then warm tries up to 9 failures in all.
    plan = []
    for kind, ids in (("known", known), ("unknown", unknown)):
        for cid in ids:
            plan.append((kind, "cold", cid))
    random.shuffle(plan)
    warm = [(k, "warm", cid) for k, ids in (("known", known), ("unknown", unknown)) for cid in ids for _ in range(8)]
    random.shuffle(warm)
    addr = sources()
    per_source, source, used = 15, next(addr), 0
    times = {(k, t): [] for k in ("known", "unknown") for t in ("cold", "warm")}
    for kind, temp, cid in plan + warm:
        if used == per_source:
            source, used = next(addr), 0
        times[(kind, temp)].append(attempt(a.port, source, cid))
        used += 1
    report, bad = {}, []
    for temp in ("cold", "warm"):
        k, u = times[("known", temp)], times[("unknown", temp)]
        lo, hi = interval(u, k)
        report[temp] = {
            "tries_each": len(k),
            "known_wrong_secret_median_us": round(statistics.median(k)),
            "unknown_client_median_us": round(statistics.median(u)),
            "known_p10_p90_us": [round(x) for x in statistics.quantiles(k, n=10)[::8]],
            "unknown_p10_p90_us": [round(x) for x in statistics.quantiles(u, n=10)[::8]],
            "difference_of_medians_95pct_us": [round(lo), round(hi)],
        }
        if lo > a.tolerance_us or hi < -a.tolerance_us:
            bad.append(f"{temp}: unknown - known median in [{lo:.0f}, {hi:.0f}] µs")
    print(json.dumps(report, indent=2))
    if a.out:
        with open(a.out, "w") as f:
            json.dump(report, f, indent=2)
    if bad:
        raise SystemExit("timing FAILED: " + "; ".join(bad))


if __name__ == "__main__":
    main()
