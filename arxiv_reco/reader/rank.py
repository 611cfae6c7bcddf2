"""How an interest ranks the new papers: one linear SVM (arxiv-sanity-lite's method) over what a
reader's line of work is made of, words, people and meaning, side by side.

    features = Features(index, index.words, RANKER)
    scores = svm_rank(features, pos=liked_rows, neg=disliked_rows, candidates=window_rows, ranker=RANKER)
    RANKER.but(people=0)                  # an experiment is another Ranker, passed in

A paper's features are three blocks, each of unit length, each scaled by its weight: the TF-IDF
of its title and abstract (word 1-2 grams: method names, datasets, objects), its people (every
author's full name a term: who the reader follows and works with), and its embedding (the topic,
in the model's words: papers on the same problem from other groups). The SVM learns which of
them set the library apart from the rest of the index (a random 50,000 of it); disliked papers
are negatives weighing as much as a liked paper. bench/feed.py measured the blocks alone and
together on a reader's own line of work (docs/benchmarks.md); the weights below are its choice.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from ..index.words import (
    COLUMNS,
    WORD_BUCKETS,
    WordIndex,
    fold,
    normalize_blocks,
    people,
    term_columns,
    terms,
    weigh,
)
from ..options import but, option, validate


@dataclass(frozen=True)
class Ranker:
    """The weights of the three blocks, and the SVM's regularisation.

    >>> Ranker(people=0).people
    0.0
    """

    # chosen on half of the fresh corpus's author libraries (bench/feed.py --split dev): more weight on people
    # ranks an author's next papers higher but lets papers of other fields in (docs/benchmarks.md)
    words: float = option(1.0, "weight of the title and abstract's TF-IDF block", minimum=0)
    people: float = option(0.75, "weight of the authors block", minimum=0)
    meaning: float = option(0.75, "weight of the embedding block", minimum=0)
    c: float = option(0.01, "the linear SVM's C (lower: smoother, fewer off-topic papers)", minimum=1e-6)
    max_negatives: int = option(50_000, "papers of the rest of the index the SVM learns against", minimum=10)
    seed: int = option(0, "which random negatives")

    def __post_init__(self):
        validate(self)
        if not (self.words or self.people or self.meaning):
            raise ValueError("a ranker needs at least one block with a weight above 0")

    def but(self, **changes) -> Ranker:
        """This ranker with some weights changed.

        >>> RANKER.but(meaning=0).meaning
        0.0
        """
        return but(self, **changes)

    def describe(self) -> str:
        parts = [f"{name} x{getattr(self, name):g}" for name in ("words", "people", "meaning") if getattr(self, name)]
        return f"linear SVM (C={self.c:g}) over " + " + ".join(parts)


RANKER = Ranker()


class Features:
    """The feature rows of an index's papers for one ranker: its three blocks, weighted, side by side
    (a small index's are computed once and kept; a large one's row by row).

    >>> Features(index, index.words, RANKER).rows([3, 17]).shape
    """

    KEEP_ALL_BELOW = 200_000  # papers: below this, every row's features are computed once and kept

    def __init__(self, index, words, ranker: Ranker = RANKER):
        self.index, self.words, self.ranker = index, words, ranker
        self.idf = words.idf() if words is not None and (ranker.words or ranker.people) else None
        self._all: sparse.csr_matrix | None = None

    @property
    def dims(self) -> int:

        return (COLUMNS if self.idf is not None else 0) + (self.index.embeddings.shape[1] if self.ranker.meaning else 0)

    def rows(self, rows: Sequence[int]) -> sparse.csr_matrix:
        """The weighted feature rows of these papers."""
        rows = np.asarray(rows, dtype=np.int64)
        if len(self.index) <= self.KEEP_ALL_BELOW:
            if self._all is None:
                self._all = self._compute(np.arange(len(self.index)))
            return self._all[rows]
        return self._compute(rows)

    def _compute(self, rows: np.ndarray) -> sparse.csr_matrix:
        r, blocks = self.ranker, []
        if self.idf is not None:
            blocks.append(weigh(self.words.features(rows, idf=self.idf), r.words, r.people))
        if r.meaning:
            blocks.append(sparse.csr_matrix(r.meaning * np.asarray(self.index.embeddings[np.sort(rows)],
                                                                   dtype=np.float32)[np.argsort(np.argsort(rows))]))
        if not blocks:
            raise ValueError("this index keeps no word counts; rank with meaning > 0, or rebuild the index")
        return sparse.hstack(blocks, format="csr", dtype=np.float32)

    def text_rows(self, titles: Sequence[str], vectors: np.ndarray | None) -> sparse.csr_matrix:
        """Feature rows of texts that are not papers of the index (an interest sentence): its words
        (no people), and its embedding."""
        r, blocks = self.ranker, []
        if self.idf is not None:
            x = WordIndex.count(list(titles), [""] * len(titles), [""] * len(titles)).astype(np.float32)
            x.data = 1 + np.log(x.data)
            blocks.append(weigh(normalize_blocks((x @ sparse.diags(self.idf)).tocsr()), r.words, r.people))
        if r.meaning:
            blocks.append(sparse.csr_matrix(r.meaning * np.asarray(vectors, dtype=np.float32)))
        return sparse.hstack(blocks, format="csr", dtype=np.float32)


@dataclass
class Interest:
    """One interest's ranking, fitted: a direction over the features (the SVM's weights, or the mean
    of the liked papers), and where its reader's bar lies on its scores.

    ``typical``: the median score of the rest of the index (0 on the reader's scale); ``own``: the
    median score of the library's own papers, each scored by a ranking fitted without it (100).
    """

    features: Features
    w: np.ndarray
    b: float
    pos: np.ndarray
    typical: float = 0.0
    own: float = 1.0

    def scores(self, rows: Sequence[int]) -> np.ndarray:
        """Raw scores of ``rows`` (blocks of rows: flat memory on a 2.8M index)."""
        rows = np.asarray(rows, dtype=np.int64)
        out = np.empty(len(rows), dtype=np.float32)
        for start in range(0, len(rows), 65_536):
            part = rows[start : start + 65_536]
            out[start : start + len(part)] = self.features.rows(part) @ self.w + self.b
        return out

    def match(self, raw: np.ndarray) -> np.ndarray:
        """Raw scores on the reader's scale: 0 a typical paper of the index, 100 as close as the
        reader's own papers are to the rest of their library (clipped to 0-100)."""
        span = max(self.own - self.typical, 1e-9)
        return np.clip(100 * (np.asarray(raw, dtype=np.float64) - self.typical) / span, 0, 100)


def _fit_svm(features: Features, pos: np.ndarray, neg: np.ndarray, rest: np.ndarray,
             extra: sparse.csr_matrix) -> tuple[np.ndarray, float]:
    from sklearn.svm import LinearSVC

    x = sparse.vstack([features.rows(pos), extra, features.rows(neg), features.rows(rest)], format="csr")
    n_pos = len(pos) + extra.shape[0]
    y = np.r_[np.ones(n_pos), np.zeros(len(neg) + len(rest))]
    weight = np.ones(x.shape[0])
    # balanced weights make each class weigh the same; a disliked paper then weighs as much as a
    # liked one (one of thousands of random negatives would otherwise count for nothing)
    weight[n_pos : n_pos + len(neg)] = (len(neg) + len(rest)) / max(n_pos, 1)
    clf = LinearSVC(class_weight="balanced", C=features.ranker.c, max_iter=10_000, tol=1e-6, dual="auto")
    clf.fit(x, y, sample_weight=weight)
    return clf.coef_[0].astype(np.float32), float(clf.intercept_[0])


FOLDS = 5  # at most: the library's papers held out in turn, to see where its own papers score


def fit_interest(features: Features, pos: Sequence[int], neg: Sequence[int] = (),
                 extra: sparse.csr_matrix | None = None, calibrate: bool = True) -> Interest:
    """A linear SVM trained on rows ``pos`` (liked) against a random sample of the other rows and
    rows ``neg`` (disliked); ``extra``: more positives as feature rows (an interest sentence:
    Features.text_rows). ``calibrate``: place the reader's scale and bar (see :class:`Interest`):
    with two liked papers or more, the library is split in up to FOLDS parts and each part scored
    by an SVM trained without it; a library of one paper (or a sentence) has no held-out score,
    and its "own" end is the index's top 1%.

    >>> interest = fit_interest(Features(index, index.words), pos=[3, 17]); interest.scores(rows)
    """
    r = features.ranker
    n = len(features.index)
    pos, neg = np.unique(np.asarray(pos, dtype=np.int64)), np.unique(np.asarray(neg, dtype=np.int64))
    neg = np.setdiff1d(neg, pos)
    rest = np.setdiff1d(np.arange(n), np.concatenate([pos, neg]))
    if len(rest) > r.max_negatives:
        rest = np.sort(np.random.default_rng(r.seed).choice(rest, r.max_negatives, replace=False))
    if len(rest) + len(neg) == 0:
        raise ValueError("the SVM needs papers outside the library to learn from; use method='mean'")
    extra = sparse.csr_matrix((0, features.dims), dtype=np.float32) if extra is None else extra
    if len(pos) + extra.shape[0] == 0:
        raise ValueError("the SVM needs at least one liked paper or a sentence")
    w, b = _fit_svm(features, pos, neg, rest, extra)
    interest = Interest(features, w, b, pos)
    if calibrate:
        typical = interest.scores(rest)
        held = []
        if len(pos) >= 2:
            folds = np.array_split(np.random.default_rng(r.seed).permutation(pos), min(FOLDS, len(pos)))
            for part in folds:
                fw, fb = _fit_svm(features, np.setdiff1d(pos, part), neg, rest, extra)
                held.append(features.rows(part) @ fw + fb)
        _place(interest, typical, np.concatenate(held) if held else None)
    return interest


def mean_interest(features: Features, pos: Sequence[int], neg: Sequence[int] = (), extra: np.ndarray | None = None,
                  dislike_weight: float = 0.5, calibrate: bool = True) -> Interest:
    """The cosine to mean(liked [+ sentence]) - 0.5 mean(disliked), over the embeddings (what
    zotero-arxiv-daily does), with the same scale and bar as :func:`fit_interest`.

    >>> mean_interest(Features(index, None, Ranker(words=0, people=0)), pos=[3, 17])
    """
    emb = features.index.embeddings
    pos, neg = np.asarray(pos, dtype=np.int64), np.asarray(neg, dtype=np.int64)
    vecs = [np.asarray(emb[np.sort(pos)], dtype=np.float32)] if len(pos) else []
    if extra is not None and len(extra):
        vecs.append(np.asarray(extra, dtype=np.float32).reshape(-1, emb.shape[1]))
    if not vecs:
        raise ValueError("the mean needs at least one liked paper or a sentence")

    def direction(liked: list[np.ndarray]) -> np.ndarray:
        q = np.concatenate(liked).mean(axis=0)
        if len(neg):
            q = q - dislike_weight * np.asarray(emb[np.sort(neg)], dtype=np.float32).mean(axis=0)
        return (q / max(float(np.linalg.norm(q)), 1e-12)).astype(np.float32)

    meaning = Features(features.index, None, Ranker(words=0, people=0, meaning=1))
    interest = Interest(meaning, direction(vecs), 0.0, pos)
    if calibrate:
        rng = np.random.default_rng(0)
        rest = np.setdiff1d(np.arange(len(emb)), np.concatenate([pos, neg]))
        rest = rest if len(rest) <= 50_000 else np.sort(rng.choice(rest, 50_000, replace=False))
        typical = np.asarray(emb[rest], dtype=np.float32) @ interest.w
        held = None
        if len(pos) >= 2:  # each liked paper against the mean of the others
            held = np.array([float(np.asarray(emb[p], dtype=np.float32) @ direction(
                [np.asarray(emb[np.sort(np.setdiff1d(pos, [p]))], dtype=np.float32)] + vecs[1:])) for p in pos])
        _place(interest, typical, held)
    return interest


def _place(interest: Interest, typical: np.ndarray, held: np.ndarray | None) -> None:
    interest.typical = float(np.median(typical))
    interest.own = float(np.median(held)) if held is not None and len(held) else float(np.quantile(typical, 0.99))
    interest.own = max(interest.own, interest.typical + 1e-6)


def svm_rank(features: Features, pos: Sequence[int], neg: Sequence[int] = (), candidates: np.ndarray | None = None,
             extra: sparse.csr_matrix | None = None) -> np.ndarray:
    """Raw scores of a linear SVM (see :func:`fit_interest`) for the rows ``candidates`` (default:
    all), without the reader's scale.

    >>> svm_rank(Features(index, index.words), pos=[3, 17], candidates=np.arange(100))
    """
    interest = fit_interest(features, pos, neg, extra, calibrate=False)
    cand = np.arange(len(features.index)) if candidates is None else np.asarray(candidates, dtype=np.int64)
    return interest.scores(cand)


# ---- why a paper ranks ----------------------------------------------------------------------------
WORDS_SHOWN = 3


def shared_words(interest: Interest, row: int, title: str, abstract: str, shown: int = WORDS_SHOWN) -> list[str]:
    """The distinctive words a paper shares with the library that lifted it most: its terms that the
    library's papers have too, ordered by what each adds to the score (the SVM's weight times the
    term's TF-IDF in the paper), as arxiv-sanity-lite's inspect page shows the SVM's words.

    >>> shared_words(interest, 17, "Graph neural networks for molecules", abstract)
    ['graph neural', 'molecules', 'message passing']
    """

    features = interest.features
    if features.words is None or not features.ranker.words:
        return []
    found = list(dict.fromkeys(terms(title, abstract)))
    if not found:
        return []
    cols = term_columns(found)
    library = set(features.words.counts(interest.pos).indices.tolist())
    x = features.rows([row])
    value = dict(zip(x.indices.tolist(), x.data.tolist()))
    lift = {t: interest.w[c] * value.get(int(c), 0.0) for t, c in zip(found, cols)
            if c < WORD_BUCKETS and int(c) in library}
    best = sorted((t for t, v in lift.items() if v > 0), key=lambda t: -lift[t])
    out: list[str] = []
    for t in best:  # a pair says more than its words alone: "graph neural" over "graph" and "neural"
        if any(t in o.split() or (" " in t and set(t.split()) & set(o.split())) for o in out):
            continue
        out.append(t)
        if len(out) == shown:
            break
    return out


def shared_people(interest: Interest, row: int) -> list[str]:
    """The paper's authors who are authors of the library's papers too, as the paper spells them.

    >>> shared_people(interest, 17)
    ['Ada Lovelace']
    """

    index = interest.features.index
    mine = {p for r in interest.pos for p in people(str(index.meta["authors"].iloc[int(r)]))}
    theirs = str(index.meta["authors"].iloc[int(row)])
    names = [n.strip() for n in re.split(r",\s*|\s+and\s+|;\s*", theirs) if n.strip()]
    return [n for n in names if fold(n) in mine]
