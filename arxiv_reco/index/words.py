"""The words and the people of every paper in an index, kept beside its embeddings: what
arxiv-sanity-lite ranks by (TF-IDF of the title and abstract, word 1-2 grams, its tokenizer and
stop words), and each author's full name as a term of its own.

    words = WordIndex.build(papers)                  # counts of a corpus (id, title, abstract, authors)
    words.add(new_papers)                            # a new month's words count at once: nothing refitted
    x = words.features(rows)                         # TF-IDF rows: a words block and an authors block
    words.save("index/words"); WordIndex.load("index/words")

Why counts, hashed: a vocabulary fitted once would not know next month's words (a new method's
name is exactly what a reader's line of work is made of), and refitting one over 2.8 M papers
every morning takes an hour. Terms are hashed into fixed columns (scikit-learn's
``HashingVectorizer``: murmurhash, the same on every machine), each paper's counts are kept, and
document frequencies are kept as counts too, so the IDF of any term is current the moment papers
are added. Rows are stored in shards, one per `index`/`update` run; a save links the unchanged
shards into the new index folder instead of copying them, so a morning writes only its own papers.

Authors: "Given Surname" folded (accents and case ignored), one term a person; co-authors of a
library's papers are people of the reader's field too. An author on every other paper (a
collaboration's long list) weighs little, as a common word does.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from scipy import sparse

WORD_BUCKETS = 1 << 20  # hashed columns for words and word pairs
AUTHOR_BUCKETS = 1 << 18  # hashed columns for people
COLUMNS = WORD_BUCKETS + AUTHOR_BUCKETS
MIN_DF = 2  # a word in one paper only says nothing about any other paper
MAX_DF = 0.5  # arxiv-sanity-lite's: a word in half the papers is not a topic
TOKENS = r"(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b"  # arxiv-sanity-lite's token pattern
FORMAT = "arxiv-reco words 1"


def _word_hasher():
    from sklearn.feature_extraction.text import HashingVectorizer

    return HashingVectorizer(n_features=WORD_BUCKETS, alternate_sign=False, norm=None, strip_accents="unicode",
                             lowercase=True, stop_words="english", token_pattern=TOKENS, ngram_range=(1, 2),
                             dtype=np.float32)


def _author_hasher():
    from sklearn.feature_extraction.text import HashingVectorizer

    return HashingVectorizer(n_features=AUTHOR_BUCKETS, alternate_sign=False, norm=None, analyzer=people,
                             dtype=np.float32)


def fold(name: str) -> str:
    """A person's name as a term: accents, case, dots and hyphens ignored.

    >>> fold("Claude-André Faucher-Giguère")
    'claude andre faucher giguere'
    """
    name = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode().lower()
    return " ".join(re.sub(r"[^a-z]+", " ", name).split())


def people(authors: str) -> list[str]:
    """The people of an arXiv authors line ("A. Name, B. Other and C. Third"), folded.

    >>> people("Ashish Vaswani, Noam Shazeer and Niki Parmar")
    ['ashish vaswani', 'noam shazeer', 'niki parmar']
    """
    names = re.split(r",\s*|\s+and\s+|;\s*", re.sub(r"\([^)]*\)", " ", str(authors or "")))
    return list(dict.fromkeys(f for f in map(fold, names) if " " in f))


def text_of(title: str, abstract: str) -> str:
    """What the words block reads of a paper: its title and abstract."""
    return f"{title or ''} {abstract or ''}"


class WordIndex:
    """Term counts of an index's papers, in row order (state: the shards and the document counts)."""

    def __init__(self, shards: list[sparse.csr_matrix] | None = None, df: np.ndarray | None = None,
                 sources: list[Path | None] | None = None):
        self.shards = list(shards or [])
        self.sources = list(sources or [None] * len(self.shards))  # the folder each shard was read from
        self.df = np.zeros(COLUMNS, dtype=np.int64) if df is None else df
        self.offsets = np.cumsum([0] + [s.shape[0] for s in self.shards])

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def __repr__(self) -> str:
        return f"WordIndex({len(self):,} papers, {len(self.shards)} shards)"

    # ---- counting ----------------------------------------------------------------------------
    @staticmethod
    def count(titles: Sequence[str], abstracts: Sequence[str], authors: Sequence[str]) -> sparse.csr_matrix:
        """The term counts of papers: words in the first columns, people after them.

        >>> WordIndex.count(["Attention is all you need"], ["We propose the Transformer."], ["Ashish Vaswani"])
        """
        texts = [text_of(t, a) for t, a in zip(titles, abstracts)]
        w = _word_hasher().transform(texts)
        p = _author_hasher().transform(list(authors))
        counts = sparse.hstack([w, p], format="csr", dtype=np.float32)
        counts.data = np.minimum(counts.data, np.iinfo(np.uint16).max).astype(np.uint16)
        counts.sort_indices()
        return counts

    @classmethod
    def build(cls, papers) -> WordIndex:
        """The counts of a corpus frame (title, abstract and authors columns; a missing one reads as empty).

        >>> words = WordIndex.build(papers)
        """
        words = cls()
        words.add(papers)
        return words

    def add(self, papers) -> int:
        """Count more papers (appended in the order given, as the index appends them); returns how many.

        >>> words.add(new_papers)
        """
        n = len(papers)
        if not n:
            return 0
        col = lambda name: papers[name].fillna("").astype(str).tolist() if name in papers else [""] * n  # noqa: E731
        counts = self.count(col("title"), col("abstract"), col("authors"))
        self.shards.append(counts)
        self.sources.append(None)
        self.df += np.bincount(counts.indices, minlength=COLUMNS)
        self.offsets = np.append(self.offsets, self.offsets[-1] + n)
        return n

    # ---- reading -----------------------------------------------------------------------------
    def counts(self, rows: Sequence[int]) -> sparse.csr_matrix:
        """The raw counts of ``rows`` (any order), gathered from their shards."""
        rows = np.asarray(rows, dtype=np.int64)
        if len(rows) and (rows.min() < 0 or rows.max() >= len(self)):
            raise IndexError(f"row out of range: the word index holds {len(self):,} papers")
        shard_of = np.searchsorted(self.offsets, rows, side="right") - 1
        parts, order = [], []
        for s in np.unique(shard_of):
            take = np.flatnonzero(shard_of == s)
            parts.append(_rows(self.shards[s], rows[take] - self.offsets[s]))
            order.append(take)
        if not parts:
            return sparse.csr_matrix((0, COLUMNS), dtype=np.float32)
        stacked = sparse.vstack(parts, format="csr")
        return stacked[np.argsort(np.concatenate(order), kind="stable")]

    def idf(self, min_df: int = MIN_DF, max_df: float = MAX_DF) -> np.ndarray:
        """Smoothed IDF of every column from the current counts; words outside [min_df, max_df x papers] weigh 0."""
        n = len(self)
        idf = (np.log((1 + n) / (1 + self.df)) + 1).astype(np.float32)
        words = slice(0, WORD_BUCKETS)
        idf[words][(self.df[words] < min_df) | (self.df[words] > max_df * max(n, 1))] = 0
        return idf

    def features(self, rows: Sequence[int], min_df: int = MIN_DF, max_df: float = MAX_DF,
                 idf: np.ndarray | None = None) -> sparse.csr_matrix:
        """TF-IDF rows (sublinear tf) of ``rows``: the words block and the people block each
        l2-normalised, as arxiv-sanity-lite normalises its one block.

        >>> x = words.features(index.rows(["2401.01234"]))
        """
        x = self.counts(rows).astype(np.float32)
        x.data = 1 + np.log(x.data)
        x = x @ sparse.diags(self.idf(min_df, max_df) if idf is None else idf)
        return normalize_blocks(x.tocsr())

    # ---- files ---------------------------------------------------------------------------------
    def save(self, folder: str | Path) -> Path:
        """Write the counts into ``folder`` (a part of an index folder being written): shards read
        from disk are hard-linked (copied where links are not possible), new ones written.

        >>> words.save(tmp / "words")
        """
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        names = []
        for i, (shard, source) in enumerate(zip(self.shards, self.sources)):
            name = f"shard-{i:06d}"
            names.append({"name": name, "rows": int(shard.shape[0])})
            if source is not None and (source / "indptr.npy").exists():
                _link_tree(source, folder / name)
            else:
                (folder / name).mkdir()
                shard = shard.tocsr()
                np.save(folder / name / "indptr.npy", shard.indptr.astype(np.int64))
                np.save(folder / name / "indices.npy", shard.indices.astype(np.int32))
                np.save(folder / name / "data.npy", np.asarray(shard.data, dtype=np.uint16))
        np.save(folder / "df.npy", self.df)
        (folder / "words.json").write_text(json.dumps({"format": FORMAT, "papers": len(self), "shards": names,
                                                       "word_buckets": WORD_BUCKETS, "author_buckets": AUTHOR_BUCKETS}))
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> WordIndex:
        """The counts saved in ``folder``, memory-mapped (a row is read when asked for).

        >>> words = WordIndex.load("index/words")
        """
        folder = Path(folder)
        info = json.loads((folder / "words.json").read_text())
        if info.get("format") != FORMAT or info.get("word_buckets") != WORD_BUCKETS:
            raise ValueError(f"{folder} holds word counts of another format ({info.get('format')}); rebuild them")
        shards, sources = [], []
        for s in info["shards"]:
            part = folder / s["name"]
            arrays = [np.load(part / f"{k}.npy", mmap_mode="r") for k in ("data", "indices", "indptr")]
            shards.append(sparse.csr_matrix(tuple(arrays), shape=(s["rows"], COLUMNS)))
            sources.append(part)
        return cls(shards, np.load(folder / "df.npy"), sources)

    def compact(self, most: int = 64) -> None:
        """Merge the shards into one when there are more than ``most`` (a year of mornings): fewer
        files to open; the next save writes the merged one."""
        if len(self.shards) > most:
            self.shards = [sparse.vstack(self.shards, format="csr")]
            self.sources = [None]
            self.offsets = np.array([0, self.shards[0].shape[0]])


