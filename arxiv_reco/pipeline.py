"""The product as one story: sample -> pairs -> label -> train -> index, every file in one folder.

    result = run_pipeline("demo-output", n_papers=1_000, n_pairs=1_500)     # `arxiv-reco demo`
    result.train.comparison       # what fine-tuning gained, with confidence intervals
    result.index.similar(result.papers["id"][0])

Each step is the call a notebook cell makes; this module only puts them in order, with the
choices a demo makes: the bundled sample (or ARXIV_RECO_SNAPSHOT), Gemini when a key is set and
the offline teacher otherwise. Read it to see how the pieces fit, the way UKPLab/gpl's
``train.py`` reads.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .config import Settings, load_settings


@dataclass
class PipelineResult:
    """Everything a run made (each is also on disk, in ``settings.work_dir``)."""

    settings: Settings
    papers: pd.DataFrame
    pairs: pd.DataFrame
    labels: pd.DataFrame
    labeler: str  # "gemini" or "teacher"
    train: object  # train.TrainResult
    index: object  # recommend.PaperIndex
    seconds: float


def run_pipeline(work_dir: str | Path, n_papers: int = 1_000, n_pairs: int = 1_500, labeler: str = "auto",
                 teacher_max_seq: int | None = 128, epochs: float | None = None, max_seq_length: int | None = 128,
                 seed: int = 0, settings: Settings | None = None, say: Callable[[str], None] = print) -> PipelineResult:
    """Run every step on ``settings.snapshot`` (default: the bundled sample) into ``work_dir``.

    Re-running is safe and cheap where the steps are: labels already in the store are not asked
    for again, and every file is replaced atomically.

    >>> result = run_pipeline("demo-output")
    """
    from .index.build import index_papers
    from .labels.labeling import choose_labeler, export_labels
    from .labels.store import LabelStore
    from .pairs.sampling import pair_report, sample_pairs, save_pairs
    from .papers.files import save_papers
    from .papers.sampler import sample_papers
    from .plots import plot_scores
    from .training.recipe import DEFAULT
    from .training.train import finetune

    settings = settings or load_settings(work_dir=work_dir)
    settings.work_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()

    def step(i: int, text: str) -> None:
        say(f"\n[{i}/5 {time.perf_counter() - t0:5.0f}s] {text}")

    # 1. papers: a seeded sample of the snapshot, saved as Parquet
    step(1, f"sampling {n_papers:,} papers from {Path(settings.snapshot).name}")
    papers, report = sample_papers(settings.snapshot, n=n_papers, seed=seed)
    say(str(report))
    save_papers(papers, settings.papers)

    # 2. pairs worth paying for: neighbours, same field, random; split by paper
    step(2, f"sampling {n_pairs:,} informative pairs (mixed: TF-IDF neighbours, same category, random)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pairs = sample_pairs(papers, n=n_pairs, seed=seed)
    save_pairs(pairs, settings.pairs)
    say(pair_report(pairs, papers).to_string())

    # 3. labels: Gemini, or the offline teacher without a key
    who = choose_labeler(labeler, settings)
    with LabelStore(settings.label_store) as store:
        if who == "gemini":
            from .labels.gemini import label_pairs

            step(3, f"labelling with Gemini ({settings.gemini_model}); interrupt and re-run to resume")
            summary = label_pairs(pairs, store, settings=settings)
        else:
            from .labels.teacher import label_pairs_teacher

            step(3, f"NO GEMINI KEY: labelling offline with the teacher model {settings.teacher_model} instead "
                    "(set GEMINI_API_KEY in .env to label with Gemini)")
            summary = label_pairs_teacher(pairs, store, settings.teacher_model, settings, max_seq_length=teacher_max_seq)
        say(str(summary))
        labels = export_labels(store, pairs, settings.labeled_csv, model=summary.model,
                               prompt_version=summary.prompt_version)
    plot_scores(labels, pairs, out=settings.work_dir / "score_histogram.png")

    # 4. fine-tune, with a before/after on papers no model trained on
    step(4, f"fine-tuning {settings.base_model} on {len(labels):,} labelled pairs")
    recipe = DEFAULT.but(epochs=epochs, max_seq_length=max_seq_length or DEFAULT.max_seq_length)
    trained = finetune(labels, papers, recipe, base_model=settings.base_model, output_dir=settings.model_dir, seed=seed)

    # 5. index the corpus with the fine-tuned model
    step(5, "indexing the corpus with the fine-tuned model")
    index, _ = index_papers(settings.model_dir, papers, settings.index_dir, rebuild=True)
    return PipelineResult(settings, papers, pairs, labels, who, trained, index, time.perf_counter() - t0)
