"""Model names -> loaded sentence-transformers models, resolved the way the Hugging Face ecosystem does.

    model = load_model("sentence-transformers/all-MiniLM-L6-v2")
    print(resolve_model("sentence-transformers/all-MiniLM-L6-v2").source)

A folder loads from disk. A hub name goes through huggingface_hub itself: ``HF_HUB_OFFLINE``,
``HF_ENDPOINT`` (a mirror), proxies (``HTTPS_PROXY``) and the token are honoured, and one cheap
API call tells whether the hub answers. When it does not, a model already in the local
Hugging Face cache loads from there; only a model in no cache falls back to an installed copy
(:mod:`arxiv_reco.vectors.offline`), and the source says so.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path

from ..artifacts import recover
from ..config import hf_offline
from .offline import install_hint, installed_copy

log = logging.getLogger("arxiv_reco")


@dataclass(frozen=True)
class ModelRef:
    """A resolved model: what to load, and where it comes from."""

    name: str  # what to load it by again: a folder's absolute path, or the hub name
    target: str  # what SentenceTransformer is given
    source: str  # where it comes from, in words (printed, and stored beside what it makes)
    local_files_only: bool = False


@functools.lru_cache(maxsize=64)
def _hub_unreachable(name: str) -> str | None:
    """None when the hub answers for ``name``; otherwise why it cannot be used. Raises OSError
    when the hub answers that there is no such model."""
    from huggingface_hub import HfApi, constants, errors

    if hf_offline() or constants.HF_HUB_OFFLINE:
        return "HF_HUB_OFFLINE is set"
    try:
        HfApi().model_info(name, timeout=10)  # one request: no retries, no download
        return None
    except (errors.RepositoryNotFoundError, errors.RevisionNotFoundError, errors.GatedRepoError) as e:
        raise OSError(f"Model {name!r} is not on the Hugging Face Hub or not open to you ({type(e).__name__}). "
                      "Check the name (e.g. 'sentence-transformers/all-MiniLM-L6-v2'), log in with "
                      "`hf auth login` for a private model, or pass the folder of a saved model.") from None
    except errors.HfHubHTTPError as e:
        status = getattr(getattr(e, "response", None), "status_code", None)
        return f"the Hugging Face Hub answered HTTP {status}"
    except Exception as e:  # the transport's connection/timeout errors, offline mode, proxies refusing
        return f"the Hugging Face Hub cannot be reached ({type(e).__name__})"


def _cached(name: str) -> bool:
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(name, "modules.json")
    return isinstance(found, str)


def resolve_model(name: str | Path | ModelRef) -> ModelRef:
    """Where ``name`` loads from: a local folder, the hub, the local HF cache, or an installed copy.

    >>> resolve_model("sentence-transformers/all-MiniLM-L6-v2").source
    """
    if isinstance(name, ModelRef):
        return name
    path = Path(str(name)).expanduser()
    recover(path)  # a training run killed mid-swap: finish it first
    if path.is_dir():
        return ModelRef(str(path.resolve()), str(path), f"local folder {path}")
    name = str(name)
    why = _hub_unreachable(name)
    if why is None:
        return ModelRef(name, name, f"Hugging Face Hub ({name})")
    if _cached(name):
        return ModelRef(name, name, f"Hugging Face cache ({why})", local_files_only=True)

    copy = installed_copy(name)
    if copy is not None:
        return ModelRef(name, str(copy), f"installed copy of {name} at {copy} ({why})")
    hint = install_hint(name)
    raise OSError(f"Model {name!r} is not a local folder, not in the Hugging Face cache, and {why}. "
                  f"Pass the folder of a saved model{f', or `{hint}`' if hint else ''}, or go online once to cache it.")


def load_model(name: str | Path | ModelRef, device: str | None = None, max_seq_length: int | None = None):
    """A SentenceTransformer from a folder, the hub, the HF cache, or an installed offline copy.
    Where it came from is :func:`resolve_model`'s answer: resolve first when you want to say it.

    >>> model = load_model("sentence-transformers/all-MiniLM-L6-v2")
    """
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    ref = resolve_model(name)
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # transformers' sub-second "Loading weights" bar: noise in every cron log
    try:
        model = SentenceTransformer(ref.target, device=device, local_files_only=ref.local_files_only)
    except OSError as e:
        raise OSError(f"Could not load model {ref.name!r} from {ref.source}: {e}. Check the name (e.g. "
                      "'sentence-transformers/all-MiniLM-L6-v2') or pass the folder of a saved model.") from None
    finally:
        if bars:
            hf_logging.enable_progress_bar()
    if max_seq_length:
        model.max_seq_length = max_seq_length
    log.info("loaded %s from %s", ref.name, ref.source)
    return model


def loaded_model(model, name: str | None = None):
    """(a loaded model, the name to record for it): a folder or hub name resolves and names
    itself; a model object keeps the name given (None: unrecorded).

    >>> model, name = loaded_model("finetuned-arxiv-recommender")
    """
    if isinstance(model, str | Path | ModelRef):
        ref = resolve_model(model)
        return load_model(ref), ref.name
    return model, name


TRAINED_ON = "trained_on.txt"  # beside a fine-tuned model's weights: the papers it learnt from


def trained_on(model: str | Path) -> set[str]:
    """The ids of the papers a model saved by ``finetune`` learnt from (its labelled pairs' train and
    validation papers, and the papers it distilled); empty for any other model.

    >>> len(trained_on("finetuned-arxiv-recommender"))
    1493
    """
    path = Path(str(model)).expanduser() / TRAINED_ON
    return set(path.read_text().split()) if path.is_file() else set()
