"""The abstracts an index keeps of its own papers, so the mail, the JSON and the page always have
them without the corpus at hand.

    store = AbstractStore.build(papers); store.add(new_papers); store.get(["2401.01234"])

Kept as Parquet shards, one per `index`/`update` run, in the index folder's ``abstracts/``; a
save hard-links the unchanged shards into the new folder (as the word counts are), so a morning
writes only its own papers' abstracts. A lookup reads only the rows asked for.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pandas as pd

FORMAT = 1


class AbstractStore:
    """Abstracts by paper id (state: the shards, each a DataFrame or the file it was read from)."""

    def __init__(self, shards: list[pd.DataFrame | Path] | None = None):
        self.shards = list(shards or [])

    def __repr__(self) -> str:
        return f"AbstractStore({len(self.shards)} shards)"

    @classmethod
    def build(cls, papers: pd.DataFrame) -> AbstractStore:
        """The abstracts of ``papers`` (id, abstract; a paper without one keeps an empty text).

        >>> AbstractStore.build(papers).get(["2401.01234"])
        """
        store = cls()
        store.add(papers)
        return store

    def add(self, papers: pd.DataFrame) -> None:
        """Keep the abstracts of ``papers`` (a shard of their own)."""
        if len(papers):
            abstracts = papers["abstract"] if "abstract" in papers.columns else pd.Series([""] * len(papers))
            self.shards.append(pd.DataFrame({"id": papers["id"].astype(str).to_numpy(),
                                             "abstract": abstracts.fillna("").astype(str).to_numpy()}))

    def get(self, ids: list[str]) -> dict[str, str]:
        """{id: abstract} of the ``ids`` kept here (the newest shard's where a paper is in several).

        >>> store.get(["2401.01234"])
        """
        todo = set(map(str, ids))
        found: dict[str, str] = {}
        for shard in reversed(self.shards):
            wanted = [i for i in todo if i not in found]
            if not wanted:
                break
            df = (pd.read_parquet(shard, columns=["id", "abstract"], filters=[("id", "in", wanted)])
                  if isinstance(shard, Path) else shard[shard["id"].isin(wanted)])
            found.update((i, a) for i, a in zip(df["id"], df["abstract"]) if a and i not in found)
        return found

    def save(self, folder: str | Path) -> Path:
        """Write the shards into ``folder`` (a part of an index folder being written): shards read
        from disk are hard-linked (copied where links are not possible), new ones written."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        names = []
        for i, shard in enumerate(self.shards):
            name = f"part-{i:06d}.parquet"
            names.append(name)
            if isinstance(shard, Path):
                try:
                    os.link(shard, folder / name)
                except OSError:  # another file system, or no hard links there: a copy
                    shutil.copy2(shard, folder / name)
            else:
                shard.to_parquet(folder / name, index=False)
        (folder / "abstracts.json").write_text(json.dumps({"format": FORMAT, "shards": names}))
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> AbstractStore | None:
        """The store saved in ``folder``, or None where there is none (an index from before 0.4)."""
        folder = Path(folder)
        if not (folder / "abstracts.json").exists():
            return None
        info = json.loads((folder / "abstracts.json").read_text())
        if info.get("format") != FORMAT:
            raise ValueError(f"{folder} holds abstracts of another format ({info.get('format')}); rebuild the index")
        return cls([folder / name for name in info["shards"]])
