"""Embeddings kept per model, so a paper is encoded once: the teacher's vectors from labelling are
the ones fine-tuning distils, an evaluation reuses the base model's vectors of the same corpus.

    cache = VectorCache.for_model(model, backend="openvino-bf16")
    found, vectors = cache.get(texts)          # which texts it holds, and their vectors
    cache.put(new_texts, new_vectors)

A folder per (model weights, backend, max_seq_length) under arxiv-reco's cache folder; each part
one .npz of float32 vectors and the hashes of their texts, written atomically under a unique
name. A part that cannot be read is ignored (its texts are encoded again).
"""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import numpy as np

from ..artifacts import replace_file
from ..config import CACHE_DIR
from .backends import torch_model, weights_digest


def text_key(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()


class VectorCache:
    """The vectors one model (as one backend runs it) gave for texts (its state: the loaded parts)."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self._where: dict[str, tuple[int, int]] = {}  # text key -> (part, row)
        self._parts: list[np.ndarray] = []
        for part in sorted(self.folder.glob("part-*.npz")):
            try:
                with np.load(part, allow_pickle=False) as data:
                    keys, vectors = data["keys"].tolist(), data["vectors"]
            except (OSError, ValueError, KeyError):  # unreadable: those texts are encoded again
                continue
            self._add(keys, vectors)

    def _add(self, keys: list[str], vectors: np.ndarray) -> None:
        self._parts.append(vectors)
        p = len(self._parts) - 1
        self._where.update((k, (p, i)) for i, k in enumerate(keys))

    @classmethod
    def for_model(cls, model, backend: str) -> VectorCache:
        """The cache of ``model``'s vectors as ``backend`` computes them."""

        return cls(CACHE_DIR / "vectors" / f"{weights_digest(torch_model(model))}-{backend}")

    def __len__(self) -> int:
        return len(self._where)

    def get(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(a mask of the texts held, their vectors in order)."""
        keys = [text_key(t) for t in texts]
        found = np.array([k in self._where for k in keys], dtype=bool)
        rows = [self._where[k] for k in keys if k in self._where]
        if not rows:
            return found, np.zeros((0, 0), dtype=np.float32)
        return found, np.stack([self._parts[p][i] for p, i in rows]).astype(np.float32, copy=False)

    def put(self, texts: list[str], vectors: np.ndarray) -> None:
        """Keep the vectors of texts: one new part holding both the keys and the vectors, under a
        name no other process writes (two processes filling one cache never mix their parts)."""
        if not len(texts):
            return
        keys = [text_key(t) for t in texts]
        vectors = np.asarray(vectors, dtype=np.float32)
        with replace_file(self.folder / f"part-{uuid.uuid4().hex}.npz") as tmp, open(tmp, "wb") as f:
            np.savez(f, keys=np.array(keys), vectors=vectors)
        self._add(keys, vectors)
