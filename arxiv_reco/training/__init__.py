"""Training: a recipe, the objectives, fine-tuning, and evaluation on papers no model trained on.

    result = finetune("my_labeled_training_data.csv", papers, DEFAULT.but(epochs=1))
    ev = measure({"base": base, "fine-tuned": model}, papers, labels, corpus=fresh); ev.compare("base")
"""

from __future__ import annotations

from ..lazy import lazy_exports

__getattr__, __all__ = lazy_exports(__name__, {
    "DEFAULT": "recipe",
    "Recipe": "recipe",
    "TrainResult": "card",
    "check_labels": "train",
    "finetune": "train",
    "Evaluation": "evaluate",
    "evaluate_models": "evaluate",
    "format_comparison": "evaluate",
    "measure": "evaluate",
    "save_report": "evaluate",
    "side_by_side": "evaluate",
})
