"""Recommendation benchmark (not in CI): search latency at all-of-arXiv scale, FAISS recall, encoding.

Search runs on synthetic normalised 384-d vectors, 100k and 2.8M of them (all of arXiv). They
are clustered (2,000 centres plus noise, within-cluster cosine ~0.5) so that, as with real
embeddings, neighbourhoods exist; uniform random vectors have none and no approximate index
does well on them. Prints, for exact search (float16 blocks, torch) and FAISS IVF:
p50/p95 latency for one query and for a batch of 100, recall@10 of FAISS against exact, and
index memory. Then encode throughput of PaperIndex.build on this machine (torch, and the ONNX
backend when `optimum[onnxruntime]` is installed, with its cosine agreement to torch).

    python bench/recommend.py                  # 100k and 2.8M
    python bench/recommend.py --sizes 100000   # quick
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from arxiv_reco.config import SAMPLE_PAPERS  # noqa: E402
from arxiv_reco.recommend import PaperIndex  # noqa: E402


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


def search_bench(n: int, nprobes: list[int]) -> None:
    t = time.perf_counter()
    emb = synthetic(n)
    meta = pd.DataFrame({"id": [f"s{i}" for i in range(n)], "title": "", "authors": "", "primary_category": "",
                         "categories": [[]] * n, "update_date": ""})
    index = PaperIndex(emb, meta, {"model": "synthetic"})
    rng = np.random.default_rng(1)
    q = np.asarray(emb[rng.integers(0, n, 100)], dtype=np.float32) + 0.03 * rng.standard_normal((100, 384), dtype=np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    print(f"\n== {n:,} vectors x 384 (float16: {emb.nbytes / 2**20:,.0f} MB), built in {time.perf_counter() - t:.0f}s")
    one50, one95, _ = timed(lambda: index.search_many(q[:1], k=10, backend="exact"), 20)
    b50, b95, exact = timed(lambda: index.search_many(q, k=10, backend="exact"), 3)
    print(f"exact  : 1 query p50 {one50 * 1000:7.1f} ms p95 {one95 * 1000:7.1f} ms | 100 queries p50 {b50 * 1000:7.0f} ms "
          f"p95 {b95 * 1000:7.0f} ms ({b50 * 10:.1f} ms/query)")
    try:
        import faiss  # noqa: F401
    except ImportError:
        print("faiss  : not installed (pip install faiss-cpu)")
        return
    nlist = max(16, int(np.sqrt(n)))
    t = time.perf_counter()
    ivf = index.build_ann(nlist=nlist)
    build = time.perf_counter() - t
    faiss_mb = (ivf.ntotal * (384 * 2 + 8)) / 2**20
    print(f"faiss  : IVF{nlist},SQfp16 built in {build:.0f}s, {faiss_mb:,.0f} MB")
    for nprobe in nprobes:
        ivf.nprobe = nprobe
        f50, f95, _ = timed(lambda: index.search_many(q[:1], k=10, backend="faiss"), 20)
        fb50, fb95, approx = timed(lambda: index.search_many(q, k=10, backend="faiss"), 3)
        print(f"  nprobe {nprobe:3}: recall@10 {recall(approx, exact):.3f} | 1 query p50 {f50 * 1000:6.2f} ms "
              f"p95 {f95 * 1000:6.2f} ms ({one50 / f50:5.1f}x faster) | 100 queries p50 {fb50 * 1000:6.0f} ms "
              f"({b50 / fb50:5.1f}x faster)")


def encode_bench(n: int = 256) -> None:
    from arxiv_reco.models import load_model, resolve_model
    from arxiv_reco.snapshot import load_papers

    papers, _ = load_papers(SAMPLE_PAPERS, limit=n)
    model = load_model("sentence-transformers/all-MiniLM-L6-v2")
    PaperIndex.build(model, papers.head(16), show_progress=False)  # warm-up
    t = time.perf_counter()
    torch_index = PaperIndex.build(model, papers, show_progress=False)
    rate = n / (time.perf_counter() - t)
    print(f"\nencode (PaperIndex.build, torch, max_seq {model.max_seq_length}, {n} papers): {rate:.1f} papers/s on this CPU "
          f"-> {2_800_000 / rate / 3600:.0f} h for all 2.8M")
    try:
        from sentence_transformers import SentenceTransformer

        onnx = SentenceTransformer(resolve_model("sentence-transformers/all-MiniLM-L6-v2").target, backend="onnx")
    except Exception as e:  # optional backend: report why it is missing
        print(f"encode (onnx): skipped ({type(e).__name__}: {str(e)[:100]}); pip install 'sentence-transformers[onnx]'")
        return
    PaperIndex.build(onnx, papers.head(16), show_progress=False)
    t = time.perf_counter()
    onnx_index = PaperIndex.build(onnx, papers, show_progress=False)
    orate = n / (time.perf_counter() - t)
    a = np.asarray(torch_index.embeddings, dtype=np.float32)
    b = np.asarray(onnx_index.embeddings, dtype=np.float32)
    agree = float(np.mean(np.einsum("ij,ij->i", a, b)))
    print(f"encode (onnx): {orate:.1f} papers/s ({orate / rate:.2f}x torch), mean cosine to torch {agree:.4f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="100000,2800000")
    ap.add_argument("--nprobes", default="8,16,32,64")
    ap.add_argument("--skip-encode", action="store_true")
    args = ap.parse_args()
    import torch

    print(f"torch threads: {torch.get_num_threads()}")
    for n in [int(s) for s in args.sizes.split(",")]:
        search_bench(n, [int(p) for p in args.nprobes.split(",")])
    if not args.skip_encode:
        encode_bench()


if __name__ == "__main__":
    main()
