"""Audit benchmark: the audit a user runs (`arxiv-reco audit`), on the bundled sample, against a
stand-in person, with its intervals.

No person is at hand here, and Gemini cannot be reached, so this is said plainly: the "person" is
arXiv's own categories, graded as the evaluation grades them (a pair in the same primary category
is rated 0.7, "closely related"; a pair sharing a cross-listed category 0.5; any other 0.1). That
person knows fields, not problems: a labeller that reads the papers can beat it on a real pair
and still look worse here. The labellers are the ones a user has without a key: the offline
teacher (all-mpnet-base-v2), the base model itself (all-MiniLM-L6-v2) and TF-IDF cosine, each
scoring the same pairs into one label store, as `arxiv-reco label --labeler teacher` does.

The rated pairs are the ones `arxiv-reco rate` would show (drawn evenly over TF-IDF cosine);
the figures: Spearman and Kendall with bootstrap 95% intervals, the weighted kappa, and each
labeller against the teacher (paired, on the same pairs).

    python bench/audit.py                 # ~3 min on 2 CPU cores (the teacher encodes 1,990 papers)
    python bench/audit.py --smoke         # CI: MiniLM only, 60 pairs
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from arxiv_reco.config import (
    DEFAULT_BASE_MODEL,
    DEFAULT_TEACHER_MODEL,
    SAMPLE_PAPERS,
    load_settings,
)
from arxiv_reco.labels.audit import audit_labels, labellers_in
from arxiv_reco.labels.rating import pairs_to_rate
from arxiv_reco.labels.store import LabelStore
from arxiv_reco.labels.teacher import label_pairs_teacher
from arxiv_reco.pairs.sampling import pair_texts, sample_pairs
from arxiv_reco.papers.snapshot import load_papers

GRADE = {2: 0.7, 1: 0.5, 0: 0.1}  # the stand-in person: arXiv's graded category relevance on the rubric's scale


def stand_in(pairs: pd.DataFrame, papers: pd.DataFrame) -> pd.DataFrame:
    """The stand-in person's ratings: graded by the two papers' categories."""
    prim = dict(zip(papers["id"], papers["primary_category"]))
    cats = dict(zip(papers["id"], papers["categories"].map(set)))
    grade = [2 if prim[a] == prim[b] else 1 if cats[a] & cats[b] else 0 for a, b in zip(pairs["id_a"], pairs["id_b"])]
    return pd.DataFrame({"pair_id": pairs["pair_id"], "rating": [GRADE[g] for g in grade],
                         "rated_at": "stand-in: arXiv categories"})


def tfidf_scores(pairs: pd.DataFrame) -> pd.DataFrame:
    from arxiv_reco.vectors.embed import tfidf_matrix

    a, b = pair_texts(pairs)
    texts = list(dict.fromkeys(list(a) + list(b)))
    row = {t: i for i, t in enumerate(texts)}
    x = tfidf_matrix(texts)
    cos = np.asarray(x[[row[t] for t in a]].multiply(x[[row[t] for t in b]]).sum(axis=1)).ravel()
    return pd.DataFrame({"pair_id": pairs["pair_id"], "score": cos, "labeler": "tfidf"})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=1200, help="pairs sampled (anchored), as a labelling run would")
    ap.add_argument("--rated", type=int, default=200, help="of them, rated by the stand-in person")
    ap.add_argument("--smoke", action="store_true")
    args = ap.parse_args()
    t0 = time.perf_counter()
    papers, _ = load_papers(SAMPLE_PAPERS)
    labellers = [DEFAULT_TEACHER_MODEL, DEFAULT_BASE_MODEL]
    reads = 256
    if args.smoke:
        papers, args.pairs, args.rated, labellers, reads = papers.head(300), 120, 60, [DEFAULT_BASE_MODEL], 32
    pairs = sample_pairs(papers, n=args.pairs, strategy="anchored", seed=0)
    rated = pairs_to_rate(pairs, n=args.rated, seed=0)
    person = stand_in(rated, papers)
    settings = load_settings(env_file=None)
    with tempfile.TemporaryDirectory() as tmp, LabelStore(Path(tmp) / "labels.sqlite") as store:
        for model in labellers:  # only the rated pairs need a label for the audit
            label_pairs_teacher(rated, store, model, settings, max_seq_length=reads, progress=False)
        scores = labellers_in(store)
    scores["TF-IDF cosine"] = tfidf_scores(rated)
    report = audit_labels(person, scores, pairs, planned=len(pairs))
    print(f"{len(rated)} of {len(pairs):,} anchored pairs of the bundled sample rated by the stand-in person "
          "(arXiv's graded categories: same primary 0.7, a shared cross-list 0.5, else 0.1)\n")
    cols = ["pairs", "spearman", "spearman_low", "spearman_high", "kendall", "kendall_low", "kendall_high", "kappa"]
    print(report.table[cols].round(3).to_string())
    print()
    for _, c in report.comparisons.iterrows():
        print(f"{c['b']} minus {c['a']}: Spearman {c['diff']:+.3f} [{c['ci_low']:+.3f}, {c['ci_high']:+.3f}] "
              f"({c['verdict']})")
    print(f"\ndone in {time.perf_counter() - t0:.0f}s")


if __name__ == "__main__":
    main()
