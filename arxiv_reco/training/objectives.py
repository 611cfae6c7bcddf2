"""What fine-tuning optimises: each objective is a dataset and the loss that reads it.

    objectives = build_objectives(model, train_labels, recipe)     # {"pairs": (dataset, loss), ...}

- ``pairs``: the labelled pairs' scores regressed by the pair loss (cosine, CoSENT or AnglE).
- ``rank``: MultipleNegativesRankingLoss on (anchor, its best-scored partner, its worst-scored
  partner) from anchored labels, with every other paper in the batch as a negative too. It uses
  only the order of an anchor's scores, so it works for Gemini's rubric as for cosines.
- ``distill``: the teacher's similarity structure over the training papers, and over more
  corpus papers when the recipe asks (:class:`SimilarityDistillLoss`): rows of related papers (a
  paper and teacher neighbours at spread ranks); in every batch each paper's softmax over all the
  others under the student matches the teacher's. It learns from papers no one labelled, keeps the
  student's own coordinates (only cosines are matched), and needs the teacher's vectors.

Several objectives train together in one trainer run, their batches interleaved in proportion. A
recipe's passes are built into the datasets (the pairs ``epochs`` times, each training paper
``epochs`` times and each further corpus paper ``distill_passes`` times as a distillation row), so
that the trainer runs once over everything and its learning-rate schedule spans the whole run.
"""

from __future__ import annotations

from contextlib import nullcontext

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from ..vectors.embed import top_k_neighbors
from .recipe import PAIR_LOSSES

RANK_MARGIN = 0.2  # a worst partner this far below the best one is its hard negative


class SimilarityDistillLoss(nn.Module):
    """Distillation of a teacher's similarity structure over every text in the batch: for each
    text, the softmax over all the others of student cosine / T matches the teacher's (KL
    divergence: who the nearest papers are), and every in-batch cosine matches the teacher's
    (squared error, weighted ``calibration``: how related, across the whole scale, which is what
    the pair scores measure). Rows hold ``m`` texts; the label is their ``m`` teacher vectors,
    concatenated."""

    def __init__(self, model, temperature: float = 0.1, calibration: float = 50.0):
        super().__init__()
        self.model, self.temperature, self.calibration = model, temperature, calibration

    def forward(self, sentence_features, labels: torch.Tensor) -> torch.Tensor:
        return self.similarity_loss([self.model(f)["sentence_embedding"] for f in sentence_features], labels)

    def similarity_loss(self, embs: list[torch.Tensor], labels: torch.Tensor) -> torch.Tensor:
        """The loss on the rows' ``m`` embeddings, m x (B, d), and their teacher vectors (B, m * D)."""
        # float32 from here: under bf16 autocast, cosines would carry ~0.004 of rounding, which the
        # temperature multiplies by 20 and which is the size of the differences being matched
        device = embs[0].device.type  # autocast exists for cpu and cuda on every torch we support
        with torch.autocast(device_type=device, enabled=False) if device in ("cpu", "cuda") else nullcontext():
            student = F.normalize(torch.cat(embs).float(), dim=-1)
            b, m = labels.shape[0], len(embs)
            teacher = F.normalize(labels.reshape(b, m, -1).transpose(0, 1).reshape(m * b, -1).float(), dim=-1)
            eye = torch.eye(len(student), dtype=torch.bool, device=student.device)
            s_cos, t_cos = student @ student.T, teacher @ teacher.T
            log_s = F.log_softmax((s_cos / self.temperature).masked_fill(eye, -1e4), dim=-1)
            log_t = F.log_softmax((t_cos / self.temperature).masked_fill(eye, -1e4), dim=-1)
            loss = F.kl_div(log_s, log_t, log_target=True, reduction="batchmean")
            if self.calibration:
                loss = loss + self.calibration * (s_cos - t_cos)[~eye].pow(2).mean()
        return loss


def pairs_dataset(df: pd.DataFrame, passes: float = 1.0, seed: int = 0):
    """The labelled pairs, ``passes`` times over (a fractional pass: a random part of them)."""
    from datasets import Dataset

    rows = _repeat(len(df), passes, seed)
    return Dataset.from_dict({"sentence1": df["text_a"].to_numpy()[rows].tolist(),
                              "sentence2": df["text_b"].to_numpy()[rows].tolist(),
                              "score": df["score"].astype(float).to_numpy()[rows].tolist()})


def _repeat(n: int, passes: float, seed: int) -> np.ndarray:
    """Row numbers 0..n-1, ``passes`` times over, each pass in its own random order."""
    rng = np.random.default_rng(seed)
    whole, part = int(passes), passes - int(passes)
    out = [rng.permutation(n) for _ in range(whole)]
    if part > 0:
        out.append(rng.permutation(n)[: int(round(part * n))])
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


def pair_loss(name: str, model):
    """The pair loss by name: cosine | cosent | angle."""
    from sentence_transformers.sentence_transformer import losses

    if name not in PAIR_LOSSES:
        raise ValueError(f"unknown loss {name!r}; choose one of {', '.join(PAIR_LOSSES)}")
    return getattr(losses, PAIR_LOSSES[name])(model)


