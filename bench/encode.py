"""Encoding throughput (not in CI): each way a model can run, on the same papers, in one run.

For MiniLM (what the index and evaluation encode) and all-mpnet-base-v2 (the offline teacher):
papers/s of today's path (torch fp32) and of each option, the ratio, the cosine of each option's
embeddings to the fp32 ones, and category retrieval on the bundled sample (every paper queries
the others; graded category relevance, as `arxiv_reco.training.evaluate`), with the paired difference to
fp32 and its 95% bootstrap interval.

    python bench/encode.py                           # both models, all 1,990 papers (~30 min on 2 cores)
    python bench/encode.py --papers 400 --models minilm
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent

MODELS = {"minilm": ("sentence-transformers/all-MiniLM-L6-v2", 256),
          "mpnet": ("sentence-transformers/all-mpnet-base-v2", 256)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--papers", type=int, default=None, help="default: the whole bundled sample")
    ap.add_argument("--models", default="minilm,mpnet")
    ap.add_argument("--options", default="torch,torch-bf16,openvino-f32,openvino-bf16")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--smoke", action="store_true", help="48 papers, MiniLM, torch: the code path, for CI")
    args = ap.parse_args()
    if args.smoke:
        args.papers, args.models, args.options = 48, "minilm", "torch"

    import torch

    from arxiv_reco.config import SAMPLE_PAPERS
    from arxiv_reco.papers.snapshot import load_papers
    from arxiv_reco.training.relevance import CategoryRelevance, per_query
    from arxiv_reco.training.stats import paired_bootstrap
    from arxiv_reco.vectors.backends import fast_encoder
    from arxiv_reco.vectors.models import load_model

    papers, _ = load_papers(SAMPLE_PAPERS, limit=args.papers)
    texts, ids = papers["text"].tolist(), papers["id"].tolist()
    qrels = CategoryRelevance(papers)
    print(f"{len(texts):,} papers of the bundled sample, batch {args.batch_size}, {torch.get_num_threads()} threads, "
          f"torch {torch.__version__}")
    for key in args.models.split(","):
        name, seq = MODELS[key]
        model = load_model(name, max_seq_length=seq)
        rows, ref, ref_q = [], None, None
        for option in args.options.split(","):
            backend = "torch" if option.startswith("torch") else option
            encoder = fast_encoder(model, backend)
            warm = texts[: min(16, len(texts))]
            ctx = torch.autocast("cpu", dtype=torch.bfloat16) if option == "torch-bf16" else _null()
            with ctx:
                encoder.encode(warm, batch_size=args.batch_size, normalize_embeddings=True)  # conversion, warm-up
                t = time.perf_counter()
                emb = np.asarray(encoder.encode(texts, batch_size=args.batch_size, normalize_embeddings=True,
                                                convert_to_numpy=True), dtype=np.float32)
                seconds = time.perf_counter() - t
            per_q = per_query(emb, ids, qrels, 10)
            if ref is None:
                ref, ref_q, ref_rate = emb, per_q, len(texts) / seconds
            cos = np.sum(emb * ref, axis=1)
            gap = paired_bootstrap(ref_q["ndcg@10"].to_numpy(), per_q["ndcg@10"].to_numpy())
            rows.append((option, len(texts) / seconds, len(texts) / seconds / ref_rate, cos.min(), cos.mean(),
                         per_q["ndcg@10"].mean(), gap))
            print(f"  {key} {option}: {len(texts) / seconds:.1f} papers/s", flush=True)
        print(f"\n{name} (max_seq {seq}):")
        print("| option | papers/s | vs torch fp32 | cosine to fp32 (min / mean) | nDCG@10 | difference to fp32 [95% CI] |")
        print("|---|---|---|---|---|---|")
        for option, rate, ratio, cmin, cmean, ndcg, g in rows:
            print(f"| {option} | {rate:.1f} | {ratio:.2f}x | {cmin:.5f} / {cmean:.5f} | {ndcg:.4f} | "
                  f"{g['diff']:+.4f} [{g['ci_low']:+.4f}, {g['ci_high']:+.4f}] |")
        print()


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


if __name__ == "__main__":
    main()
