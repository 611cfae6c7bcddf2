"""Quality benchmark (not in CI): does fine-tuning beat the base model, and which recipe does it?

On the bundled 1,990-paper sample, for each seed: 3,000 anchored pairs (a new sample and split
per seed), labelled by the offline teacher all-mpnet-base-v2 through `label_pairs_teacher` (the
real code path), then all-MiniLM-L6-v2 fine-tuned at max_seq 128 by each recipe and evaluated on
the held-out papers (in no training or validation pair; each queries the whole sample; graded
category relevance) against TF-IDF, the base model and the teacher (as it labelled, and reading
only the student's 128 tokens: the ceiling, on test-pair Spearman and on retrieval, for a
student truncated there). Every gain is the paired difference to the base model over the same
queries / test pairs, with its bootstrap 95% interval; each recipe is also compared, the same
way, with the teacher reading 128 tokens (how much of that ceiling is left), and each recipe's share
of the base-to-ceiling test-pair Spearman gap is printed with its bootstrap interval (all three
correlations recomputed on each resample of the pairs), on the 300 test pairs and on ``--fresh``
more held-out pairs (anchored, among the papers no labelled pair touches, teacher-labelled).

Recipes (all on the same labels):
- default: `finetune()` as shipped: the pair loss, the teacher's similarity structure distilled
  (the labels name the teacher; no ranking beside it), then the teacher projection (a linear
  layer fitted in closed form, arxiv_reco/projection.py); evaluated as well without that last
  layer ("default, no projection": the same trained weights, no second run);
- rubric (lever 6): the teacher's scores mapped monotonically onto the rubric's anchors (0, 0.1,
  0.2, 0.3, 0.5, 0.7, 0.9) and marked as Gemini labels: no teacher to distil, what Gemini users get;
- pairs-only: the pair loss alone at the default schedule (distillation and ranking off);
- old-default: the recipe before this benchmark (cosine pair loss, 1 epoch, lr 2e-5, batch 16);
- batch-64: the default with batches of 64 (each paper compared in-batch with twice as many);
- one-epoch: the default for one epoch (with ``--pairs 10000``: more of the teacher's signal at
  about the default's compute on 3,000);
- read-256: the default trained on 128 tokens, the saved model reading 256 (``train_seq_length``):
  the same 30 CPU minutes as the default, a longer read; compared with the base reading 256 as
  well as with the default (the paired comparisons printed under the table);
- rubric-silver (lever 4, Augmented SBERT): the rubric labels, plus ``--silver`` more anchored
  pairs among the training papers scored by a cross-encoder trained on the gold training pairs
  (from the base model's weights, the small model at hand offline); one epoch over gold + silver.

    python bench/quality.py                                # seeds 0 and 1, all recipes (~3 h on 2 cores)
    python bench/quality.py --seeds 0 --recipes default,rubric
    python bench/quality.py --seeds 1 --recipes rubric-silver       # bench/QUALITY.md's silver-pairs row
    python bench/quality.py --seeds 1 --pairs 10000 --recipes one-epoch
    python bench/quality.py --seeds 1 --recipes batch-64
    python bench/quality.py --recipes default,read-256            # train short, read long
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from arxiv_reco.config import DEFAULT_BASE_MODEL as BASE  # noqa: E402
from arxiv_reco.config import DEFAULT_TEACHER_MODEL as TEACHER  # noqa: E402

RUBRIC = [(0.10, 0.0), (0.20, 0.1), (0.30, 0.2), (0.40, 0.3), (0.55, 0.5), (0.70, 0.7)]  # cosine < t -> anchor
RECIPES = {
    "default": {},
    "rubric": {},  # the labels change, not the call
    "pairs-only": {"distill": False, "rank": False},
    "old-default": {"distill": False, "rank": False, "epochs": 1, "learning_rate": 2e-5, "batch_size": 16},
    "one-epoch": {"epochs": 1},
    "batch-64": {"batch_size": 64},  # twice the in-batch comparisons for the distillation and ranking
    "rubric-silver": {"epochs": 1},  # gold + silver once: about the compute of gold three times
    "read-256": {"train_seq_length": 128, "max_seq_length": 256},  # --max-seq's training, a longer read
}


def rubric(score: float) -> float:
    """The teacher's cosine mapped monotonically onto the rubric's anchors."""
    return next((v for t, v in RUBRIC if score < t), 0.9)


def as_rubric(labels):
    """The teacher's labels as a Gemini user would have them: rubric anchors, no teacher named."""
    return labels.assign(score=labels["score"].map(rubric), labeler="gemini", model="gemini-2.5-flash",
                         prompt_version="teacher-mapped-to-rubric")


