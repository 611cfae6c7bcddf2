"""Labels: Gemini (online or the Batch API) or the offline teacher scores pairs into one store,
exported as my_labeled_training_data.csv.

    summary = label_pairs(pairs, "labels.sqlite", label_config(settings))
    labels = export_labels("labels.sqlite", pairs, "my_labeled_training_data.csv", gold="my_ratings.csv")
    Rater(pairs_to_rate(pairs, n=40), "my_ratings.csv").widget     # your own ratings: the gold set
    print(audit_labels(read_ratings("my_ratings.csv"), labellers_in("labels.sqlite"), pairs))
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
    "alabel_pairs": "gemini",
    "label_pairs": "gemini",
    "label_pairs_batch": "batch",
    "label_pairs_teacher": "teacher",
    "LabelStore": "store",
    "PromptSpec": "prompts",
    "Rater": "rating",
    "pairs_to_rate": "rating",
    "read_ratings": "rating",
    "audit_labels": "audit",
    "labellers_in": "audit",
})
