"""Headroom (issue 11; not in CI): how far can a 128-token student go on the bundled sample, and
is there a stronger teacher or a cheaper way to read more text? No training; about 5 minutes
on 2 cores (4.5 measured, nothing cached).

Every default student in bench/quality.py ends level with the teacher reading the student's own
128 tokens. This script measures the two ways past that without a GPU, on the same held-out
queries quality.py uses (every sample paper no train/validation pair of a seed's 3,000 anchored
pairs touches, searching the whole sample; graded category relevance):

- a stronger teacher: all-mpnet-base-v2 at 256 tokens (the labelling default) against it combined
  with what else runs offline here (TF-IDF, its 256-dimensional LSA, MiniLM at 256 tokens), the
  cosines added with a weight, which is what distilling the combined vectors would teach;
- more text at 128 tokens per pass: the mean of a paper's 126-token windows (chunk-mean), and the
  text without stop words or $...$ maths (more words in 128 tokens).

Each row is a paired difference over queries with its bootstrap 95% interval.

    python bench/headroom.py                # seeds 0 and 1
"""

from __future__ import annotations

import argparse
import re
import sys
import time
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

WINDOW = 126  # tokens of text per window: 128 less [CLS] and [SEP]


def chunk_mean(model, texts: list[str]) -> np.ndarray:
    """Each text as the normalised mean of its consecutive WINDOW-token windows' embeddings."""
    from arxiv_reco.vectors.embed import encode

    tok, windows, owner = model.tokenizer, [], []
    for i, text in enumerate(texts):
        ids = tok(text, add_special_tokens=False)["input_ids"]
        for s in range(0, max(len(ids), 1), WINDOW):
            if s and len(ids) - s < 16:  # a few-token tail says little and would weigh as much as a window
                break
            windows.append(tok.decode(ids[s: s + WINDOW]))
            owner.append(i)
    emb = encode(model, windows, progress=False)
    out = np.zeros((len(texts), emb.shape[1]), np.float32)
    np.add.at(out, np.asarray(owner), emb)
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def without_stop_words(text: str) -> str:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    text = re.sub(r"\$[^$]*\$", " ", text)
    return " ".join(w for w in text.split() if w.lower().strip(".,;:()") not in ENGLISH_STOP_WORDS)


def combined(a: np.ndarray, b: np.ndarray, w: float) -> np.ndarray:
    """Rows whose dot product is (1 - w) cos_a + w cos_b (both inputs L2-normalised)."""
    return np.hstack([a * np.sqrt(1 - w), b * np.sqrt(w)])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--pairs", type=int, default=3000)
    ap.add_argument("--weight", type=float, default=0.2, help="the added scorer's share of the cosine")
    args = ap.parse_args()

    import pandas as pd
    from sklearn.decomposition import TruncatedSVD

    from arxiv_reco.config import DEFAULT_BASE_MODEL as BASE
    from arxiv_reco.config import DEFAULT_TEACHER_MODEL as TEACHER
    from arxiv_reco.config import SAMPLE_PAPERS
    from arxiv_reco.vectors.embed import encode, tfidf_matrix
    from arxiv_reco.training.evaluate import Evaluation, format_comparison, held_out_ids
    from arxiv_reco.vectors.models import load_model
    from arxiv_reco.pairs.sampling import sample_pairs
    from arxiv_reco.training.relevance import CategoryRelevance, _per_query
    from arxiv_reco.papers.snapshot import load_papers

    t_start = time.perf_counter()
    warnings.filterwarnings("ignore")
    papers, _ = load_papers(SAMPLE_PAPERS)
    ids, texts = papers["id"].astype(str).tolist(), papers["text"].tolist()

    def enc(name, max_seq, txt=texts):
        return encode(load_model(name, max_seq_length=max_seq), txt, progress=False, cache=True)

    # 1. the vectors: base and teacher at the student's 128 tokens and at 256, and the candidates
    tfidf = tfidf_matrix(texts)
    lsa = TruncatedSVD(256, random_state=0).fit_transform(tfidf)
    lsa /= np.linalg.norm(lsa, axis=1, keepdims=True)
    teacher256, base256 = enc(TEACHER, 256), enc(BASE, 256)
    w = args.weight
    rows = {"base @128": enc(BASE, 128), "base @256": base256,
            "base chunk-mean @128": chunk_mean(load_model(BASE, max_seq_length=128), texts),
            "base no stop words @128": enc(BASE, 128, [without_stop_words(t) for t in texts]),
            "teacher @128": enc(TEACHER, 128), "teacher @256": teacher256,
            f"teacher @256 + {w} TF-IDF": combined(teacher256, tfidf.toarray().astype(np.float32), w),
            f"teacher @256 + {w} LSA": combined(teacher256, lsa.astype(np.float32), w),
            f"teacher @256 + {w} base @256": combined(teacher256, base256, w)}
    print(f"vectors in {time.perf_counter() - t_start:.0f}s", flush=True)

    # 2. per seed: the held-out queries, each row's nDCG@10 and its paired difference to the references
    for seed in args.seeds:
        pairs = sample_pairs(papers, n=args.pairs, strategy="anchored", seed=seed)
        judge = CategoryRelevance(papers, queries=set(held_out_ids(papers, pairs)))
        per = {name: _per_query(v, ids, judge, 10) for name, v in rows.items()}
        ev = Evaluation(table=pd.DataFrame(), per_query={"category": per})
        print(f"\nseed {seed}: {len(per['base @128'])} held-out queries")
        print("\n".join(f"  {name:32s} nDCG@10 {p['ndcg@10'].mean():.4f}" for name, p in per.items()))
        for ref, group in (("base @128", [n for n in rows if n.startswith("base ") and n != "base @128"]),
                           ("teacher @256", [n for n in rows if n.startswith("teacher @256 +")])):
            cmp = ev.compare(ref, models=group)
            print(f"\nagainst {ref}:")
            print(format_comparison(cmp[cmp["metric"] == "category_ndcg@10"]).to_string(index=False), flush=True)
    print(f"\nwall time {time.perf_counter() - t_start:.0f}s")


if __name__ == "__main__":
    main()
