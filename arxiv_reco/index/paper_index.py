"""Recommend related papers: an index of the corpus embedded by the (fine-tuned) model.

    index = PaperIndex.build(model, papers)          # or PaperIndex.load("index/", model)
    index.similar("2401.01234", k=10)               # papers related to one paper
    index.search("graph neural networks for molecules", k=10)
    index.recommend(liked=["2401.01234", "2312.04567"], disliked=["2402.00001"])
    index.save("index/")

Embeddings are stored L2-normalised as float16 (2.8M papers x 384 dims = 2.2 GB) and
memory-mapped on load. Exact search multiplies in float16 block by block and re-scores the
best candidates in float32, so results are exact; it answers a query over all of arXiv in a
fraction of a second on a laptop CPU. Above ~1M papers (or on request) a FAISS IVF index
(optional: `pip install arxiv-reco[faiss]`) answers ~10x faster at recall@10 >= 0.95.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from ..artifacts import recover, replace_dir
from ..papers.corpus import (
    TEXT_RECIPE,
    abs_url,
    base_id,
    clean,
    clean_category,
    clean_id,
    paper_text,
    valid_date,
)
from ..vectors.backends import BATCH_SIZE, choose_backend, fast_encoder, torch_model
from ..vectors.embed import embedding_dim, encode, model_fingerprint, probe_fingerprint
from ..vectors.models import loaded_model
from .abstracts import AbstractStore
from .search import BLOCK, ann_candidates, build_ann, exact_candidates
from .words import WordIndex

META_COLUMNS = ["id", "title", "authors", "primary_category", "categories", "update_date"]
FAISS_AUTO_ABOVE = 1_000_000


class IndexMismatchError(ValueError):
    """The index was built by another model or text recipe than the one given."""


class PaperIndex:
    """Embeddings + metadata of a corpus, and the searches over them.

    >>> index = PaperIndex.load("index/"); index.similar("2401.01234", k=10)
    """

    def __init__(self, embeddings: np.ndarray, meta: pd.DataFrame, info: dict, model=None,
                 words: WordIndex | None = None, abstracts: AbstractStore | None = None):
        if len(embeddings) != len(meta):
            raise ValueError(f"{len(embeddings)} embeddings for {len(meta)} papers")
        if words is not None and len(words) != len(meta):
            raise ValueError(f"word counts of {len(words)} papers for {len(meta)} papers")
        self.embeddings = embeddings
        self.meta = meta.reset_index(drop=True)
        self.info = info
        self.words = words  # the papers' words and people (index/words.py); None in an index from before 0.3
        self.abstracts = abstracts  # the papers' abstracts (index/abstracts.py); None in an index from before 0.4
        self._model = model
        self._faiss = None
        self._rebuild_lookups()

    def _rebuild_lookups(self) -> None:
        self._row = {pid: i for i, pid in enumerate(self.meta["id"])}
        self._base = self.meta["id"].map(base_id).to_numpy()
        self._rows_of_base: dict[str, list[int]] = {}
        for i, b in enumerate(self._base):
            self._rows_of_base.setdefault(b, []).append(i)

        # an impossible date (2026-13-45) counts as missing: filters skip it, nothing fails on it
        raw = self.meta["update_date"]
        self._dates = np.array([valid_date(d) or "" for d in raw], dtype="U10")
        self.bad_dates = int(sum(1 for d, r in zip(self._dates, raw) if not d and r is not None and str(r).strip()
                                 and str(r) not in ("nan", "None")))
        # a date after tomorrow (any time zone's today) is a feed's or a file's mistake: counted, and never
        # the newest date a window is measured from
        self._tomorrow = (date.today() + timedelta(days=1)).isoformat()
        self.future_dates = int((self._dates > self._tomorrow).sum())

    def contains(self, paper_id: str) -> bool:
        """Whether the index holds this paper (any version of it).

        >>> index.contains("2401.01234v2")
        True
        """
        return base_id(paper_id) in self._rows_of_base

    def paper(self, paper_id: str) -> pd.Series | None:
        """The metadata row of a paper (any version of its id), or None when the index lacks it.

        >>> index.paper("2401.01234")["title"]
        """
        rows = self._rows_of_base.get(base_id(paper_id))
        return self.meta.iloc[rows[0]] if rows else None

    def papers(self, ids: Iterable[str]) -> pd.DataFrame:
        """The metadata rows of the papers of ``ids`` the index holds, in that order.

        >>> to_bibtex(index.papers(reading_list["liked"]))
        """
        rows = [self._rows_of_base[b][0] for b in dict.fromkeys(map(base_id, ids)) if b in self._rows_of_base]
        return self.meta.iloc[rows].reset_index(drop=True)

    def newest_date(self) -> str | None:
        """The latest valid update_date among the papers, leaving out dates after tomorrow (counted in
        ``future_dates``: one paper dated 2099 must not move every window there); None when none has one.

        >>> index.newest_date()
        '2026-11-27'
        """
        dated = self._dates[(self._dates != "") & (self._dates <= self._tomorrow)]
        return max(dated.tolist()) if len(dated) else None

    def __len__(self) -> int:
        return len(self.meta)

    def __repr__(self) -> str:
        return (f"PaperIndex({len(self):,} papers, {self.embeddings.shape[1]} dims, model={self.info.get('model')!r}, "
                f"backend={'faiss' if self._faiss is not None else 'exact'})")

    # ---- building ----------------------------------------------------------------------------------
    @classmethod
    def build(cls, model, papers: pd.DataFrame, batch_size: int = BATCH_SIZE, show_progress: bool = True,
              checkpoint: str | Path | None = None, model_name: str | None = None, encoder: str = "auto",
              devices: Sequence[str] | None = None) -> PaperIndex:
        """Encode title + abstract exactly as training saw them (corpus.paper_text).

        ``model``: a folder or hub name (recorded, so the index reloads its model by itself),
        or a loaded model (then ``model_name`` says what to record, if anything).
        ``checkpoint``: a folder where finished shards are kept, so a killed build resumes
        (``arxiv-reco index`` uses a hidden one beside the index). ``encoder``: how the model runs
        ("auto": OpenVINO bf16 on a CPU with native bf16, see :mod:`arxiv_reco.vectors.backends`); recorded,
        so added papers and queries are encoded the same way. ``devices``: several workers (all
        GPUs of a machine, or CPU processes), see :func:`arxiv_reco.vectors.embed.encode`.

        >>> index = PaperIndex.build("finetuned-arxiv-recommender", papers)
        """

        model, model_name = loaded_model(model, model_name)
        papers = _check_papers(papers)
        encoder = "torch" if devices and len(devices) > 1 else choose_backend(model, encoder)
        emb = _encode(model, papers, batch_size, show_progress, checkpoint, encoder, devices)
        info = {"model": model_name, "encoder": encoder,
                "model_digest": model_fingerprint(model), "model_fingerprint": probe_fingerprint(model),
                "max_seq_length": getattr(model, "max_seq_length", None),
                "text_recipe": TEXT_RECIPE,
                "dim": int(emb.shape[1]) if emb.ndim == 2 else 0, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        return cls(emb, _meta(papers), info, model, WordIndex.build(papers), AbstractStore.build(papers))

    def add(self, papers: pd.DataFrame, batch_size: int = BATCH_SIZE, show_progress: bool = True,
            checkpoint: str | Path | None = None, devices: Sequence[str] | None = None) -> int:
        """Append papers not yet in the index (old ones are not re-encoded); returns how many.

        >>> index.add(new_papers); index.save("index/")
        """
        papers = _check_papers(papers)
        new = papers[~papers["id"].isin(self._row)]
        if new.empty:
            return 0
        emb = _encode(self.model, new, batch_size, show_progress, checkpoint, self.encoder, devices)
        self.embeddings = np.concatenate([np.asarray(self.embeddings), emb])
        self.meta = pd.concat([self.meta, _meta(new)], ignore_index=True)
        if self.words is not None:
            self.words.add(new)
        if self.abstracts is not None:
            self.abstracts.add(new)
        self._rebuild_lookups()
        if self._faiss is not None:
            self._faiss.add(emb.astype(np.float32))
        return len(new)

    def count_words(self, papers: pd.DataFrame | None = None) -> None:
        """Count the words and people of every paper (an index from before 0.3 has none): titles and
        authors from the index itself, abstracts from ``papers`` where it has them.

        >>> index.count_words(read_papers("papers.parquet")); index.save("index/")
        """
        abstracts = dict(zip(papers["id"].astype(str), papers["abstract"].astype(str))) if papers is not None else {}
        self.words = WordIndex.build(self.meta.assign(abstract=[abstracts.get(str(i), "") for i in self.meta["id"]]))

    def keep_abstracts(self, papers: pd.DataFrame | None = None) -> None:
        """Keep every paper's abstract in the index (one from before 0.4 has none): from ``papers``
        where it has them, else from the abstracts of fetched papers already kept.

        >>> index.keep_abstracts(read_papers("papers.parquet")); index.save("index/")
        """
        known = dict(zip(papers["id"].astype(str), papers["abstract"].astype(str))) if papers is not None else {}
        ids = self.meta["id"].astype(str).tolist()
        self.abstracts = AbstractStore.build(pd.DataFrame({"id": ids, "abstract": [known.get(i, "") for i in ids]}))

    def abstract_of(self, ids: Sequence[str]) -> dict[str, str]:
        """{id: abstract} of the ``ids`` this index keeps abstracts of (an index from before 0.4: none).

        >>> index.abstract_of(["2401.01234"])
        """
        return self.abstracts.get(list(ids)) if self.abstracts is not None else {}

    @property
    def encoder(self) -> str:
        """How this index's model runs for it (indexes from before backends: torch)."""
        return self.info.get("encoder", "torch")

    @property
    def model(self):
        if self._model is None:
            from ..vectors.models import load_model

            source = self.info.get("model")
            if not source:
                raise ValueError("this index does not know its model; pass it: PaperIndex.load(path, model)")
            # the length the papers were encoded at, so added papers and queries are truncated alike
            self._model = load_model(source, max_seq_length=self.info.get("max_seq_length"))
            self.check_model(self._model)
        return self._model

    def check_model(self, model) -> None:
        """Refuse a model that did not build this index (its embeddings would not compare)."""
        # the weights' digest where both sides have it (the same on any device); a probe's
        # embedding for indexes before 0.2 and for stand-ins without weights

        dim = embedding_dim(model)
        if self.embeddings.ndim == 2 and len(self) and self.embeddings.shape[1] != dim:
            raise IndexMismatchError(
                f"this index holds {self.embeddings.shape[1]}-dimensional vectors ({self.info.get('model')!r}); "
                f"the model given makes {dim}-dimensional ones. Load the index's own model, or rebuild: "
                "arxiv-reco index --model PATH --papers FILE --out INDEX_DIR --rebuild")
        has_weights = hasattr(torch_model(model), "parameters")
        key, got = (("model_digest", model_fingerprint(model)) if "model_digest" in self.info and has_weights
                    else ("model_fingerprint", probe_fingerprint(model)))
        if self.info.get(key) and got != self.info[key]:
            raise IndexMismatchError(
                f"this index was built with {self.info.get('model')!r} (fingerprint {self.info[key]}); "
                f"the model given embeds differently ({got}). Load the same model, or rebuild: "
                "arxiv-reco index --model PATH --papers FILE --out INDEX_DIR")
        if self.info.get("text_recipe") not in (None, TEXT_RECIPE):
            raise IndexMismatchError(
                f"this index was built with text recipe {self.info['text_recipe']!r}, this version uses "
                f"{TEXT_RECIPE!r}; rebuild it with `arxiv-reco index`")

    # ---- saving -------------------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """A folder: embeddings.npy (float16), meta.parquet, index.json (+ faiss.index if built),
        replaced as a whole only once the new one is complete (the old one may be the very
        files this index is memory-mapped from).

        >>> index.save("index/")
        """
        path = Path(path)
        with replace_dir(path, keep_if="index.json") as tmp:
            _save_embeddings(self.embeddings, tmp / "embeddings.npy")
            meta = self.meta.copy()
            meta["categories"] = meta["categories"].map(lambda c: " ".join(c) if isinstance(c, list | np.ndarray) else str(c))
            meta.to_parquet(tmp / "meta.parquet", index=False)
            if self._faiss is not None:
                import faiss

                faiss.write_index(self._faiss, str(tmp / "faiss.index"))
            if self.words is not None:
                self.words.compact()
                self.words.save(tmp / "words")  # the unchanged shards linked, not copied
            if self.abstracts is not None:
                self.abstracts.save(tmp / "abstracts")  # linked too
            # written last: a folder with index.json is a complete index
            (tmp / "index.json").write_text(json.dumps(dict(self.info, count=len(self)), indent=1))
        if self.abstracts is not None:  # the shards as they now lie, in the folder that replaced the old one
            self.abstracts = AbstractStore.load(path / "abstracts")
        return path

    @staticmethod
    def info_of(path: str | Path) -> dict | None:
        """What a saved index records (model, max_seq_length, count, ...), or None where there is none.

        >>> PaperIndex.info_of("index/")["model"]
        """
        path = Path(path)
        recover(path)
        return json.loads((path / "index.json").read_text()) if (path / "index.json").exists() else None

    @classmethod
    def load(cls, path: str | Path, model=None, mmap: bool = True) -> PaperIndex:
        """Open a saved index; embeddings are memory-mapped. A given model is checked against it.

        >>> index = PaperIndex.load("index/", model)
        """
        path = Path(path)
        recover(path)
        if not (path / "index.json").exists():
            raise FileNotFoundError(f"No index at {path} (index.json missing); build one with `arxiv-reco index`")
        info = json.loads((path / "index.json").read_text())
        # mode "c": copy-on-write, so the array is writable for torch without reading 2 GB
        emb = np.load(path / "embeddings.npy", mmap_mode="c" if mmap else None)
        meta = pd.read_parquet(path / "meta.parquet")
        meta["categories"] = meta["categories"].map(lambda s: str(s).split())
        words = WordIndex.load(path / "words") if (path / "words" / "words.json").exists() else None
        index = cls(emb, meta, info, words=words, abstracts=AbstractStore.load(path / "abstracts"))
        if model is not None:
            from ..vectors.models import load_model

            if isinstance(model, str | Path):
                model = load_model(model, max_seq_length=info.get("max_seq_length"))
            index.check_model(model)
            index._model = model
        if (path / "faiss.index").exists():
            import faiss

            index._faiss = faiss.read_index(str(path / "faiss.index"))
        return index

    # ---- approximate search -----------------------------------------------------------------------------
    def build_ann(self, kind: str = "ivf-fp16", nlist: int | None = None, nprobe: int | None = None,
                  train_size: int = 200_000, seed: int = 0):
        """An approximate FAISS index over the embeddings for fast search (kinds: ivf-fp16,
        ivf-sq8 at half the memory, ivf-sq6 at 0.39x, ivf-pq at an eighth; see :mod:`arxiv_reco.index.search`). Saved
        with the index; filters keep using it.

        >>> index.build_ann("ivf-pq"); index.save("index/")
        """

        self._faiss = build_ann(self.embeddings, kind, nlist, nprobe, train_size, seed)
        self.info["ann"] = kind
        return self._faiss

    # ---- searching --------------------------------------------------------------------------------------
    def drop_ann(self) -> None:
        """Forget the approximate index (searches go exact; a later save writes none)."""
        self._faiss = None
        self.info.pop("ann", None)

    @property
    def has_ann(self) -> bool:
        """Whether an approximate (FAISS) index is built or loaded beside the exact one."""
        return self._faiss is not None

    def mask(self, categories: str | Iterable[str] | None, since: str | None, until: str | None) -> np.ndarray | None:
        """The rows a filter keeps (categories as CategoryFilter reads them; dates inclusive, an
        impossible date counting as none), or None when nothing filters.

        >>> index.mask("cs.CL", since="2026-11-20", until=None).sum()
        """
        if not (categories or since or until):
            return None
        keep = np.ones(len(self), dtype=bool)
        if categories:
            from ..papers.corpus import CategoryFilter

            flt = CategoryFilter.build(categories)
            keep &= np.array([flt.category_ok(c) for c in self.meta["categories"]])
        dates = self._dates
        if since:
            keep &= dates >= str(since)
        if until:
            keep &= (dates != "") & (dates <= str(until))
        return keep

    def top(self, queries: np.ndarray, k: int, exclude: Sequence[set[int]], mask: np.ndarray | None,
            backend: str = "auto") -> list[list[tuple[int, float]]]:
        """Best k (row, score) per query (normalised float32 queries), skipping excluded rows and
        rows ``mask`` drops.

        >>> index.top(query_vectors, 10, [set()] * len(query_vectors), None)
        """
        n = len(self)
        extra = max(len(e) for e in exclude) if exclude else 0
        want = min(n, k + extra)
        if want <= 0:
            return [[] for _ in queries]
        use_faiss = backend == "faiss" or (backend == "auto" and self._faiss is not None)
        if use_faiss and self._faiss is None:
            raise ValueError("no approximate index: call index.build_ann() first (needs faiss-cpu)")
        if use_faiss:  # filters are applied inside the approximate search
            cand = ann_candidates(self._faiss, queries, want, mask, self.info.get("ann"))
        else:
            cand = exact_candidates(self.embeddings, queries, min(n, want + 32), mask)
        out = []
        for q, rows, skip in zip(queries, cand, exclude):
            rows = np.array([r for r in rows if r not in skip and (mask is None or mask[r])], dtype=np.int64)
            # float16 products rank approximately: re-score the candidates in float32 for exact order
            scores = np.asarray(self.embeddings[np.sort(rows)], dtype=np.float32) @ q if len(rows) else np.array([])
            order = np.argsort(-scores, kind="stable")[:k]
            rows = np.sort(rows)[order]
            out.append(list(zip(rows.tolist(), scores[order].tolist())))
        return out

    def frame(self, hits: list[tuple[int, float]]) -> pd.DataFrame:
        """(row, score) hits as the table every search returns: id, title, score, category, date,
        authors, url.

        >>> index.frame(index.top(q, 10, [set()], None)[0])
        """
        rows = [int(r) for r, _ in hits]
        df = self.meta.iloc[rows][["id", "title", "primary_category", "update_date", "authors"]].copy()
        df.insert(2, "score", [round(float(s), 4) for _, s in hits])
        df = df.rename(columns={"primary_category": "category", "update_date": "date"})
        df["url"] = df["id"].map(abs_url)
        return df.reset_index(drop=True)

    def rows(self, ids: Iterable[str], what: str = "unknown paper id") -> list[int]:
        """The row of each id (any version of it); a KeyError naming the ids the index lacks.

        >>> index.rows(["2401.01234v2"])
        [17]
        """
        rows, unknown = [], []
        for pid in ids:
            pid = str(pid).strip()
            hit = self._row.get(pid)
            if hit is None:
                found = self._rows_of_base.get(base_id(pid))
                hit = found[0] if found else None
            (rows.append(hit) if hit is not None else unknown.append(pid))
        if unknown:
            raise KeyError(f"{what}: {', '.join(unknown[:5])} not in this index of {len(self):,} papers "
                           "(add them with index.add(papers) or `arxiv-reco index`)")
        return rows

    def same_papers(self, rows: Iterable[int]) -> set[int]:
        """Rows of the given papers and of every other version of them.

        >>> index.same_papers(index.rows(["2401.01234"]))
        """
        return {r2 for r in rows for r2 in self._rows_of_base[self._base[r]]}

    def similar(self, paper_id: str, k: int = 10, categories=None, since=None, until=None,
                backend: str = "auto") -> pd.DataFrame:
        """Papers most similar to one in the index; never the paper itself nor its other versions.

        >>> index.similar("2401.01234", k=10)
        """
        row = self.rows([paper_id], "unknown paper id")[0]
        q = np.asarray(self.embeddings[row], dtype=np.float32)[None, :]
        return self.frame(self.top(q, self.check_k(k), [self.same_papers([row])], self.mask(categories, since, until), backend)[0])

    def search(self, text: str, k: int = 10, categories=None, since=None, until=None, backend: str = "auto") -> pd.DataFrame:
        """Papers closest to a free-text query (encoded by the index's model).

        >>> index.search("contrastive learning for scientific documents", k=10)
        """
        if not str(text).strip():
            raise ValueError("the query text is empty")
        q = self.embed_text(text)[None, :]
        return self.frame(self.top(q, self.check_k(k), [set()], self.mask(categories, since, until), backend)[0])

    def embed_text(self, text: str) -> np.ndarray:
        """A free text as the index's model embeds it (normalised float32, the papers' encoder).

        >>> index.embed_text("retrieval-augmented generation for question answering").shape
        (384,)
        """

        return fast_encoder(self.model, self.encoder).encode([text], normalize_embeddings=True,
                                                             convert_to_numpy=True).astype(np.float32)[0]

    def recommend(self, liked: Sequence[str], disliked: Sequence[str] = (), k: int = 10, dislike_weight: float = 0.5,
                  categories=None, since=None, until=None, backend: str = "auto") -> pd.DataFrame:
        """A reader's feed: the direction mean(liked) - dislike_weight * mean(disliked), the way
        Semantic Scholar's feeds take positive and negative examples. Rated papers are never
        recommended back.

        >>> index.recommend(liked=["2401.01234", "2312.04567"], disliked=["2402.00001"], k=10)
        """
        if not liked:
            raise ValueError("recommend needs at least one liked paper id")
        pos = self.rows(liked, "unknown liked id")
        neg = self.rows(disliked, "unknown disliked id") if disliked else []
        q = np.asarray(self.embeddings[pos], dtype=np.float32).mean(axis=0)
        if neg:
            q = q - dislike_weight * np.asarray(self.embeddings[neg], dtype=np.float32).mean(axis=0)
        norm = np.linalg.norm(q)
        if norm == 0:
            raise ValueError("liked and disliked papers cancel out; rate a few more papers")
        q = (q / norm)[None, :]
        return self.frame(self.top(q, self.check_k(k), [self.same_papers(pos + neg)], self.mask(categories, since, until), backend)[0])

    def search_many(self, queries: np.ndarray, k: int = 10, backend: str = "auto") -> list[list[tuple[int, float]]]:
        """Top k (row, score) for each of many normalised query vectors at once (batch API)."""
        q = np.asarray(queries, dtype=np.float32)
        return self.top(q, self.check_k(k), [set()] * len(q), None, backend)

    def check_k(self, k: int) -> int:
        """``k`` when a search can return that many (a ValueError for k < 1 or an empty index)."""
        if k < 1:
            raise ValueError("k must be at least 1")
        if len(self) == 0:
            raise ValueError("the index is empty: build it from a corpus with at least one paper")
        return k  # larger than the corpus: every other paper comes back, best first (documented)


def _check_papers(papers: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in ("id", "title", "abstract") if c not in papers.columns]
    if missing:
        raise ValueError(f"papers lack column(s) {missing}; load them with read_papers()")
    papers = papers.drop_duplicates("id").reset_index(drop=True)
    if "text" not in papers.columns:
        papers = papers.assign(text=[paper_text(t, a) for t, a in zip(papers["title"], papers["abstract"])])
    for col, default in (("authors", ""), ("update_date", ""), ("categories", None), ("primary_category", "")):
        if col not in papers.columns:
            papers[col] = [[] for _ in range(len(papers))] if default is None else default
    return papers


def _meta(papers: pd.DataFrame) -> pd.DataFrame:
    """The papers' metadata as the index keeps it, cleaned where it enters whatever the source (a
    corpus file, the API, a caller's frame): no newline or control character in any field."""
    meta = papers[META_COLUMNS].copy()
    meta["id"] = meta["id"].map(clean_id)
    for col in ("title", "authors"):
        meta[col] = meta[col].map(clean)
    cats = [list(c) if not isinstance(c, str) else c.split() for c in meta["categories"]]
    meta["categories"] = [[x for x in map(clean_category, c) if x] for c in cats]
    meta["primary_category"] = meta["primary_category"].map(clean_category)
    meta["update_date"] = meta["update_date"].map(lambda d: clean(d) if isinstance(d, str) else d)
    return meta.reset_index(drop=True)


def _encode(model, papers: pd.DataFrame, batch_size: int, show_progress: bool, checkpoint, encoder: str,
            devices=None) -> np.ndarray:
    return encode(model, papers["text"].tolist(), batch_size=batch_size, progress=show_progress,
                  checkpoint=checkpoint, dtype=np.float16, desc="indexing", backend=encoder, devices=devices)


def _save_embeddings(emb: np.ndarray, out: Path) -> None:
    """Stream (possibly memory-mapped) embeddings into a new .npy block by block: flat memory."""
    if len(emb) == 0:
        np.save(out, np.asarray(emb, dtype=np.float16))
        return
    dest = np.lib.format.open_memmap(out, mode="w+", dtype=np.float16, shape=tuple(emb.shape))
    for start in range(0, len(emb), BLOCK):
        dest[start : start + BLOCK] = emb[start : start + BLOCK]
    dest.flush()
    del dest
