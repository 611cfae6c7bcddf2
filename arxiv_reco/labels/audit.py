"""Labels against a person: do a labeller's scores mean what *you* mean by "related"?

    report = audit_labels(read_ratings("my_ratings.csv"), labellers_in("labels.sqlite"), pairs, planned=3000)
    print(report)            # Spearman and Kendall [95% CI], weighted kappa, cost at the planned size
    report.confusion["gemini-2.5-flash"]; report.disagreements["gemini-2.5-flash"]
    report.plot()            # agreement (with its interval) against what labelling costs

The check research on LLM relevance judgments makes before trusting them (DORIS-MAE; the TREC
studies of LLM assessors), for one user and their own pairs: each labeller's scores on the pairs
the person rated, as rank correlations with bootstrap 95% intervals (pairs resampled), a
quadratic-weighted Cohen's kappa over the rubric's anchors (how often they land on the same
anchor, near misses counting partly), the confusion table, and the ten pairs they disagree on
most. Two labellers are compared on the same pairs (paired bootstrap of the difference in
Spearman: "not significant" when the interval holds 0). What labelling the planned number of
pairs costs with each (Gemini's list prices, online or batch; a local teacher costs nothing) puts
agreement per dollar beside it. Labels are good enough to train on when their agreement with you
is not below the offline teacher's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..training.stats import N_BOOT, spearman_bootstrap
from .labeling import label_config, plan_labeling
from .prompts import ANCHORS
from .store import LabelStore

SHOWN = 10  # disagreements listed per labeller


def anchor_of(scores) -> np.ndarray:
    """The index of the rubric anchor nearest each score (0 = "0.0" ... 6 = "1.0")."""
    values = np.array([v for _, v, _ in ANCHORS])
    return np.abs(np.asarray(scores, dtype=float)[:, None] - values[None, :]).argmin(axis=1)


def labellers_in(store, pairs: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """{"model" (or "model @ prompt version" when a model has several): its scores (pair_id,
    score)} for every (model, prompt version) the label store holds.

    >>> labellers_in("labels.sqlite").keys()
    dict_keys(['gemini-2.5-flash', 'gemini-2.5-flash-lite', 'sentence-transformers/all-mpnet-base-v2'])
    """

    st = store if isinstance(store, LabelStore) else LabelStore(store)
    versions = st.versions()
    several = {m for m, _, _ in versions if sum(1 for m2, _, _ in versions if m2 == m) > 1}
    out = {}
    for model, version, _ in versions:
        scores = st.scores(model, version)[["pair_id", "score", "labeler"]]
        if pairs is not None:
            scores = scores[scores["pair_id"].isin(set(pairs["pair_id"]))]
        out[f"{model} @ {version}" if model in several else model] = scores
    return out


@dataclass
class Audit:
    """What :func:`audit_labels` found; ``str()`` is its report."""

    table: pd.DataFrame  # one row per labeller
    confusion: dict[str, pd.DataFrame] = field(default_factory=dict)
    disagreements: dict[str, pd.DataFrame] = field(default_factory=dict)
    comparisons: pd.DataFrame = field(default_factory=pd.DataFrame)  # pairs of labellers: Spearman difference
    planned: int = 0
    batch: bool = True

    def __str__(self) -> str:
        lines = []
        for name, r in self.table.iterrows():
            cost = "free (local)" if r["cost_usd"] == 0 else ("no price" if pd.isna(r["cost_usd"])
                                                               else f"${r['cost_usd']:,.2f}")
            lines.append(f"{name}: {int(r['pairs'])} pairs; Spearman {r['spearman']:.2f} "
                         f"[{r['spearman_low']:.2f}, {r['spearman_high']:.2f}], Kendall {r['kendall']:.2f} "
                         f"[{r['kendall_low']:.2f}, {r['kendall_high']:.2f}], weighted kappa {r['kappa']:.2f}; "
                         f"{self.planned:,} pairs cost {cost}"
                         + (f" ({'batch' if self.batch else 'online'}), Spearman {r['spearman_per_usd']:.2f} per $"
                            if r["cost_usd"] and not pd.isna(r["cost_usd"]) else ""))
        for _, c in self.comparisons.iterrows():
            lines.append(f"{c['b']} minus {c['a']}: Spearman {c['diff']:+.2f} [{c['ci_low']:+.2f}, {c['ci_high']:+.2f}]"
                         f" ({c['verdict']})")
        if "teacher" in self.table.columns and self.table["teacher"].any():
            best_teacher = self.table.loc[self.table["teacher"], "spearman"].max()
            ok = self.table.index[~self.table["teacher"] & (self.table["spearman_high"] >= best_teacher)]
            lines.append("good enough to train on (agreement with you not below the offline teacher's): "
                         + (", ".join(ok) if len(ok) else "none; reword the rubric (a new prompt_version) and "
                                                          "label the same pairs again"))
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return f"<pre>{self}</pre>" + self.table.round(3).to_html()

    def plot(self, ax=None):
        """Agreement (Spearman with its 95% interval) against the cost of the planned labelling."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6.4, 4))
        t = self.table
        cost = t["cost_usd"].fillna(0)
        ax.errorbar(cost, t["spearman"], yerr=[t["spearman"] - t["spearman_low"], t["spearman_high"] - t["spearman"]],
                    fmt="o", capsize=4)
        for name, x, y in zip(t.index, cost, t["spearman"]):
            ax.annotate(name.split("/")[-1], (x, y), textcoords="offset points", xytext=(6, 4), fontsize=8)
        ax.set_xlabel(f"cost of labelling {self.planned:,} pairs, USD ({'batch' if self.batch else 'online'})")
        ax.set_ylabel("Spearman with your ratings (95% CI)")
        ax.set_title("Agreement with you, against cost")
        ax.grid(alpha=0.3)
        return ax


