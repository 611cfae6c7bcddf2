"""arxiv-reco: build an arXiv paper recommender from LLM-labelled paper pairs.

The handful of calls a pipeline needs (each has a one-line example in its docstring)::

    from arxiv_reco import sample_papers, sample_pairs, label_pairs, finetune, PaperIndex
    papers, report = sample_papers("arxiv-metadata-oai-snapshot.json", n=10_000, categories="cs.*")
    pairs = sample_pairs(papers, n=2_000)             # anchored pairs
    summary = label_pairs(pairs, "labels.sqlite")            # Gemini; label_pairs_teacher offline
    result = finetune("my_labeled_training_data.csv", papers=papers)
    index = PaperIndex.build(result.model_dir, papers); index.similar("2401.01234")

Names load on first use (PEP 562), so `import arxiv_reco` stays fast and the loader's worker
processes start without pandas, torch or the Gemini SDK.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "load_settings": "config",
    "CategoryFilter": "corpus",
    "paper_text": "corpus",
    "iter_papers": "snapshot",
    "load_papers": "snapshot",
    "read_papers": "corpus",
    "sample_papers": "sampler",
    "save_papers": "corpus",
    "pair_report": "pairs",
    "read_pairs": "pairs",
    "sample_pairs": "pairs",
    "save_pairs": "pairs",
    "load_model": "models",
    "resolve_model": "models",
    "notebook_settings": "config",
    "LabelConfig": "labeling",
    "label_config": "labeling",
    "label_pairs": "gemini",
    "alabel_pairs": "gemini",
    "label_pairs_batch": "batch",
    "label_pairs_teacher": "teacher",
    "plan_labeling": "labeling",
    "format_plan": "labeling",
    "LabelStore": "store",
    "read_labels": "labeling",
    "export_labels": "labeling",
    "finetune": "train",
    "check_labels": "train",
    "evaluate_models": "evaluate",
    "measure": "evaluate",
    "format_comparison": "evaluate",
    "save_report": "evaluate",
    "PaperIndex": "recommend",
    "index_papers": "indexing",
    "side_by_side": "evaluate",
    "update_index": "update",
    "load_library": "library",
    "to_bibtex": "library",
    "feed": "digest",
    "build_app": "app",
    "plot_scores": "plots",
    "run_pipeline": "pipeline",
    "choose_labeler": "pipeline",
    "push_model": "hub",
    "push_labels": "hub",
    "labels_to_dataset": "hub",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'arxiv_reco' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
