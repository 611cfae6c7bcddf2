"""Pairs worth labelling, split by paper so evaluation never sees a training paper.

Random pairs of arXiv papers are almost all unrelated (1% share a primary category), so an LLM
scores nearly all of them ~0 and a model learns little from them. The ``mixed`` strategy
blends three sources so the labels span the whole 0-1 scale::

    pairs = sample_pairs(papers, n=2_000)                 # anchored, the default
    pairs = sample_pairs(papers, n=2_000, strategy="mixed")
    pair_report(pairs, papers)

- ``neighbors`` (40%): a paper and one of its 10 nearest neighbours by TF-IDF over title +
  abstract (and by a sentence-transformers model, when one is given): the high end of the scale.
- ``category`` (30%): two papers sharing the primary category (half) or any listed category
  (half): same field, mostly different problems, the middle of the scale.
- ``random`` (30%): two papers drawn uniformly: anchors the low end.

``anchored`` (the default) shapes the same range around anchor papers: each anchor gets six partners, its
TF-IDF neighbours at ranks 1-3, 4-10 and 11-50, a paper of its primary category and two random
ones. One Gemini request then scores an anchor against all its partners (the anchor's abstract
is sent once, and candidates are judged side by side), and training learns which partner is
closer to the same anchor, which is what a recommender's ranking is. It is the default because
it halves the labelling cost (395 instead of 844 input tokens per label on the sample), and
without a teacher to distil the training recipe ranks each anchor's partners (docs/how-it-works.md).

The split is drawn per paper (from a hash of seed and id, so a paper keeps its split when the
corpus grows); a pair belongs to a split only when both papers do, and pairs are only formed
within a split.
"""

from __future__ import annotations

import hashlib
import math
import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd

from ..artifacts import replace_file
from ..papers.corpus import paper_text
from ..vectors.embed import encode, tfidf_matrix, top_k_neighbors

PAIR_COLUMNS = ["pair_id", "id_a", "id_b", "title_a", "abstract_a", "title_b", "abstract_b", "strategy", "split",
                "anchor"]
STRATEGIES = ("random", "category", "neighbors", "mixed", "anchored")
DEFAULT_STRATEGY = "anchored"  # "mixed" when a mix is given
ANCHOR_BANDS = {"near": (0, 3), "mid": (3, 10), "far": (10, 50)}  # TF-IDF neighbour ranks of an anchor's partners
ANCHOR_PARTNERS = 6  # near, mid, far, same category, two random: the rubric's whole scale
DEFAULT_MIX = {"neighbors": 0.4, "category": 0.3, "random": 0.3}
DEFAULT_SPLITS = {"train": 0.8, "validation": 0.1, "test": 0.1}


class PairShortfallWarning(UserWarning):
    """Fewer pairs than asked: the pool of possible pairs is too small."""


def pair_id(id_a: str, id_b: str) -> str:
    """The stable id of an unordered pair: the two arXiv ids, sorted, joined by ``__``."""
    a, b = sorted((str(id_a), str(id_b)))
    return f"{a}__{b}"


def pair_texts(pairs) -> tuple[list[str], list[str]]:
    """The texts every model reads for each pair's two papers (corpus.paper_text of its title and
    abstract), for a DataFrame of pairs or a list of pair dicts.

    >>> text_a, text_b = pair_texts(pairs)
    """
    rows = pairs.to_dict("records") if hasattr(pairs, "to_dict") else list(pairs)
    return ([paper_text(r["title_a"], r["abstract_a"]) for r in rows],
            [paper_text(r["title_b"], r["abstract_b"]) for r in rows])


def assign_splits(ids, fractions: Mapping[str, float] = DEFAULT_SPLITS, seed: int = 0) -> pd.Series:
    """Each paper's split (train/validation/test), from a hash of (seed, id): stable and disjoint."""
    names = list(fractions)
    cuts = np.cumsum([fractions[s] for s in names], dtype=float)
    if not math.isclose(cuts[-1], 1.0, abs_tol=1e-6) or min(fractions.values()) < 0:
        raise ValueError(f"split fractions must be non-negative and sum to 1, got {dict(fractions)}")
    salt = f"split:{seed}:".encode()
    u = [int.from_bytes(hashlib.blake2b(salt + str(i).encode(), digest_size=8).digest(), "little") / 2**64 for i in ids]
    return pd.Series([names[min(int(np.searchsorted(cuts, x, side="right")), len(names) - 1)] for x in u], index=list(ids))