def anchored(df: pd.DataFrame) -> bool:
    """Labels whose pairs name anchors with several partners each (strategy "anchored")."""
    if "anchor" not in df.columns:
        return False
    names = df["anchor"].fillna("").astype(str)
    counts = names[names != ""].value_counts()
    return len(counts) > 0 and (counts >= 2).mean() > 0.5


def rank_rows(df: pd.DataFrame) -> list[tuple[str, str, str]]:
    """(anchor text, best partner's text, worst partner's text) for each anchor whose best partner
    clearly beats its worst (by RANK_MARGIN)."""
    rows = []
    for anchor, g in df[df["anchor"].fillna("").astype(str) != ""].groupby("anchor"):
        if len(g) < 2:
            continue
        g = g.sort_values("score", ascending=False)
        best, worst = g.iloc[0], g.iloc[-1]
        if best["score"] - worst["score"] < RANK_MARGIN:
            continue
        rows.append((_side(best, anchor, True), _side(best, anchor, False), _side(worst, anchor, False)))
    return rows


def _side(row, anchor, anchor_side: bool) -> str:
    """The text of a pair's anchor (or of its partner)."""
    a_is_anchor = str(row["id_a"]) == str(anchor)
    return row["text_a"] if a_is_anchor == anchor_side else row["text_b"]


def rank_dataset(df: pd.DataFrame):
    from datasets import Dataset

    rows = rank_rows(df)
    return Dataset.from_dict({"anchor": [r[0] for r in rows], "positive": [r[1] for r in rows],
                              "negative": [r[2] for r in rows]})


def distill_dataset(texts: list[str], vectors: np.ndarray, passes: np.ndarray | float = 1.0, seed: int = 0,
                    group: int = 3, ranks: tuple[tuple[int, int], ...] = ((0, 5), (5, 40))):
    """Rows of ``group`` related texts: a text, then teacher neighbours drawn from the rank bands
    ``ranks``; the label is their teacher vectors, concatenated. Each text leads ``passes`` rows
    (one number for all, or one per text; fractions by chance), each pass with fresh neighbours.

    >>> distill_dataset(texts, teacher_vectors, passes=3)
    """
    from datasets import Dataset


    vectors = np.asarray(vectors, dtype=np.float32)
    n = len(texts)
    if n < group:  # too few papers to group: nothing to distil
        return Dataset.from_dict({**{f"text{i}": [] for i in range(group)}, "label": []})
    # each paper's teacher neighbours, best first, in blocks (memory: block x n, not n x n)
    order = top_k_neighbors(vectors / np.linalg.norm(vectors, axis=1, keepdims=True), min(ranks[-1][1], n - 1))
    rng = np.random.default_rng(seed)
    passes = np.broadcast_to(np.asarray(passes, dtype=float), (n,))
    leads = np.concatenate([np.full(int(p), i) for i, p in enumerate(passes)] +
                           [np.flatnonzero(rng.random(n) < passes - np.floor(passes))]).astype(np.int64)
    rows = []
    for a in rng.permutation(leads).tolist():
        picks = [a]
        for lo, hi in ranks[: group - 1]:
            lo, hi = min(lo, order.shape[1] - 1), min(hi, order.shape[1])
            picks.append(int(order[a, rng.integers(lo, max(lo + 1, hi))]))
        rows.append(picks)
    data = {f"text{i}": [texts[r[i]] for r in rows] for i in range(group)}
    data["label"] = [np.concatenate([vectors[i] for i in r]).tolist() for r in rows]
    return Dataset.from_dict(data)


def build_objectives(model, train: pd.DataFrame, recipe, teacher_texts: list[str] | None = None,
                     teacher_vectors: np.ndarray | None = None, passes: np.ndarray | float | None = None,
                     seed: int = 0) -> dict[str, tuple[object, nn.Module]]:
    """{objective: (dataset, loss)} for one trainer run of a resolved ``recipe``: the pair loss
    (unless it is "none"), ranking on anchored labels when ``recipe.rank``, teacher distillation over
    ``teacher_texts`` (each leading ``passes`` rows; default: the recipe's epochs) when their
    vectors are given.

    >>> build_objectives(model, train_df, DEFAULT.resolve(teacher=True, anchored=True), texts, vectors)
    """
    from sentence_transformers.sentence_transformer import losses

    out = {}
    if recipe.pair_loss != "none":  # "none": the teacher's structure alone (what the labels add is measured so)
        out["pairs"] = (pairs_dataset(train, recipe.epochs, seed), pair_loss(recipe.pair_loss, model))
    if recipe.rank:
        data = rank_dataset(train)
        if len(data):
            rows = _repeat(len(data), recipe.epochs, seed)
            out["rank"] = (data.select(rows.tolist()), losses.MultipleNegativesRankingLoss(model))
    if teacher_vectors is not None and teacher_texts:
        data = distill_dataset(teacher_texts, teacher_vectors, recipe.epochs if passes is None else passes, seed,
                               recipe.group, recipe.neighbour_ranks)
        if len(data):
            out["distill"] = (data, SimilarityDistillLoss(model, recipe.temperature, recipe.calibration))
    return out
