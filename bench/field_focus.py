"""Field focus (issue 11, lever 5; not in CI): does a user who samples only cs.* papers get a
better cs.* recommender than the general default trained on the whole sample?

For one seed, on the bundled sample: the general default (3,000 anchored pairs of the whole
sample, teacher labels, `finetune()` as shipped) and the field-focused one (3,000 anchored pairs
among the field's papers only, the same recipe, the same compute) are evaluated on the field's
papers that neither trained on, searching the field's papers (what a cs.* user's corpus holds;
graded category relevance, so cs.LG against cs.CV counts). Every gain is a paired difference over
those queries with its bootstrap 95% interval; the teacher reading the student's 128 tokens is
the reference row, as in bench/quality.py.

    python bench/field_focus.py --seed 1                  # ~1 h on 2 cores (two trainings)
    python bench/field_focus.py --seed 1 --general bench/_data/quality/model_default_1   # reuse quality.py's
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--field", default="cs", help="primary-category prefix, e.g. cs, math, astro-ph")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--pairs", type=int, default=3000)
    ap.add_argument("--max-seq", type=int, default=128)
    ap.add_argument("--teacher-max-seq", type=int, default=256)
    ap.add_argument("--general", help="an already trained general default for this seed (skips one training)")
    ap.add_argument("--out", default=str(REPO / "bench" / "_data" / "field_focus"))
    args = ap.parse_args()

    import pandas as pd

    from arxiv_reco.config import DEFAULT_BASE_MODEL as BASE
    from arxiv_reco.config import DEFAULT_TEACHER_MODEL as TEACHER
    from arxiv_reco.config import SAMPLE_PAPERS
    from arxiv_reco.training.evaluate import format_comparison, held_out_ids, measure
    from arxiv_reco.labels.labeling import export_labels
    from arxiv_reco.vectors.models import load_model
    from arxiv_reco.pairs.sampling import assign_splits, sample_pairs
    from arxiv_reco.papers.snapshot import load_papers
    from arxiv_reco.labels.store import LabelStore
    from arxiv_reco.labels.teacher import label_pairs_teacher
    from arxiv_reco.training.train import finetune

    t_start = time.perf_counter()
    work = Path(args.out)
    work.mkdir(parents=True, exist_ok=True)
    papers, _ = load_papers(SAMPLE_PAPERS)
    store = LabelStore(work / "teacher_labels.sqlite")
    ids = papers["id"].astype(str)
    in_field = papers["primary_category"].astype(str).str.match(rf"{re.escape(args.field)}(\.|$)").to_numpy()

    def labelled(pairs, name):
        s = label_pairs_teacher(pairs, store, TEACHER, max_seq_length=args.teacher_max_seq, progress=False)
        return export_labels(store, pairs, work / f"{name}.csv", model=s.model, prompt_version=s.prompt_version)

    def train(labels, name):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t = time.perf_counter()
            r = finetune(labels, base_model=BASE, output_dir=work / name, max_seq_length=args.max_seq,
                         seed=args.seed, papers=None, progress=False)
        print(f"{name}: trained in {time.perf_counter() - t:.0f}s", flush=True)
        return r.model_dir

    # 1. the general default's pairs (quality.py's, for the same seed) and the papers it holds out
    general = labelled(sample_pairs(papers, n=args.pairs, strategy="anchored", seed=args.seed), f"general_{args.seed}")
    general_held = set(held_out_ids(papers, general))
    # 2. the field's pool: its papers, less those the general model held out and a field model could
    #    train on (splits hash the paper id, so a held-out test paper is a test paper here too)
    trainable = (assign_splits(papers["id"], seed=args.seed).to_numpy() != "test")
    pool = papers[in_field & ~(ids.isin(general_held).to_numpy() & trainable)].reset_index(drop=True)
    field = labelled(sample_pairs(pool, n=args.pairs, strategy="anchored", seed=args.seed), f"{args.field}_{args.seed}")
    print(f"{int(in_field.sum())} {args.field} papers, {len(pool)} in the field's pool, "
          f"{len(field)} field pairs {field['split'].value_counts().to_dict()}", flush=True)

    # 3. both trainings, the same recipe and compute
    general_dir = Path(args.general) if args.general else train(general, f"model_general_{args.seed}")
    field_dir = train(field, f"model_{args.field}_{args.seed}")

    # 4. one evaluation: the field's papers neither model trained on, searching the field's papers
    #    (held-out = in no train/validation pair of either labels file; test pairs: the field's)
    seen = pd.concat([general[general["split"] != "test"], field], ignore_index=True)
    short = f"teacher (mpnet) @{args.max_seq}"
    models = {"tfidf": "tfidf", "base": load_model(BASE, max_seq_length=args.max_seq),
              short: load_model(TEACHER, max_seq_length=args.max_seq),
              "general default": load_model(general_dir, max_seq_length=args.max_seq),
              f"{args.field}-focused": load_model(field_dir, max_seq_length=args.max_seq)}
    ev = measure(models, papers[in_field].reset_index(drop=True), seen)
    print(f"\n{int(ev.table.loc['base', 'category_queries'])} held-out {args.field} queries searching "
          f"{int(in_field.sum())} {args.field} papers; {int(ev.table.loc['base', 'test_pairs'])} {args.field} test pairs")
    print(ev.table[["spearman", "category_ndcg@10", "category_map@10"]].round(4).to_string())
    comparisons = {}
    for ref in ("base", "general default", short):
        comparisons[ref] = ev.compare(ref, models=[m for m in models if m not in ("tfidf", ref)])
        print(f"\nagainst {ref}:")
        print(format_comparison(comparisons[ref]).to_string(index=False), flush=True)
    (work / f"results_{args.field}_{args.seed}.json").write_text(json.dumps({
        "models": json.loads(ev.table.reset_index().to_json(orient="records")),
        "comparisons": {ref: json.loads(c.to_json(orient="records")) for ref, c in comparisons.items()}}, indent=1))
    print(f"\nwall time {time.perf_counter() - t_start:.0f}s")


if __name__ == "__main__":
    main()
