"""Quality benchmark (not in CI): does fine-tuning on teacher-labelled pairs help, and which recipe?

On the bundled 2k sample: pairs labelled by the offline all-mpnet-base-v2 teacher (through
`label_pairs_teacher`, the real code path), then all-MiniLM-L6-v2 fine-tuned with each recipe,
all evaluated on held-out papers against TF-IDF, the base model and the teacher. Repeated per
seed (a new pair sample, split and training seed) so the table shows the noise.

    python bench/quality.py                                   # seeds 0 and 1
    python bench/quality.py --pairs 3000 --epochs 2 --max-seq 128 --recipes mixed-cosent,mixed-angle
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

RECIPES = {  # name -> (pair strategy, loss)
    "random-cosine": ("random", "cosine"),  # the original notebook's recipe
    "mixed-cosine": ("mixed", "cosine"),
    "mixed-cosent": ("mixed", "cosent"),
    "mixed-angle": ("mixed", "angle"),
}
TEACHER = "sentence-transformers/all-mpnet-base-v2"
BASE = "sentence-transformers/all-MiniLM-L6-v2"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=2000)
    ap.add_argument("--epochs", type=float, default=1)
    ap.add_argument("--max-seq", type=int, default=128)
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--recipes", default=",".join(RECIPES))
    ap.add_argument("--learning-rate", type=float, default=2e-5)
    ap.add_argument("--teacher-max-seq", type=int, default=192, help="mpnet reads ~2 papers/s at 384 on 2 cores")
    args = ap.parse_args()

    import pandas as pd

    from arxiv_reco.config import SAMPLE_PAPERS
    from arxiv_reco.evaluate import evaluate_models
    from arxiv_reco.labeling import export_labels
    from arxiv_reco.models import load_model
    from arxiv_reco.pairs import sample_pairs
    from arxiv_reco.snapshot import load_papers
    from arxiv_reco.store import LabelStore
    from arxiv_reco.teacher import label_pairs_teacher
    from arxiv_reco.train import finetune

    t_start = time.perf_counter()
    work = REPO / "bench" / "_data" / "quality"
    work.mkdir(parents=True, exist_ok=True)
    papers, _ = load_papers(SAMPLE_PAPERS)
    store = LabelStore(work / "teacher_labels.sqlite")  # teacher labels are reused across runs
    teacher = load_model(TEACHER, max_seq_length=args.teacher_max_seq)
    rows = []
    seeds = [int(s) for s in args.seeds.split(",")]
    strategies = sorted({RECIPES[r][0] for r in args.recipes.split(",")})
    pair_sets = {(seed, st): sample_pairs(papers, n=args.pairs, strategy=st, seed=seed) for seed in seeds for st in strategies}
    t = time.perf_counter()
    # one call: the teacher encodes each paper once for all pair sets
    s = label_pairs_teacher(pd.concat(pair_sets.values()).drop_duplicates("pair_id"), store, TEACHER,
                            max_seq_length=args.teacher_max_seq, progress=False)
    print(f"teacher labels: {s.labeled} new, {s.already_labeled} cached ({time.perf_counter() - t:.0f}s)", flush=True)
    for seed in seeds:
        per_strategy = {}
        for strategy in strategies:
            labels = export_labels(store, pair_sets[(seed, strategy)], work / f"labels_{strategy}_{seed}.csv",
                                  model=s.model, prompt_version=s.prompt_version)
            print(f"seed {seed} {strategy}: {len(labels)} pairs, mean teacher score {labels['score'].mean():.3f}")
            per_strategy[strategy] = labels
        reference = per_strategy.get("mixed", next(iter(per_strategy.values())))
        base = load_model(BASE, max_seq_length=args.max_seq)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref_table = evaluate_models({"tfidf": "tfidf", "base": base, "teacher (mpnet)": teacher}, papers, reference)
        for name, row in ref_table.iterrows():
            rows.append({"seed": seed, "model": name, **row.to_dict()})
        for recipe in args.recipes.split(","):
            strategy, loss = RECIPES[recipe]
            t = time.perf_counter()
            result = finetune(per_strategy[strategy], base_model=BASE, output_dir=work / f"model_{recipe}_{seed}",
                              loss=loss, epochs=args.epochs, max_seq_length=args.max_seq, seed=seed,
                              learning_rate=args.learning_rate, progress=False)
            model = load_model(result.model_dir, max_seq_length=args.max_seq)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                table = evaluate_models({"base": base, recipe: model}, papers, reference)  # same held-out set as above
            collapse = any("collapsing" in str(w.message) for w in caught)
            rows.append({"seed": seed, "model": recipe, **table.loc[recipe].to_dict(), "collapse_warning": collapse,
                         "train_s": round(time.perf_counter() - t), "pairs_per_s": round(result.pairs_per_second, 1)})
            print(f"seed {seed} {recipe}: trained in {time.perf_counter() - t:.0f}s", flush=True)

    df = pd.DataFrame(rows)
    cols = ["seed", "model", "spearman", "category_ndcg@10", "category_map@10", "category_recall@10",
            "unrelated_cos_mean", "unrelated_cos_std", "collapse_warning", "pairs_per_s"]
    pd.set_option("display.width", 200)
    print(f"\n{args.pairs} pairs per strategy, teacher max_seq {args.teacher_max_seq}, {args.epochs} epoch(s), "
          f"max_seq {args.max_seq}, lr {args.learning_rate}; "
          "held-out papers = those in no train/validation pair of the mixed sample\n")
    print(df[[c for c in cols if c in df.columns]].round(4).to_string(index=False))
    summary = df.groupby("model")[["spearman", "category_ndcg@10", "category_map@10"]].agg(["mean", "std"]).round(4)
    print("\nmean and std over seeds:\n" + summary.to_string())
    print(f"\nwall time {time.perf_counter() - t_start:.0f}s")


if __name__ == "__main__":
    main()
