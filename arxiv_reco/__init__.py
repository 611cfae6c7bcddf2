"""arxiv-reco: build an arXiv paper recommender from LLM-labelled paper pairs.

The handful of calls a pipeline needs (each has a one-line example in its docstring)::

    from arxiv_reco import sample_papers, sample_pairs, label_pairs, export_labels, finetune, PaperIndex
    papers, report = sample_papers("arxiv-metadata-oai-snapshot.json", n=10_000, categories="cs.*")
    pairs = sample_pairs(papers, n=2_000)                    # anchored pairs
    summary = label_pairs(pairs, "labels.sqlite")            # Gemini; label_pairs_teacher offline
    labels = export_labels("labels.sqlite", pairs, "my_labeled_training_data.csv")
    result = finetune(labels, papers)                        # a Recipe value: DEFAULT.but(epochs=1)
    index = PaperIndex.build(result.model_dir, papers); index.similar("2401.01234")

The layers, one subpackage each: papers, pairs, labels, training, vectors, index, reader (and cli).

Names load on first use (PEP 562), so `import arxiv_reco` stays fast and the loader's worker
processes start without pandas, torch or the Gemini SDK.
"""

from __future__ import annotations

from .lazy import lazy_exports

__version__ = "0.1.0"

# what the notebooks and the README use; everything else is in its layer's subpackage
# (arxiv_reco.papers, .pairs, .labels, .training, .vectors, .index, .reader)
__getattr__, __all__ = lazy_exports(__name__, {
    "notebook_settings": "config",
    "load_settings": "config",
    "sample_papers": "papers.sampler",
    "save_papers": "papers.files",
    "read_papers": "papers.files",
    "sample_pairs": "pairs.sampling",
    "save_pairs": "pairs.sampling",
    "pair_report": "pairs.sampling",
    "label_config": "labels.labeling",
    "plan_labeling": "labels.labeling",
    "format_plan": "labels.labeling",
    "export_labels": "labels.labeling",
    "label_pairs": "labels.gemini",
    "alabel_pairs": "labels.gemini",
    "label_pairs_batch": "labels.batch",
    "label_pairs_teacher": "labels.teacher",
    "LabelStore": "labels.store",
    "plot_scores": "plots",
    "Recipe": "training.recipe",
    "DEFAULT": "training.recipe",
    "check_labels": "training.train",
    "finetune": "training.train",
    "evaluate_models": "training.evaluate",
    "measure": "training.evaluate",
    "format_comparison": "training.evaluate",
    "side_by_side": "training.evaluate",
    "load_model": "vectors.models",
    "resolve_model": "vectors.models",
    "PaperIndex": "index.paper_index",
    "index_papers": "index.build",
    "update_index": "reader.update",
    "load_library": "reader.library",
    "feed": "reader.digest",
    "run_pipeline": "pipeline",
    "choose_labeler": "pipeline",
})


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
