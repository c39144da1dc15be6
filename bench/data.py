#!/usr/bin/env python3
"""The data benchmark of bench/run: a generated CSV of N rows (time, channel
of 100 values, value) ingested into a running dwb through the API's ingest
flow, then pages of 500 rows filtered on a channel and a one-month range,
sorted by time, through the HTTP API; DuckDB (PyPI, same run) answers the
same queries on the same Parquet files and converts the same CSV to Parquet.
Prints one JSON object with the figures."""

import argparse
import glob
import itertools
import json
import os
import statistics
import sys
import threading
import time

import duckdb
import requests

duckdb.execute("SET enable_progress_bar = false")

CHANNELS = 100
# Whatever the row count, the rows cover 120 days from 2025-01-01 (10 million
# rows are about 1.04 s apart), so that a month holds a quarter of them.
SPAN_MS = 120 * 86_400_000


def generate(path, rows):
    """Writes the CSV once (DuckDB writes it fast); later runs reuse it."""
    if os.path.exists(path):
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    step_ms = SPAN_MS // rows
    duckdb.sql(
        f"""COPY (SELECT strftime(TIMESTAMP '2025-01-01' + to_milliseconds(i * {step_ms}),
                                  '%Y-%m-%dT%H:%M:%S.%gZ') AS Time,
                         'ch-' || lpad(CAST(i % {CHANNELS} AS VARCHAR), 3, '0') AS Channel,
                         round(20 + 10 * sin(i / 5000.0) + (i % 7) * 0.1, 3) AS Value
                  FROM range({rows}) t(i))
            TO '{tmp}' (HEADER, DELIMITER ',')"""
    )
    os.replace(tmp, path)


class Rss:
    """Samples a process's resident memory every 50 ms; keeps the peak."""

    def __init__(self, pid):
        self.pid, self.peak, self.stop = pid, 0, threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def read(self):
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0

    def run(self):
        while not self.stop.is_set():
            self.peak = max(self.peak, self.read())
            time.sleep(0.05)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


def median_ms(fn, runs):
    fn()
    fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def page_target(name):
    """The targets of a page query: #4's (data sets) and #6's (performance)."""
    six = "≤ 1.5×" if "not clustered" in name else "≤ 1.0×"
    return f"≤ 2× DuckDB (#4); {six} (#6)"


def markdown(d):
    """The data section of docs/benchmarks.md from the JSON figures."""
    out = [
        f"Data: {d['rows']:,} rows of (time, channel of 100 values, value), a CSV of "
        f"{d['csv_bytes'] / 2**20:.0f} MiB, ingested through the API's ingest flow (signed upload, "
        "then the job) and queried through `POST /api/v2/workspaces/{id}/datasets/{id}/query` "
        f"(median of {d['runs']} after 2 warm-ups). DuckDB {d['duckdb']} (PyPI), in the same run, reads the "
        "data set's own Parquet files and converts the same CSV.",
        "",
        "| measure | dwb | DuckDB in the same run | ratio | target |",
        "|---|---|---|---|---|",
        f"| CSV ingest (upload, validation, Parquet, commit) | {d['ingest_s']:.1f} s "
        f"(the upload {d['ingest_upload_s']:.1f} s), "
        f"{d['ingest_rows_per_s']:,.0f} rows/s | `COPY (SELECT * FROM read_csv(…)) TO 'x.parquet'`: "
        f"{d['duck_ingest_s']:.1f} s | {d['ingest_s'] / d['duck_ingest_s']:.2f}× | ≥ 1,000,000 rows/s (#4); ≤ 1.5× DuckDB's time (#6) |",
        f"| server peak RSS during the ingest | {d['ingest_peak_rss'] / 2**20:.0f} MiB | – | – | < 1 GiB |",
    ]
    for q in d["queries"]:
        out.append(
            f"| {q['name']}: {q['rows']} rows sorted by time, with the total count | {q['dwb_ms']:.1f} ms | "
            f"page: {q['duckdb_ms']:.1f} ms; page + count: {q['duckdb_with_count_ms']:.1f} ms | "
            f"{q['dwb_ms'] / q['duckdb_ms']:.2f}×; {q['dwb_ms'] / q['duckdb_with_count_ms']:.2f}× | {page_target(q['name'])} |")
    if "first_query_ms" in d:
        out.append(
            f"| {d['first_query']}, the very first query of the new data set (once) | "
            f"{d['first_query_ms']:.1f} ms | – | – | – |")
    for q in d["queries"]:
        if "dwb_new_filter_ms" in q:
            out.append(
                f"| {q['name']}, a filter not asked before (its count not yet known) | "
                f"{q['dwb_new_filter_ms']:.1f} ms | page + count: {q['duckdb_new_filter_ms']:.1f} ms | "
                f"{q['dwb_new_filter_ms'] / q['duckdb_new_filter_ms']:.2f}× | – |")
    return "\n".join(out)