def silver_pairs(gold, papers, n: int, seed: int, max_length: int = 256):
    """Augmented SBERT's silver pairs: a cross-encoder trained one epoch on the gold training pairs
    scores ``n`` anchored pairs among the training papers (held-out papers stay untouched).
    Returns (silver pairs as training labels, the cross-encoder's validation Spearman)."""
    import tempfile

    import numpy as np
    import pandas as pd
    from datasets import Dataset
    from scipy.stats import spearmanr
    from sentence_transformers.cross_encoder import (
        CrossEncoder,
        CrossEncoderTrainer,
        CrossEncoderTrainingArguments,
    )
    from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss

    from arxiv_reco.corpus import paper_text
    from arxiv_reco.models import resolve_model
    from arxiv_reco.pairs import sample_pairs

    train, val = gold[gold["split"] == "train"], gold[gold["split"] == "validation"]
    ref = resolve_model(BASE)
    ce = CrossEncoder(ref.target, num_labels=1, max_length=max_length, device="cpu", local_files_only=ref.local_files_only)
    # a cross-encoder is not symmetric: each pair in a random order (both orders would double the cost)
    flip = np.random.default_rng(seed).random(len(train)) < 0.5
    ds = Dataset.from_dict({"s1": np.where(flip, train["text_b"], train["text_a"]).tolist(),
                            "s2": np.where(flip, train["text_a"], train["text_b"]).tolist(),
                            "label": train["score"].astype(float).tolist()})
    with tempfile.TemporaryDirectory() as tmp:
        args = CrossEncoderTrainingArguments(output_dir=tmp, num_train_epochs=1, per_device_train_batch_size=16,
                                             learning_rate=5e-5, warmup_ratio=0.1, bf16=True, use_cpu=True,
                                             save_strategy="no", report_to="none", seed=seed, disable_tqdm=True)
        CrossEncoderTrainer(model=ce, args=args, train_dataset=ds, loss=BinaryCrossEntropyLoss(ce)).train()

    def score(df):
        return np.asarray(ce.predict(list(zip(df["text_a"], df["text_b"])), batch_size=64, show_progress_bar=False))

    rho = float(spearmanr(score(val), val["score"]).statistic)

    def ids(df):
        return set(df["id_a"].astype(str)) | set(df["id_b"].astype(str))

    pool = ids(train) - ids(gold[gold["split"] != "train"])
    silver = sample_pairs(papers[papers["id"].astype(str).isin(pool)], n=n, strategy="anchored", seed=seed + 1000)
    silver = silver[~silver["pair_id"].isin(gold["pair_id"])]  # pair_id names the unordered pair
    silver = silver.assign(split="train",
                           text_a=[paper_text(t, a) for t, a in zip(silver["title_a"], silver["abstract_a"])],
                           text_b=[paper_text(t, a) for t, a in zip(silver["title_b"], silver["abstract_b"])])
    silver = silver.assign(score=score(silver), labeler="gemini", model="gemini-2.5-flash",
                           prompt_version="cross-encoder-silver")
    return pd.DataFrame(silver[gold.columns.intersection(silver.columns)]), rho


def fresh_pairs(papers, labels, store, n: int, seed: int, max_seq: int, out: Path):
    """More held-out pairs than the 300 test pairs: anchored pairs among the papers that no labelled
    pair touches, labelled by the teacher as the labels were. The Spearman target's share of the gap
    is +-20 points wide on 300 pairs; on 3,000 it is about +-5."""
    from arxiv_reco.labeling import export_labels
    from arxiv_reco.pairs import sample_pairs
    from arxiv_reco.teacher import label_pairs_teacher

    used = set(labels["id_a"].astype(str)) | set(labels["id_b"].astype(str))
    held = papers[~papers["id"].astype(str).isin(used)]
    pairs = sample_pairs(held, n=n, strategy="anchored", seed=10_000 + seed)  # not the labels' seed
    s = label_pairs_teacher(pairs, store, TEACHER, max_seq_length=max_seq, progress=False)
    return export_labels(store, pairs, out, model=s.model, prompt_version=s.prompt_version), len(held)


def gap_shares(ev, recipes, short: str) -> dict:
    """Each recipe's share of the base-to-``short`` Spearman gap on ``ev``'s pairs, with its interval."""
    from arxiv_reco.stats import gap_share

    return {r: gap_share(ev.pair_cos["base"], ev.pair_cos[r], ev.pair_cos[short], ev.pair_labels) for r in recipes}


