"""Papers into vectors: the one place the package encodes text with a sentence-transformer.

    emb = encode(model, papers["text"].tolist())                       # normalised float32
    emb = encode(model, texts, checkpoint=".index.encoding")           # resumable, in shards
    embed_texts("tfidf", texts)                # TF-IDF as arxiv-sanity computes it, sparse rows
    top_k_neighbors(emb, k=10)             # each row's nearest rows, itself excluded

Texts are encoded in fixed chunks (the model sorts each chunk by length, so padding stays low)
grouped into shards. With ``checkpoint``, each finished shard is saved there atomically, so a run
killed after hours resumes at the first missing shard; because the chunking is the same either
way, a resumed run returns exactly what an uninterrupted one would. One progress bar counts
papers, with papers/s and the time left.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..artifacts import replace_file, write_json
from .backends import BATCH_SIZE, backend_of, fast_encoder, torch_model, weights_digest
from .cache import VectorCache

NEIGHBORS_K = 10
CHUNK = 1024  # texts per encode call: one progress step, sorted by length inside
SHARD_SIZE = 8192  # texts per checkpoint file: at most this much work is lost to a kill
_PROBE = "A probe sentence that fingerprints an embedding model: graph neural networks for molecules."


def model_fingerprint(model) -> str:
    """The model's weights, fingerprinted: differs when the weights differ, the same on any device
    and whatever backend runs it. A stand-in without weights is fingerprinted by its answer to a probe."""

    base = torch_model(model)
    if hasattr(base, "parameters"):
        return weights_digest(base, with_length=False)
    return probe_fingerprint(base)


def probe_fingerprint(model) -> str:
    """A hash of the model's embedding of a fixed probe, rounded (what indexes before 0.2 recorded:
    it can differ across devices for the same weights, hence model_fingerprint)."""
    v = model.encode([_PROBE], normalize_embeddings=True, convert_to_numpy=True)[0]
    return hashlib.sha256(np.round(v.astype(np.float32), 3).tobytes()).hexdigest()[:16]


def embedding_dim(model) -> int:
    """How many dimensions the model's vectors have.

    >>> embedding_dim(model)
    384
    """
    for name in ("get_embedding_dimension", "get_sentence_embedding_dimension"):
        fn = getattr(model, name, None)
        if fn is not None and fn():
            return int(fn())
    return int(np.asarray(model.encode([_PROBE], convert_to_numpy=True)).shape[-1])  # the probe: spies skip it


def _digest(texts: Sequence[str]) -> str:
    h = hashlib.blake2b(digest_size=16)
    for t in texts:
        h.update(t.encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.hexdigest()


def encode(
    model,
    texts: Sequence[str],
    batch_size: int = BATCH_SIZE,
    progress: bool = True,
    checkpoint: str | os.PathLike | None = None,
    shard_size: int = SHARD_SIZE,
    dtype=np.float32,
    desc: str = "encoding",
    backend: str = "auto",
    devices: Sequence[str] | None = None,
    cache: bool = False,
) -> np.ndarray:
    """L2-normalised embeddings of ``texts`` (rows in order), as ``dtype``.

    ``backend``: how the model runs (:mod:`arxiv_reco.vectors.backends`): "auto" is OpenVINO in bf16 on a
    CPU with native bf16 (about twice as fast, cosine to fp32 >= 0.9999), else the model as it is.

    ``devices``: several workers, e.g. ["cuda:0", "cuda:1"] (every GPU of a machine) or
    ["cpu", "cpu"]: sentence-transformers' multi-process pool shares each chunk among them (the
    model's torch backend; the rows come back in order, equal to one process).

    ``cache``: keep the vectors per model (:mod:`arxiv_reco.vectors.cache`) and encode only texts
    it has not seen (the teacher's vectors from labelling serve fine-tuning this way).

    ``checkpoint``: a folder for finished shards; a later call with the same model and texts
    resumes from it (anything else there is discarded). Remove it with :func:`drop_checkpoint`
    once the result is saved.

    >>> emb = encode(model, papers["text"].tolist())
    """

    texts = list(texts)
    n = len(texts)
    dtype = np.dtype(dtype)
    if n == 0:
        return np.zeros((0, embedding_dim(model)), dtype=dtype)
    pool = None
    if devices and len(devices) == 1:  # one named device: encode there
        model = model.to(devices[0]) if hasattr(model, "to") else model
    if devices and len(devices) > 1:
        # several processes: the pool is sentence-transformers' own (it needs the torch model)
        pool = model.start_multi_process_pool(list(devices))
        backend = "torch"
    model = fast_encoder(model, backend)
    if cache and pool is None:
        return _cached(model, texts, batch_size, progress, dtype, desc, backend_of(model))
    chunk = min(CHUNK * (len(devices) if pool else 1), max(1, shard_size))
    shard_size = max(chunk, shard_size // chunk * chunk)  # shards hold whole chunks
    ckpt = Path(checkpoint) if checkpoint is not None else None
    done: set[int] = set()
    if ckpt is not None:
        done = _open_checkpoint(ckpt, model, texts, batch_size, chunk, shard_size, dtype, backend_of(model))
    out: np.ndarray | None = None
    from tqdm.auto import tqdm

    bar = tqdm(total=n, desc=desc, unit="paper", disable=not progress, smoothing=0.05, dynamic_ncols=True)
    try:
        for s, start in enumerate(range(0, n, shard_size)):
            stop = min(n, start + shard_size)
            if s in done:
                part = np.load(_shard(ckpt, s))
                bar.update(stop - start)
            else:
                part = np.concatenate([_encode_chunk(model, texts[c : min(stop, c + chunk)], batch_size, dtype, bar,
                                                     pool) for c in range(start, stop, chunk)])
                if ckpt is not None:
                    with replace_file(_shard(ckpt, s)) as tmp:
                        np.save(tmp, part)
            if out is None:
                out = np.empty((n, part.shape[1]), dtype=dtype)
            out[start:stop] = part
    finally:
        bar.close()
        if pool is not None:
            model.stop_multi_process_pool(pool)
    return out


def _cached(encoder, texts: list[str], batch_size: int, progress: bool, dtype, desc: str, backend: str) -> np.ndarray:
    store = VectorCache.for_model(encoder, backend)
    found, held = store.get(texts)
    missing = list(dict.fromkeys(t for t, f in zip(texts, found) if not f))
    if missing:
        new = encode(encoder, missing, batch_size=batch_size, progress=progress, desc=desc, backend=backend)
        store.put(missing, new)
        found, held = store.get(texts)
    return held.astype(dtype, copy=False)


def _encode_chunk(model, texts: list[str], batch_size: int, dtype, bar, pool=None) -> np.ndarray:
    extra = {"pool": pool, "chunk_size": max(1, -(-len(texts) // len(pool["processes"])))} if pool else {}
    emb = model.encode(texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
                       show_progress_bar=False, **extra)
    bar.update(len(texts))
    return np.asarray(emb, dtype=np.float32).astype(dtype, copy=False)


def _shard(ckpt: Path, s: int) -> Path:
    return ckpt / f"shard-{s:06d}.npy"


def _open_checkpoint(ckpt: Path, model, texts: list[str], batch_size: int, chunk: int, shard_size: int,
                     dtype, backend: str) -> set[int]:
    """The finished shards of an earlier run of the same job; a different job's are discarded."""
    job = {"model": model_fingerprint(model), "backend": backend, "texts": _digest(texts), "n": len(texts),
           "batch_size": batch_size,
           "chunk": chunk, "shard_size": shard_size, "dtype": str(np.dtype(dtype))}
    manifest = ckpt / "job.json"
    if ckpt.is_dir():
        try:
            same = json.loads(manifest.read_text()) == job
        except (OSError, ValueError):
            same = False
        if not same:
            drop_checkpoint(ckpt)
    ckpt.mkdir(parents=True, exist_ok=True)
    if not manifest.exists():
        write_json(manifest, job)
    done = set()
    for s in range((len(texts) + shard_size - 1) // shard_size):
        rows = min(shard_size, len(texts) - s * shard_size)
        try:
            part = np.load(_shard(ckpt, s), mmap_mode="r")  # the header only: shape and dtype
        except (OSError, ValueError):  # missing or unreadable: encode that shard (again)
            continue
        if part.shape[0] == rows and part.dtype == np.dtype(dtype):
            done.add(s)
    return done


def drop_checkpoint(ckpt: str | os.PathLike) -> None:
    """Remove a checkpoint folder once what it fed is saved."""
    import shutil

    shutil.rmtree(ckpt, ignore_errors=True)


def checkpoint_for(dest: str | os.PathLike) -> Path:
    """The checkpoint folder for an artifact being built at ``dest`` (a hidden sibling)."""
    dest = Path(dest)
    return dest.with_name(f".{dest.name}.encoding")


# ---- similarity ------------------------------------------------------------------------------
def tfidf_matrix(texts, min_df: int | None = None):
    """TF-IDF as arxiv-sanity-lite computes it: word 1-2 grams, sublinear tf, l2-normalised rows."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = list(texts)
    if min_df is None:  # arxiv-sanity-lite uses 5 on all of arXiv; small corpora need less
        min_df = 1 if len(texts) < 200 else 2 if len(texts) < 20_000 else 5
    vec = TfidfVectorizer(
        strip_accents="unicode", lowercase=True, analyzer="word", stop_words="english",
        token_pattern=r"(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b", ngram_range=(1, 2),
        min_df=min_df, max_df=0.5 if len(texts) < 200 else 0.1, norm="l2", sublinear_tf=True, dtype=np.float32,
    )
    return vec.fit_transform(texts)


def top_k_neighbors(matrix, k: int = NEIGHBORS_K, rows=None, block: int = 2048) -> np.ndarray:
    """For each of ``rows`` (default: all), the indices of the k most cosine-similar rows, best
    first, the row itself excluded.

    Works for a sparse TF-IDF matrix or dense normalised embeddings, in blocks of rows so memory
    stays at block x n.
    """
    n = matrix.shape[0]
    rows = np.arange(n) if rows is None else np.asarray(rows, dtype=np.int64)
    k = min(k, n - 1)
    out = np.empty((len(rows), max(k, 0)), dtype=np.int64)
    if k <= 0:
        return out
    for start in range(0, len(rows), block):
        chunk = rows[start : start + block]
        sims = matrix[chunk] @ matrix.T
        sims = sims.toarray() if hasattr(sims, "toarray") else np.asarray(sims)
        sims[np.arange(len(chunk)), chunk] = -np.inf
        part = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        order = np.take_along_axis(sims, part, axis=1).argsort(axis=1)[:, ::-1]
        out[start : start + len(chunk)] = np.take_along_axis(part, order, axis=1)
    return out


def embed_texts(model, texts: Sequence[str], batch_size: int = BATCH_SIZE, backend: str = "auto",
            progress: bool = False, cache: bool = False) -> np.ndarray:
    """L2-normalised vectors of ``texts``: a SentenceTransformer's embeddings, or TF-IDF's sparse
    rows when ``model`` is "tfidf" (the two scorers evaluation compares side by side). ``cache``:
    keep and reuse the model's vectors (:mod:`arxiv_reco.vectors.cache`).

    >>> embed_texts("tfidf", papers["text"].tolist())
    """
    if isinstance(model, str) and model == "tfidf":
        return tfidf_matrix(texts)
    return encode(model, list(texts), batch_size=batch_size, progress=progress, backend=backend, desc="evaluating",
                  cache=cache)