def main():
    if sys.argv[1:] == ["--markdown"]:
        print(markdown(json.load(sys.stdin)))
        return
    p = argparse.ArgumentParser()
    p.add_argument("--base", required=True)
    p.add_argument("--workspace-url", required=True)
    p.add_argument("--client-id", required=True)
    p.add_argument("--client-secret", required=True)
    p.add_argument("--api-key", required=True)
    p.add_argument("--pid", type=int, required=True)
    p.add_argument("--lake", required=True)
    p.add_argument("--rows", type=int, default=10_000_000)
    p.add_argument("--runs", type=int, default=15)
    p.add_argument("--dataset", help="query this data set instead of ingesting one (for profiling)")
    p.add_argument("--ingest-only", action="store_true", help="measure the ingest alone (for profiling)")
    a = p.parse_args()

    csv = f"/var/tmp/dwb-bench/readings-{a.rows}.csv"
    generate(csv, a.rows)
    size = os.path.getsize(csv)

    s = requests.Session()
    tok = s.post(
        f"{a.base}/oauth2/token",
        data={"grant_type": "client_credentials", "client_id": a.client_id,
              "client_secret": a.client_secret},
    ).json()["access_token"]
    s.headers.update({"Authorization": f"Bearer {tok}", "Ocp-Apim-Subscription-Key": a.api_key})
    ws = a.workspace_url

    def ok(r):
        if r.status_code >= 300:
            raise SystemExit(f"{r.request.method} {r.url}: {r.status_code} {r.text}")
        return r.json() if r.content else None

    columns = [
        {"name": "Time", "type": "DateTime", "isRequired": True, "isSortable": True,
         "isFilterable": True, "isKey": True},
        {"name": "Channel", "type": "String", "isRequired": True, "isFilterable": True},
        {"name": "Value", "type": "Double", "isSortable": True, "isFilterable": True},
    ]
    if a.dataset:
        return queries(a, s, ws, a.dataset, {"rows": a.rows, "runs": a.runs})
    schema = ok(s.post(f"{ws}/schemas/add", json={"name": f"Bench {time.time_ns()}", "columns": columns}))
    version = schema["schemaVersions"][0]["id"]
    job = ok(s.post(f"{ws}/ingest/dataset", json={
        "datasetName": f"Bench {a.rows} rows", "datasetDescription": "bench/run",
        "schemaVersionId": version, "files": [{"fileName": "readings.csv", "operation": "Create"}]}))

    with Rss(a.pid) as rss:
        t0 = time.perf_counter()
        with open(csv, "rb") as f:
            r = requests.put(job["sasToken"], data=f)
        ok(r)
        upload_s = time.perf_counter() - t0
        while True:
            st = ok(s.get(f"{ws}/ingest/jobs/{job['jobId']}"))
            if st["status"] in ("Succeeded", "Failed"):
                break
            time.sleep(0.05)
        ingest_s = time.perf_counter() - t0
    if st["status"] != "Succeeded":
        raise SystemExit(f"ingest failed: {st}")
    dataset = st["datasetId"]

    t0 = time.perf_counter()
    duckdb.sql(f"COPY (SELECT * FROM read_csv('{csv}')) TO '/var/tmp/dwb-bench/duck.parquet' (FORMAT parquet)")
    duck_ingest_s = time.perf_counter() - t0

    results = {"rows": a.rows, "runs": a.runs, "csv_bytes": size,
               "ingest_s": ingest_s, "ingest_upload_s": upload_s, "ingest_rows_per_s": a.rows / ingest_s,
               "ingest_peak_rss": rss.peak, "duck_ingest_s": duck_ingest_s}
    if a.ingest_only:
        return print(json.dumps({**results, "dataset": dataset}))
    queries(a, s, ws, dataset, results)


