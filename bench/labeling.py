"""Labelling engine benchmark against the loopback fake Gemini (real SDK, real HTTP).

The fake runs in its own process with ~200 ms latency and an enforced rate cap (429 beyond it),
so this process's CPU time is the client's alone. Prints:
  - achieved requests/s over the cap (target >= 0.95) and 429s the client caused (target 0);
  - client CPU time per request;
  - labels per 1,000 input tokens with pairs_per_request 1 vs 10.

    python bench/labeling.py              # 3,000 pairs at a 3,000 rpm cap
    python bench/labeling.py --pairs 600  # quicker
    python bench/labeling.py --smoke      # seconds (CI)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

KEY = "bench-key"


def stats(url: str) -> dict:
    with urllib.request.urlopen(f"{url}/_stats") as r:
        return json.loads(r.read())


def run(pairs, url: str, rpm: float, pairs_per_request: int, concurrency: int) -> dict:
    import os

    from arxiv_reco.config import load_settings
    from arxiv_reco.labels.gemini import label_pairs

    os.environ["GOOGLE_GEMINI_BASE_URL"] = url
    before = stats(url)
    with tempfile.TemporaryDirectory() as tmp:
        cpu, wall = time.process_time(), time.perf_counter()
        summary = label_pairs(pairs, Path(tmp) / "labels.sqlite", settings=load_settings(env_file=None, gemini_api_key=KEY),
                              rpm=rpm, concurrency=concurrency, pairs_per_request=pairs_per_request, progress=False)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    after = stats(url)
    times = after["times"][before["requests"]:]
    # the rate the server saw, first request to last: start-up and the last reply's latency excluded
    server_rate = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0
    return {"summary": summary, "cpu": cpu, "wall": wall, "requests": after["requests"] - before["requests"],
            "rejected": after["rejected_429"] - before["rejected_429"], "server_rate": server_rate}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=3000)
    ap.add_argument("--rpm", type=float, default=3000, help="the fake's enforced cap, and the client's setting")
    ap.add_argument("--latency", type=float, default=0.2)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--smoke", action="store_true", help="a few seconds: the code path, for CI")
    args = ap.parse_args()
    if args.smoke:
        args.pairs, args.rpm, args.latency, args.concurrency = 60, 6000, 0.02, 8

    from arxiv_reco.config import SAMPLE_PAPERS
    from arxiv_reco.pairs.sampling import sample_pairs
    from arxiv_reco.papers.snapshot import load_papers

    papers, _ = load_papers(SAMPLE_PAPERS)
    pairs = sample_pairs(papers, n=args.pairs, seed=0)
    server = subprocess.Popen([sys.executable, str(REPO / "tests/fake_gemini.py"), KEY, str(args.latency), str(args.rpm)],
                              stdout=subprocess.PIPE, text=True)
    try:
        url = server.stdout.readline().strip()
        print(f"fake Gemini at {url}: {args.latency * 1000:.0f} ms latency, cap {args.rpm:.0f} requests/min "
              f"({args.rpm / 60:.1f}/s); {len(pairs):,} pairs, concurrency {args.concurrency}\n")
        one = run(pairs, url, args.rpm, 1, args.concurrency)
        ten = run(pairs, url, args.rpm, 10, args.concurrency)
    finally:
        server.kill()
    cap = args.rpm / 60
    for name, r in (("1 pair/request", one), ("10 pairs/request", ten)):
        s = r["summary"]
        print(f"{name:17}: {s.labeled:,} labelled, {r['requests']:,} requests in {r['wall']:.1f}s = "
              f"{r['requests'] / r['wall']:.2f} req/s end to end, {r['server_rate']:.2f} req/s as the server saw them "
              f"({r['server_rate'] / cap:.3f} of the cap), "
              f"429s caused by the client: {r['rejected']}, client CPU {r['cpu'] / r['requests'] * 1000:.2f} ms/request, "
              f"{s.labeled / s.input_tokens * 1000:.2f} labels per 1,000 input tokens")
    print(f"\nachieved/cap with 1 pair/request: {one['server_rate'] / cap:.3f} as the server saw it, "
          f"{one['requests'] / one['wall'] / cap:.3f} end to end including start-up (target >= 0.95)")
    print(f"labels per 1k input tokens, 10 vs 1 pairs/request: "
          f"{(ten['summary'].labeled / ten['summary'].input_tokens) / (one['summary'].labeled / one['summary'].input_tokens):.2f}x")


if __name__ == "__main__":
    main()
