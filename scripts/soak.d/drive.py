#!/usr/bin/env python3
"""The load part of scripts/soak: against a running dwb, makes a data set of
sensor readings through the ingest API, then drives CALLS mixed calls with
wrk (mixed.lua: tokens, the workspace, the catalogue, row queries, the
management API) while a second account's secret is regenerated every few
seconds, each time checking at once that the old secret and its tokens are
refused and the new ones accepted. Samples the server's RSS and open file
descriptors (RSS after each wrk run, by calls made, in the report). Prints
a report and exits non-zero on any unexpected answer, any request served
with a revoked credential, file-descriptor growth or RSS growth after the
warm-up (the first tenth of the calls)."""

import argparse
import http.client
import json
import os
import re
import subprocess
import threading
import time
import urllib.parse

import requests


def token(base, cid, secret):
    r = requests.post(f"{base}/oauth2/token", data={
        "grant_type": "client_credentials", "client_id": cid, "client_secret": secret})
    return r.status_code, (r.json().get("access_token") if r.ok else None)


def old_secret_status(base, cid, secret, n):
    """The token endpoint's answer to a just-revoked secret, sent from its own
    loopback address (127.200+.x.1), so that these expected failures do not
    add up to a lock of 127.0.0.1 by the per-address throttle."""
    port = int(base.rsplit(":", 1)[1])
    source = f"127.{200 + n // 250 % 50}.{1 + n % 250}.1"
    body = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": cid,
                                   "client_secret": secret})
    c = http.client.HTTPConnection("127.0.0.1", port, source_address=(source, 0), timeout=10)
    c.request("POST", "/oauth2/token", body, {"Content-Type": "application/x-www-form-urlencoded"})
    status = c.getresponse().status
    c.close()
    return status


def headers(key, tok):
    return {"Ocp-Apim-Subscription-Key": key, "Authorization": f"Bearer {tok}"}


def make_dataset(ws_url, admin_h, rows):
    cols = [{"name": "Time", "type": "DateTime", "isRequired": True, "isSortable": True,
             "isFilterable": True},
            {"name": "Channel", "type": "String", "isFilterable": True, "isSortable": True},
            {"name": "Value", "type": "Double", "isFilterable": True, "isSortable": True}]
    r = requests.post(f"{ws_url}/schemas/add", headers=admin_h,
                      json={"name": "Soak readings", "columns": cols})
    r.raise_for_status()
    version = r.json()["schemaVersions"][0]["id"]
    r = requests.post(f"{ws_url}/ingest/dataset", headers=admin_h, json={
        "datasetName": "Soak readings", "schemaVersionId": version,
        "files": [{"fileName": "soak.csv", "operation": "Create"}]})
    r.raise_for_status()
    job = r.json()
    lines = ["Time,Channel,Value"] + [
        f"2026-01-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00Z,C{i % 50},{i * 0.5}"
        for i in range(rows)]
    requests.put(job["sasToken"], data="\n".join(lines) + "\n").raise_for_status()
    for _ in range(600):
        j = requests.get(f"{ws_url}/ingest/jobs/{job['jobId']}", headers=admin_h).json()
        if j["status"] in ("Succeeded", "Failed"):
            break
        time.sleep(0.1)
    if j["status"] != "Succeeded":
        raise SystemExit(f"the soak data set was not made: {j}")
    return j["datasetId"]


