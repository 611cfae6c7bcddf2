"""A digest: the index's recent papers ranked for a reader's interests, and why each one.

    lib = load_library("my.bib")
    feed(index, lib.liked, lib.disliked, since="2026-11-20", k=20)                 # linear SVM (default)
    feed(index, lib.liked, since="2026-11-20", method="mean")                      # mean of the liked vectors
    digest(index, profiles, since="2026-11-20", k=10, authors=["Vaswani, Ashish"], exclude=["survey"])

``digest`` ranks each profile (a library, a sentence, or both) on its own, follows authors,
filters by words, and names for every paper the library papers it is closest to (``because``).

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

import re
import unicodedata
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from .digest_options import METHODS

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
               c: float = SVM_C, max_negatives: int = MAX_NEGATIVES, seed: int = 0,
               extra: np.ndarray | None = None) -> np.ndarray:
    """Decision values of a linear SVM trained on rows ``pos`` (liked) against the other rows
    (a random sample of at most ``max_negatives``) and rows ``neg`` (disliked), for the rows
    ``candidates`` (default: all). ``extra``: more positives as vectors (a sentence's embedding).

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
    if len(pos) == 0 and (extra is None or not len(extra)):
        raise ValueError("the SVM needs at least one liked paper or a sentence")
    rows = np.concatenate([pos, neg, rest])
    x = np.asarray(emb[np.sort(rows)], dtype=np.float32)[np.argsort(np.argsort(rows))]  # sorted reads: mmap-friendly
    extra = np.zeros((0, x.shape[1]), dtype=np.float32) if extra is None else np.asarray(extra, np.float32).reshape(-1, x.shape[1])
    n_pos = len(pos) + len(extra)
    x = np.concatenate([x[: len(pos)], extra, x[len(pos):]])
    y = np.r_[np.ones(n_pos), np.zeros(len(neg) + len(rest))]
    weight = np.ones(len(x))
    # balanced weights make each class weigh the same; a disliked paper then weighs as much as a
    # liked one (one of thousands of random negatives would otherwise count for nothing)
    weight[n_pos : n_pos + len(neg)] = (len(neg) + len(rest)) / max(n_pos, 1)
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


# ---- the digest: several interests, followed authors, word filters, why each paper ----------------
BECAUSE = 2  # library papers named as the reason a paper was chosen


def digest(index, profiles: Sequence, since: str | None = None, until: str | None = None, k: int = 10,
           method: str = DEFAULT_METHOD, categories=None, include: Sequence[str] = (), exclude: Sequence[str] = (),
           authors: Sequence[str] = (), abstracts=None, skip: Iterable[str] = (), c: float = SVM_C) -> pd.DataFrame:
    """The papers of ``index`` dated ``since``..``until`` for each profile (its own ranking, its
    own ``k``), and every paper by a followed author; each paper once (in the first profile that
    ranks it), never a paper of any library, never one of ``skip`` (delivered before; any
    version). ``include``/``exclude``: words a title or abstract must (not) contain; ``abstracts``:
    ids -> {id: abstract} (update.abstract_lookup). Columns: those of :func:`feed`, then
    ``profile``, ``because`` (a list of {"id", "title", "cosine"} or {"interest", "cosine"}),
    ``followed`` (the author followed, or "").

    >>> digest(index, parse_profiles(["ml=my.bib"], interest="dark matter"), since="2026-11-20", k=10)
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    keep = index.mask(categories, since, until)
    keep = np.ones(len(index), dtype=bool) if keep is None else keep.copy()
    rated = [p for prof in profiles for p in prof.liked + prof.disliked_ids if index.contains(p)]
    gone = [s for s in skip if index.contains(s)]
    keep[list(index.same_papers(index.rows(rated + gone)))] = False
    cand = np.flatnonzero(keep)
    text = _texts(index, cand, abstracts) if (include or exclude) else None
    if include:
        cand = cand[[_has_any(text[r], include) for r in cand]]
    if exclude:
        cand = cand[[not _has_any(text[r], exclude) for r in cand]]
    emb = index.embeddings
    picked: list[dict] = []
    taken: set[int] = set()
    for prof in profiles:
        pos = index.rows([p for p in prof.liked if index.contains(p)]) if prof.liked else []
        neg = index.rows([p for p in prof.disliked_ids if index.contains(p)]) if prof.disliked_ids else []
        query = index.embed_text(prof.interest) if prof.interest else None
        if not pos and query is None:
            raise ValueError(f"profile {prof.name!r}: none of the library's liked papers is in this index, and it has "
                             "no interest sentence; add them (feed and daily fetch them unless --no-fetch), like a few "
                             "papers, or give --interest")
        rows = np.array([r for r in cand if r not in taken], dtype=np.int64)
        if not len(rows):
            continue
        scores = _profile_scores(emb, pos, neg, query, rows, method, c)
        for i in np.argsort(-scores, kind="stable")[:k]:
            r = int(rows[i])
            taken.add(r)
            picked.append({"row": r, "score": float(scores[i]), "profile": prof.name,
                           "because": _because(index, r, pos, prof.interest, query)})
    followed = {r: who for r in cand for who in authors if _wrote(str(index.meta["authors"].iloc[r]), who)}
    for entry in picked:
        entry["followed"] = followed.get(entry["row"], "")
    for r, who in followed.items():
        if r not in taken:
            picked.append({"row": r, "score": float("nan"), "profile": "followed authors", "followed": who,
                           "because": [{"author": who}]})
    frame = index.frame([(e["row"], e["score"]) for e in picked])
    return frame.assign(profile=[e["profile"] for e in picked], because=[e["because"] for e in picked],
                        followed=[e["followed"] for e in picked])


def _profile_scores(emb, pos: list[int], neg: list[int], query: np.ndarray | None, rows: np.ndarray, method: str,
                    c: float) -> np.ndarray:
    """A profile's score for each candidate row: the SVM (liked papers, and the sentence as one
    more positive) or the cosine to mean(liked + sentence) - 0.5 mean(disliked); a sentence
    without a library always by its cosine."""
    # a sentence alone: its cosine (bench/feed.py, cold start: nDCG@20 0.270 against the SVM's 0.244 with
    # one positive); beside a library, the sentence is one more positive for the SVM (+0.019 over the library)
    if method == "svm" and pos and len(emb) > len(pos) + len(neg) + 1:
        return svm_scores(emb, pos, neg, candidates=rows, c=c, extra=None if query is None else query[None, :])
    vecs = [np.asarray(emb[pos], dtype=np.float32)] if pos else []
    if query is not None:
        vecs.append(query[None, :])
    q = np.concatenate(vecs).mean(axis=0)
    if neg:
        q = q - 0.5 * np.asarray(emb[neg], dtype=np.float32).mean(axis=0)
    return np.asarray(emb[rows], dtype=np.float32) @ (q / max(float(np.linalg.norm(q)), 1e-12))


def _because(index, row: int, pos: list[int], interest: str | None, query: np.ndarray | None) -> list[dict]:
    """The one or two library papers closest to the chosen paper (and the sentence's cosine)."""
    v = np.asarray(index.embeddings[row], dtype=np.float32)
    out = []
    if pos:
        cos = np.asarray(index.embeddings[pos], dtype=np.float32) @ v
        for i in np.argsort(-cos, kind="stable")[:BECAUSE]:
            meta = index.meta.iloc[pos[i]]
            out.append({"id": str(meta["id"]), "title": str(meta["title"]), "cosine": round(float(cos[i]), 3)})
    if query is not None:
        out.append({"interest": interest, "cosine": round(float(query @ v), 3)})
    return out


def explain(index, paper_id: str, liked: Sequence[str], interest: str | None = None) -> list[dict]:
    """Why ``paper_id`` fits a library: the one or two liked papers closest to it (and a sentence's
    cosine), as :func:`digest` gives them.

    >>> because_text(explain(index, "2412.00001", lib.liked))
    """
    pos = index.rows([p for p in liked if index.contains(p)])
    query = index.embed_text(interest) if interest else None
    return _because(index, index.rows([paper_id])[0], pos, interest, query)


def because_text(because: list[dict]) -> str:
    """A because list in one line, as the email, the feed and the page show it.

    >>> because_text([{"id": "2401.01234", "title": "Attention", "cosine": 0.71}])
    'because you liked "Attention" (arXiv:2401.01234, cosine 0.71)'
    """
    liked = [f"\"{b['title']}\" (arXiv:{b['id']}, cosine {b['cosine']:.2f})" for b in because if "id" in b]
    parts = [f"you follow {b['author']}" for b in because if "author" in b]
    if liked:
        parts.append("you liked " + " and ".join(liked))
    parts += [f"it matches \"{b['interest']}\" (cosine {b['cosine']:.2f})" for b in because if "interest" in b]
    return ("because " + "; ".join(parts)) if parts else ""


def _texts(index, rows: np.ndarray, abstracts) -> dict[int, str]:
    """Title and abstract of each row, lower-cased, for the word filters."""
    ids = index.meta["id"].iloc[rows].astype(str).tolist()
    found = abstracts(ids) if abstracts is not None else {}
    return {int(r): f"{index.meta['title'].iloc[r]} {found.get(i, '')}".lower() for r, i in zip(rows, ids)}


def _has_any(text: str, words: Sequence[str]) -> bool:
    return any(re.search(rf"(?<!\w){re.escape(w.lower())}(?!\w)", text) for w in words)


def _fold(s: str) -> str:
    return unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode().lower().strip()


def _wrote(authors: str, who: str) -> bool:
    """Whether ``who`` ("Surname, Given" or "Given Surname") is among ``authors`` (as arXiv lists
    them: "Given Surname, ..."): the surname in full, the given name's initial, accents ignored."""
    surname, _, given = who.partition(",") if "," in who else (who.rsplit(" ", 1)[-1], "", who.rsplit(" ", 1)[0])
    surname, initial = _fold(surname), _fold(given)[:1]
    for name in re.split(r",\s*|\s+and\s+", authors):
        words = _fold(name).replace(".", " ").split()
        if words and words[-1] == surname and (not initial or words[0][:1] == initial):
            return True
    return False
