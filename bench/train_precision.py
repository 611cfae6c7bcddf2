"""Training throughput on a CPU: float32 vs bf16 autocast, the default recipe, in one run (not in CI).

`finetune` trains under bf16 autocast on a CPU with native bf16 (AVX512-BF16 or AMX). This
measures what that buys: the same anchored pairs, the same objectives as the default (pair loss,
anchors' partners ranked, the teacher's similarity structure distilled), one epoch each, float32
and bf16 alternated so that neither gets the warm cache. Throughput only: the teacher here is
MiniLM itself (its vectors are what the distillation reads; no 400 MB model to load); quality of
the bf16 recipe is bench/quality.py's job.

    python bench/train_precision.py                     # 400 anchored pairs, max_seq 128, 2 rounds
    python bench/train_precision.py --pairs 800 --rounds 1
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import warnings
from pathlib import Path
from unittest import mock

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

MODEL = "sentence-transformers/all-MiniLM-L6-v2"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=400)
    ap.add_argument("--max-seq", type=int, default=128)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()

    import numpy as np
    import torch

    from arxiv_reco import train
    from arxiv_reco.config import SAMPLE_PAPERS
    from arxiv_reco.labels.labeling import export_labels
    from arxiv_reco.pairs.sampling import sample_pairs
    from arxiv_reco.papers.snapshot import load_papers
    from arxiv_reco.labels.store import LabelStore
    from arxiv_reco.labels.teacher import label_pairs_teacher

    device, precision = train.device_and_precision()
    if device != "cpu" or not precision.get("bf16"):
        sys.exit(f"this CPU has no native bf16 (device {device}, {precision}): nothing to compare")
    papers, _ = load_papers(SAMPLE_PAPERS)
    pairs = sample_pairs(papers, n=args.pairs, strategy="anchored", seed=0)
    work = tempfile.TemporaryDirectory()  # the labels: as `arxiv-reco label --labeler teacher` makes them
    store = LabelStore(Path(work.name) / "labels.sqlite")
    s = label_pairs_teacher(pairs, store, MODEL, max_seq_length=args.max_seq, progress=False)
    labels = export_labels(store, pairs, Path(work.name) / "labels.csv", model=s.model, prompt_version=s.prompt_version)
    print(f"{(labels['split'] == 'train').sum()} training pairs, max_seq {args.max_seq}, 1 epoch each, "
          f"{torch.get_num_threads()} threads", flush=True)

    speed: dict[str, list[float]] = {"float32": [], "bf16": []}
    for _ in range(args.rounds):
        for name, flags in (("float32", {}), ("bf16", {"bf16": True})):
            with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings(), \
                    mock.patch.object(train, "device_and_precision", return_value=("cpu", flags)):
                warnings.simplefilter("ignore")
                result = train.finetune(labels, base_model=MODEL, output_dir=f"{tmp}/m", epochs=1,
                                        max_seq_length=args.max_seq, progress=False)
            speed[name].append(result.pairs_per_second)
            print(f"  {name:8s} {result.pairs_per_second:.2f} pairs/s (training only), "
                  f"test-pair Spearman {result.table.loc['fine-tuned', 'spearman']:.4f}", flush=True)
    f32, b16 = (float(np.median(speed[k])) for k in ("float32", "bf16"))
    print(f"\nfloat32 {f32:.2f} pairs/s | bf16 autocast {b16:.2f} pairs/s | {b16 / f32:.2f}x (medians of {args.rounds})")


if __name__ == "__main__":
    main()
