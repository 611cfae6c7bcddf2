"""Papers: the Kaggle snapshot streamed, sampled and kept as a corpus (one schema, one text recipe).

    papers, report = sample_papers("arxiv-metadata-oai-snapshot.json", n=10_000, categories="cs.*")
    save_papers(papers, "papers.parquet"); papers = read_papers("papers.parquet")
"""

from __future__ import annotations

from ..lazy import lazy_exports

__getattr__, __all__ = lazy_exports(__name__, {
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
})
