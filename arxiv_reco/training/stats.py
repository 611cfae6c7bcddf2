"""Paired comparisons: is model B better than model A on the same queries, or is it noise?

    paired_bootstrap(ndcg_base, ndcg_finetuned)
    # {'reference': 0.291, 'value': 0.318, 'diff': 0.027, 'ci_low': 0.011, 'ci_high': 0.043, 'p': 0.001,
    #  'verdict': 'better'}

The interval is the percentile bootstrap of the mean paired difference (queries resampled with
replacement); the p-value is a two-sided sign-flip randomization test of "no difference" (under
the null, each query's difference is as likely negative as positive). Both resample the same
queries for both models, which is what makes them paired.
"""

from __future__ import annotations

import numpy as np

N_BOOT = 10_000
ALPHA = 0.05


def _verdict(lo: float, hi: float) -> str:
    if lo > 0:
        return "better"
    if hi < 0:
        return "worse"
    return "not significant"


def paired_bootstrap(a: np.ndarray, b: np.ndarray, n_boot: int = N_BOOT, seed: int = 0) -> dict:
    """Mean of ``b - a`` over paired observations, its 95% bootstrap interval and a
    randomization p-value.

    >>> paired_bootstrap(per_query["base"], per_query["fine-tuned"])["verdict"]
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    keep = np.isfinite(a) & np.isfinite(b)
    a, b = a[keep], b[keep]
    n = len(a)
    if n == 0:
        return {"reference": np.nan, "value": np.nan, "diff": np.nan, "ci_low": np.nan, "ci_high": np.nan,
                "p": np.nan, "n": 0, "verdict": "no data"}
    d = b - a
    rng = np.random.default_rng(seed)
    means = np.empty(n_boot)
    signs_mean = np.empty(n_boot)
    for start in range(0, n_boot, 1000):  # blocks keep memory at 1000 x n
        m = min(1000, n_boot - start)
        means[start : start + m] = d[rng.integers(0, n, size=(m, n))].mean(axis=1)
        signs_mean[start : start + m] = (d * rng.choice((-1.0, 1.0), size=(m, n))).mean(axis=1)
    lo, hi = np.quantile(means, [ALPHA / 2, 1 - ALPHA / 2])
    p = (np.sum(np.abs(signs_mean) >= abs(d.mean()) - 1e-12) + 1) / (n_boot + 1)
    return {"reference": float(a.mean()), "value": float(b.mean()), "diff": float(d.mean()), "ci_low": float(lo),
            "ci_high": float(hi), "p": float(p), "n": n, "verdict": _verdict(lo, hi)}


def _spearman_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman's rho of each row pair (average ranks for ties, as scipy does)."""
    from scipy.stats import rankdata

    rx, ry = rankdata(x, axis=1), rankdata(y, axis=1)
    rx -= rx.mean(axis=1, keepdims=True)
    ry -= ry.mean(axis=1, keepdims=True)
    den = np.sqrt((rx * rx).sum(axis=1) * (ry * ry).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return (rx * ry).sum(axis=1) / den


def spearman_bootstrap(cos_a: np.ndarray, cos_b: np.ndarray, labels: np.ndarray, n_boot: int = N_BOOT,
                       seed: int = 0) -> dict:
    """Spearman (model cosine vs label) of model B minus model A on the same test pairs, with a
    paired bootstrap 95% interval (pairs resampled together) and a randomization p-value
    (each pair's two cosines swapped between the models at random)."""
    cos_a, cos_b, labels = (np.asarray(v, dtype=float) for v in (cos_a, cos_b, labels))
    n = len(labels)
    if n < 3:
        return {"reference": np.nan, "value": np.nan, "diff": np.nan, "ci_low": np.nan, "ci_high": np.nan,
                "p": np.nan, "n": n, "verdict": "no data"}
    ra, rb = (_spearman_rows(c[None, :], labels[None, :])[0] for c in (cos_a, cos_b))
    rng = np.random.default_rng(seed)
    diffs, null = np.empty(n_boot), np.empty(n_boot)
    for start in range(0, n_boot, 500):
        m = min(500, n_boot - start)
        idx = rng.integers(0, n, size=(m, n))
        y = labels[idx]
        diffs[start : start + m] = _spearman_rows(cos_b[idx], y) - _spearman_rows(cos_a[idx], y)
        # under "no difference" the two models' cosines are exchangeable within each pair; the
        # models are compared on ranks, so each is first turned into its own rank scale
        za, zb = (np.argsort(np.argsort(c)) / n for c in (cos_a, cos_b))
        swap = rng.random((m, n)) < 0.5
        xa, xb = np.where(swap, zb, za), np.where(swap, za, zb)
        lab = np.broadcast_to(labels, (m, n))
        null[start : start + m] = _spearman_rows(xb, lab) - _spearman_rows(xa, lab)
    if not np.isfinite(rb - ra):  # a constant model or constant labels: no rank correlation to compare
        return {"reference": float(ra), "value": float(rb), "diff": np.nan, "ci_low": np.nan, "ci_high": np.nan,
                "p": np.nan, "n": n, "verdict": "no data"}
    lo, hi = np.nanquantile(diffs, [ALPHA / 2, 1 - ALPHA / 2])
    p = (np.sum(np.abs(null) >= abs(rb - ra) - 1e-12) + 1) / (n_boot + 1)
    return {"reference": float(ra), "value": float(rb), "diff": float(rb - ra), "ci_low": float(lo),
            "ci_high": float(hi), "p": float(p), "n": n, "verdict": _verdict(lo, hi)}


def gap_share(cos_base: np.ndarray, cos_model: np.ndarray, cos_ceiling: np.ndarray, labels: np.ndarray,
              n_boot: int = N_BOOT, seed: int = 0) -> dict:
    """The share of the Spearman gap from a base model to a ceiling (e.g. the teacher reading what
    the student reads) that a model closes on the same pairs, (model - base) / (ceiling - base),
    with a 95% bootstrap interval: the pairs are resampled and all three correlations recomputed,
    so the interval carries the noise of the ceiling and the base as well as the model's.

    >>> gap_share(ev.pair_cos["base"], ev.pair_cos["fine-tuned"], teacher_cos, ev.pair_labels)["share"]
    """
    cos_base, cos_model, cos_ceiling, labels = (np.asarray(v, dtype=float)
                                                for v in (cos_base, cos_model, cos_ceiling, labels))
    n = len(labels)

    def share(idx: np.ndarray) -> np.ndarray:
        y = labels[idx]
        b, m, c = (_spearman_rows(x[idx], y) for x in (cos_base, cos_model, cos_ceiling))
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(c - b > 0, (m - b) / (c - b), np.nan)  # no gap to close: undefined

    point = float(share(np.arange(n)[None, :])[0]) if n >= 3 else float("nan")
    if not np.isfinite(point):
        return {"share": point, "ci_low": np.nan, "ci_high": np.nan, "n": n}
    rng = np.random.default_rng(seed)
    draws = np.concatenate([share(rng.integers(0, n, size=(min(500, n_boot - s), n))) for s in range(0, n_boot, 500)])
    lo, hi = np.nanquantile(draws, [ALPHA / 2, 1 - ALPHA / 2])
    return {"share": point, "ci_low": float(lo), "ci_high": float(hi), "n": n}
