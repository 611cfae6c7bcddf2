"""Does fine-tuning make recommendations better? Measured only on papers no model trained on,
with paired confidence intervals so that a gain is told from noise.

    ev = measure({"tfidf": "tfidf", "base": base, "fine-tuned": model}, papers, labels, corpus=fresh)
    ev.table             # one row per model
    ev.compare("base")   # each metric's paired difference to the base model: 95% CI, p, verdict
    save_report(ev, "report.json")   # + report.png, a bar chart

What is measured:
- pair agreement: Spearman/Pearson between the model's cosine and the test labels;
- category retrieval, labels not needed: the held-out papers (in no training or validation pair,
  never distilled) query each other, queries and candidates both unseen; the same on a fresh
  corpus (``fresh_*``); relevance is graded from arXiv's own categories, 2 = same primary
  category, 1 = another shared category (a cross-list) only (:mod:`.relevance`);
  nDCG@10 (graded gains), MAP@10 and Recall@10 (grade > 0 is relevant). Retrieval among a
  corpus the model trained on measures how well it reproduces its teacher on papers it has seen
  (it reported 2.5x the gain on new papers), so it is never shown;
- the same metrics on external judgments (``query_id, doc_id, grade``: human, citations, ...);
- a collapse check: the mean and spread of cosine between held-out papers of different fields.

A gain is the paired difference over the same queries (or test pairs): a percentile bootstrap
95% interval over 10,000 resamples and a two-sided sign-flip randomization p-value. An interval
that includes 0 is reported as "not significant".
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..artifacts import save_figure, write_text
from ..vectors.embed import embed_texts
from .relevance import CategoryRelevance, K, per_query
from .stats import paired_bootstrap, spearman_bootstrap

N_BOOT = 10_000


class CollapseWarning(UserWarning):
    """Embeddings squeezed together: everything looks similar to everything."""


def _is_tfidf(model) -> bool:
    return isinstance(model, str) and model == "tfidf"


def _rowwise_cos(a, b) -> np.ndarray:
    if hasattr(a, "multiply"):
        return np.asarray(a.multiply(b).sum(axis=1)).ravel()
    return np.einsum("ij,ij->i", a, b)


def trained_ids(labels: pd.DataFrame | None, papers: pd.DataFrame | None = None) -> set[str]:
    """The papers a model trained on through the labels: those of any train or validation pair.

    >>> len(trained_ids(labels))
    1493
    """
    if labels is None or "split" not in labels.columns:
        return set()
    seen = labels[labels["split"].isin(["train", "validation"])]
    if "id_a" in seen.columns:
        return set(seen["id_a"].astype(str)) | set(seen["id_b"].astype(str))
    if papers is None:
        return set()
    # labels without ids: their texts are the papers' own (one text recipe)
    texts = set(seen["text_a"]) | set(seen["text_b"])
    return set(papers.loc[papers["text"].isin(texts), "id"].astype(str))


def held_out_ids(papers: pd.DataFrame, labels: pd.DataFrame | None, seen: set[str] | frozenset = frozenset()) -> list[str]:
    """The papers no model trained on: in no train or validation pair, and not in ``seen`` (the
    papers fine-tuning learnt from otherwise, e.g. distilled ones).

    >>> held = held_out_ids(papers, labels, seen=result.distilled)
    """
    ids = papers["id"].astype(str)
    out = trained_ids(labels, papers) | set(map(str, seen))
    return ids[~ids.isin(out)].tolist()


# ---- one evaluation, many models -------------------------------------------------------------------
@dataclass
class Evaluation:
    """The metrics of several models on the same held-out data, with what paired tests need."""

    table: pd.DataFrame  # one row per model
    per_query: dict[str, dict[str, pd.DataFrame]] = field(default_factory=dict)  # view -> model -> per query
    pair_cos: dict[str, np.ndarray] = field(default_factory=dict)  # model -> cosine per test pair
    pair_labels: np.ndarray | None = None

    def merge(self, other: Evaluation) -> Evaluation:
        """This evaluation and another of more models on the same data, as one."""
        per = {v: {**self.per_query.get(v, {}), **other.per_query.get(v, {})}
               for v in {*self.per_query, *other.per_query}}
        labels = self.pair_labels if self.pair_labels is not None else other.pair_labels
        return Evaluation(pd.concat([self.table, other.table]), per, {**self.pair_cos, **other.pair_cos}, labels)

    def compare(self, reference: str = "base", models=None, n_boot: int = N_BOOT, seed: int = 0) -> pd.DataFrame:
        """Each model's paired difference to ``reference`` on every metric: the difference, its
        bootstrap 95% interval, a randomization p-value and the verdict.

        >>> ev.compare("base")
        """

        models = [m for m in (models or self.table.index) if m != reference]
        rows = []
        for m in models:
            if m in self.pair_cos and reference in self.pair_cos and self.pair_labels is not None:
                rows.append({"model": m, "against": reference, "metric": "spearman",
                             **spearman_bootstrap(self.pair_cos[reference], self.pair_cos[m], self.pair_labels,
                                                  n_boot, seed)})
            for view, per in self.per_query.items():
                if m not in per or reference not in per:
                    continue
                a, b = per[reference].align(per[m], join="inner", axis=0)
                for col in a.columns:
                    rows.append({"model": m, "against": reference, "metric": f"{view}_{col}",
                                 **paired_bootstrap(a[col].to_numpy(float), b[col].to_numpy(float), n_boot, seed)})
        return pd.DataFrame(rows)

    def _repr_html_(self) -> str:
        return self.table._repr_html_()


def measure(models: Mapping[str, object], papers: pd.DataFrame | None = None, labels: pd.DataFrame | None = None,
            qrels: Mapping[str, Mapping[str, int]] | None = None, k: int = K, reference: str | None = None,
            progress: bool = False, corpus: pd.DataFrame | None = None,
            seen: set[str] | frozenset = frozenset(), cache: bool = False) -> Evaluation:
    """Evaluate each model (a SentenceTransformer or "tfidf") on the same unseen data.

    Views, each only on papers no model trained on (in no train or validation pair of ``labels``
    and not in ``seen``, e.g. the papers fine-tuning distilled):
    - ``spearman``: agreement with the test pairs' labels;
    - ``category_*``: the held-out papers of ``papers`` retrieve among themselves (queries and
      candidates both unseen), graded by arXiv categories;
    - ``fresh_*``: the same on ``corpus``, any other papers (a later month, another sample; a
      paper of it that was trained on is left out); ``fresh_primary_*`` the same under a stricter
      relevance, the same primary category only (binary), so a model cannot look better on one alone;
    - ``qrels_*``: external judgments, among the held-out papers.
    Each model encodes every text once. Warns (CollapseWarning) when a model's cosine spread
    between unrelated papers falls below half of ``reference``'s (default: the first model that is
    not TF-IDF). ``cache``: keep and reuse each model's vectors (worth it for models measured
    again and again, as a benchmark's base and teacher are).

    >>> ev = measure({"tfidf": "tfidf", "base": base, "fine-tuned": model}, papers, labels, corpus=fresh)
    """
    test = labels[labels["split"] == "test"] if labels is not None and "split" in labels.columns else labels
    out = trained_ids(labels, papers) | set(map(str, seen))
    views: dict[str, pd.DataFrame] = {}
    if papers is not None:
        views["category"] = papers[~papers["id"].astype(str).isin(out)].reset_index(drop=True)
    if corpus is not None:
        views["fresh"] = corpus[~corpus["id"].astype(str).isin(out)].drop_duplicates("id").reset_index(drop=True)
    judges = {v: CategoryRelevance(df) for v, df in views.items()}
    if "fresh" in views:  # the stricter relevance beside it: the same primary category only, binary
        judges["fresh_primary"] = CategoryRelevance(views["fresh"], graded=False)
    texts: list[str] = []
    row_of: dict[str, int] = {}
    for t in [t for df in views.values() for t in df["text"]] + (
            pd.concat([test["text_a"], test["text_b"]]).tolist() if test is not None and len(test) else []):
        if t not in row_of:
            row_of[t] = len(texts)
            texts.append(t)
    names = list(views) + (["fresh_primary"] if "fresh" in views else []) + (
        ["qrels"] if qrels is not None and "category" in views else [])
    ev = Evaluation(pd.DataFrame(), {v: {} for v in names},
                    pair_labels=test["score"].to_numpy(float) if test is not None and len(test) else None)
    rows = []
    for name, model in models.items():
        emb = embed_texts(model, texts, progress=progress, cache=cache) if texts else None
        row: dict[str, object] = {"model": name}
        if test is not None and len(test):
            cos = _rowwise_cos(emb[[row_of[t] for t in test["text_a"]]], emb[[row_of[t] for t in test["text_b"]]])
            ev.pair_cos[name] = cos
            row.update(_agreement(cos, ev.pair_labels))
        for view, df in views.items():
            sub = emb[[row_of[t] for t in df["text"]]]
            ids = df["id"].astype(str).tolist()
            for judged in [view] + (["fresh_primary"] if view == "fresh" else []):
                per = per_query(sub, ids, judges[judged], k)
                ev.per_query[judged][name] = per
                row.update({f"{judged}_{c}": float(per[c].mean()) if len(per) else float("nan") for c in per.columns})
                row[f"{judged}_queries"] = len(per)
            if view == "category":
                row.update(_unrelated(sub, df))
                if qrels is not None:
                    per = per_query(sub, ids, qrels, k)
                    ev.per_query["qrels"][name] = per
                    row.update({f"qrels_{c}": float(per[c].mean()) if len(per) else float("nan") for c in per.columns})
                    row["qrels_queries"] = len(per)
        rows.append(row)
    ev.table = pd.DataFrame(rows).set_index("model")
    warn_collapse(ev.table, models, reference)
    return ev


def evaluate_models(models: Mapping[str, object], papers: pd.DataFrame | None = None, labels: pd.DataFrame | None = None,
                    qrels: Mapping[str, Mapping[str, int]] | None = None, k: int = K, reference: str | None = None) -> pd.DataFrame:
    """The table of :func:`measure` (one row per model), for a quick look.

    >>> evaluate_models({"tfidf": "tfidf", "base": base_model, "fine-tuned": model}, papers, labels)
    """
    return measure(models, papers, labels, qrels, k, reference).table


def _agreement(cos: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    from scipy.stats import pearsonr, spearmanr

    if len(cos) < 3 or np.std(cos) == 0 or np.std(labels) == 0:
        return {"spearman": float("nan"), "pearson": float("nan"), "test_pairs": len(cos)}
    return {"spearman": float(spearmanr(cos, labels).statistic), "pearson": float(pearsonr(cos, labels).statistic),
            "test_pairs": len(cos)}


def _unrelated(emb, papers: pd.DataFrame, n: int = 2000, seed: int = 0) -> dict[str, float]:
    """Mean and spread of cosine over random pairs of ``papers`` (rows of ``emb``) with different
    primary categories: a collapsed model has a high mean and a small spread."""
    rows = np.arange(len(papers))
    if len(rows) < 2:
        return {"unrelated_cos_mean": float("nan"), "unrelated_cos_std": float("nan")}
    rng = np.random.default_rng(seed)
    i, j = rows[rng.integers(0, len(rows), n)], rows[rng.integers(0, len(rows), n)]
    prim = papers["primary_category"].to_numpy()
    keep = (i != j) & (prim[i] != prim[j])
    cos = _rowwise_cos(emb[i[keep]], emb[j[keep]])
    return {"unrelated_cos_mean": float(np.mean(cos)), "unrelated_cos_std": float(np.std(cos))}


def warn_collapse(table: pd.DataFrame, models: Mapping[str, object], reference: str | None) -> None:
    """Warn (CollapseWarning) for each model whose cosine spread between unrelated papers is under
    half of ``reference``'s (default: the first model that is not TF-IDF)."""
    if "unrelated_cos_std" not in table.columns:
        return
    ref = reference or next((n for n, m in models.items() if not _is_tfidf(m)), None)
    if ref is None or ref not in table.index:
        return
    floor = 0.5 * table.loc[ref, "unrelated_cos_std"]
    for name, model in models.items():
        if _is_tfidf(model):
            continue  # sparse TF-IDF vectors are near-orthogonal by nature: not a collapse
        if name != ref and table.loc[name, "unrelated_cos_std"] < floor:
            warnings.warn(
                f"{name}: the cosine spread between unrelated papers fell to {table.loc[name, 'unrelated_cos_std']:.3f} "
                f"(from {table.loc[ref, 'unrelated_cos_std']:.3f} for {ref}): embeddings are collapsing. A pair loss "
                "on mostly unrelated pairs does this: sample anchored pairs, or keep the default objectives.",
                CollapseWarning, stacklevel=3)