def queries(a, s, ws, dataset, results):
    """Times the page queries through dwb and DuckDB; prints the results as JSON."""

    def ok(r):
        if r.status_code >= 300:
            raise SystemExit(f"{r.request.method} {r.url}: {r.status_code} {r.text}")
        return r.json()

    files = os.path.join(a.lake, dataset, "*.parquet")
    assert glob.glob(files), files
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")

    def dwb_query(filters, page):
        body = {"pageIndex": page, "pageSize": 500, "queryFilters": filters,
                "sorting": {"column": "Time", "order": "Ascending"}}
        data = ok(s.post(f"{ws}/datasets/{dataset}/query", json=body))
        return data["data"]

    def duck_query(where, page):
        return con.execute(
            f"SELECT Time, Channel, Value FROM read_parquet('{files}') WHERE {where} "
            f"ORDER BY Time LIMIT 500 OFFSET {(page - 1) * 500}").fetchall()

    def duck_count(where):
        return con.execute(f"SELECT count(*) FROM read_parquet('{files}') WHERE {where}").fetchall()

    month = [{"column": "Time", "filterType": "GreaterOrEqual", "filterValues": ["2025-03-01T00:00:00Z"]},
             {"column": "Time", "filterType": "Less", "filterValues": ["2025-04-01T00:00:00Z"]}]

    def by_channel(ch):
        filters = [{"column": "Channel", "filterType": "Equals", "filterValues": [ch]}] + month
        where = (f"Channel = '{ch}' AND Time >= TIMESTAMPTZ '2025-03-01 00:00:00+00' "
                 "AND Time < TIMESTAMPTZ '2025-04-01 00:00:00+00'")
        return filters, where

    def by_value(low):
        low = round(low, 1)
        filters = [{"column": "Value", "filterType": "Between", "filterValues": [low, round(low + 0.1, 1)]}]
        return filters, f"Value BETWEEN {low} AND {round(low + 0.1, 1)}"

    results["queries"] = []
    # Page 20 (rows 9,501 to 10,000) needs 10,000 rows per channel and month:
    # 4 million rows or more; smaller runs take their fourth page.
    deep = 20 if a.rows >= 4_000_000 else 4
    # Each query, then the same query with a filter not asked before (a
    # different channel or value range each time): dwb remembers the count of
    # a (table version, filter), so the first page of a new filter also pays
    # for counting its rows.
    for name, variant, page in [
        ("channel + month, page 1", lambda i: by_channel("ch-042" if i is None else f"ch-{i % 100:03d}"), 1),
        (f"channel + month, page {deep}",
         lambda i: by_channel("ch-042" if i is None else f"ch-{(i + 50) % 100:03d}"), deep),
        ("value range (not clustered), page 1",
         lambda i: by_value(29.9 if i is None else 10 + (i % 40) * 0.5), 1),
    ]:
        filters, where = variant(None)
        t0 = time.perf_counter()
        got = dwb_query(filters, page)
        if "first_query_ms" not in results:
            # The very first query of the new data set: no footer read yet,
            # no value counts, no count remembered.
            results["first_query_ms"] = (time.perf_counter() - t0) * 1000
            results["first_query"] = name
        want = duck_query(where, page)
        if len(got) != len(want) or len(got) == 0:
            raise SystemExit(f"{name}: dwb returned {len(got)} rows, DuckDB {len(want)}")
        if [r["Value"] for r in got] != [w[2] for w in want]:
            raise SystemExit(f"{name}: dwb's rows are not DuckDB's (same filter, order and page)")
        fresh = itertools.count()

        def dwb_new(page=page, variant=variant):
            return dwb_query(variant(next(fresh))[0], page)

        duck_fresh = itertools.count()

        def duck_new(page=page, variant=variant):
            w = variant(next(duck_fresh))[1]
            return duck_query(w, page), duck_count(w)

        results["queries"].append({
            "name": name, "rows": len(got),
            "dwb_ms": median_ms(lambda: dwb_query(filters, page), a.runs),
            "duckdb_ms": median_ms(lambda: duck_query(where, page), a.runs),
            # The API also answers the exact number of matching rows: DuckDB doing the same.
            "duckdb_with_count_ms": median_ms(lambda: (duck_query(where, page), duck_count(where)), a.runs),
            "dwb_new_filter_ms": median_ms(dwb_new, a.runs),
            "duckdb_new_filter_ms": median_ms(duck_new, a.runs),
        })
    results["duckdb"] = duckdb.__version__
    print(json.dumps(results))


if __name__ == "__main__":
    main()