def normalize_blocks(x: sparse.csr_matrix) -> sparse.csr_matrix:
    """Each row's words block and people block scaled to unit length on its own."""
    x = x.tocsr()
    people_col = x.indices >= WORD_BUCKETS
    sq = x.data.astype(np.float64) ** 2
    rows = np.repeat(np.arange(x.shape[0]), np.diff(x.indptr))
    norms = np.zeros((x.shape[0], 2))
    np.add.at(norms, (rows, people_col.astype(int)), sq)
    norms = np.sqrt(norms)
    scale = norms[rows, people_col.astype(int)]
    x.data = (x.data / np.where(scale > 0, scale, 1)).astype(np.float32)
    return x


def weigh(x: sparse.csr_matrix, words: float, people: float) -> sparse.csr_matrix:
    """Feature rows with the words block scaled by ``words`` and the people block by ``people``."""
    out = x.tocsr(copy=True)
    out.data = (out.data * np.where(out.indices < WORD_BUCKETS, words, people)).astype(np.float32)
    out.eliminate_zeros()
    return out


def _rows(shard: sparse.csr_matrix, local: np.ndarray) -> sparse.csr_matrix:
    """Rows of a (memory-mapped) shard, reading only those rows' slices."""
    indptr = np.asarray(shard.indptr)
    starts, ends = indptr[local], indptr[local + 1]
    lengths = ends - starts
    take = np.concatenate([np.arange(s, e) for s, e in zip(starts, ends)]) if len(local) else np.array([], np.int64)
    data = np.asarray(shard.data[take]) if len(take) else np.array([], np.uint16)
    indices = np.asarray(shard.indices[take]) if len(take) else np.array([], np.int32)
    return sparse.csr_matrix((data, indices, np.concatenate([[0], np.cumsum(lengths)])),
                             shape=(len(local), COLUMNS))


def _link_tree(source: Path, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for f in source.iterdir():
        try:
            os.link(f, dest / f.name)
        except OSError:  # another file system, or no hard links there: a copy
            shutil.copy2(f, dest / f.name)


def terms(title: str, abstract: str) -> list[str]:
    """The words block's terms of a text, as the hasher sees them (for explanations).

    >>> terms("Graph neural networks", "")
    ['graph', 'neural', 'networks', 'graph neural', 'neural networks']
    """
    return _word_hasher().build_analyzer()(text_of(title, abstract))


def term_columns(items: Iterable[str], people_terms: bool = False) -> np.ndarray:
    """The hashed columns of terms (or of folded people's names), as the counts have them."""
    from sklearn.feature_extraction.text import HashingVectorizer

    items = list(items)
    if not items:
        return np.array([], dtype=np.int64)
    size, offset = (AUTHOR_BUCKETS, WORD_BUCKETS) if people_terms else (WORD_BUCKETS, 0)
    hasher = HashingVectorizer(n_features=size, alternate_sign=False, norm=None, analyzer=lambda terms: terms)
    return np.array([hasher.transform([[t]]).indices[0] for t in items], dtype=np.int64) + offset