def _quotas(n: int, weights: Mapping[str, float]) -> dict[str, int]:
    """Split n into integer shares proportional to weights (largest remainder, stable order)."""
    total = sum(weights.values())
    raw = {k: n * w / total for k, w in weights.items()}
    out = {k: int(v) for k, v in raw.items()}
    for k in sorted(raw, key=lambda k: -(raw[k] - out[k]))[: n - sum(out.values())]:
        out[k] += 1
    return out


class _PairDrawer:
    """Draws unique unordered index pairs within one split (state: the pairs taken so far)."""

    def __init__(self, papers: pd.DataFrame, rng: np.random.Generator, embeddings=None):
        self.papers, self.rng, self.m = papers, rng, len(papers)
        self.taken: dict[tuple[int, int], str] = {}
        self.anchor: dict[tuple[int, int], int] = {}  # anchored pairs: which of the two is the anchor
        self._embeddings = embeddings
        self._neighbors = None

    @property
    def pool(self) -> int:
        return self.m * (self.m - 1) // 2

    def _add(self, i: int, j: int, strategy: str, anchor: int | None = None) -> bool:
        if i == j:
            return False
        key = (i, j) if i < j else (j, i)
        if key in self.taken:
            return False
        self.taken[key] = strategy
        if anchor is not None:
            self.anchor[key] = anchor
        return True

    def draw_anchored(self, quota: int, k: int = ANCHOR_PARTNERS) -> int:
        """Anchors in random order, each with up to k partners across the scale, until quota pairs."""
        if quota <= 0 or self.m < 2:
            return 0
        nb = top_k_neighbors(tfidf_matrix(self.papers["text"]), min(max(hi for _, hi in ANCHOR_BANDS.values()), self.m - 1))
        prim = self.papers["primary_category"].to_numpy()
        by_cat = {c: np.flatnonzero(prim == c) for c in np.unique(prim)}
        added = 0
        for a in self.rng.permutation(self.m).tolist():
            picks = []
            for name, (lo, hi) in ANCHOR_BANDS.items():
                if lo < min(hi, nb.shape[1]):
                    picks.append((int(nb[a, self.rng.integers(lo, min(hi, nb.shape[1]))]), f"anchored-{name}"))
            same = by_cat[prim[a]][by_cat[prim[a]] != a]
            if len(same):
                picks.append((int(same[self.rng.integers(len(same))]), "anchored-category"))
            while len(picks) < k:
                picks.append((int(self.rng.integers(0, self.m)), "anchored-random"))
            for b, strategy in picks[:k]:
                added += self._add(a, b, strategy, anchor=a)
                if added == quota:
                    return added
        return added

    def draw(self, strategy: str, quota: int) -> int:
        """Add up to quota new pairs of this strategy; returns how many were added."""
        if quota <= 0 or self.m < 2:
            return 0
        candidates = getattr(self, f"_candidates_{strategy}")()
        added, misses = 0, 0
        max_misses = 20 * quota + 1000  # the pool is nearly exhausted: stop and report
        while added < quota and misses < max_misses:
            size = min(4 * (quota - added) + 16, 100_000)
            batch = candidates(size)
            if batch is None:  # this strategy has nothing to offer here
                break
            misses += size - len(batch)  # draws that found no partner count as misses too
            for i, j in batch:
                if self._add(int(i), int(j), strategy):
                    added += 1
                    if added == quota:
                        break
                else:
                    misses += 1
        if added < quota and strategy == "random":
            added += self._exhaustive(quota - added, strategy)
        return added

    def _exhaustive(self, need: int, strategy: str) -> int:
        """Near-complete pools: enumerate every free pair and pick at random."""
        if self.pool > 5_000_000:
            return 0
        i, j = np.triu_indices(self.m, 1)
        free = [(a, b) for a, b in zip(i.tolist(), j.tolist()) if (a, b) not in self.taken]
        pick = self.rng.permutation(len(free))[:need]
        for p in pick:
            self._add(*free[p], strategy)
        return len(pick)

    def _candidates_random(self):
        def gen(size):
            return self.rng.integers(0, self.m, size=(size, 2))

        return gen

    def _candidates_category(self):
        members: dict[str, np.ndarray] = {}
        for cat, idx in pd.Series(range(self.m)).groupby(self.papers["primary_category"].to_numpy()):
            members["p:" + str(cat)] = idx.to_numpy()
        exploded = self.papers["categories"].explode()
        for cat, idx in pd.Series(exploded.index.to_numpy()).groupby(exploded.to_numpy()):
            members["a:" + str(cat)] = np.unique(idx.to_numpy())
        primary = ["p:" + str(c) for c in self.papers["primary_category"]]
        cats = [["a:" + str(c) for c in cs] for cs in self.papers["categories"]]

        def gen(size):
            a = self.rng.integers(0, self.m, size=size)
            use_primary = self.rng.random(size) < 0.5
            out = []
            for i, prim in zip(a.tolist(), use_primary.tolist()):
                group = members[primary[i]] if prim or not cats[i] else members[cats[i][self.rng.integers(len(cats[i]))]]
                if len(group) > 1:
                    out.append((i, int(group[self.rng.integers(len(group))])))
            return out

        return gen

    def _candidates_neighbors(self):
        if self._neighbors is None:
            lists = [top_k_neighbors(tfidf_matrix(self.papers["text"]))]
            if self._embeddings is not None:
                lists.append(top_k_neighbors(self._embeddings))
            self._neighbors = np.concatenate(lists, axis=1)
        nbrs = self._neighbors

        def gen(size):
            if nbrs.shape[1] == 0:
                return None
            a = self.rng.integers(0, self.m, size=size)
            r = self.rng.integers(0, nbrs.shape[1], size=size)
            return list(zip(a.tolist(), nbrs[a, r].tolist()))

        return gen


