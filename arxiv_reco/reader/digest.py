"""A digest: the index's recent papers ranked for a reader's library.

    lib = load_library("my.bib")
    feed(index, lib.liked, lib.disliked, since="2026-11-20", k=20)                 # linear SVM (default)
    feed(index, lib.liked, since="2026-11-20", method="mean")                      # mean of the liked vectors

Two rankers, both never returning a library paper (nor another version of one):
- ``"svm"``, arxiv-sanity-lite's: a linear SVM (scikit-learn ``LinearSVC``, balanced class
  weights) separates the library's embeddings (positives) from the rest of the index
  (negatives; disliked papers are explicit negatives, each weighing as much as a liked paper),
  and candidates are ranked by its decision function. It learns which directions set the
  library apart from everything else, so a library of several topics still ranks each well.
- ``"mean"``: cosine to mean(liked) - 0.5 * mean(disliked), as :meth:`PaperIndex.recommend`.

bench/feed.py measured the two by leave-some-out on library-like samples of the bundled data
(author libraries, cross-list neighbourhoods, two-interest libraries): the SVM at C=0.01 ranks
held-out liked papers higher (nDCG@20 +0.03 to +0.06, paired 95% intervals above zero on all
three; recall@20 +0.07 on two-interest libraries) and lets no more off-topic papers into a
digest than the mean does (larger C does). Hence DEFAULT_METHOD = "svm" and SVM_C = 0.01; the
figures are in docs/benchmarks.md.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

METHODS = ("svm", "mean")
DEFAULT_METHOD = "svm"
SVM_C = 0.01  # arxiv-sanity-lite's value; bench/feed.py: larger C lets off-topic papers into a digest
MAX_NEGATIVES = 50_000  # a random sample of the rest is enough for the SVM; keeps a 2.8M index quick
DIGEST_DAYS = 7


def default_since(index, days: int = DIGEST_DAYS) -> str | None:
    """``days`` before the index's newest paper: a digest of its last week by default."""
    from datetime import date, timedelta

    newest = index.newest_date()
    return (date.fromisoformat(newest) - timedelta(days=days)).isoformat() if newest else None


def svm_scores(emb: np.ndarray, pos: Sequence[int], neg: Sequence[int] = (), candidates: np.ndarray | None = None,
               c: float = SVM_C, max_negatives: int = MAX_NEGATIVES, seed: int = 0) -> np.ndarray:
    """Decision values of a linear SVM trained on rows ``pos`` (liked) against the other rows
    (a random sample of at most ``max_negatives``) and rows ``neg`` (disliked), for the rows
    ``candidates`` (default: all).

    >>> svm_scores(np.asarray(index.embeddings, np.float32), pos=[3, 17], candidates=np.arange(100))
    """
    from sklearn.svm import LinearSVC

    n = len(emb)
    pos, neg = np.unique(np.asarray(pos, dtype=np.int64)), np.unique(np.asarray(neg, dtype=np.int64))
    neg = np.setdiff1d(neg, pos)
    rest = np.setdiff1d(np.arange(n), np.concatenate([pos, neg]))
    if len(rest) > max_negatives:
        rest = np.sort(np.random.default_rng(seed).choice(rest, max_negatives, replace=False))
    if len(rest) + len(neg) == 0:
        raise ValueError("the SVM needs papers outside the library to learn from; use method='mean'")
    rows = np.concatenate([pos, neg, rest])
    x = np.asarray(emb[np.sort(rows)], dtype=np.float32)[np.argsort(np.argsort(rows))]  # sorted reads: mmap-friendly
    y = np.r_[np.ones(len(pos)), np.zeros(len(neg) + len(rest))]
    weight = np.ones(len(rows))
    # balanced weights make each class weigh the same; a disliked paper then weighs as much as a
    # liked one (one of thousands of random negatives would otherwise count for nothing)
    weight[len(pos) : len(pos) + len(neg)] = (len(neg) + len(rest)) / max(len(pos), 1)
    clf = LinearSVC(class_weight="balanced", C=c, max_iter=10_000, tol=1e-6, dual="auto")
    clf.fit(x, y, sample_weight=weight)
    w, b = clf.coef_[0].astype(np.float32), float(clf.intercept_[0])
    cand = np.arange(n) if candidates is None else np.asarray(candidates, dtype=np.int64)
    out = np.empty(len(cand), dtype=np.float32)
    for start in range(0, len(cand), 262_144):  # blocks: flat memory on a memory-mapped 2.8M index
        part = cand[start : start + 262_144]
        out[start : start + len(part)] = np.asarray(emb[part], dtype=np.float32) @ w + b
    return out


def feed(index, liked: Sequence[str], disliked: Sequence[str] = (), since: str | None = None,
         until: str | None = None, k: int = 20, method: str = DEFAULT_METHOD, categories=None,
         c: float = SVM_C) -> pd.DataFrame:
    """The ``k`` papers of ``index`` dated ``since``..``until`` that best fit the library, best
    first, with the columns of :meth:`PaperIndex.recommend`; never a liked or disliked paper.
    Library ids missing from the index are ignored (add them first: update.add_papers_by_id).

    >>> feed(index, lib.liked, lib.disliked, since="2026-11-20", k=20, method="svm")
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    known = [p for p in liked if index.contains(p)]
    if not known:
        raise ValueError("none of the library's liked papers is in this index; add them "
                         "(arxiv-reco feed fetches them unless --no-fetch) or like a few papers")
    bad = [p for p in disliked if index.contains(p)]
    if method == "mean":
        return index.recommend(known, bad, k=k, categories=categories, since=since, until=until)
    pos = index.rows(known, "liked")
    neg = index.rows(bad, "disliked") if bad else []
    keep = index.mask(categories, since, until)
    keep = np.ones(len(index), dtype=bool) if keep is None else keep
    keep[list(index.same_papers(pos + neg))] = False
    cand = np.flatnonzero(keep)
    if not len(cand):
        return index.frame([])
    # every version of a rated paper is one paper: train on the rows given, exclude all of them
    scores = svm_scores(index.embeddings, pos, neg, candidates=cand, c=c)
    order = np.argsort(-scores, kind="stable")[:index.check_k(k)]
    return index.frame([(int(cand[i]), float(scores[i])) for i in order])
