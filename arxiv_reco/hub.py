"""Share what the pipeline made on the Hugging Face Hub, the way the ecosystem shares models and data.

    push_model("finetuned-arxiv-recommender", "you/arxiv-recommender")    # the folder as saved
    labels_to_dataset("my_labeled_training_data.csv")                    # a DatasetDict by split
    push_labels("my_labeled_training_data.csv", "you/arxiv-pair-labels")

The model folder goes up exactly as ``finetune`` saved it: weights, the model card with the
before/after table, ``training_curve.png``, ``evaluation.json``. Authentication, ``HF_ENDPOINT``
and proxies are huggingface_hub's own (``hf auth login`` or ``HF_TOKEN``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from .labels.labeling import read_labels, validate_labels

SPLITS = ("train", "validation", "test")


def push_model(model_dir: str | os.PathLike, repo_id: str, private: bool = False, token: str | None = None) -> str:
    """Upload a saved model folder as it is; returns the repository's URL.

    >>> push_model("finetuned-arxiv-recommender", "you/arxiv-recommender")
    """
    from huggingface_hub import HfApi

    model_dir = Path(model_dir)
    if not (model_dir / "modules.json").exists():
        raise FileNotFoundError(f"{model_dir} is not a saved sentence-transformers model (no modules.json); "
                                "train one with `arxiv-reco train` first")
    api = HfApi(token=token)
    url = api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True)
    api.upload_folder(folder_path=str(model_dir), repo_id=repo_id, repo_type="model",
                      commit_message="arxiv-reco: fine-tuned model, card with before/after evaluation, training curve")
    return str(url)


def labels_to_dataset(labels: pd.DataFrame | str | os.PathLike):
    """The labelled pairs as a ``datasets.DatasetDict`` with the paper-disjoint train/validation/test
    splits (scores as float32, ids as strings).

    >>> dataset = labels_to_dataset("my_labeled_training_data.csv")
    """
    from datasets import Dataset, DatasetDict


    df = read_labels(labels) if not isinstance(labels, pd.DataFrame) else validate_labels(labels)
    df = df.assign(score=df["score"].astype("float32"))
    if "split" not in df.columns:
        return DatasetDict({"train": Dataset.from_pandas(df, preserve_index=False)})
    return DatasetDict({s: Dataset.from_pandas(df[df["split"] == s].drop(columns="split"), preserve_index=False)
                        for s in SPLITS if (df["split"] == s).any()})


def push_labels(labels: pd.DataFrame | str | os.PathLike, repo_id: str, private: bool = True,
                token: str | None = None) -> str:
    """Upload the labelled pairs as a dataset repository (private by default: the abstracts are
    CC0 metadata, but your labels are yours to publish); returns its URL.

    >>> push_labels("my_labeled_training_data.csv", "you/arxiv-pair-labels")
    """
    dataset = labels_to_dataset(labels)
    dataset.push_to_hub(repo_id, private=private, token=token)
    return f"https://huggingface.co/datasets/{repo_id}"