def audit_labels(ratings: pd.DataFrame, labellers: Mapping[str, pd.DataFrame], pairs: pd.DataFrame | None = None,
                 planned: int | None = None, batch: bool = True, settings=None, n_boot: int = N_BOOT,
                 seed: int = 0) -> Audit:
    """Each labeller's scores (pair_id, score) against the person's ``ratings`` (pair_id, rating) on
    the pairs both have; ``pairs`` (pairs.csv) gives the titles of the disagreements and the cost of
    labelling ``planned`` of them (default: all of them) with each Gemini model.

    >>> audit_labels(read_ratings("my_ratings.csv"), labellers_in("labels.sqlite"), read_pairs("pairs.csv"))
    """
    if not len(ratings):
        raise ValueError("no ratings yet: rate a few pairs first (arxiv-reco rate, or the rater in notebook 01)")
    if not labellers:
        raise ValueError("no labels to audit: label the pairs first (arxiv-reco label)")
    person = ratings.drop_duplicates("pair_id", keep="last").set_index("pair_id")["rating"].astype(float)
    planned = planned if planned is not None else (len(pairs) if pairs is not None else len(person))
    rows, aligned = [], {}
    for name, scores in labellers.items():
        s = scores.drop_duplicates("pair_id", keep="last").set_index("pair_id")["score"].astype(float)
        common = person.index.intersection(s.index)
        if len(common) < 3:
            continue
        y, x = person.loc[common].to_numpy(), s.loc[common].to_numpy()
        aligned[name] = (common, x, y)
        rho, rho_ci = _bootstrap(x, y, "spearman", n_boot, seed)
        tau, tau_ci = _bootstrap(x, y, "kendall", n_boot, seed)
        usd = _cost(name, scores, pairs, planned, batch, settings)
        teacher = bool(len(scores) and "labeler" in scores and (scores["labeler"] == "teacher").all())
        rows.append({"labeller": name, "pairs": len(common), "spearman": rho, "spearman_low": rho_ci[0],
                     "spearman_high": rho_ci[1], "kendall": tau, "kendall_low": tau_ci[0], "kendall_high": tau_ci[1],
                     "kappa": _kappa(anchor_of(y), anchor_of(x)), "cost_usd": usd, "teacher": teacher,
                     "spearman_per_usd": rho / usd if usd else np.nan})
    if not rows:
        raise ValueError("no labeller has scores for 3 or more of the rated pairs: label the pairs you rated "
                         "(they are in pairs.csv) with each labeller to audit")
    audit = Audit(pd.DataFrame(rows).set_index("labeller"), planned=planned, batch=batch)
    titles = _titles(pairs)
    anchors = [label for label, _, _ in ANCHORS]
    for name, (common, x, y) in aligned.items():
        conf = pd.crosstab(pd.Categorical(np.array(anchors)[anchor_of(y)], anchors),
                           pd.Categorical(np.array(anchors)[anchor_of(x)], anchors), dropna=False)
        conf.index.name, conf.columns.name = "you", name
        audit.confusion[name] = conf
        gap = np.abs(x - y)
        worst = np.argsort(-gap, kind="stable")[:SHOWN]
        audit.disagreements[name] = pd.DataFrame({
            "pair_id": common[worst], "you": y[worst], name: x[worst],
            "title_a": [titles.get(p, ("", ""))[0] for p in common[worst]],
            "title_b": [titles.get(p, ("", ""))[1] for p in common[worst]]})
    audit.comparisons = _compare(aligned, person, n_boot, seed)
    return audit