def sample_pairs(
    papers: pd.DataFrame,
    n: int = 2_000,
    strategy: str | None = None,
    mix: Mapping[str, float] | None = None,
    splits: Mapping[str, float] = DEFAULT_SPLITS,
    seed: int = 0,
    model=None,
) -> pd.DataFrame:
    """Exactly n unique unordered pairs of distinct papers (fewer, with a warning, only when the
    pool cannot give n), deterministic for a seed, with the columns of ``pairs.csv``.

    ``strategy``: random | category | neighbors | mixed (``mix`` sets its proportions,
    default ``DEFAULT_MIX``; giving a ``mix`` alone means mixed) | anchored (the default) (anchors with ANCHOR_PARTNERS partners each; the
    ``anchor`` column names each pair's anchor, empty for the other strategies). ``model``: a SentenceTransformer (or its name) whose nearest
    neighbours are added to TF-IDF's for the neighbors strategy.

    >>> pairs = sample_pairs(papers, n=2_000)
    """
    if strategy is None:
        strategy = "mixed" if mix else DEFAULT_STRATEGY
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
    mix = dict(mix or DEFAULT_MIX) if strategy == "mixed" else {strategy: 1.0}
    bad = set(mix) - set(STRATEGIES[:3]) - ({"anchored"} if strategy == "anchored" else set())
    if bad or any(w < 0 for w in mix.values()) or not sum(mix.values()):
        raise ValueError(f"mix takes non-negative weights for {STRATEGIES[:3]}, got {mix}")
    missing = {"id", "title", "abstract", "categories", "primary_category", "text"} - set(papers.columns)
    if missing:
        raise ValueError(f"papers lack column(s) {sorted(missing)}; load them with read_papers() or sample_papers()")
    papers = papers.drop_duplicates("id").reset_index(drop=True)
    split_of = assign_splits(papers["id"], splits, seed).to_numpy()
    embeddings = None
    if model is not None:
        from ..vectors.models import load_model

        model = load_model(model) if isinstance(model, str) else model
        embeddings = encode(model, papers["text"].tolist(), desc="neighbours")

    drawers: dict[str, tuple[_PairDrawer, pd.DataFrame]] = {}
    owed = 0  # pairs a split could not give
    for s_idx, (split, quota) in enumerate(_quotas(n, splits).items()):
        mask = split_of == split
        part = papers[mask].reset_index(drop=True)
        rng = np.random.default_rng([seed, s_idx])
        drawer = _PairDrawer(part, rng, embeddings[mask] if embeddings is not None else None)
        drawers[split] = (drawer, part)
        shares = _quotas(quota, {k: w for k, w in mix.items() if w > 0})
        short = 0
        for strat, share in shares.items():
            short += share - (drawer.draw_anchored(share) if strat == "anchored" else drawer.draw(strat, share))
        if short:  # a strategy ran dry (tiny categories, say): random pairs make up the rest
            short -= drawer.draw("random", short)
        owed += short
    # A tiny split (a handful of papers) cannot give its share: the others make it up.
    for drawer, _ in sorted(drawers.values(), key=lambda d: -d[0].pool):
        if owed <= 0:
            break
        owed -= drawer.draw("random", owed)

    rows = []
    for split, (drawer, part) in drawers.items():
        if not drawer.taken:
            continue
        ij = np.array(list(drawer.taken), dtype=np.int64)
        ids = part["id"].to_numpy()
        swap = ids[ij[:, 0]] > ids[ij[:, 1]]  # id_a is the smaller id, as in pair_id
        ij[swap] = ij[swap][:, ::-1]
        a, b = part.iloc[ij[:, 0]], part.iloc[ij[:, 1]]
        rows.append(pd.DataFrame({
            "pair_id": [f"{x}__{y}" for x, y in zip(a["id"], b["id"])],
            "id_a": a["id"].to_numpy(), "id_b": b["id"].to_numpy(),
            "title_a": a["title"].to_numpy(), "abstract_a": a["abstract"].to_numpy(),
            "title_b": b["title"].to_numpy(), "abstract_b": b["abstract"].to_numpy(),
            "strategy": list(drawer.taken.values()), "split": split,
            "anchor": [ids[drawer.anchor[key]] if key in drawer.anchor else "" for key in drawer.taken],
        }))
    out = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=PAIR_COLUMNS)
    if len(out) < n:
        warnings.warn(
            f"only {len(out):,} of the {n:,} pairs asked for could be made from {len(papers):,} papers "
            f"(pairs never cross the {'/'.join(splits)} split); sample more papers for more pairs",
            PairShortfallWarning, stacklevel=2,
        )
    return out


