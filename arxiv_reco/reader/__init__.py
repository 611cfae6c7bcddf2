"""The reader's side: fresh listings from arXiv, a library, the digest, the page.

    update_index("index", "cs.CL,cs.IR"); lib = load_library("my.bib")
    feed(PaperIndex.load("index"), lib.liked, since="2026-11-20")
"""

from __future__ import annotations

from ..lazy import lazy_exports

__getattr__, __all__ = lazy_exports(__name__, {
    "update_index": "update",
    "load_library": "library",
    "to_bibtex": "library",
    "feed": "digest",
    "digest": "digest",
    "Profile": "profiles",
    "parse_profiles": "profiles",
    "profiles_of": "profiles",
    "read_config": "digest_options",
    "DigestOptions": "digest_options",
    "run_daily": "daily",
    "DigestMemory": "memory",
    "compose": "mail",
    "send": "mail",
    "write_atom": "atom",
    "build_app": "app",
})