def share_text(s: dict) -> str:
    return f"{s['share']:.0%} [{s['ci_low']:.0%}, {s['ci_high']:.0%}]"


def share_triple(s: dict) -> list:
    return [round(s[k], 3) for k in ("share", "ci_low", "ci_high")]


def without_projection(model):
    """The model less its teacher projection (the trailing Dense + Normalize), or None without one."""
    from sentence_transformers import SentenceTransformer

    mods = list(model)
    if len(mods) < 2 or type(mods[-2]).__name__ != "Dense":
        return None
    return SentenceTransformer(modules=mods[:-2], device=str(model.device))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=3000)
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--recipes", default=",".join(RECIPES))
    ap.add_argument("--max-seq", type=int, default=128)
    ap.add_argument("--teacher-max-seq", type=int, default=256)
    ap.add_argument("--silver", type=int, default=5000, help="silver pairs for the rubric-silver recipe")
    ap.add_argument("--fresh", type=int, default=3000, help="held-out pairs among the unpaired papers (0: none)")
    ap.add_argument("--out", default=str(REPO / "bench" / "_data" / "quality"))
    args = ap.parse_args()

    import pandas as pd

    from arxiv_reco.config import SAMPLE_PAPERS
    from arxiv_reco.evaluate import format_comparison, measure
    from arxiv_reco.labeling import export_labels
    from arxiv_reco.models import load_model
    from arxiv_reco.pairs import sample_pairs
    from arxiv_reco.snapshot import load_papers
    from arxiv_reco.store import LabelStore
    from arxiv_reco.teacher import label_pairs_teacher
    from arxiv_reco.train import finetune

    t_start = time.perf_counter()
    work = Path(args.out)
    work.mkdir(parents=True, exist_ok=True)
    papers, _ = load_papers(SAMPLE_PAPERS)
    store = LabelStore(work / "teacher_labels.sqlite")  # teacher labels are reused across runs
    teacher = load_model(TEACHER, max_seq_length=args.teacher_max_seq)
    results = []
    for seed in (int(s) for s in args.seeds.split(",")):
        pairs = sample_pairs(papers, n=args.pairs, strategy="anchored", seed=seed)
        t = time.perf_counter()
        s = label_pairs_teacher(pairs, store, TEACHER, max_seq_length=args.teacher_max_seq, progress=False)
        labels = export_labels(store, pairs, work / f"labels_{seed}.csv", model=s.model, prompt_version=s.prompt_version)
        print(f"seed {seed}: {len(labels)} teacher labels ({s.labeled} new) in {time.perf_counter() - t:.0f}s", flush=True)
        # the teacher twice: as it labelled (its max_seq), and reading only what the student reads
        # (the student's max_seq): the ceiling a student truncated there can reach on test-pair Spearman
        short = f"teacher (mpnet) @{args.max_seq}"
        models = {"tfidf": "tfidf", "base": load_model(BASE, max_seq_length=args.max_seq), "teacher (mpnet)": teacher,
                  short: load_model(TEACHER, max_seq_length=args.max_seq)}
        for recipe in args.recipes.split(","):
            data = labels
            t = time.perf_counter()
            if recipe in ("rubric", "rubric-silver"):
                data = as_rubric(labels)
            if recipe == "rubric-silver":
                silver, rho = silver_pairs(data, papers, args.silver, seed)
                print(f"seed {seed}: {len(silver)} silver pairs, cross-encoder validation Spearman {rho:.3f}, "
                      f"{time.perf_counter() - t:.0f}s", flush=True)
                data = pd.concat([data, silver], ignore_index=True)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                # papers=None: finetune's own before/after is skipped here; one measure() below
                # evaluates every recipe on the same queries
                kw = {"max_seq_length": args.max_seq, **RECIPES[recipe]}
                result = finetune(data, base_model=BASE, output_dir=work / f"model_{recipe}_{seed}",
                                  seed=seed, papers=None, progress=False, **kw)
            train_s = time.perf_counter() - t
            meta = json.loads((result.model_dir / "arxiv_reco.json").read_text())
            extra = " (the silver pairs' cross-encoder included)" if recipe == "rubric-silver" else ""
            print(f"seed {seed} {recipe}: {train_s:.0f}s{extra}, objectives {meta['objectives']}", flush=True)
            models[recipe] = load_model(result.model_dir, max_seq_length=kw["max_seq_length"])
            long_base = f"base @{kw['max_seq_length']}"  # its fair baseline reads as much as it does
            if kw["max_seq_length"] != args.max_seq and long_base not in models:
                models[long_base] = load_model(BASE, max_seq_length=kw["max_seq_length"])
            stripped = without_projection(models[recipe])
            if stripped is not None:  # the same trained weights without the projection: its ablation
                models[f"{recipe}, no projection"] = stripped
                results.append({"seed": seed, "recipe": f"{recipe}, no projection"})
            results.append({"seed": seed, "recipe": recipe, "seconds": round(train_s),
                            "train_pairs_per_s": round(result.pairs_per_second, 2)})
        ev = measure(models, papers, labels)  # one evaluation: the same held-out queries and test pairs
        table = ev.table
        comparison = ev.compare("base")
        print(f"\nseed {seed}: {int(table.loc['base', 'category_queries'])} held-out queries, "
              f"{int(table.loc['base', 'test_pairs'])} test pairs")
        cols = ["spearman", "category_ndcg@10", "category_map@10", "unrelated_cos_mean", "unrelated_cos_std"]
        print(table[cols].round(4).to_string())
        print(format_comparison(comparison).to_string(index=False), flush=True)
        # how far each recipe is from what its teacher achieves reading the same tokens: the
        # ceiling distillation can reach, with the same paired intervals as the gains
        recipes = [r for r in table.index if r.split(",")[0] in args.recipes.split(",")]
        print(f"\nseed {seed}: each recipe against {short}")
        print(format_comparison(ev.compare(short, models=recipes)).to_string(index=False), flush=True)
        # the Spearman target, with its interval (300 test pairs leave it wide), for the
        # recipes that read what the ceiling reads
        same_read = [r for r in recipes if RECIPES.get(r, {}).get("max_seq_length", args.max_seq) == args.max_seq]
        shares = gap_shares(ev, same_read, short)
        for r, share in shares.items():
            print(f"seed {seed}: {r} closes {share_text(share)} of the test-pair Spearman gap from the base to {short}")
        fresh_shares = {}  # the same share on many more held-out pairs: the target, measured tightly
        if args.fresh and shares:
            fresh, n_held = fresh_pairs(papers, labels, store, args.fresh, seed, args.teacher_max_seq,
                                        work / f"fresh_labels_{seed}.csv")
            # measured as test pairs: measure() gives each model's cosine per pair
            fev = measure({m: models[m] for m in ("base", short, *shares)}, None, fresh.assign(split="test"))
            print(f"\nseed {seed}: {len(fresh)} fresh held-out pairs among the {n_held} papers no labelled pair touches")
            fresh_shares = gap_shares(fev, shares, short)
            for r, share in fresh_shares.items():
                print(f"seed {seed}: {r} closes {share_text(share)} of the Spearman gap from the base to {short} on them")
        for r in recipes:  # a recipe reading longer: against the base reading as long, and the default
            reads = RECIPES.get(r, {}).get("max_seq_length", args.max_seq)
            refs = [m for m in (f"base @{reads}", "default") if m in table.index] if reads != args.max_seq else []
            for ref in refs:
                print(f"\nseed {seed}: {r} against {ref}")
                print(format_comparison(ev.compare(ref, models=[r])).to_string(index=False), flush=True)
        for r in recipes:  # what the projection alone adds, on the same trained weights
            if f"{r}, no projection" in table.index:
                print(f"\nseed {seed}: {r} against its own weights without the projection")
                print(format_comparison(ev.compare(f"{r}, no projection", models=[r])).to_string(index=False), flush=True)
        for r in results:
            if r["seed"] == seed and r["recipe"] in table.index:
                r.update({c: float(table.loc[r["recipe"], c]) for c in cols})
                if r["recipe"] in shares:
                    r["spearman_gap_share"] = share_triple(shares[r["recipe"]])
                if r["recipe"] in fresh_shares:
                    r["fresh_spearman_gap_share"] = share_triple(fresh_shares[r["recipe"]])
                for _, row in comparison[comparison["model"] == r["recipe"]].iterrows():
                    r[f"d_{row['metric']}"] = [round(row["diff"], 4), round(row["ci_low"], 4), round(row["ci_high"], 4)]
        for ref in ("tfidf", "base", "teacher (mpnet)", short, *[m for m in table.index if m.startswith("base @")]):
            results.append({"seed": seed, "recipe": ref, **{c: float(table.loc[ref, c]) for c in cols}})
        (work / "results.json").write_text(json.dumps(results, indent=1))
    df = pd.DataFrame(results)
    print("\nmean over seeds:")
    print(df.groupby("recipe")[["spearman", "category_ndcg@10", "category_map@10"]].agg(["mean", "std"]).round(4)
          .to_string())
    print(f"\nwall time {time.perf_counter() - t_start:.0f}s")


if __name__ == "__main__":
    main()
