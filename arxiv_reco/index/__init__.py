"""The index: a corpus embedded by a model, searched for a paper, a text or a reading list.

    index, added = index_papers("finetuned-arxiv-recommender", papers, "index/")
    index.similar("2401.01234", k=10); index.search("graph neural networks for molecules")
"""

from __future__ import annotations

from ..lazy import lazy_exports

__getattr__, __all__ = lazy_exports(__name__, {
    "IndexMismatchError": "paper_index",
    "PaperIndex": "paper_index",
    "index_papers": "build",
    "WordIndex": "words",
})