class Sampler(threading.Thread):
    """RSS (MiB), open file descriptors and pending ledger events (from
    /metrics) of the server every 2 s."""

    def __init__(self, pid, base):
        super().__init__(daemon=True)
        self.pid, self.base, self.samples, self.stop = pid, base, [], threading.Event()
        self.pending = []

    def sample(self):
        with open(f"/proc/{self.pid}/status") as f:
            rss = next(int(l.split()[1]) // 1024 for l in f if l.startswith("VmRSS:"))
        fds = len(os.listdir(f"/proc/{self.pid}/fd"))
        self.samples.append((time.time(), rss, fds))
        try:
            text = requests.get(f"{self.base}/metrics", timeout=5).text
            self.pending.append(int(re.search(r"^dwb_usage_pending_events (\d+)", text, re.M).group(1)))
        except (requests.RequestException, AttributeError):
            pass

    def run(self):
        while not self.stop.wait(2):
            self.sample()


class Rotator(threading.Thread):
    """Regenerates the victim's secret every `every` seconds and checks that
    the old secret and token are refused at once and the new ones work."""

    def __init__(self, base, ws_url, admin_h, victim, every):
        super().__init__(daemon=True)
        self.base, self.ws_url, self.admin_h, self.every = base, ws_url, admin_h, every
        self.cid, self.secret, self.key = victim["serviceAccountId"], victim["serviceAccountSecret"], victim["apiKey"]
        self.rotations, self.revoked_served, self.failures = 0, 0, []
        self.stop = threading.Event()

    def run(self):
        _, tok = token(self.base, self.cid, self.secret)
        while not self.stop.wait(self.every):
            r = requests.post(f"{self.ws_url}/serviceaccounts/{self.cid}/secret", headers=self.admin_h)
            if r.status_code != 200:
                self.failures.append(f"regenerate: {r.status_code} {r.text[:200]}")
                continue
            old_secret, old_tok = self.secret, tok
            self.secret = r.json()["serviceAccountSecret"]
            self.rotations += 1
            # Served means a 2xx; any other answer than 401 is a failed check.
            for what, status in (
                    ("old token", requests.get(self.ws_url, headers=headers(self.key, old_tok)).status_code),
                    ("old secret", old_secret_status(self.base, self.cid, old_secret, self.rotations))):
                if 200 <= status < 300:
                    self.revoked_served += 1
                elif status != 401:
                    self.failures.append(f"the {what} answered {status}, not 401")
            status, tok = token(self.base, self.cid, self.secret)
            if status != 200 or requests.get(self.ws_url, headers=headers(self.key, tok)).status_code != 200:
                self.failures.append(f"the new secret did not work: {status}")


def main():
    p = argparse.ArgumentParser()
    for a in ("--base", "--ws-url", "--pid", "--reader", "--admin", "--victim", "--calls", "--rows",
              "--connections", "--rotate-every", "--out"):
        p.add_argument(a, required=a not in ("--out",))
    a = p.parse_args()
    reader, admin, victim = (json.loads(x) for x in (a.reader, a.admin, a.victim))
    _, admin_tok = token(a.base, admin["serviceAccountId"], admin["serviceAccountSecret"])
    _, reader_tok = token(a.base, reader["serviceAccountId"], reader["serviceAccountSecret"])
    admin_h = headers(admin["apiKey"], admin_tok)
    dataset = make_dataset(a.ws_url, admin_h, int(a.rows))

    sampler = Sampler(int(a.pid), a.base)
    rotator = Rotator(a.base, a.ws_url, admin_h, victim, float(a.rotate_every))
    calls = int(a.calls)
    env = dict(os.environ,
               SOAK_WS_PATH=re.sub(r"^https?://[^/]+", "", a.ws_url),
               SOAK_KEY=reader["apiKey"], SOAK_TOKEN=reader_tok,
               SOAK_ADMIN_KEY=admin["apiKey"], SOAK_ADMIN_TOKEN=admin_tok,
               SOAK_DATASET=dataset,
               SOAK_TOKEN_FORM=requests.models.RequestEncodingMixin._encode_params({
                   "grant_type": "client_credentials", "client_id": reader["serviceAccountId"],
                   "client_secret": reader["serviceAccountSecret"]}))
    script = os.path.join(os.path.dirname(__file__), "mixed.lua")

    def wrk(seconds):
        out = subprocess.run(["wrk", "-t2", f"-c{a.connections}", f"-d{seconds}s", "--latency",
                              "-s", script, a.base], env=env, capture_output=True, text=True).stdout
        n = int(re.search(r"(\d+) requests in", out).group(1))
        bad = int(re.search(r"unexpected answers: (\d+)", out).group(1))
        rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
        return n, bad, rate, out

    sampler.start()
    rotator.start()
    started = time.time()
    done, unexpected, outputs, rate, curve = 0, 0, [], 0.0, []

    def drive(until):
        """wrk runs of at most a minute until `until` calls are made."""
        nonlocal done, unexpected, rate
        while done < until:
            seconds = 10 if rate == 0 else max(5, min(60, int((until - done) / rate) + 1))
            n, bad, rate, out = wrk(seconds)
            done, unexpected = done + n, unexpected + bad
            outputs.append(out)
            sampler.sample()
            curve.append((done, sampler.samples[-1][1]))

    # Warm-up: a tenth of the calls (caches, pools and allocator arenas fill),
    # then the baseline for RSS and descriptors.
    drive(calls // 10)
    _, base_rss, base_fds = sampler.samples[-1]
    drive(calls)
    rotator.stop.set()
    rotator.join()
    sampler.stop.set()
    sampler.sample()
    elapsed = time.time() - started
    _, end_rss, end_fds = sampler.samples[-1]
    peak_rss = max(s[1] for s in sampler.samples)
    report = {
        "calls": done, "seconds": round(elapsed), "calls_per_second": round(done / elapsed),
        "unexpected_answers": unexpected, "rotations": rotator.rotations,
        "served_with_revoked_credential": rotator.revoked_served, "rotation_failures": rotator.failures,
        "rss_mib_after_warmup": base_rss, "rss_mib_end": end_rss, "rss_mib_peak": peak_rss,
        "fds_after_warmup": base_fds, "fds_end": end_fds,
        "rss_mib_by_calls": curve,
        "ledger_events_pending_max": max(sampler.pending, default=None),
        "ledger_events_pending_end": sampler.pending[-1] if sampler.pending else None,
    }
    print(json.dumps(report, indent=2))
    if a.out:
        with open(a.out, "w") as f:
            json.dump(report, f, indent=2)
    problems = []
    if unexpected:
        problems.append(f"{unexpected} unexpected answers; the last wrk output:\n{outputs[-1]}")
    if rotator.revoked_served:
        problems.append(f"{rotator.revoked_served} requests served with a revoked credential")
    if rotator.failures:
        problems.append(f"rotations failed: {rotator.failures[:3]}")
    if end_fds > base_fds + 16:
        problems.append(f"open file descriptors grew from {base_fds} to {end_fds}")
    # Flat: within a quarter (plus 32 MiB for caches filling) of the size after warm-up.
    if end_rss > base_rss * 1.25 + 32:
        problems.append(f"RSS grew from {base_rss} MiB after warm-up to {end_rss} MiB")
    if problems:
        raise SystemExit("soak FAILED:\n" + "\n".join(problems))


if __name__ == "__main__":
    main()
