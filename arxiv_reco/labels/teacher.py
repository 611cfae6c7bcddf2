"""Label pairs offline: a stronger local sentence-transformers model scores each pair, no API.

    summary = label_pairs_teacher(pairs, "labels.sqlite")     # all-mpnet-base-v2 by default

For users without a Gemini key, and for benchmarks: the labels land in the same store and CSV as
Gemini's, with labeler "teacher" and the teacher's name as the model.
"""

from __future__ import annotations

import time

from ..config import Settings, load_settings
from .labeling import LabelSummary, pending
from .store import LabelStore


def teacher_version(max_seq_length: int) -> str:
    """The teacher's 'prompt version': its scoring rule, how much of each paper it reads, and the
    text recipe (fine-tuning reads the length back, to distil the very vectors that labelled)."""
    from ..papers.corpus import TEXT_RECIPE

    return f"teacher-clip-cos|max_seq={max_seq_length}|{TEXT_RECIPE}"


def installed_teacher(settings: Settings | None = None) -> str | None:
    """The settings' teacher model when it can be loaded here (a folder, the Hub, the Hugging Face
    cache, or an installed copy: the ``[teacher]`` extra), else None.

    >>> installed_teacher()
    'sentence-transformers/all-mpnet-base-v2'
    """
    from ..vectors.models import resolve_model

    name = (settings or load_settings()).teacher_model
    try:
        resolve_model(name)
    except (OSError, ValueError):  # nowhere to load it from, or not even a model's name
        return None
    return name


def teacher_of(labels) -> tuple[str, int | None] | None:
    """(teacher model, tokens it read per paper) when every label came from one offline teacher,
    as the labels file's ``labeler``, ``model`` and ``reads`` columns say; else None. ``reads`` is
    None for a file written before the column existed (the teacher then reads its own default).

    >>> teacher_of(read_labels("my_labeled_training_data.csv"))
    ('sentence-transformers/all-mpnet-base-v2', 256)
    """
    import pandas as pd

    if not len(labels) or "labeler" not in labels.columns or not (labels["labeler"] == "teacher").all():
        return None
    models = labels["model"].unique()
    reads = pd.to_numeric(labels["reads"], errors="coerce").dropna().unique() if "reads" in labels.columns else []
    if len(models) != 1 or len(reads) > 1:
        return None
    return str(models[0]), (int(reads[0]) if len(reads) else None)


def label_pairs_teacher(pairs, store: str | LabelStore = "labels.sqlite", teacher_model: str | None = None,
                        settings: Settings | None = None, batch_size: int = 32, max_seq_length: int | None = None,
                        progress: bool = True) -> LabelSummary:
    """Label pairs without an API: a stronger local sentence-transformers model scores each pair.

    score = clip(cosine(teacher(text_a), teacher(text_b)), 0, 1). For all-mpnet-base-v2 this
    sits close to the Gemini rubric's scale: unrelated arXiv papers land near 0.0-0.15, same
    field ~0.3-0.4, closely related work 0.6 and up. Each paper is encoded once, so tens of
    thousands of pairs cost little more than the papers they contain. Labels go to the same
    store and CSV as Gemini's, with labeler "teacher".

    >>> label_pairs_teacher(pairs, "labels.sqlite", "sentence-transformers/all-mpnet-base-v2")
    """
    from ..pairs.sampling import pair_texts
    from ..vectors.embed import encode
    from ..vectors.models import load_model, resolve_model

    settings = settings or load_settings()
    name = teacher_model or settings.teacher_model
    t0 = time.monotonic()
    ref = resolve_model(name)
    model = load_model(ref, max_seq_length=max_seq_length)
    st, todo, summary = pending(pairs, store, name, teacher_version(model.max_seq_length))
    st.put_version(name, summary.prompt_version, "teacher", int(model.max_seq_length))
    summary.cost_usd = None  # no API, no bill
    if not todo:
        return summary
    texts: dict[str, str] = {}
    for p, a, b in zip(todo, *pair_texts(todo)):
        texts.setdefault(p.get("id_a") or p["title_a"], a)
        texts.setdefault(p.get("id_b") or p["title_b"], b)
    keys = list(texts)
    # kept per model: fine-tuning distils the same vectors without encoding the papers again
    emb = encode(model, [texts[k] for k in keys], batch_size=batch_size, progress=progress, desc="teacher", cache=True)
    where = {k: i for i, k in enumerate(keys)}
    run_id = st.start_run({"mode": "teacher", "teacher_model": name, "source": ref.source,
                           "pairs": len(todo)})
    for p in todo:
        a, b = where[p.get("id_a") or p["title_a"]], where[p.get("id_b") or p["title_b"]]
        score = float(min(1.0, max(0.0, float(emb[a] @ emb[b]))))
        st.put_label(p["pair_id"], name, summary.prompt_version, score, labeler="teacher", run_id=run_id)
        summary.labeled += 1
    summary.seconds = time.monotonic() - t0
    return summary
