"""Training throughput: arxiv_reco.finetune (SentenceTransformerTrainer) vs the legacy model.fit.

Same pairs, same loss (CosineSimilarityLoss, as the original notebook), batch 16, one epoch,
same max_seq, measured in one run on this machine. finetune also evaluates on validation pairs
during training (for the curve); its pairs/s counts training time only, as fit's does.

    python bench/train.py                     # 400 pairs, max_seq 128
    python bench/train.py --pairs 800 --max-seq 256
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=400)
    ap.add_argument("--max-seq", type=int, default=128)
    args = ap.parse_args()

    import torch
    from fake_gemini import expected_score  # a deterministic label for each pair
    from sentence_transformers import InputExample
    from sentence_transformers.sentence_transformer.losses import CosineSimilarityLoss
    from torch.utils.data import DataLoader

    from arxiv_reco.config import SAMPLE_PAPERS
    from arxiv_reco.papers.corpus import paper_text
    from arxiv_reco.vectors.models import load_model
    from arxiv_reco.pairs.sampling import sample_pairs
    from arxiv_reco.papers.snapshot import load_papers
    from arxiv_reco.training.train import finetune

    papers, _ = load_papers(SAMPLE_PAPERS)
    pairs = sample_pairs(papers, n=args.pairs, seed=0, splits={"train": 0.9, "validation": 0.05, "test": 0.05})
    pairs["score"] = [expected_score(r) for r in pairs.to_dict("records")]
    pairs["text_a"] = [paper_text(t, a) for t, a in zip(pairs["title_a"], pairs["abstract_a"])]
    pairs["text_b"] = [paper_text(t, a) for t, a in zip(pairs["title_b"], pairs["abstract_b"])]
    train = pairs[pairs["split"] == "train"]
    device = "cuda" if torch.cuda.is_available() else "cpu"
    print(f"{len(train)} training pairs, max_seq {args.max_seq}, batch 16, 1 epoch, {device}, "
          f"{torch.get_num_threads()} threads")

    model = load_model("sentence-transformers/all-MiniLM-L6-v2", max_seq_length=args.max_seq)
    examples = [InputExample(texts=[a, b], label=float(s)) for a, b, s in zip(train["text_a"], train["text_b"], train["score"])]
    loader = DataLoader(examples, shuffle=True, batch_size=16)
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        model.fit(train_objectives=[(loader, CosineSimilarityLoss(model))], epochs=1, warmup_steps=10,
                  show_progress_bar=False, output_path=None, checkpoint_path=None)
        legacy = len(train) / (time.perf_counter() - t)

        result = finetune(pairs, output_dir=Path(tmp) / "m", loss="cosine", epochs=1, batch_size=16,
                          max_seq_length=args.max_seq, progress=False, evaluations_per_epoch=1)
    ours = result.pairs_per_second
    print(f"legacy model.fit : {legacy:6.2f} pairs/s")
    print(f"finetune         : {ours:6.2f} pairs/s (training only; it also evaluated once and saved a card)")
    print(f"ratio finetune / fit: {ours / legacy:.2f} (target: no slower, >= ~0.95 allowing noise)")


if __name__ == "__main__":
    main()
