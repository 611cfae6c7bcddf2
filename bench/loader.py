"""Loader benchmark: filter `cs.*` + a 10k random sample from a synthetic Kaggle snapshot.

Builds ~1 GB (and 250 MB) of Kaggle-format JSON Lines by repeating the bundled real records with
new ids, plus a few malformed lines, then times in one run, each method in its own process with
its peak memory (RSS of the whole process tree, workers included):

  arxiv_reco        sample_papers(path, n=10_000, categories="cs.*")  (all cores)
  arxiv_reco_1core  the same on one core (must give the identical sample)
  pandas            pd.read_json(path, lines=True), then filter and sample   (clean twin file*)
  pandas_pyarrow    pd.read_json(path, lines=True, engine="pyarrow")         (clean twin file*)
  orjson_loop       a bare `for line in f: orjson.loads(line)` loop + Algorithm R (the floor)
  duckdb            read_json(ignore_errors) -> filter subquery -> reservoir sample

* pandas cannot skip a malformed line, so it reads the same records without them.

    python bench/loader.py                 # 1 GB + 250 MB
    python bench/loader.py --size-mb 256   # quicker
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import orjson

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SOURCES = [REPO / "arxiv_reco/samples/arxiv_sample_2k.jsonl", REPO / "tests/fixtures/kaggle_snapshot_head200.jsonl",
           REPO / "tests/fixtures/unarxive_2212_sample49.jsonl"]
KAGGLE_FIELDS = ["id", "submitter", "authors", "title", "comments", "journal-ref", "doi", "report-no",
                 "categories", "license", "abstract", "versions", "update_date", "authors_parsed"]
N, CATEGORIES = 10_000, "cs.*"
REPEAT = 3  # timed runs per method (best kept), each after warming the page cache


def build(path: Path, size_mb: int, clean_path: Path | None = None) -> dict:
    """Repeat the real records with new ids until size_mb; every ~100k lines one bad line of each kind."""
    records = []
    for src in SOURCES:
        for line in src.read_bytes().splitlines():
            rec = orjson.loads(line)
            records.append({k: rec.get(k) for k in KAGGLE_FIELDS})
    target = size_mb << 20
    written, lines, bad = 0, 0, 0
    rng = random.Random(0)
    with open(path, "wb") as out, open(clean_path, "wb") if clean_path else open(os.devnull, "wb") as clean:
        while written < target:
            rec = dict(records[lines % len(records)])
            rec["id"] = f"{2000 + lines // 9_000_000:04d}.{lines % 9_000_000:07d}"
            line = orjson.dumps(rec) + b"\n"
            out.write(line)
            clean.write(line)
            written += len(line)
            lines += 1
            if lines % 100_000 == 0:
                out.write(line[: len(line) // 2] + b"\n")  # truncated JSON
                out.write(b'{"id":"bad-utf8","title":"\xff\xfe","abstract":"x","categories":"cs.LG"}\n')
                out.write(b'{"id":"no-abstract","title":"t","categories":"cs.LG"}\n')
                out.write(line)  # duplicate id
                bad += 4
    rng.random()
    return {"lines": lines, "bad": bad, "bytes": path.stat().st_size}


# ---- the methods (run in a child process) -------------------------------------------------
def run_arxiv_reco(path, workers=None):
    from arxiv_reco.papers.sampler import sample_papers

    df, report = sample_papers(path, n=N, categories=CATEGORIES, seed=0, workers=workers, progress=False)
    return {"kept": len(df), "ids_hash": hashlib.sha1("\n".join(df["id"]).encode()).hexdigest()[:12], "bad": report.skipped}


def _cs(cats: str) -> bool:
    return any(c == "cs" or c.startswith("cs.") for c in cats.split())


def run_pandas(path):
    import pandas as pd

    df = pd.read_json(path, lines=True, dtype=False)
    df = df[df["categories"].map(_cs)]
    return {"kept": len(df.sample(n=min(N, len(df)), random_state=0))}


def run_pandas_pyarrow(path):
    """pandas' pyarrow engine cannot take a schema, and pyarrow's inference fails on Kaggle's
    `versions` ("JSON conversion to struct<version: timestamp[s]...> is not supported"), so call
    the same reader, pyarrow.json, with the schema of the columns a recommender needs."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.json as pj

    schema = pa.schema([(c, pa.string()) for c in ("id", "title", "abstract", "categories", "authors", "update_date")])
    table = pj.read_json(path, parse_options=pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore"))
    table = table.filter(pc.match_substring_regex(table["categories"], r"(^|\s)cs(\.|\s|$)"))
    df = table.to_pandas()
    return {"kept": len(df.sample(n=min(N, len(df)), random_state=0))}


def run_orjson_loop(path):
    rng, sample, seen = random.Random(0), [], 0
    with open(path, "rb") as f:
        for line in f:
            try:
                rec = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if not _cs(rec.get("categories") or ""):
                continue
            seen += 1
            if len(sample) < N:
                sample.append(rec)
            else:
                j = rng.randrange(seen)
                if j < N:
                    sample[j] = rec
    return {"kept": len(sample)}


def run_duckdb(path):
    import duckdb

    con = duckdb.connect()
    rows = con.execute(
        f"""SELECT * FROM (
              SELECT id, title, abstract, categories, authors, update_date
              FROM read_json(?, format='newline_delimited', ignore_errors=true)
              WHERE regexp_matches(categories, '(^|\\s)cs(\\.|\\s|$)')
            ) USING SAMPLE reservoir({N} ROWS) REPEATABLE (0)""",
        [str(path)],
    ).fetchall()
    return {"kept": len(rows)}


METHODS = {
    "arxiv_reco": lambda p, c: run_arxiv_reco(p),
    "arxiv_reco_1core": lambda p, c: run_arxiv_reco(p, workers=1),
    "pandas": lambda p, c: run_pandas(c),
    "pandas_pyarrow": lambda p, c: run_pandas_pyarrow(c),
    "orjson_loop": lambda p, c: run_orjson_loop(p),
    "duckdb": lambda p, c: run_duckdb(p),
}


def measure(method: str, path: Path, clean: Path) -> dict:
    """Two runs in child processes: one timed alone, one for the peak memory of its process tree
    (polling /proc takes CPU from the measured process, so it never runs during the timing)."""
    runs = 1 if method == "pandas" else REPEAT  # pandas takes a minute: once is enough
    timed = []
    for _ in range(runs):
        _warm(clean if method.startswith("pandas") else path)  # same page-cache state for all
        timed.append(_child(method, path, clean, watch_memory=False))
    best = min(timed, key=lambda r: r["seconds"])
    watched = _child(method, path, clean, watch_memory=True)
    return {**best, "peak_mb": watched["peak_mb"]}


def _warm(path: Path) -> None:
    with open(path, "rb") as f:
        while f.read(16 << 20):
            pass


def _child(method: str, path: Path, clean: Path, watch_memory: bool) -> dict:
    import psutil

    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, __file__, "--child", method, str(path), str(clean)],
                            stdout=subprocess.PIPE, text=True)
    peak, ps = 0, psutil.Process(proc.pid)

    def watch():
        nonlocal peak
        while watch_memory and proc.poll() is None:
            try:
                # forked workers share the parent's pages: count only their own (rss - shared).
                # (Reading PSS from smaps every few ms would slow the process being measured.)
                kids = ps.children(recursive=True)
                rss = ps.memory_info().rss + sum(m.rss - m.shared for m in (k.memory_info() for k in kids))
                peak = max(peak, rss)
            except psutil.Error:
                pass
            time.sleep(0.05)

    t = threading.Thread(target=watch, daemon=True)
    t.start()
    out, _ = proc.communicate()
    t.join()
    result = json.loads(out.strip().splitlines()[-1]) if proc.returncode == 0 else {"error": f"exit {proc.returncode}"}
    return {"method": method, "seconds": result.pop("seconds", time.perf_counter() - t0),
            "peak_mb": peak / 2**20, **result}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mb", type=int, default=1024)
    ap.add_argument("--small-mb", type=int, default=256)
    ap.add_argument("--skip", default="", help="comma-separated methods to skip")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    ap.add_argument("--smoke", action="store_true", help="8 MB files: the code path, for CI")
    args = ap.parse_args()
    if args.smoke:
        args.size_mb, args.small_mb = 8, 4
    if args.child:
        method, path, clean = args.child
        t0 = time.perf_counter()
        result = METHODS[method](path, clean)
        print(json.dumps({"seconds": time.perf_counter() - t0, **result}))
        return

    data = HERE / "_data"
    data.mkdir(exist_ok=True)
    big, big_clean = data / f"snapshot_{args.size_mb}mb.jsonl", data / f"snapshot_{args.size_mb}mb_clean.jsonl"
    small = data / f"snapshot_{args.small_mb}mb.jsonl"
    for path, mb, clean in ((big, args.size_mb, big_clean), (small, args.small_mb, None)):
        if not path.exists():
            info = build(path, mb, clean)
            print(f"built {path.name}: {info['bytes'] / 2**20:.0f} MB, {info['lines']:,} records, {info['bad']} bad lines")
    print(f"machine: {os.cpu_count()} cpus; filter {CATEGORIES!r}, sample n={N:,}; "
          f"best of {REPEAT} warm-cache runs (pandas: 1), peak memory from a separate run\n")

    skip = set(filter(None, args.skip.split(",")))
    results = {m: measure(m, big, big_clean) for m in METHODS if m not in skip}
    small_peak = measure("arxiv_reco", small, small)["peak_mb"]
    size_mb = big.stat().st_size / 2**20
    print(f"{'method':18} {'seconds':>8} {'MB/s':>7} {'peak MB':>12} {'kept':>7}")
    for r in results.values():
        print(f"{r['method']:18} {r['seconds']:8.2f} {size_mb / r['seconds']:7.0f} {r['peak_mb']:12.0f} {r.get('kept', r.get('error')):>7}")
    ours = results["arxiv_reco"]
    print()
    for peer in ("pandas", "pandas_pyarrow", "orjson_loop", "duckdb"):
        if peer in results and "error" not in results[peer]:
            print(f"speed-up over {peer:15}: {results[peer]['seconds'] / ours['seconds']:5.2f}x")
    if "arxiv_reco_1core" in results:
        same = results["arxiv_reco_1core"].get("ids_hash") == ours.get("ids_hash")
        print(f"1 core vs all cores: same sample = {same}, {results['arxiv_reco_1core']['seconds'] / ours['seconds']:.2f}x from the second core")
    print(f"peak RSS of arxiv_reco: {small_peak:.0f} MB on {small.stat().st_size / 2**20:.0f} MB, "
          f"{ours['peak_mb']:.0f} MB on {size_mb:.0f} MB")
    print(f"bad lines skipped and counted by arxiv_reco: {ours.get('bad')}")


if __name__ == "__main__":
    main()
