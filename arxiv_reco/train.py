"""Fine-tune a sentence-transformer on labelled paper pairs, and show what it gained.

    result = finetune("my_labeled_training_data.csv", papers=papers)
    result.table          # before/after: TF-IDF, the base model, the fine-tuned model
    result.comparison     # the fine-tuned model's paired gains over the base: 95% CI, verdict

The story, top to bottom as in sentence-transformers' training examples:
1. load the base model (an installed offline copy when the Hub is out of reach);
2. load the labels and their paper-disjoint train/validation/test split;
3. evaluate the base model on held-out papers (before it changes);
4. the objectives (:mod:`arxiv_reco.objectives`): the pair loss on the labels, plus the teacher's
   similarity structure over the training papers when the labels came from the offline teacher,
   plus the ranking of each anchor's partners when the labels are anchored;
5. an evaluator on the validation pairs, for the training curve;
6. train with SentenceTransformerTrainer, every objective in one run (bf16 where the GPU or CPU
   has it natively, fp16 on older GPUs); then, with the teacher's vectors, a linear layer fitted in
   closed form that maps the student onto the teacher (:mod:`arxiv_reco.projection`);
7. evaluate the fine-tuned model the same way;
8. save the model with its model card, training curve and evaluation.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .artifacts import replace_dir
from .config import DEFAULT_BASE_MODEL, FINETUNED_DIR
from .corpus import TEXT_RECIPE
from .labeling import read_labels, validate_labels
from .objectives import anchored, build_objectives
from .projection import add_teacher_projection

log = logging.getLogger("arxiv_reco")

# ---- defaults (the recipe measured best in bench/quality.py; README has the figures) ---------------
# the pair loss (objectives.PAIR_LOSSES), by who labelled: the teacher's scores are cosines, so
# regress them; Gemini's rubric scores are not (0.3 means "same broad field", not a cosine of 0.3),
# so only their order counts. Measured on rubric-scale labels: cosine +0.009 nDCG@10, CoSENT +0.016.
LOSS = {"teacher": "cosine", "rubric": "cosent"}
EPOCHS = 3
BATCH_SIZE = 32
LEARNING_RATE = 5e-5
WARMUP_RATIO = 0.1
MAX_SEQ_LENGTH = 256  # what the saved model reads (and, unless train_seq_length says less, trains on)
MIN_PAIRS = {"train": 8, "validation": 2, "test": 2}


@dataclass
class TrainResult:
    """What a fine-tuning run produced."""

    model_dir: Path
    table: pd.DataFrame  # before/after evaluation, one row per model
    comparison: pd.DataFrame = field(default_factory=pd.DataFrame)  # fine-tuned vs base: paired CI per metric
    history: list[dict] = field(default_factory=list)  # training loss and validation Spearman by step
    curve_png: Path | None = None
    seconds: float = 0.0
    pairs_per_second: float = 0.0
    device: str = "cpu"
    base_source: str = ""

    def __repr__(self) -> str:
        from .evaluate import format_comparison

        return (f"TrainResult(model_dir={str(self.model_dir)!r}, {self.seconds:.0f}s on {self.device}, "
                f"{self.pairs_per_second:.1f} pairs/s)\n{self.table.round(4).to_string()}\n"
                f"{format_comparison(self.comparison).to_string(index=False)}")


def check_labels(labels: pd.DataFrame | str | Path) -> pd.DataFrame:
    """The labels file, refused with a clear message when it cannot train a model."""
    required = ("text_a", "text_b", "score", "split")
    df = validate_labels(labels, required) if isinstance(labels, pd.DataFrame) else read_labels(labels, required)
    counts = df["split"].value_counts()
    short = {s: int(counts.get(s, 0)) for s, need in MIN_PAIRS.items() if counts.get(s, 0) < need}
    if short:
        raise ValueError(f"too few pairs to split: {short} (need at least {MIN_PAIRS}); label more pairs "
                         "(the split is by paper, so a few dozen pairs are the minimum)")
    return df


def is_model_dir(path: Path) -> bool:
    """A folder holding a saved sentence-transformers (or transformers) model."""
    return (path / "modules.json").exists() or (path / "config.json").exists()


def device_and_precision() -> tuple[str, dict]:
    """('cuda'|'mps'|'cpu', trainer precision flags): the precision the GPU has natively.

    bf16 from Ampere (compute capability 8.0) on; fp16 before (a T4, Colab's free GPU, is 7.5).
    ``torch.cuda.is_bf16_supported()`` answers True on a T4 too, through emulation that is slower
    than fp16, so the capability decides. On a CPU with native bf16 instructions (AVX512-BF16 or
    AMX), bf16 autocast too: 1.55x the pairs per second of float32 on 2 cores
    (bench/train_precision.py).
    """
    import torch

    if torch.cuda.is_available():
        bf16 = torch.cuda.get_device_capability()[0] >= 8
        return "cuda", {"bf16": bf16, "fp16": not bf16}
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps", {}
    return "cpu", {"bf16": True} if _cpu_native_bf16() else {}


def _cpu_native_bf16() -> bool:
    import torch

    # torch's own probe, not backends' OpenVINO one: training runs on torch's kernels, and
    # openvino is not installed everywhere torch is
    try:  # private helpers, present since torch 2.1; without them, do not guess
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except AttributeError:
        return False


def _teacher_vectors(teacher: str | None, taught: tuple[str, int] | None, train: pd.DataFrame):
    """The training papers' texts and the teacher's vectors of them: from the vector cache the
    labelling filled (the same model and length), else encoded now."""
    from .embed import encode
    from .models import load_model

    if not teacher and not taught:
        raise ValueError("distill=True needs a teacher: these labels did not come from the offline teacher, "
                         "so pass teacher='sentence-transformers/all-mpnet-base-v2' (or another model)")
    name, max_seq = (teacher, None) if teacher else taught
    texts = list(dict.fromkeys(train["text_a"].tolist() + train["text_b"].tolist()))
    model = load_model(name, max_seq_length=max_seq)
    return texts, encode(model, texts, progress=False, desc="teacher", cache=True)


def _batching(objectives: dict) -> dict:
    """Trainer options for these objectives: no text twice in a batch of the ranking or the
    distillation (in-batch comparisons), several objectives interleaved in proportion."""
    from sentence_transformers.sentence_transformer.training_args import (
        BatchSamplers,
        MultiDatasetBatchSamplers,
    )

    out = {"multi_dataset_batch_sampler": MultiDatasetBatchSamplers.PROPORTIONAL}
    if "rank" in objectives or "distill" in objectives:
        # a text twice in a batch is its own perfect in-batch neighbour: it would swamp both losses
        out["batch_sampler"] = BatchSamplers.NO_DUPLICATES
    return out


def _history_callback(history: list[dict]):
    from transformers import TrainerCallback

    class History(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs:
                history.append({"step": state.global_step, "epoch": state.epoch, **logs})

    return History()


def plot_curve(history: list[dict], out: Path) -> Path | None:
    """Training loss and validation Spearman by step, as a PNG."""
    from matplotlib.figure import Figure  # no pyplot: no backend to pick, fine headless and inline

    loss = [(h["step"], h["loss"]) for h in history if "loss" in h]
    spear = [(h["step"], v) for h in history for k, v in h.items() if k.endswith("spearman_cosine")]
    if not loss and not spear:
        return None
    fig = Figure(figsize=(7, 3.6))
    ax = fig.subplots()
    if loss:
        ax.plot(*zip(*loss), color="tab:blue", label="training loss")
    ax.set_xlabel("step")
    ax.set_ylabel("training loss", color="tab:blue")
    if spear:
        ax2 = ax.twinx()
        ax2.plot(*zip(*spear), "o-", color="tab:orange", label="validation Spearman")
        ax2.set_ylabel("validation Spearman", color="tab:orange")
    ax.set_title("fine-tuning curve")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    return out


def finetune(
    labels: pd.DataFrame | str | Path,
    base_model: str = DEFAULT_BASE_MODEL,
    output_dir: str | Path = FINETUNED_DIR,
    loss: str | None = None,
    epochs: float | None = EPOCHS,
    batch_size: int | None = BATCH_SIZE,
    learning_rate: float | None = LEARNING_RATE,
    warmup_ratio: float | None = WARMUP_RATIO,
    max_seq_length: int | None = MAX_SEQ_LENGTH,
    seed: int = 0,
    papers: pd.DataFrame | None = None,
    qrels: dict | None = None,
    evaluations_per_epoch: int = 4,
    push_to_hub: str | None = None,
    progress: bool = True,
    distill: bool | None = None,
    rank: bool | None = None,
    teacher: str | None = None,
    project: bool | None = None,
    train_seq_length: int | None = None,
) -> TrainResult:
    """Fine-tune ``base_model`` on labelled pairs; evaluate before and after on held-out papers.

    ``papers`` (the corpus, e.g. from read_papers) adds category-retrieval metrics on papers no
    model trained on; ``qrels`` adds external judgments. ``push_to_hub="user/name"`` uploads.
    ``distill``: also learn the teacher's similarity structure over the training papers (None:
    when the labels came from the offline teacher; ``teacher`` names another model).
    ``loss``: the pair loss (None: cosine for the offline teacher's labels, which are cosines;
    CoSENT for Gemini's or anyone's rubric scores, whose order is what they mean).
    ``rank``: also rank each anchor's partners (None: when the labels are anchored and there is
    no distillation, which teaches the same order from the teacher's vectors).
    ``project``: end with the teacher projection (:mod:`arxiv_reco.projection`; None: when
    distilling from at least three times as many training papers as the model has dimensions; True:
    whenever distilling; False: never).
    ``train_seq_length``: train reading fewer tokens than the saved model reads (None: all
    ``max_seq_length``); before/after are both measured at ``max_seq_length``. On a CPU, 128 with
    the model reading 256 is the better use of 30 minutes than training at 256 (README, quality).

    >>> result = finetune("my_labeled_training_data.csv", papers=papers)
    """
    from datasets import DatasetDict
    from sentence_transformers import (
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.sentence_transformer.evaluation import EmbeddingSimilarityEvaluator
    from transformers import PrinterCallback

    from .evaluate import _warn_collapse, measure
    from .models import load_model, resolve_model
    from .teacher import teacher_of

    t0 = time.perf_counter()
    # None keeps the default: notebooks and the CLI pass their parameters through as they are
    epochs, batch_size = epochs or EPOCHS, batch_size or BATCH_SIZE
    learning_rate, max_seq_length = learning_rate or LEARNING_RATE, max_seq_length or MAX_SEQ_LENGTH
    warmup_ratio = WARMUP_RATIO if warmup_ratio is None else warmup_ratio
    train_seq_length = train_seq_length or max_seq_length
    if train_seq_length > max_seq_length:
        raise ValueError(f"train_seq_length={train_seq_length} is longer than the saved model reads "
                         f"(max_seq_length={max_seq_length}): tokens it never reads afterwards buy nothing")
    base_model = base_model or DEFAULT_BASE_MODEL
    output_dir = output_dir or FINETUNED_DIR
    # 1. the labels and their split (by paper: no test paper was ever trained on), checked before
    #    any model loads
    df = check_labels(labels)
    train_df, val_df, test_df = (df[df["split"] == s].reset_index(drop=True) for s in ("train", "validation", "test"))
    log.info("pairs: %d train, %d validation, %d test", len(train_df), len(val_df), len(test_df))

    # 2. the base model
    device, precision = device_and_precision()
    ref = resolve_model(base_model)
    model = load_model(ref, device=device, max_seq_length=max_seq_length)
    base_source = ref.source

    # 3. the base model, before it changes
    before = measure({"tfidf": "tfidf", "base": model}, papers, df, qrels, progress=progress)

    # 4. the objectives: the labels' pair loss; the teacher's similarity structure, or without a
    #    teacher anchors' rankings (beside the distillation the ranking cost held-out Spearman)
    taught = teacher_of(df)
    loss = loss or LOSS["teacher" if taught else "rubric"]
    distill = (teacher is not None or taught is not None) if distill is None else distill
    rank = (anchored(train_df) and not distill) if rank is None else rank
    teacher_texts, teacher_vectors = None, None
    if distill:
        teacher_texts, teacher_vectors = _teacher_vectors(teacher, taught, train_df)
    objectives = build_objectives(model, train_df, loss, rank, teacher_texts, teacher_vectors, seed)
    log.info("objectives: %s", ", ".join(f"{k} ({len(d):,} rows)" for k, (d, _) in objectives.items()))

    # 5. the evaluator for the training curve
    evaluator = EmbeddingSimilarityEvaluator(val_df["text_a"].tolist(), val_df["text_b"].tolist(),
                                             val_df["score"].tolist(), name="validation", write_csv=False)

    # 6. training
    card = model.model_card_data  # edited in place: the trainer fills in the rest (losses, metrics)
    card.language = ["en"]
    card.license = "apache-2.0"
    card.model_name = f"{Path(str(base_model)).name} fine-tuned on LLM-labelled arXiv pairs"
    card.train_datasets = [{"name": "arxiv-reco labelled arXiv paper pairs (my_labeled_training_data.csv)"}]
    card.local_files_only = True
    card.generate_widget_examples = False
    steps_per_epoch = max(1, int(np.ceil(sum(len(d) for d, _ in objectives.values()) / batch_size)))
    eval_steps = max(1, steps_per_epoch // max(1, evaluations_per_epoch))
    output_dir = Path(output_dir)
    scratch = tempfile.TemporaryDirectory(prefix="arxiv-reco-train-")  # save_strategy="no": nothing lands here
    args = SentenceTransformerTrainingArguments(
        output_dir=scratch.name, num_train_epochs=epochs, per_device_train_batch_size=batch_size,
        per_device_eval_batch_size=64, learning_rate=learning_rate, warmup_steps=warmup_ratio, seed=seed,  # a float: the ratio (Transformers 5)
        data_seed=seed, eval_strategy="steps", eval_steps=eval_steps, logging_steps=eval_steps,
        logging_first_step=True, save_strategy="no", report_to="none", disable_tqdm=not progress,
        use_cpu=device == "cpu", **_batching(objectives), **precision)
    history: list[dict] = []
    datasets = {k: d for k, (d, _) in objectives.items()}
    losses = {k: fn for k, (_, fn) in objectives.items()}
    single = len(objectives) == 1
    trainer = SentenceTransformerTrainer(
        model=model, args=args, train_dataset=next(iter(datasets.values())) if single else DatasetDict(datasets),
        loss=next(iter(losses.values())) if single else losses, evaluator=evaluator,
        callbacks=[_history_callback(history)])
    trainer.remove_callback(PrinterCallback)  # the curve is plotted; raw log dicts would flood the notebook
    t_train = time.perf_counter()
    # a transformer trained on the first 128 tokens still reads 256 well: its position embeddings
    # were pre-trained to 512, and an abstract's later sentences say more of the same
    model.max_seq_length = train_seq_length
    with scratch:
        trainer.train()
    model.max_seq_length = max_seq_length  # the projection is fitted on what the saved model reads
    projection = None
    if distill and teacher_vectors is not None and project is not False:
        projection = add_teacher_projection(model, teacher_texts, teacher_vectors, min_papers=3 if project else None)
    train_seconds = time.perf_counter() - t_train

    # 7. the fine-tuned model, evaluated the same way
    evaluation = before.merge(measure({"fine-tuned": model}, papers, df, qrels, reference="fine-tuned",
                                      progress=progress))
    table = evaluation.table
    _warn_collapse(table, {"tfidf": "tfidf", "base": model, "fine-tuned": model}, "base")
    comparison = evaluation.compare("base", models=["fine-tuned"])

    # 8. save: model, card, curve, evaluation; an existing model is replaced only once the new
    #    folder is complete (a kill mid-save leaves the old model loadable)
    with replace_dir(output_dir, keep_if=is_model_dir) as tmp:
        model.save(str(tmp))
        curve = plot_curve(history, tmp / "training_curve.png")
        (tmp / "training_log.json").write_text(json.dumps(history, indent=1, default=float))
        (tmp / "evaluation.json").write_text(json.dumps({
            "models": json.loads(table.reset_index().to_json(orient="records")), "compared_to": "base",
            "comparison": json.loads(comparison.to_json(orient="records"))}, indent=1))
        (tmp / "arxiv_reco.json").write_text(json.dumps({
            "base_model": str(base_model), "base_source": base_source, "text_recipe": TEXT_RECIPE, "loss": loss,
            "objectives": {k: len(d) for k, (d, _) in objectives.items()}, "teacher": list(taught or []) or teacher,
            "projection": projection,
            "epochs": epochs, "batch_size": batch_size, "learning_rate": learning_rate,
            "max_seq_length": max_seq_length, "train_seq_length": train_seq_length, "seed": seed, "train_pairs": len(train_df), "device": device}, indent=1))
        recipe = "+".join(objectives) + (" then the teacher projection" if projection else "")
        if train_seq_length < max_seq_length:
            recipe += f", trained on {train_seq_length} tokens, reading {max_seq_length}"
        _append_card(tmp / "README.md", table, comparison, f"{recipe} ({loss} pair loss)", len(train_df))
    curve = output_dir / curve.name if curve else None
    if push_to_hub:  # the folder exactly as saved: card with the table, curve, evaluation.json
        from .hub import push_model

        push_model(output_dir, push_to_hub)
    return TrainResult(output_dir, table, comparison, history, curve, time.perf_counter() - t0,
                       len(train_df) * float(epochs) / train_seconds if train_seconds else 0.0, device, base_source)


def _append_card(readme: Path, table: pd.DataFrame, comparison: pd.DataFrame, loss: str, n_train: int) -> None:
    from .evaluate import format_comparison

    cols = [c for c in table.columns if c in ("spearman", "pearson", "category_ndcg@10", "category_map@10",
                                               "category_recall@10", "qrels_ndcg@10", "unrelated_cos_mean")]
    lines = ["", "## arxiv-reco evaluation", "",
             f"Fine-tuned with {loss} on {n_train:,} labelled arXiv pairs. Measured on held-out papers "
             "(in no training or validation pair): Spearman against the test labels; category retrieval = each "
             "held-out paper queries the whole corpus, relevance 2 = same primary category, 1 = a shared "
             "cross-listed category.", "",
             "| model | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for name, row in table[cols].iterrows():
        lines.append(f"| {name} | " + " | ".join("" if pd.isna(v) else f"{v:.4f}" for v in row) + " |")
    shown = format_comparison(comparison)
    if not shown.empty:
        lines += ["", "Fine-tuned minus base, paired over the same queries / test pairs (bootstrap 95% interval, "
                  "randomization p):", "", "| metric | base | fine-tuned | difference [95% CI] | p | verdict |",
                  "|---|---|---|---|---|---|"]
        for _, r in shown.iterrows():
            lines.append(f"| {r['metric']} | {r['reference']} | {r['value']} | {r['difference [95% CI]']} | {r['p']} "
                         f"| {r['verdict']} |")
    text = readme.read_text() if readme.exists() else ""
    readme.write_text(text + "\n".join(lines) + "\n")
