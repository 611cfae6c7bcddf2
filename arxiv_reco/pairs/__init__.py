"""Pairs worth labelling, split by paper.

    pairs = sample_pairs(papers, n=2_000)      # anchored; "mixed", "neighbors", "category", "random"
    save_pairs(pairs, "pairs.csv"); print(pair_report(pairs, papers))
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "PAIR_COLUMNS": "sampling",
    "STRATEGIES": "sampling",
    "assign_splits": "sampling",
    "pair_id": "sampling",
    "pair_report": "sampling",
    "read_pairs": "sampling",
    "sample_pairs": "sampling",
    "save_pairs": "sampling",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
