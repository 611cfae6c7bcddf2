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

from typing import TYPE_CHECKING

from .lazy import lazy_exports

if TYPE_CHECKING:  # the same names, for IDEs and type checkers (a test keeps the two lists equal)
    from .config import load_settings, notebook_settings
    from .index.build import index_papers
    from .index.paper_index import PaperIndex
    from .labels.batch import label_pairs_batch
    from .labels.gemini import alabel_pairs, label_pairs
    from .labels.labeling import (
        choose_labeler,
        export_labels,
        format_plan,
        label_config,
        plan_labeling,
    )
    from .labels.store import LabelStore
    from .labels.teacher import label_pairs_teacher
    from .pairs.sampling import pair_report, sample_pairs, save_pairs
    from .papers.files import read_papers, save_papers
    from .papers.sampler import sample_papers
    from .pipeline import run_pipeline
    from .plots import plot_scores
    from .reader.digest import feed
    from .reader.library import load_library
    from .reader.update import update_index
    from .training.evaluate import evaluate_models, format_comparison, measure, side_by_side
    from .training.recipe import DEFAULT, Recipe
    from .training.train import check_labels, finetune
    from .vectors.models import load_model, resolve_model

__version__ = "0.1.0"

# what the notebooks and the README use; everything else is imported from its module
# (arxiv_reco.reader.daily, arxiv_reco.labels.audit, ...: each layer's docstring lists its modules)
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
    "choose_labeler": "labels.labeling",
})


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