def side_by_side(papers: pd.DataFrame, models: dict, paper_ids: Sequence[str], k: int = 5) -> pd.DataFrame:
    """For each query paper, the top-k titles each model recommends, in adjacent columns.

    >>> side_by_side(papers, {"base": base, "fine-tuned": model}, ["2401.01234"], k=5)
    """
    from ..index.paper_index import PaperIndex

    indexes = {name: PaperIndex.build(m, papers, show_progress=False) for name, m in models.items()}
    rows = []
    by_id = papers.drop_duplicates("id").set_index("id")
    for pid in paper_ids:
        hits = {name: ix.similar(pid, k=k) for name, ix in indexes.items()}
        for rank in range(k):
            row = {"query": by_id.loc[pid, "title"][:60] if rank == 0 else "", "rank": rank + 1}
            for name, df in hits.items():
                row[name] = f"{df['title'].iloc[rank][:55]} [{df['category'].iloc[rank]}]" if rank < len(df) else ""
            rows.append(row)
    return pd.DataFrame(rows)


# ---- reports -------------------------------------------------------------------------------------
MAIN_METRICS = ("spearman", "category_ndcg@", "category_map@", "category_recall@", "qrels_ndcg@", "qrels_map@")


def format_comparison(comparison: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """A comparison as people read it: value vs reference, difference [95% CI], verdict.

    >>> print(format_comparison(ev.compare("base")).to_string(index=False))
    """
    if comparison.empty:
        return comparison
    f = f"{{:+.{digits}f}}"
    return pd.DataFrame({
        "model": comparison["model"], "against": comparison.get("against", ""), "metric": comparison["metric"],
        "reference": comparison["reference"].round(digits), "value": comparison["value"].round(digits),
        "difference [95% CI]": [f"{f.format(d)} [{f.format(lo)}, {f.format(hi)}]"
                                for d, lo, hi in zip(comparison["diff"], comparison["ci_low"], comparison["ci_high"])],
        "p": comparison["p"].map(lambda p: f"{p:.3f}" if p >= 0.001 else "<0.001"),
        "verdict": comparison["verdict"],
    })


def save_report(evaluation: Evaluation | pd.DataFrame, out: str | Path, title: str = "arxiv-reco evaluation",
                reference: str | None = None) -> tuple[Path, Path]:
    """Write the table (and, for an Evaluation, the comparison to ``reference``) as JSON and a
    bar chart of the main metrics as PNG beside it; both replaced atomically."""
    from matplotlib.figure import Figure  # no pyplot: no backend to pick, fine headless and inline


    table = evaluation.table if isinstance(evaluation, Evaluation) else evaluation
    report = {"models": json.loads(table.reset_index().to_json(orient="records"))}
    if isinstance(evaluation, Evaluation) and reference in table.index:
        report["compared_to"] = reference
        report["comparison"] = json.loads(evaluation.compare(reference).to_json(orient="records"))
    out = Path(out)
    write_text(out, json.dumps(report, indent=2))
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
