"""Vectors: model names to loaded models, and texts to normalised embeddings (fast where the CPU allows).

    model = load_model("sentence-transformers/all-MiniLM-L6-v2"); emb = encode(model, texts)
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "load_model": "models",
    "resolve_model": "models",
    "encode": "embed",
    "vectors": "embed",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
