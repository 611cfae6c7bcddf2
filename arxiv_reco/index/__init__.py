"""The index: a corpus embedded by a model, searched for a paper, a text or a reading list.

    index, added = index_papers("finetuned-arxiv-recommender", papers, "index/")
    index.similar("2401.01234", k=10); index.search("graph neural networks for molecules")
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "IndexMismatchError": "paper_index",
    "PaperIndex": "paper_index",
    "index_papers": "build",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
