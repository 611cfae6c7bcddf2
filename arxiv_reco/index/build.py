"""The `index` step: a corpus indexed into a folder, built once, then appended to, resumable.

    index, added = index_papers("finetuned-arxiv-recommender", papers, "index/")

Re-running adds only papers not yet in the index (nothing new: the folder is not touched); a
killed build resumes from the shards it finished; a model other than the index's is refused
unless ``rebuild=True``, and then the old index stays in place until the new one is complete.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from ..artifacts import recover
from ..config import load_settings
from ..vectors.backends import BATCH_SIZE
from ..vectors.embed import checkpoint_for, drop_checkpoint
from ..vectors.models import ModelRef, loaded_model, resolve_model
from .paper_index import FAISS_AUTO_ABOVE, IndexMismatchError, PaperIndex


def index_papers(model, papers: pd.DataFrame, out: str | Path, batch_size: int = BATCH_SIZE, faiss: bool | None = None,
                 rebuild: bool = False, show_progress: bool = True, model_name: str | None = None,
                 encoder: str = "auto", devices: Sequence[str] | None = None,
                 ann: str = "ivf-fp16") -> tuple[PaperIndex, int]:
    """The corpus indexed at ``out``: built the first time, afterwards only papers not yet in it
    are encoded and appended (nothing new: the folder is left untouched). A killed run resumes
    from the shards it finished (kept in a hidden folder beside ``out``). Returns the index and
    how many papers were encoded now.

    ``model``: a folder or hub name, or a loaded model (``model_name`` then says what to record).
    ``faiss``: also keep an approximate FAISS index of kind ``ann`` ("ivf-fp16"; "ivf-sq8", "ivf-sq6"
    or "ivf-pq" hold half, 0.39x or an eighth of the memory) (None: automatically above FAISS_AUTO_ABOVE papers).
    ``encoder``: how a new index's model runs ("auto", "torch", "openvino-bf16"); an existing
    index keeps the one it recorded.
    ``rebuild``: when the saved index was built by another model, re-encode every paper with
    this one (the old index stays in place until the new one is complete); otherwise refuse.

    >>> index, added = index_papers("finetuned-arxiv-recommender", papers, "index/")
    """

    out = Path(out)
    ckpt = checkpoint_for(out)
    recover(out)
    model, model_name = loaded_model(model, model_name)
    index = None
    if (out / "index.json").exists():
        try:
            index = PaperIndex.load(out, model)
        except IndexMismatchError as e:
            if not rebuild:
                raise IndexMismatchError(f"{e} (or pass rebuild=True / --rebuild to re-encode everything with this "
                                         "model; the old index stays until the new one is complete)") from None
    fresh = index is None
    counted = False
    if not fresh:
        if index.words is None:  # an index from before 0.3: its words and people counted now, once
            index.count_words(papers)
            counted = True
        if index.abstracts is None:  # from before 0.4: its papers' abstracts kept now, once
            index.keep_abstracts(papers)
            counted = True
        added = index.add(papers, batch_size=batch_size, show_progress=show_progress, checkpoint=ckpt, devices=devices)
    else:
        index = PaperIndex.build(model, papers, batch_size=batch_size, show_progress=show_progress, checkpoint=ckpt,
                                 model_name=model_name, encoder=encoder, devices=devices)
        added = len(index)
    wants_ann = faiss if faiss is not None else len(index) > FAISS_AUTO_ABOVE
    if wants_ann and not index.has_ann:
        index.build_ann(ann)
    elif not fresh and not added and not counted:
        return index, 0  # nothing new: the saved index stays exactly as it was
    index.save(out)
    drop_checkpoint(ckpt)
    return index, added


def model_for_index(out: str | Path, model: str | None = None, settings=None, rebuild: bool = False) -> tuple[ModelRef, str]:
    """Which model encodes papers into the index at ``out``, and why, in one place: ``model`` when
    given; else the model an existing index records (its vectors must stay comparable); else the
    fine-tuned model when one was trained; else the base model, so a reader who only wants the
    digest needs no training.

    >>> ref, why = model_for_index("index")
    """

    settings = settings or load_settings()
    if model:
        return resolve_model(model), "the model you named"
    recorded = (PaperIndex.info_of(out) or {}).get("model") if not rebuild else None
    if recorded:
        return resolve_model(recorded), "the model the index was built with"
    if (settings.model_dir / "modules.json").exists():
        return resolve_model(settings.model_dir), "the fine-tuned model"
    return resolve_model(settings.base_model), (
        f"the base model: no fine-tuned model at {settings.model_dir} (train one, then `index --rebuild`)")
