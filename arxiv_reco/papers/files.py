"""The corpus on disk: Parquet written atomically, read back (or a Kaggle JSON Lines file read).

    save_papers(papers, "papers.parquet")     # replaced atomically
    papers = read_papers("papers.parquet")    # or arxiv-metadata-oai-snapshot.json(.gz)
"""

from __future__ import annotations

import os
from pathlib import Path

from ..artifacts import replace_file
from .corpus import PAPER_COLUMNS, SnapshotFormatError, clean, paper_text


def save_papers(papers, path: str | os.PathLike) -> Path:
    """Write a corpus as Parquet (replaced atomically), so a re-run does not re-read the 4.6 GB snapshot.

    >>> save_papers(papers, "papers.parquet")
    """

    path = Path(path)
    with replace_file(path) as tmp:
        papers[PAPER_COLUMNS].to_parquet(tmp, index=False)
    return path


def read_papers(path: str | os.PathLike):
    """A corpus from Parquet (written by ``save_papers``) or a Kaggle JSON Lines file (plain/.gz).

    >>> papers = read_papers("papers.parquet")
    """
    import pandas as pd

    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"No papers file at {path}; run `arxiv-reco sample` first or pass a snapshot")
    with open(path, "rb") as f:
        is_parquet = f.read(4) == b"PAR1"
    if not is_parquet:
        from .snapshot import load_papers

        return load_papers(path)[0]
    df = pd.read_parquet(path)
    missing = [c for c in ("id", "title", "abstract") if c not in df.columns]
    if missing:
        raise SnapshotFormatError(f"{path} lacks column(s) {missing}; expected a corpus written by save_papers()")
    df["id"] = df["id"].astype(str)
    df["title"] = df["title"].map(clean)
    df["abstract"] = df["abstract"].map(clean)
    empty = (df["title"] == "") | (df["abstract"] == "") | df["id"].isin(["", "None", "nan"])
    if empty.any():  # as the snapshot loader does with such records: nothing to embed, left out
        import warnings

        warnings.warn(f"{path}: left out {int(empty.sum())} paper(s) without an id, a title or an abstract "
                      f"(rows {(empty.to_numpy().nonzero()[0][:5]).tolist()})", stacklevel=2)
        df = df[~empty]
    if "categories" not in df.columns:
        df["categories"] = [[] for _ in range(len(df))]
    df["categories"] = [list(c) if c is not None and not isinstance(c, str) else str(c or "").split() for c in df["categories"]]
    if "primary_category" not in df.columns:
        df["primary_category"] = [c[0] if len(c) else "" for c in df["categories"]]
    for col in ("authors", "update_date"):
        if col not in df.columns:
            df[col] = ""
    df["text"] = [paper_text(t, a) for t, a in zip(df["title"], df["abstract"])]
    return df[PAPER_COLUMNS].reset_index(drop=True)
