"""Pictures people would rather look at than tables (matplotlib, headless-safe).

    plot_scores(labels)            # the label distribution, per pair strategy
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def notebook_png(fig):
    """Let a notebook render a pyplot-free Figure as PNG (IPython's own printer), and return it."""
    try:
        from IPython import get_ipython
        from IPython.core.pylabtools import print_figure
    except ImportError:
        return fig
    shell = get_ipython()
    if shell is not None:
        shell.display_formatter.formatters["image/png"].for_type(
            type(fig), lambda f: print_figure(f, "png", bbox_inches="tight"))
    return fig


def plot_scores(labels: pd.DataFrame, pairs: pd.DataFrame | None = None, out: str | Path | None = None):
    """Histogram of label scores, one colour per pair strategy when ``pairs`` says it.

    A useful mix spreads over the whole 0-1 range; a pile at 0 means mostly unrelated pairs.
    >>> plot_scores(labels, pairs)
    """
    from matplotlib.figure import Figure  # no pyplot: no backend to pick, fine headless and inline

    df = labels
    if pairs is not None and "strategy" in pairs.columns and "strategy" not in df.columns:
        df = df.merge(pairs[["pair_id", "strategy"]], on="pair_id", how="left")
    fig = Figure(figsize=(7, 3.6))
    ax = fig.subplots()
    bins = [i / 20 for i in range(21)]
    if "strategy" in df.columns:
        groups = [(name, g["score"]) for name, g in df.groupby("strategy")]
        ax.hist([g for _, g in groups], bins=bins, stacked=True, label=[n for n, _ in groups])
        ax.legend(title="pair strategy")
    else:
        ax.hist(df["score"], bins=bins)
    ax.set_xlabel("label score (0 = unrelated, 1 = same paper)")
    ax.set_ylabel("pairs")
    ax.set_title(f"{len(df):,} labelled pairs, mean score {df['score'].mean():.2f}")
    fig.tight_layout()
    if out:
        from .artifacts import save_figure

        save_figure(fig, out)
    return notebook_png(fig)
