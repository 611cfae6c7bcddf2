"""Embeddings kept per model, so a paper is encoded once: the teacher's vectors from labelling are
the ones fine-tuning distils, an evaluation reuses the base model's vectors of the same corpus.

    cache = VectorCache.for_model(model, backend="openvino-bf16")
    found, vectors = cache.get(texts)          # which texts it holds, and their vectors
    cache.put(new_texts, new_vectors)

A folder per (model weights, backend, max_seq_length) under arxiv-reco's cache folder; vectors in
float32 parts, each written atomically with the hashes of its texts. A part that cannot be read
is ignored (its texts are encoded again).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from .artifacts import replace_file, write_json


def text_key(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()


class VectorCache:
    """The vectors one model (as one backend runs it) gave for texts (its state: the loaded parts)."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self._where: dict[str, tuple[int, int]] = {}  # text key -> (part, row)
        self._parts: dict[int, np.ndarray] = {}
        for keys_file in sorted(self.folder.glob("part-*.json")):
            part = int(keys_file.stem.split("-")[1])
            try:
                keys = json.loads(keys_file.read_text())
                vectors = np.load(keys_file.with_suffix(".npy"), mmap_mode="r")
            except (OSError, ValueError):
                continue
            if len(keys) != len(vectors):
                continue
            self._parts[part] = vectors
            self._where.update((k, (part, i)) for i, k in enumerate(keys))

    @classmethod
    def for_model(cls, model, backend: str) -> VectorCache:
        """The cache of ``model``'s vectors as ``backend`` computes them."""
        from .backends import torch_model, weights_digest
        from .config import CACHE_DIR

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
        return found, np.stack([np.asarray(self._parts[p][i], dtype=np.float32) for p, i in rows])

    def put(self, texts: list[str], vectors: np.ndarray) -> None:
        """Keep the vectors of texts (a new part; the vectors first, then the keys that name them)."""
        if not len(texts):
            return
        part = max(self._parts, default=-1) + 1
        npy = self.folder / f"part-{part:06d}.npy"
        with replace_file(npy) as tmp:
            np.save(tmp, np.asarray(vectors, dtype=np.float32))
        keys = [text_key(t) for t in texts]
        write_json(npy.with_suffix(".json"), keys)
        self._parts[part] = np.load(npy, mmap_mode="r")
        self._where.update((k, (part, i)) for i, k in enumerate(keys))