def _bootstrap(x: np.ndarray, y: np.ndarray, kind: str, n_boot: int, seed: int) -> tuple[float, tuple[float, float]]:
    from scipy.stats import kendalltau, spearmanr

    fn = (lambda a, b: spearmanr(a, b).statistic) if kind == "spearman" else (lambda a, b: kendalltau(a, b).statistic)
    value = float(fn(x, y))
    rng = np.random.default_rng(seed)
    n = len(x)
    boots = []
    for _ in range(min(n_boot, 2000)):  # rank statistics per draw: 2,000 draws hold the interval to ~0.01
        i = rng.integers(0, n, n)
        if np.ptp(x[i]) and np.ptp(y[i]):
            boots.append(fn(x[i], y[i]))
    lo, hi = (np.nanquantile(boots, [0.025, 0.975]) if boots else (np.nan, np.nan))
    return value, (float(lo), float(hi))


def _kappa(a: np.ndarray, b: np.ndarray) -> float:
    """Cohen's kappa, quadratic weights over the anchors (scikit-learn's)."""
    from sklearn.metrics import cohen_kappa_score

    if len(set(a)) < 2 and len(set(b)) < 2:
        return float("nan")
    return float(cohen_kappa_score(a, b, weights="quadratic", labels=list(range(len(ANCHORS)))))


def _compare(aligned: dict, person: pd.Series, n_boot: int, seed: int) -> pd.DataFrame:
    """Each pair of labellers on the pairs both scored: Spearman difference, paired bootstrap."""
    names = list(aligned)
    rows = []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            common = aligned[a][0].intersection(aligned[b][0])
            if len(common) < 3:
                continue
            sa = pd.Series(aligned[a][1], index=aligned[a][0]).loc[common].to_numpy()
            sb = pd.Series(aligned[b][1], index=aligned[b][0]).loc[common].to_numpy()
            d = spearman_bootstrap(sa, sb, person.loc[common].to_numpy(), n_boot=min(n_boot, 2000), seed=seed)
            rows.append({"a": a, "b": b, **d})
    return pd.DataFrame(rows)


def _titles(pairs: pd.DataFrame | None) -> dict[str, tuple[str, str]]:
    if pairs is None or "title_a" not in pairs:
        return {}
    return dict(zip(pairs["pair_id"], zip(pairs["title_a"], pairs["title_b"])))


def _cost(name: str, scores: pd.DataFrame, pairs: pd.DataFrame | None, planned: int, batch: bool,
          settings) -> float | None:
    """USD to label ``planned`` pairs with this labeller: 0 for a local teacher, the dry run's
    estimate for a Gemini model (None when it has no price, or without the pairs)."""
    if len(scores) and "labeler" in scores and (scores["labeler"] != "gemini").all():
        return 0.0
    if pairs is None or not len(pairs):
        return None

    model = name.split(" @ ")[0]
    sample = pairs.sample(min(len(pairs), 200), random_state=0)  # the estimate per pair, scaled
    try:
        plan = plan_labeling(sample, config=label_config(settings, model=model))
    except ValueError:
        return None
    usd = plan["batch_cost_usd" if batch else "cost_usd"]
    return None if usd is None else usd * planned / len(sample)