def pair_report(pairs: pd.DataFrame, papers: pd.DataFrame) -> pd.DataFrame:
    """Per strategy: pair count, share with the same primary category / any shared category, and
    the TF-IDF cosine distribution, so a user sees the mix is informative before paying for labels.

    >>> pair_report(pairs, papers)
    """
    papers = papers.drop_duplicates("id").set_index("id")
    matrix = tfidf_matrix(papers["text"])
    pos = pd.Series(np.arange(len(papers)), index=papers.index)
    ia, ib = pos[pairs["id_a"]].to_numpy(), pos[pairs["id_b"]].to_numpy()
    cos = np.asarray(matrix[ia].multiply(matrix[ib]).sum(axis=1)).ravel()
    prim = papers["primary_category"]
    cats = papers["categories"].map(set)
    frame = pd.DataFrame({
        "strategy": pairs["strategy"].to_numpy(),
        "same_primary": (prim[pairs["id_a"]].to_numpy() == prim[pairs["id_b"]].to_numpy()),
        "shared_category": [bool(x & y) for x, y in zip(cats[pairs["id_a"]], cats[pairs["id_b"]])],
        "tfidf_cosine": cos,
    })
    groups = [("all", frame)] + list(frame.groupby("strategy"))
    rows = []
    for name, g in groups:
        q = np.quantile(g["tfidf_cosine"], [0.1, 0.5, 0.9]) if len(g) else [np.nan] * 3
        rows.append({
            "strategy": name, "pairs": len(g),
            "same_primary": g["same_primary"].mean(), "shared_category": g["shared_category"].mean(),
            "tfidf_mean": g["tfidf_cosine"].mean(), "tfidf_p10": q[0], "tfidf_p50": q[1], "tfidf_p90": q[2],
        })
    return pd.DataFrame(rows).set_index("strategy").round(3)


def save_pairs(pairs: pd.DataFrame, path) -> None:
    """Write ``pairs.csv`` (replaced atomically: a killed run leaves the old file or the new one).

    >>> save_pairs(pairs, "pairs.csv")
    """

    with replace_file(path) as tmp:
        pairs[PAIR_COLUMNS].to_csv(tmp, index=False)


def read_pairs(path) -> pd.DataFrame:
    """``pairs.csv`` with its columns checked."""
    df = pd.read_csv(path, dtype={"id_a": str, "id_b": str, "pair_id": str, "anchor": str}, keep_default_na=False)
    if "anchor" not in df.columns:  # pairs.csv written before anchored pairs existed
        df["anchor"] = ""
    missing = [c for c in PAIR_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{path} lacks column(s) {missing}; expected a pairs.csv written by `arxiv-reco pairs`")
    return df
