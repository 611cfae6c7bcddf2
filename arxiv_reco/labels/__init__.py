"""Labels: Gemini (online or the Batch API) or the offline teacher scores pairs into one store,
exported as my_labeled_training_data.csv.

    summary = label_pairs(pairs, "labels.sqlite", label_config(settings))
    labels = export_labels("labels.sqlite", pairs, "my_labeled_training_data.csv")
"""

from __future__ import annotations

from ..lazy import lazy_exports

__getattr__, __all__ = lazy_exports(__name__, {
    "LABEL_COLUMNS": "labeling",
    "LabelConfig": "labeling",
    "LabelSummary": "labeling",
    "export_labels": "labeling",
    "format_plan": "labeling",
    "label_config": "labeling",
    "plan_labeling": "labeling",
    "read_labels": "labeling",
    "validate_labels": "labeling",
    "alabel_pairs": "gemini",
    "label_pairs": "gemini",
    "label_pairs_batch": "batch",
    "label_pairs_teacher": "teacher",
    "LabelStore": "store",
    "PromptSpec": "prompts",
})
