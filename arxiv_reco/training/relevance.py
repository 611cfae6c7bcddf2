"""What counts as relevant, and the ranking metrics over it.

    judge = CategoryRelevance(papers, queries=held_out_ids)     # graded, from arXiv's categories
    per_query = _per_query(embeddings, ids, judge, k=10)        # nDCG@10, AP@10, Recall@10 per query
    read_qrels("judgments.tsv")                                 # external judgments

Category relevance, labels not needed: for a query paper q and a document d != q, grade 2 when
d's primary category is q's, grade 1 when they share another listed category (a cross-list)
only, else 0. It is computed when asked (a listed judgment per query and document would number a
category's size per query: millions for a large cs.* corpus).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from ..vectors.embed import top_k_neighbors

K = 10
GRADE_PRIMARY, GRADE_SHARED = 2, 1


def category_qrels(papers: pd.DataFrame, queries=None, graded: bool = True) -> dict[str, dict[str, int]]:
    """Relevance without labels, from arXiv's categories. For a query paper q and a document
    d != q of ``papers``: grade 2 when d's primary category is q's; grade 1 when they share
    another listed category (a cross-list) only; else 0 (not listed). ``graded=False``: the
    primary category alone, grade 1. ``queries``: the ids to judge for (default: all).
    Queries with nothing relevant in the corpus are left out (nothing to find)."""
    ids = papers["id"].astype(str).tolist()
    prim = papers["primary_category"].astype(str).tolist()
    cats = [set(c) if not isinstance(c, str) else set(c.split()) for c in papers["categories"]] \
        if "categories" in papers.columns else [{p} for p in prim]
    by_primary: dict[str, list[int]] = {}
    by_cat: dict[str, list[int]] = {}
    for i, (p, cs) in enumerate(zip(prim, cats)):
        by_primary.setdefault(p, []).append(i)
        for c in cs | {p}:
            by_cat.setdefault(c, []).append(i)
    wanted = set(map(str, queries)) if queries is not None else None
    qrels: dict[str, dict[str, int]] = {}
    for i, q in enumerate(ids):
        if wanted is not None and q not in wanted:
            continue
        judged: dict[str, int] = {}
        if graded:
            for c in cats[i] | {prim[i]}:
                judged.update({ids[j]: GRADE_SHARED for j in by_cat[c] if j != i})
        judged.update({ids[j]: GRADE_PRIMARY if graded else 1 for j in by_primary[prim[i]] if j != i})
        if judged:
            qrels[q] = judged
    return qrels


def read_qrels(path: str | Path) -> dict[str, dict[str, int]]:
    """Judgments from a TSV/CSV with columns query_id, doc_id, grade (a header line is optional)."""
    path = Path(path)
    sep = "\t" if path.suffix.lower() in (".tsv", ".txt") else ","
    df = pd.read_csv(path, sep=sep, dtype=str)
    if not {"query_id", "doc_id"} <= set(df.columns):
        df = pd.read_csv(path, sep=sep, dtype=str, header=None).iloc[:, :3]
        df.columns = ["query_id", "doc_id", "grade"][: df.shape[1]]
    if "grade" not in df.columns:
        df["grade"] = "1"
    grades = pd.to_numeric(df["grade"], errors="coerce")
    if grades.isna().any():
        raise ValueError(f"{path}: grades must be numbers; expected columns query_id, doc_id, grade")
    qrels: dict[str, dict[str, int]] = {}
    for q, d, g in zip(df["query_id"], df["doc_id"], grades):
        qrels.setdefault(q, {})[d] = int(g)
    return qrels


class CategoryRelevance:
    """The graded category relevance of :func:`category_qrels`, computed when asked instead of
    listed: a query's judgments would number its category's size (millions of entries for a large
    cs.* corpus). Grades of retrieved documents come from the two papers' categories; how many
    relevant documents a query has, from counts per category set."""

    def __init__(self, papers: pd.DataFrame, queries=None, graded: bool = True):
        self.graded = graded
        prim = papers["primary_category"].astype(str).to_numpy()
        cats = ([set(c) if not isinstance(c, str) else set(c.split()) for c in papers["categories"]]
                if "categories" in papers.columns else [set() for _ in prim])
        self.prim = prim
        self.cats = [c | {p} for c, p in zip(cats, prim)]
        self.ids = papers["id"].astype(str).tolist()
        wanted = set(map(str, queries)) if queries is not None else None
        # documents grouped by their category set: how many share any of a query's categories
        sets = pd.Series([frozenset(c) for c in self.cats])
        counts = sets.value_counts()
        names = sorted({c for s in counts.index for c in s})
        col = {c: i for i, c in enumerate(names)}
        incidence = np.zeros((len(counts), len(names)), dtype=bool)
        for r, s in enumerate(counts.index):
            incidence[r, [col[c] for c in s]] = True
        same_primary = pd.Series(prim).value_counts()
        self._rows, self._n2, self._n1 = [], {}, {}
        for i, q in enumerate(self.ids):
            if wanted is not None and q not in wanted:
                continue
            n2 = int(same_primary[prim[i]]) - 1  # the query itself is not a result
            shared = incidence[:, [col[c] for c in self.cats[i]]].any(axis=1)
            n1 = int(counts.to_numpy()[shared].sum()) - 1 - n2 if graded else 0
            if n2 + n1 > 0:
                self._rows.append(i)
                self._n2[i], self._n1[i] = n2, n1

    def query_rows(self) -> list[int]:
        return self._rows

    def gains(self, q: int, rows) -> list[int]:
        top = GRADE_PRIMARY if self.graded else 1
        return [top if self.prim[d] == self.prim[q] else (GRADE_SHARED if self.graded and self.cats[d] & self.cats[q]
                                                          else 0) for d in rows]

    def ideal(self, q: int, k: int) -> tuple[list[int], int]:
        """The best k gains possible, and how many relevant documents there are."""
        n2, n1 = self._n2[q], self._n1[q]
        top = [GRADE_PRIMARY if self.graded else 1] * min(k, n2) + [GRADE_SHARED] * max(0, min(k - n2, n1))
        return top, n2 + n1


class _ListedRelevance:
    """Judgments listed per query (external qrels): the same interface as CategoryRelevance."""

    def __init__(self, qrels: Mapping[str, Mapping[str, int]], ids: list[str]):
        self.qrels, self.ids = qrels, ids
        pos = {pid: i for i, pid in enumerate(ids)}
        self._rows = [pos[q] for q in qrels if q in pos and any(g > 0 for d, g in qrels[q].items() if d != q)]

    def query_rows(self) -> list[int]:
        return self._rows

    def gains(self, q: int, rows) -> list[int]:
        judged = self.qrels[self.ids[q]]
        return [judged.get(self.ids[d], 0) for d in rows]

    def ideal(self, q: int, k: int) -> tuple[list[int], int]:
        qid = self.ids[q]
        grades = sorted((g for d, g in self.qrels[qid].items() if d != qid and g > 0), reverse=True)
        return grades[:k], len(grades)


def per_query(emb, ids: list[str], qrels, k: int) -> pd.DataFrame:
    """nDCG@k, AP@k, Recall@k for each judged query among ``ids`` (rows of ``emb``), as a
    DataFrame indexed by query; the query
    itself is never a result; judged documents missing from the corpus count as unretrievable.
    ``qrels``: listed judgments ({query: {doc: grade}}) or a CategoryRelevance."""
    judge = qrels if isinstance(qrels, CategoryRelevance) else _ListedRelevance(qrels, ids)
    rows = judge.query_rows()
    cols = [f"ndcg@{k}", f"map@{k}", f"recall@{k}"]
    if not rows:
        return pd.DataFrame(columns=cols)
    ranked_rows = top_k_neighbors(emb, k, rows=rows, block=512)
    out = []
    for q, ranked in zip(rows, ranked_rows):
        gains = judge.gains(q, ranked)
        ideal, n_relevant = judge.ideal(q, k)
        dcg = sum(g / math.log2(r + 2) for r, g in enumerate(gains))
        idcg = sum(g / math.log2(r + 2) for r, g in enumerate(ideal))
        hits, precisions = 0, []
        for r, g in enumerate(gains):
            if g > 0:
                hits += 1
                precisions.append(hits / (r + 1))
        out.append((dcg / idcg if idcg else 0.0, sum(precisions) / min(n_relevant, k), hits / n_relevant))
    return pd.DataFrame(out, index=pd.Index([ids[q] for q in rows], name="query"), columns=cols)
