"""What every subcommand shares: its settings, and how tables are printed.

    settings = settings_for(args, base_model=args.base_model)
    print_frame(df, "json")
"""

from __future__ import annotations

import argparse

from ..config import load_settings
from ..dates import FORMS, day_arg


def print_df(df) -> None:
    import pandas as pd

    with pd.option_context("display.width", 160, "display.max_columns", 20):
        print(df.to_string())


def settings_for(args, **overrides):
    """Settings for this command: defaults < .env < environment < what the command line says."""
    return load_settings(work_dir=getattr(args, "work_dir", None), **overrides)


def print_comparison(comparison) -> None:
    from ..training.evaluate import format_comparison

    if len(comparison):
        print("\npaired differences (bootstrap 95% CI over the same held-out queries / test pairs):")
        print_df(format_comparison(comparison))


def clip(text, n: int) -> str:
    """``text`` cut to ``n`` characters, an ellipsis saying where it was cut.

    >>> clip("A very long title", 8)
    'A very …'
    """
    text = "" if text is None else str(text)
    return text if len(text) <= n else text[: n - 1].rstrip() + "…"


def print_frame(df, fmt: str, empty: str = "no papers match") -> None:
    """Papers as a table, JSON or CSV; no papers is one line in each format (``[]``, the CSV's header,
    or ``empty``), never an error: a quiet day is an ordinary day."""
    if fmt == "json":
        print(df.to_json(orient="records", indent=1) if len(df) else "[]")
    elif fmt == "csv":
        print(df.to_csv(index=False), end="")
    elif not len(df):
        print(empty)
    else:
        table = df.drop(columns=["authors"], errors="ignore")
        print_df(table.assign(**{c: table[c].map(lambda t, n=n: clip(t, n)) for c, n in CLIPS.items()
                                 if c in table.columns}))


CLIPS = {"title": 70, "because": 60}  # a table's widest columns, cut (with an ellipsis) to fit a terminal


def filter_args(s: argparse.ArgumentParser, categories_help: str) -> None:
    s.add_argument("--categories", help=categories_help)
    s.add_argument("--since", type=day_arg, metavar="DATE", help=f"update_date on or after this day: {FORMS}")
    s.add_argument("--until", type=day_arg, metavar="DATE", help="update_date on or before this day")
