"""Recommendation benchmark (not in CI): search latency at all-of-arXiv scale, FAISS recall, encoding.

Search runs on synthetic normalised 384-d vectors, 100k and 2.8M of them (all of arXiv). They
are clustered (2,000 centres plus noise, within-cluster cosine ~0.5) so that, as with real
embeddings, neighbourhoods exist; uniform random vectors have none and no approximate index
does well on them. Prints, for exact search (float16 blocks, torch) and FAISS IVF:
p50/p95 latency for one query and for a batch of 100, recall@10 of FAISS against exact, and
the memory of each kind of approximate index (fp16, int8 and product-quantized codes), with and
without a filter that keeps 10% of the corpus (filters stay on the approximate index). Encoding
throughput is bench/encode.py's.

    python bench/recommend.py                  # 100k and 2.8M
    python bench/recommend.py --sizes 100000   # quick
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent

from arxiv_reco.index.paper_index import PaperIndex  # noqa: E402


def synthetic(n: int, dim: int = 384, centres: int = 2000, noise: float = 0.06, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    c = rng.standard_normal((centres, dim), dtype=np.float32)
    c /= np.linalg.norm(c, axis=1, keepdims=True)
    out = np.empty((n, dim), dtype=np.float16)
    for start in range(0, n, 500_000):
        m = min(500_000, n - start)
        v = c[rng.integers(0, centres, m)] + noise * rng.standard_normal((m, dim), dtype=np.float32)
        out[start : start + m] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def timed(fn, repeat: int) -> tuple[float, float, object]:
    times, result = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return float(np.percentile(times, 50)), float(np.percentile(times, 95)), result


def recall(approx: list, exact: list) -> float:
    return float(np.mean([len({r for r, _ in a} & {r for r, _ in e}) / max(len(e), 1) for a, e in zip(approx, exact)]))


def search_bench(n: int, kinds: list[str], nprobes: list[int]) -> None:
    t = time.perf_counter()
    emb = synthetic(n)
    rng = np.random.default_rng(1)
    cats = np.where(rng.random(n) < 0.1, "cs.CL", "other")  # a filter that keeps 10% of the corpus
    meta = pd.DataFrame({"id": [f"s{i}" for i in range(n)], "title": "", "authors": "", "primary_category": cats,
                         "categories": [[c] for c in cats], "update_date": ""})
    index = PaperIndex(emb, meta, {"model": "synthetic"})
    q = np.asarray(emb[rng.integers(0, n, 100)], dtype=np.float32) + 0.03 * rng.standard_normal((100, 384), dtype=np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    mask = index.mask("cs.CL", None, None)
    print(f"\n== {n:,} vectors x 384 (float16: {emb.nbytes / 2**20:,.0f} MB), built in {time.perf_counter() - t:.0f}s")
    one50, one95, _ = timed(lambda: index.search_many(q[:1], k=10, backend="exact"), 20)
    b50, b95, exact = timed(lambda: index.search_many(q, k=10, backend="exact"), 3)
    exact_f = index.top(q, 10, [set()] * len(q), mask, "exact")
    print("| search | memory | recall@10 | recall@10, filter 10% | 1 query p50 / p95 | 100 queries p50 |")
    print("|---|---|---|---|---|---|")
    print(f"| exact (float16 blocks) | {emb.nbytes / 2**20:,.0f} MB | 1 | 1 | {one50 * 1000:.1f} / {one95 * 1000:.1f} ms "
          f"| {b50 * 1000:,.0f} ms |", flush=True)
    try:
        import faiss  # noqa: F401
    except ImportError:
        print("faiss: not installed (pip install faiss-cpu)")
        return
    from arxiv_reco.index.search import ann_bytes

    for kind in kinds:
        t = time.perf_counter()
        ann = index.build_ann(kind, nlist=max(16, int(np.sqrt(n))))
        build = time.perf_counter() - t
        for nprobe in nprobes:
            ann.nprobe = nprobe
            f50, f95, _ = timed(lambda: index.search_many(q[:1], k=10, backend="faiss"), 20)
            fb50, _, approx = timed(lambda: index.search_many(q, k=10, backend="faiss"), 3)
            filt = index.top(q, 10, [set()] * len(q), mask, "faiss")
            print(f"| FAISS {kind}, {ann.nlist} lists, nprobe {nprobe} (built {build:.0f}s) | "
                  f"{ann_bytes(ann) / 2**20:,.0f} MB ({ann_bytes(ann) / emb.nbytes:.2f}x) | {recall(approx, exact):.3f} | "
                  f"{recall(filt, exact_f):.3f} | {f50 * 1000:.2f} / {f95 * 1000:.2f} ms ({one50 / f50:.0f}x faster) | "
                  f"{fb50 * 1000:,.0f} ms |", flush=True)
        index.drop_ann()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="100000,2800000")
    ap.add_argument("--kinds", default="ivf-fp16,ivf-sq8,ivf-sq6,ivf-pq")
    ap.add_argument("--nprobes", default="8,32")
    ap.add_argument("--smoke", action="store_true", help="20,000 vectors: the code path, for CI")
    args = ap.parse_args()
    if args.smoke:
        args.sizes, args.kinds, args.nprobes = "20000", "ivf-fp16,ivf-sq8", "8"
    import torch

    print(f"torch threads: {torch.get_num_threads()}")
    for n in [int(s) for s in args.sizes.split(",")]:
        search_bench(n, args.kinds.split(","), [int(p) for p in args.nprobes.split(",")])


if __name__ == "__main__":
    main()
