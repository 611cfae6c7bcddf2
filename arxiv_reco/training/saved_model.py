"""What a fine-tuned model says about itself: the run's report (``TrainResult``), the verdict in
one plain sentence, and the saved folder (weights, model card with the before/after table,
training curve, evaluation, recipe, ``trained_on.txt``): steps 7 and 8 of
:func:`arxiv_reco.training.train.finetune`.

    print(verdict(result.comparison, result.table, reads=256))
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..artifacts import replace_dir
from ..vectors.models import TRAINED_ON
from .recipe import DEFAULT, Recipe


@dataclass
class TrainResult:
    """What a fine-tuning run produced."""

    model_dir: Path
    table: pd.DataFrame  # before/after on unseen papers, one row per model
    comparison: pd.DataFrame = field(default_factory=pd.DataFrame)  # fine-tuned vs base: paired CI per metric
    verdict: str = ""  # the headline comparison in one plain sentence
    recipe: Recipe = DEFAULT  # as resolved for these labels
    history: list[dict] = field(default_factory=list)  # training loss and validation Spearman by step
    curve_png: Path | None = None
    seconds: float = 0.0
    pairs_per_second: float = 0.0
    device: str = "cpu"
    base_source: str = ""
    distilled: int = 0  # papers whose teacher similarities were distilled
    projection: dict | None = None  # the teacher projection's fit, when the model ends with one
    interpolation: float = 1.0  # the tuned weights' share after WiSE-FT (1: not interpolated)

    def __repr__(self) -> str:
        from .evaluate import format_comparison

        return (f"TrainResult(model_dir={str(self.model_dir)!r}, {self.seconds:.0f}s on {self.device}, "
                f"{self.pairs_per_second:.1f} pairs/s)\n{self.verdict}\n{self.table.round(4).to_string()}\n"
                f"{format_comparison(self.comparison).to_string(index=False)}")


# ---- step 7 of finetune: the verdict ------------------------------------------------------------
def verdict(comparison: pd.DataFrame, table: pd.DataFrame, reads: int, native: int | None = None) -> str:
    """The headline comparison in one plain sentence: nDCG@10 of the fine-tuned model against the
    base on unseen papers (the fresh corpus when there is one), and against the base reading as
    much as it does as shipped, when the fine-tuned model reads less.

    >>> print(verdict(result.comparison, result.table, reads=256))
    """
    view = "fresh" if f"fresh_ndcg@{10}" in table.columns else "category"
    metric = f"{view}_ndcg@10"
    rows = comparison[comparison["metric"] == metric] if len(comparison) else comparison
    if rows.empty:
        return "No unseen papers to measure on: pass papers= (the corpus) or corpus= (other papers)."
    r = rows[rows["against"] == "base"].iloc[0]
    where = {"fresh": "the fresh corpus", "category": "the held-out papers"}[view]
    n = int(table.loc["base", f"{view}_queries"])
    figure = (f"nDCG@10 {r['reference']:.3f} -> {r['value']:.3f}, {r['diff']:+.3f} "
              f"[{r['ci_low']:+.3f}, {r['ci_high']:+.3f}] on {n:,} papers of {where} no model trained on")
    text = {"better": f"The fine-tuned model recommends better than the base model: {figure}.",
            "worse": f"The fine-tuned model is WORSE than the base model: {figure}. Use the base model.",
            }.get(r["verdict"], f"The fine-tuned model is not measurably better than the base model: {figure}. "
                                "Label more pairs, or distil over more papers, before relying on it.")
    long = rows[rows["against"] != "base"]
    if native and reads < native and len(long):
        r2 = long.iloc[0]
        text += (f" It reads {reads} tokens a paper; against the base reading its full {native}: "
                 f"{r2['diff']:+.3f} [{r2['ci_low']:+.3f}, {r2['ci_high']:+.3f}]"
                 + (" (worse: train with a longer max_seq_length)." if r2["verdict"] == "worse" else "."))
    return text


# ---- step 8: saving -------------------------------------------------------------------------------------------
def is_model_dir(path: Path) -> bool:
    """A folder holding a saved sentence-transformers (or transformers) model."""
    return (path / "modules.json").exists() or (path / "config.json").exists()


def plot_curve(history: list[dict], out: Path) -> Path | None:
    """Training loss and validation Spearman by step, as a PNG (None: nothing was logged).

    >>> plot_curve(result.history, Path("training_curve.png"))
    """
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


def save_model(model, output_dir: Path, result: TrainResult, record: dict, n_train: int, seen: list[str]
               ) -> Path | None:
    """The model folder, replaced only once the new one is complete (a kill mid-save leaves the old
    model loadable): weights, card, curve, evaluation, the resolved recipe; the curve's path.

    >>> save_model(model, Path("finetuned-arxiv-recommender"), result, record, 2400, seen_ids)
    """
    with replace_dir(output_dir, keep_if=is_model_dir) as tmp:
        model.save(str(tmp))
        curve = plot_curve(result.history, tmp / "training_curve.png")
        (tmp / "training_log.json").write_text(json.dumps(result.history, indent=1, default=float))
        (tmp / "evaluation.json").write_text(json.dumps({
            "models": json.loads(result.table.reset_index().to_json(orient="records")), "compared_to": "base",
            "verdict": result.verdict, "comparison": json.loads(result.comparison.to_json(orient="records"))},
            indent=1))
        (tmp / "arxiv_reco.json").write_text(json.dumps(record, indent=1, default=str))
        # every paper the model learnt from, so that a later evaluation leaves them out
        (tmp / TRAINED_ON).write_text("".join(f"{i}\n" for i in seen))
        write_card(tmp / "README.md", result, n_train)
    return output_dir / curve.name if curve else None


def write_card(readme: Path, result: TrainResult, n_train: int) -> None:
    """The model card's arxiv-reco section: the verdict, the recipe, the before/after table and the
    paired differences, after what sentence-transformers wrote.

    >>> write_card(model_dir / "README.md", result, n_train=2400)
    """
    from .evaluate import format_comparison

    table, recipe = result.table, result.recipe
    if table.empty:
        readme.write_text((readme.read_text() if readme.exists() else "") + f"\n{result.verdict}\n")
        return
    cols = [c for c in table.columns if c in ("spearman", "fresh_ndcg@10", "fresh_map@10", "category_ndcg@10",
                                               "category_map@10", "qrels_ndcg@10", "unrelated_cos_mean")]
    lines = ["", "## arxiv-reco evaluation", "", f"**{result.verdict}**", "",
             f"Fine-tuned on {n_train:,} labelled arXiv pairs: {recipe.describe()}"
             + (f"; then the teacher projection (fitted on {result.projection['papers']:,} papers)"
                if result.projection else "")
             + (f"; weights {result.interpolation:g} tuned, {1 - result.interpolation:g} base (chosen on the "
                "validation pairs)" if result.interpolation != 1 else "") + ". The saved model reads "
             f"{recipe.max_seq_length} tokens of each paper; every model below was measured reading the same "
             "(the base model also as shipped, when that is more). Measured only on papers no model trained on: "
             "Spearman against the test pairs' labels; category retrieval = each unseen paper queries the other "
             "unseen papers (fresh: another corpus's; category: the held-out papers of the training corpus), "
             "relevance 2 = same primary category, 1 = a shared cross-listed category.", "",
             "| model | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for name, row in table[cols].iterrows():
        lines.append(f"| {name} | " + " | ".join("" if pd.isna(v) else f"{v:.4f}" for v in row) + " |")
    shown = format_comparison(result.comparison)
    if not shown.empty:
        lines += ["", "Fine-tuned minus base, paired over the same queries / test pairs (bootstrap 95% interval, "
                  "randomization p):", "", "| metric | against | base | fine-tuned | difference [95% CI] | p | verdict |",
                  "|---|---|---|---|---|---|---|"]
        for _, r in shown.iterrows():
            lines.append(f"| {r['metric']} | {r['against']} | {r['reference']} | {r['value']} | "
                         f"{r['difference [95% CI]']} | {r['p']} | {r['verdict']} |")
    text = readme.read_text() if readme.exists() else ""
    readme.write_text(text + "\n".join(lines) + "\n")


def set_card_data(model, base_model: str) -> None:
    """What sentence-transformers' own model card says of the data and licence, set before training.

    >>> set_card_data(model, "sentence-transformers/all-MiniLM-L6-v2")
    """
    card = model.model_card_data  # edited in place: the trainer fills in the rest (losses, metrics)
    card.language = ["en"]
    card.license = "apache-2.0"
    card.model_name = f"{Path(str(base_model)).name} fine-tuned on LLM-labelled arXiv pairs"
    card.train_datasets = [{"name": "arxiv-reco labelled arXiv paper pairs (my_labeled_training_data.csv)"}]
    card.local_files_only = True
    card.generate_widget_examples = False
