"""Papers: the Kaggle snapshot streamed, sampled and kept as a corpus (one schema, one text recipe).

    papers, report = sample_papers("arxiv-metadata-oai-snapshot.json", n=10_000, categories="cs.*")
    save_papers(papers, "papers.parquet"); papers = read_papers("papers.parquet")
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "PAPER_COLUMNS": "corpus",
    "CategoryFilter": "corpus",
    "base_id": "corpus",
    "canonical_id": "corpus",
    "paper_text": "corpus",
    "read_papers": "files",
    "save_papers": "files",
    "valid_date": "corpus",
    "iter_papers": "snapshot",
    "load_papers": "snapshot",
    "sample_papers": "sampler",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
