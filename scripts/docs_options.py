"""Write docs/cli.md's option tables from the options values they document (each between an
``<!-- options: NAME -->`` and an ``<!-- /options -->`` line). tests/test_cli.py fails when a
table and its fields differ; this puts them right.

    python scripts/docs_options.py
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "cli.md"
# the options values docs/cli.md documents, by the name its markers use
CLASSES = {"DigestOptions": "arxiv_reco.reader.digest_options", "Recipe": "arxiv_reco.training.recipe",
           "LabelConfig": "arxiv_reco.labels.labeling"}
MARKED = re.compile(r"(<!-- options: (\w+)(?: (\w+))? -->\n)(.*?)(<!-- /options -->)", re.S)
# a table of some fields only, by the name after the class: the command's tuple of them
ONLY = {"feed": ("arxiv_reco.cli.reader", "FEED_OPTIONS")}


def tables(text: str) -> str:
    """``text`` with every marked table made anew from its class."""
    from arxiv_reco.options import options_table

    def fresh(m: re.Match) -> str:
        cls = getattr(importlib.import_module(CLASSES[m[2]]), m[2])
        only = getattr(importlib.import_module(ONLY[m[3]][0]), ONLY[m[3]][1]) if m[3] else None
        return m[1] + options_table(cls, only) + "\n" + m[5]

    return MARKED.sub(fresh, text)


if __name__ == "__main__":
    DOC.write_text(tables(DOC.read_text()))
    print(f"{DOC}: option tables written from {', '.join(CLASSES)}")
