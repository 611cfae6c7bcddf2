"""Names a package exports, imported only when first used (PEP 562): `import arxiv_reco` stays
fast, and the loader's worker processes start without pandas, torch or the Gemini SDK.

    __getattr__, __all__ = lazy_exports(__name__, {"read_papers": "files", "sample_papers": "sampler"})
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping


def lazy_exports(package: str, exports: Mapping[str, str]) -> tuple[Callable[[str], object], list[str]]:
    """A module ``__getattr__`` resolving each name of ``exports`` (name -> module, relative to
    ``package``) on first use, and the sorted ``__all__``.

    >>> __getattr__, __all__ = lazy_exports(__name__, {"PaperIndex": "paper_index"})
    """
    def __getattr__(name: str):
        if name in exports:
            return getattr(importlib.import_module(f".{exports[name]}", package), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__, sorted(exports)
