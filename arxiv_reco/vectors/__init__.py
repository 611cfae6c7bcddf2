"""Vectors: model names to loaded models, and texts to normalised embeddings (fast where the CPU allows).

    model = load_model("sentence-transformers/all-MiniLM-L6-v2"); emb = encode(model, texts)
"""

from __future__ import annotations

from ..lazy import lazy_exports

__getattr__, __all__ = lazy_exports(__name__, {
    "load_model": "models",
    "resolve_model": "models",
    "encode": "embed",
    "vectors": "embed",
})
