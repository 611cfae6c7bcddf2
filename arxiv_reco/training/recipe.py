"""A fine-tuning recipe is a value: every knob of ``finetune`` in one frozen dataclass.

    result = finetune("my_labeled_training_data.csv", papers=papers)                 # DEFAULT
    result = finetune(labels, papers=papers, recipe=DEFAULT.but(epochs=2, interpolate="auto"))
    print(DEFAULT.resolve(teacher=True, anchored=True).describe())

An experiment is another ``Recipe``, passed in (bench/quality.py builds its variants this way);
nothing patches the package. Fields left at None are decided by the labels, where the comment
says how; :meth:`Recipe.resolve` makes those decisions once, and the saved model records the
resolved recipe (``arxiv_reco.json``). The measured reasons for each default are in
docs/quality.md.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path

from ..options import but, from_mapping, option, read_toml, validate

# pair loss name -> sentence-transformers loss class
PAIR_LOSSES = {
    "cosine": "CosineSimilarityLoss",  # regresses the label as the cosine (the original notebook's)
    "cosent": "CoSENTLoss",  # only the order of the labels within a batch
    "angle": "AnglELoss",  # CoSENT on angles
    "none": None,  # no pair loss: the teacher distilled alone (what the labels add is measured against it)
}
CPU_TRAIN_TOKENS = 128  # tokens a CPU trains on unless told: ~3x the pairs/s of 256, the same gain (docs/quality.md)


# From this many distilled corpus papers on, the distillation carries the signal and one pass over the
# labelled pairs is enough (and 2 CPU cores finish in 30 minutes); with fewer, the pairs get three.
MANY_PAPERS = 2000
HOLDOUT = 0.2  # share of the corpus's unpaired papers never distilled: they stay unseen, for evaluation


@dataclass(frozen=True)
class Recipe:
    """How to fine-tune, every knob visible (None: decided by the labels, see each comment).

    >>> Recipe(epochs=1, learning_rate=2e-5).epochs
    1
    """

    # ---- what is learnt ----
    pair_loss: str | None = option(None, "the loss on the labelled scores (none: the teacher distilled alone)",
                                   choices=tuple(PAIR_LOSSES), words="cosine for a teacher's labels, cosent for Gemini's")
    rank: bool | None = option(None, "rank each anchor's best partner above its worst (MNRL)",
                               words="for anchored labels without a teacher")
    distill: bool | None = option(None, "distil the teacher's in-batch similarity structure",
                                  words="when a teacher is installed")
    # 4,000 of the user's corpus carry the gain to new papers (+0.016 / +0.015 nDCG@10 on fresh ones against
    # +0.010 / +0.011 for the labels' papers alone) and fit 30 minutes of 2 CPU cores (docs/quality.md)
    distill_papers: int | str = option(4000, "also distil the teacher over N unpaired corpus papers, or 'all' of them "
                                             f"but the {HOLDOUT:.0%} kept unseen (0: the training papers only)", metavar="N|all")
    distill_passes: float = option(1.0, "passes over those extra papers (the training pairs' papers get `epochs`)",
                                   minimum=0)
    temperature: float = option(0.1, "of the distillation's softmax over in-batch cosines", minimum=1e-6)
    calibration: float = option(50.0, "weight of the distillation's cosine-matching term (the two pull about "
                                      "equally at 50)", minimum=0)
    group: int = option(3, "papers per distillation row: one, and teacher neighbours from neighbour_ranks", minimum=2)
    neighbour_ranks: tuple[tuple[int, int], ...] = option(((0, 5), (5, 40)), "the teacher-neighbour rank ranges a "
                                                          "distillation row draws from", cli=False, file=False)
    # ---- how long and how fast ----
    epochs: float | None = option(None, "passes over the labelled pairs", minimum=1e-6,
                                  words=f"1 when {MANY_PAPERS:,}+ more papers are distilled, else 3")
    batch_size: int = option(32, "pairs per step", minimum=2)
    learning_rate: float = option(5e-5, "the optimizer's peak learning rate", minimum=1e-12)
    warmup_ratio: float = option(0.1, "share of the steps warming the learning rate up", minimum=0, maximum=1)
    max_seq_length: int = option(256, "tokens the saved model reads (before/after are measured reading this many)",
                                 minimum=8, metavar="N")
    train_seq_length: int | None = option(None, "tokens it trains on", minimum=8, metavar="N",
                                          words=f"{CPU_TRAIN_TOKENS} on a CPU (~3x faster, the same gain), "
                                                "max-seq-length on a GPU")
    freeze_layers: int = option(0, "lower transformer layers (and the embeddings, when > 0) kept as the base has them",
                                minimum=0, metavar="N")
    # ---- after training ----
    interpolate: float | str | None = option(None, "WiSE-FT: the tuned weights' share in [0, 1], or 'auto' to choose "
                                                   "it on the validation pairs", words="none")
    # off by default: fitted on the training papers it gains on their like but not on new papers (docs/quality.md)
    project: bool | None = option(False, "fit the teacher projection after training (None: when >= 3 distilled "
                                         "papers per dimension)")

    def __post_init__(self):
        validate(self)  # types, choices and ranges, from the fields; what crosses fields below
        if self.train_seq_length and self.train_seq_length > self.max_seq_length:
            raise ValueError(f"train_seq_length={self.train_seq_length} is longer than the saved model reads "
                             f"(max_seq_length={self.max_seq_length}): tokens it never reads afterwards buy nothing")
        if self.distill_papers != "all" and not (isinstance(self.distill_papers, int) and self.distill_papers >= 0):
            raise ValueError(f"distill_papers is a number of papers or 'all', not {self.distill_papers!r}")
        if isinstance(self.interpolate, str) and self.interpolate != "auto":
            raise ValueError(f"interpolate is a weight in [0, 1], 'auto' or None, not {self.interpolate!r}")
        if isinstance(self.interpolate, int | float) and not 0 <= self.interpolate <= 1:
            raise ValueError(f"interpolate must be in [0, 1], got {self.interpolate}")
        if (self.epochs is not None and self.epochs <= 0) or self.batch_size < 2 or self.learning_rate <= 0 or self.group < 2:
            raise ValueError("epochs and learning_rate must be > 0, batch_size >= 2 and group >= 2")

    def but(self, **changes) -> Recipe:
        """This recipe with some fields changed and checked; a change that is ``options.KEEP`` leaves
        the field as it is (None is a real value of several fields: "decide from the labels").

        >>> DEFAULT.but(epochs=1, batch_size=KEEP).epochs
        1.0
        """
        return but(self, **changes)

    def resolve(self, teacher: bool, anchored: bool, extra_papers: int = 0, scale: str = "cosine",
                device: str = "cuda") -> Recipe:
        """The labels' decisions made: ``teacher`` when a teacher model is there to distil (the one
        that labelled, or one beside Gemini's labels), ``anchored`` when the pairs share anchors,
        ``extra_papers`` the corpus papers outside the pairs that would be distilled, ``scale`` the
        labels' ("cosine": a teacher's cosines; "rubric": Gemini's anchors), ``device`` where it trains.

        >>> DEFAULT.resolve(teacher=True, anchored=True).pair_loss
        'cosine'
        """
        if scale not in ("cosine", "rubric"):
            raise ValueError(f"scale is 'cosine' (a teacher's labels) or 'rubric' (Gemini's), not {scale!r}")
        distill = teacher if self.distill is None else self.distill
        if self.pair_loss == "none" and not distill:
            raise ValueError("pair_loss='none' trains on distillation alone, which needs a teacher")
        train_tokens = self.train_seq_length or (min(CPU_TRAIN_TOKENS, self.max_seq_length) if device == "cpu"
                                                 else self.max_seq_length)
        return replace(self, pair_loss=self.pair_loss or ("cosine" if scale == "cosine" else "cosent"), distill=distill,
                       rank=(anchored and not distill) if self.rank is None else self.rank,
                       epochs=self.epochs or (1.0 if distill and extra_papers >= MANY_PAPERS else 3.0),
                       distill_papers=self.distill_papers if distill else 0,  # nothing to distil without a teacher
                       train_seq_length=train_tokens)

    def as_dict(self) -> dict:
        d = asdict(self)
        d["neighbour_ranks"] = [list(r) for r in self.neighbour_ranks]
        return d

    def describe(self) -> str:
        """One line of what the resolved recipe does, for the model card and the printout."""
        parts = [f"{self.pair_loss} pair loss"] if self.pair_loss != "none" else ["no pair loss"]
        if self.rank:
            parts.append("anchors' partners ranked")
        if self.distill:
            extra = "" if self.distill_papers == 0 else (
                " and every allowed corpus paper" if self.distill_papers == "all" else f" and {self.distill_papers:,} more corpus papers")
            parts.append(f"the teacher's similarity structure distilled over the training papers{extra}")
        epochs = (f"1 epoch distilling {MANY_PAPERS:,}+ more papers, else 3" if self.epochs is None
                  else f"{self.epochs:g} epoch{'s' * (self.epochs != 1)}")
        text = " + ".join(parts) + f"; {epochs}, lr {self.learning_rate:g}, batch {self.batch_size}"
        if self.freeze_layers:
            text += f", the lowest {self.freeze_layers} layers frozen"
        if self.train_seq_length and self.train_seq_length < self.max_seq_length:
            text += f", trained on {self.train_seq_length} tokens"
        text += f"; reads {self.max_seq_length} tokens"
        if self.interpolate not in (None, 1, 1.0):
            text += f"; weights interpolated with the base ({self.interpolate})"
        return text


DEFAULT = Recipe()


def read_recipe(path: str | Path, base: Recipe = DEFAULT) -> Recipe:
    """A recipe from a TOML file (an experiment as a file, as nanoGPT's config/): ``base`` with the
    file's fields, every key and value checked (an unknown key is refused with the nearest known).

    >>> read_recipe("recipes/short.toml").epochs
    """
    return from_mapping(Recipe, read_toml(path, "recipe file"), where=str(path), base=base)
