"""Pairs worth labelling, split by paper.

    pairs = sample_pairs(papers, n=2_000)      # anchored; "mixed", "neighbors", "category", "random"
    save_pairs(pairs, "pairs.csv"); print(pair_report(pairs, papers))
"""

from __future__ import annotations

from ..lazy import lazy_exports

__getattr__, __all__ = lazy_exports(__name__, {
    "PAIR_COLUMNS": "sampling",
    "STRATEGIES": "sampling",
    "assign_splits": "sampling",
    "pair_id": "sampling",
    "pair_report": "sampling",
    "read_pairs": "sampling",
    "sample_pairs": "sampling",
    "save_pairs": "sampling",
})
