"""Does fine-tuning make recommendations better? Measured on papers the model never trained on.

    report = evaluate_models({"tfidf": "tfidf", "base": base, "fine-tuned": model}, papers, labels)
    save_report(report, "report.json")          # + report.png, a bar chart

Three views, one tidy table:
- pair agreement: Spearman/Pearson between the model's cosine and the held-out labels;
- recommendation quality without labels: each held-out paper queries the held-out corpus;
  a result is relevant when it shares the query's primary category (see
  :func:`category_qrels`); nDCG@10, MAP@10, Recall@10;
- the same metrics on any external judgments (``query_id, doc_id, grade`` TSV: human,
  citations, ...);
and a collapse check: the mean and spread of cosine between random unrelated papers.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

K = 10


class CollapseWarning(UserWarning):
    """Embeddings squeezed together: everything looks similar to everything."""


# ---- scoring functions: a model or TF-IDF behind one interface ------------------------------------
def embed(model, texts: list[str], batch_size: int = 64) -> np.ndarray:
    """L2-normalised embeddings; ``model`` is a SentenceTransformer or "tfidf" (sparse rows)."""
    if isinstance(model, str) and model == "tfidf":
        from .pairs import tfidf_matrix

        return tfidf_matrix(texts)
    return model.encode(list(texts), batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
                        show_progress_bar=False)


def _rowwise_cos(a, b) -> np.ndarray:
    if hasattr(a, "multiply"):
        return np.asarray(a.multiply(b).sum(axis=1)).ravel()
    return np.einsum("ij,ij->i", a, b)


def _sim_matrix(emb) -> np.ndarray:
    sims = emb @ emb.T
    return sims.toarray() if hasattr(sims, "toarray") else np.asarray(sims)


# ---- pair agreement ------------------------------------------------------------------------------
def pair_agreement(model, labels: pd.DataFrame) -> dict[str, float]:
    """Spearman and Pearson between cosine(text_a, text_b) and the label score."""
    from scipy.stats import pearsonr, spearmanr

    texts = pd.unique(pd.concat([labels["text_a"], labels["text_b"]]))
    index = {t: i for i, t in enumerate(texts)}
    emb = embed(model, list(texts))  # TF-IDF must see both sides in one vocabulary
    ia = [index[t] for t in labels["text_a"]]
    ib = [index[t] for t in labels["text_b"]]
    cos = _rowwise_cos(emb[ia], emb[ib])
    if len(labels) < 3 or np.std(cos) == 0 or labels["score"].std() == 0:
        return {"spearman": float("nan"), "pearson": float("nan"), "pairs": len(labels)}
    return {"spearman": float(spearmanr(cos, labels["score"]).statistic),
            "pearson": float(pearsonr(cos, labels["score"]).statistic), "pairs": len(labels)}


# ---- retrieval -----------------------------------------------------------------------------------
def category_qrels(papers: pd.DataFrame) -> dict[str, dict[str, int]]:
    """Relevance without labels, precisely: for a query paper q, a document d != q of the same
    corpus is relevant (grade 1) iff d's primary category equals q's; every other document has
    grade 0. Queries whose category has no other paper in the corpus are left out (nothing
    to find)."""
    groups = papers.groupby("primary_category")["id"].apply(list)
    qrels: dict[str, dict[str, int]] = {}
    for ids in groups:
        if len(ids) < 2:
            continue
        for q in ids:
            qrels[q] = {d: 1 for d in ids if d != q}
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


def retrieval_metrics(model, papers: pd.DataFrame, qrels: Mapping[str, Mapping[str, int]], k: int = K) -> dict[str, float]:
    """nDCG@k, MAP@k and Recall@k of ranking ``papers`` for each judged query in ``papers``.

    The query itself is never a result. nDCG uses the grade as gain; MAP and Recall count a
    document with grade > 0 as relevant; each is averaged over queries with a relevant doc
    in the corpus. Judged documents missing from the corpus count as unretrievable relevants.
    """
    ids = papers["id"].tolist()
    pos = {pid: i for i, pid in enumerate(ids)}
    queries = [q for q in qrels if q in pos and any(g > 0 for g in qrels[q].values())]
    if not queries:
        return {f"ndcg@{k}": float("nan"), f"map@{k}": float("nan"), f"recall@{k}": float("nan"), "queries": 0}
    from .pairs import top_k_neighbors

    emb = embed(model, papers["text"].tolist())
    ranked_rows = top_k_neighbors(emb, k, rows=[pos[q] for q in queries], block=512)  # the query is never a result
    ndcg, ap, rec = [], [], []
    for q, ranked in zip(queries, ranked_rows):
        judged = qrels[q]
        gains = [judged.get(ids[i], 0) for i in ranked]
        ideal = sorted((g for d, g in judged.items() if d != q and g > 0), reverse=True)
        dcg = sum(g / math.log2(r + 2) for r, g in enumerate(gains))
        idcg = sum(g / math.log2(r + 2) for r, g in enumerate(ideal[:k]))
        ndcg.append(dcg / idcg if idcg else 0.0)
        hits, precisions = 0, []
        for r, g in enumerate(gains):
            if g > 0:
                hits += 1
                precisions.append(hits / (r + 1))
        ap.append(sum(precisions) / min(len(ideal), k))
        rec.append(hits / len(ideal))
    return {f"ndcg@{k}": float(np.mean(ndcg)), f"map@{k}": float(np.mean(ap)), f"recall@{k}": float(np.mean(rec)),
            "queries": len(queries)}


def unrelated_cosine(model, papers: pd.DataFrame, n: int = 2000, seed: int = 0) -> dict[str, float]:
    """Mean and standard deviation of cosine over random pairs with different primary
    categories: a collapsed model has a high mean and a small spread."""
    rng = np.random.default_rng(seed)
    m = len(papers)
    if m < 2:
        return {"unrelated_cos_mean": float("nan"), "unrelated_cos_std": float("nan")}
    i, j = rng.integers(0, m, n), rng.integers(0, m, n)
    prim = papers["primary_category"].to_numpy()
    keep = (i != j) & (prim[i] != prim[j])
    emb = embed(model, papers["text"].tolist())
    cos = _rowwise_cos(emb[i[keep]], emb[j[keep]])
    return {"unrelated_cos_mean": float(np.mean(cos)), "unrelated_cos_std": float(np.std(cos))}


# ---- everything in one table -----------------------------------------------------------------------
def held_out_papers(papers: pd.DataFrame, labels: pd.DataFrame | None) -> pd.DataFrame:
    """The papers no model trained on: all of ``papers`` minus those in train/validation pairs."""
    if labels is None or "split" not in labels.columns:
        return papers.reset_index(drop=True)
    seen = labels[labels["split"].isin(["train", "validation"])]
    trained = set(seen["id_a"]) | set(seen["id_b"]) if "id_a" in seen.columns else set()
    return papers[~papers["id"].isin(trained)].reset_index(drop=True)


def evaluate_models(models: Mapping[str, object], papers: pd.DataFrame | None = None, labels: pd.DataFrame | None = None,
             qrels: Mapping[str, Mapping[str, int]] | None = None, k: int = K, reference: str | None = None) -> pd.DataFrame:
    """One row per model: pair agreement on the test labels, category retrieval on held-out
    papers, external judgments (if given), and the collapse check.

    ``models`` maps a name to a SentenceTransformer or "tfidf". Warns (CollapseWarning) when a
    model's unrelated-pair spread falls below half of ``reference``'s (default: the first model
    that is not TF-IDF).

    >>> evaluate_models({"tfidf": "tfidf", "base": base_model, "fine-tuned": model}, papers, labels)
    """
    test = labels[labels["split"] == "test"] if labels is not None and "split" in labels.columns else labels
    corpus = held_out_papers(papers, labels) if papers is not None else None
    cat_qrels = category_qrels(corpus) if corpus is not None else None
    rows = []
    for name, model in models.items():
        row: dict[str, object] = {"model": name}
        if test is not None and len(test):
            row.update({"test_pairs" if k2 == "pairs" else k2: v for k2, v in pair_agreement(model, test).items()})
        if corpus is not None and len(corpus) > 1:
            row.update({f"category_{m}": v for m, v in retrieval_metrics(model, corpus, cat_qrels, k).items()})
            row.update(unrelated_cosine(model, corpus))
        if qrels is not None and papers is not None:
            row.update({f"qrels_{m}": v for m, v in retrieval_metrics(model, papers, qrels, k).items()})
        rows.append(row)
    table = pd.DataFrame(rows).set_index("model")
    if "unrelated_cos_std" in table.columns:
        ref = reference or next((n for n, m in models.items() if not (isinstance(m, str) and m == "tfidf")), None)
        if ref is not None:
            floor = 0.5 * table.loc[ref, "unrelated_cos_std"]
            for name, model in models.items():
                if isinstance(model, str) and model == "tfidf":
                    continue  # sparse TF-IDF vectors are near-orthogonal by nature: not a collapse
                if name != ref and table.loc[name, "unrelated_cos_std"] < floor:
                    warnings.warn(
                        f"{name}: the cosine spread between unrelated papers fell to "
                        f"{table.loc[name, 'unrelated_cos_std']:.3f} (from {table.loc[ref, 'unrelated_cos_std']:.3f} "
                        f"for {ref}): embeddings are collapsing. Use loss='cosent' or fewer random pairs.",
                        CollapseWarning, stacklevel=2)
    return table


MAIN_METRICS = ("spearman", "category_ndcg@", "category_map@", "category_recall@", "qrels_ndcg@", "qrels_map@")


def save_report(table: pd.DataFrame, out: str | Path, title: str = "arxiv-reco evaluation") -> tuple[Path, Path]:
    """Write the table as JSON and a bar chart of the main metrics as PNG beside it."""
    from matplotlib.figure import Figure  # no pyplot: no backend to pick, fine headless and inline

    from .artifacts import save_figure, write_text

    out = Path(out)
    write_text(out, json.dumps(json.loads(table.reset_index().to_json(orient="records")), indent=2))
    cols = [c for m in MAIN_METRICS for c in table.columns if c == m or (m.endswith("@") and c.startswith(m))]
    png = out.with_suffix(".png")
    fig = Figure(figsize=(1.8 + 1.6 * len(cols), 3.6))
    ax = fig.subplots()
    table[cols].T.plot.bar(ax=ax, rot=0)
    ax.set_title(title)
    ax.set_ylabel("score (higher is better)")
    ax.legend(loc="upper left", bbox_to_anchor=(1, 1), fontsize=8)
    fig.tight_layout()
    save_figure(fig, png)
    return out, png
