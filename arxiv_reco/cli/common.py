"""What every subcommand shares: its settings, and how tables are printed.

    settings = settings_for(args, base_model=args.base_model)
    print_frame(df, "json")
"""

from __future__ import annotations

import argparse

from ..config import load_settings


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


def print_frame(df, fmt: str) -> None:
    if fmt == "json":
        print(df.to_json(orient="records", indent=1))
    elif fmt == "csv":
        print(df.to_csv(index=False), end="")
    else:
        print_df(df.drop(columns=["authors"]).assign(title=df["title"].str.slice(0, 70)))


def filter_args(s: argparse.ArgumentParser, categories_help: str) -> None:
    s.add_argument("--categories", help=categories_help)
    s.add_argument("--since", help="update_date >= YYYY-MM-DD")
    s.add_argument("--until", help="update_date <= YYYY-MM-DD")
