"""Quality benchmark: what fine-tuning buys on papers no model here ever saw, recipe by recipe.

The protocol (docs/quality.md has the figures):
- labels: for each seed, 3,000 anchored pairs of the bundled 1,990-paper sample, scored by the
  offline teacher all-mpnet-base-v2 reading 256 tokens (`label_pairs_teacher`, the real code
  path); "rubric" recipes get the same scores mapped onto the rubric's anchors and marked as
  Gemini's (what a Gemini user has), trained with the teacher distilled beside them ("gemini",
  the default for them when the teacher is installed), with distillation alone and no pair loss
  ("distil-only": what the labels add on top of it), or with no teacher ("rubric");
- the fresh corpus: `--fresh` (default ../shared/data/arxiv_fresh_15k.jsonl, 14,995 real 2026
  papers disjoint from the sample), shuffled once (seed 12345) into 3,000 evaluation papers and a
  distillation pool of the rest; no evaluation paper is ever trained on or distilled;
- each recipe is a `Recipe` value (RECIPES below), trained by `finetune` on the sample's labels,
  the pool's first N papers offered for distillation when the recipe asks (`distill_papers`);
- one `measure` per seed: TF-IDF, the base model, the teacher and every recipe's model, all reading
  256 tokens, on the 3,000 fresh papers (retrieval among themselves, graded by arXiv's categories;
  and under the stricter relevance beside it, the same primary category only) and on the sample's
  test pairs; each gain is the paired difference to the
  base over the same queries, with its bootstrap 95% interval; a second table pairs each recipe
  with the default. The teacher's encodings are cached (`--prepare` makes them: about 2 hours of
  2 CPU cores, minutes on a GPU) and reported apart from training time.

    python bench/quality.py --prepare                       # the teacher's vectors, once
    python bench/quality.py --seeds 0,1 --recipes gemini,distil-only --against distil-only  # what labels add
    python bench/quality.py --smoke                         # CI: tiny sizes, MiniLM as its own teacher
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from arxiv_reco.config import DEFAULT_BASE_MODEL, DEFAULT_TEACHER_MODEL, SAMPLE_PAPERS
from arxiv_reco.training.recipe import DEFAULT

REPO = Path(__file__).resolve().parent.parent
FRESH = REPO.parent / "shared" / "data" / "arxiv_fresh_15k.jsonl"
EVAL_PAPERS = 3000
SPLIT_SEED = 12345
READS = 256  # every model is measured reading this many tokens

# On 2 CPU cores a run at the full 256 tokens takes hours: the recipes train on 128 tokens (what `train`
# does on a CPU by itself now) and the saved models read 256 (the same 256 the base and the teacher read).
CPU = DEFAULT.but(train_seq_length=128)
RECIPES = {
    "default": ("teacher", CPU),  # the labels' pairs once + the teacher distilled over 4,000 more corpus papers
    "previous": ("teacher", CPU.but(epochs=3, distill_papers=0)),  # the default before the fresh corpus
    "previous-projected": ("teacher", CPU.but(epochs=3, distill_papers=0, project=None)),  # ... and before that
    "distil-2k": ("teacher", CPU.but(distill_papers=2000, project=None)),
    "distil-5k": ("teacher", CPU.but(distill_papers=5000, project=None)),
    "distil-10k": ("teacher", CPU.but(distill_papers=10000, project=None)),
    "default-wise": ("teacher", CPU.but(interpolate="auto")),
    "default-freeze3": ("teacher", CPU.but(freeze_layers=3)),
    # Gemini-scale labels (the teacher's mapped onto the rubric, marked as Gemini's): what a Gemini user trains on
    "gemini": ("rubric", CPU),  # the default for them: the pair loss on the labels + the teacher distilled beside
    "distil-only": ("rubric", CPU.but(pair_loss="none")),  # the teacher distilled over the same papers, no labels
    "rubric": ("rubric", CPU.but(distill=False)),  # the labels alone, no teacher: the pairs three times
    "rubric-wise": ("rubric", CPU.but(distill=False, interpolate="auto")),
    "rubric-gentle": ("rubric", CPU.but(distill=False, epochs=1, learning_rate=2e-5)),
}

RUBRIC = [(0.10, 0.0), (0.20, 0.1), (0.30, 0.2), (0.40, 0.3), (0.55, 0.5), (0.70, 0.7)]  # cosine < t -> anchor


def rubric(score: float) -> float:
    """The teacher's cosine mapped monotonically onto the rubric's anchors."""
    return next((v for t, v in RUBRIC if score < t), 0.9)


def as_rubric(labels: pd.DataFrame) -> pd.DataFrame:
    """The teacher's labels as a Gemini user would have them: rubric anchors, no teacher named."""
    return labels.assign(score=labels["score"].map(rubric), labeler="gemini", model="gemini-2.5-flash",
                         prompt_version="teacher-mapped-to-rubric")


def fresh_split(fresh_file: Path, sample: pd.DataFrame, n_eval: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(evaluation papers, distillation pool): the fresh corpus less any sample paper, shuffled once."""
    from arxiv_reco.papers.snapshot import load_papers

    fresh, _ = load_papers(fresh_file)
    fresh = fresh[~fresh["id"].isin(set(sample["id"]))].reset_index(drop=True)
    order = np.random.default_rng(SPLIT_SEED).permutation(len(fresh))
    return fresh.iloc[order[:n_eval]].reset_index(drop=True), fresh.iloc[order[n_eval:]].reset_index(drop=True)


def prepare(teacher: str, sample: pd.DataFrame, evaluation: pd.DataFrame, pool: pd.DataFrame, chunk: int = 500) -> None:
    """The teacher's vectors into the vector cache, in the order the runs need them."""
    from arxiv_reco.vectors.embed import encode
    from arxiv_reco.vectors.models import load_model

    model = load_model(teacher, max_seq_length=READS)
    for name, texts in (("sample", sample["text"].tolist()), ("evaluation", evaluation["text"].tolist()),
                        ("pool", pool["text"].tolist())):
        for start in range(0, len(texts), chunk):
            t = time.perf_counter()
            encode(model, texts[start : start + chunk], progress=False, cache=True)
            print(f"{name}: {min(start + chunk, len(texts)):,} of {len(texts):,} "
                  f"({chunk / (time.perf_counter() - t):.1f} papers/s)", flush=True)


def with_pool(sample: pd.DataFrame, pool: pd.DataFrame, n: int | str) -> pd.DataFrame:
    """The corpus a recipe trains with: the sample, and as much of the pool (a prefix: the order
    --prepare cached) as distilling ``n`` of its papers needs, the held-out share included."""
    from arxiv_reco.training.recipe import HOLDOUT

    if n == 0:
        return sample
    head = pool if n == "all" else pool.head(int(n / (1 - HOLDOUT)) + 200)
    return pd.concat([sample, head], ignore_index=True)


def without_projection(model):
    """The model less its teacher projection (the trailing Dense + Normalize), or None without one."""
    from sentence_transformers import SentenceTransformer

    mods = list(model)
    if len(mods) < 2 or type(mods[-2]).__name__ != "Dense":
        return None
    return SentenceTransformer(modules=mods[:-2], device=str(model.device))


def finished(model_dir: Path, recipe, seed: int) -> bool:
    """True when ``model_dir`` already holds this seed's model of this recipe: an interrupted run
    resumes at the next recipe (the model folder is written atomically, its record last)."""
    record = model_dir / "arxiv_reco.json"
    if not record.exists():
        return False
    meta = json.loads(record.read_text())
    done = meta.get("seed") == seed and meta.get("recipe") == recipe.as_dict()
    if done:
        print(f"{model_dir.name}: trained earlier ({meta['train_seconds']:.0f}s training), reused", flush=True)
    return done


def labels_for(seed: int, sample: pd.DataFrame, n_pairs: int, teacher: str, work: Path) -> pd.DataFrame:
    """The seed's teacher-labelled anchored pairs (the label store is reused across runs)."""
    from arxiv_reco.labels.labeling import export_labels
    from arxiv_reco.labels.store import LabelStore
    from arxiv_reco.labels.teacher import label_pairs_teacher
    from arxiv_reco.pairs.sampling import sample_pairs

    pairs = sample_pairs(sample, n=n_pairs, strategy="anchored", seed=seed)
    with LabelStore(work / "teacher_labels.sqlite") as store:
        s = label_pairs_teacher(pairs, store, teacher, max_seq_length=READS, progress=False)
        return export_labels(store, pairs, work / f"labels_{seed}.csv", model=s.model, prompt_version=s.prompt_version)


def run_seed(seed: int, recipes: list[str], sample, evaluation, pool, args, work: Path) -> list[dict]:
    from arxiv_reco.training.evaluate import format_comparison, measure
    from arxiv_reco.training.train import device_and_precision, extra_papers, finetune
    from arxiv_reco.vectors.models import load_model

    t = time.perf_counter()
    labels = labels_for(seed, sample, args.pairs, args.teacher, work)
    print(f"seed {seed}: {len(labels):,} teacher labels in {time.perf_counter() - t:.0f}s", flush=True)
    models = {"tfidf": "tfidf", "base": load_model(args.base, max_seq_length=READS),
              "teacher": load_model(args.teacher, max_seq_length=READS)}
    runs, seen = [], set()
    device = device_and_precision()[0]
    for name in recipes:
        kind, recipe = RECIPES[name]
        data = as_rubric(labels) if kind == "rubric" else labels
        papers = with_pool(sample, pool, recipe.distill_papers)
        model_dir = work / f"model_{name}_{seed}"
        t = time.perf_counter()
        extra = len(extra_papers(papers, data, recipe, seed))
        # the teacher beside Gemini-scale labels, named (finetune would find it installed by itself)
        teacher = args.teacher if kind == "rubric" and recipe.distill is not False else None
        resolved = recipe.resolve(teacher=kind == "teacher" or teacher is not None, anchored=True, extra_papers=extra,
                                  scale="cosine" if kind == "teacher" else "rubric", device=device)
        reused = finished(model_dir, resolved, seed)
        if not reused:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                # evaluate=False: one measure() below evaluates every recipe on the same queries
                finetune(data, papers, recipe, base_model=args.base, output_dir=model_dir, seed=seed,
                         progress=False, evaluate=False, teacher=teacher)
        seconds = time.perf_counter() - t
        seen |= set((model_dir / "trained_on.txt").read_text().split())
        models[name] = load_model(model_dir, max_seq_length=READS)
        stripped = without_projection(models[name])
        if stripped is not None:  # the same trained weights without the teacher projection: its ablation
            models[f"{name}, no projection"] = stripped
        meta = json.loads((model_dir / "arxiv_reco.json").read_text())
        seconds = meta["train_seconds"] if reused else seconds  # a reused model: its own training time
        runs.append({"seed": seed, "recipe": name, "seconds": round(seconds), "train_seconds": meta["train_seconds"],
                     "distilled": meta["distilled_papers"], "interpolation": meta["interpolation"]["weight"]})
        print(f"seed {seed} {name}: {seconds:.0f}s ({meta['train_seconds']:.0f}s training), "
              f"{meta['distilled_papers']:,} papers distilled, objectives {meta['objectives']}, "
              f"interpolation {meta['interpolation']}", flush=True)
    ev = measure(models, sample, labels, corpus=evaluation, seen=seen, cache=True)  # the teacher's are cached
    table = ev.table
    cols = [c for c in ("spearman", "fresh_ndcg@10", "fresh_primary_ndcg@10", "fresh_map@10", "category_ndcg@10",
                        "unrelated_cos_std") if c in table.columns]
    print(f"\nseed {seed}: {int(table.loc['base', 'fresh_queries']):,} fresh queries, "
          f"{int(table.loc['base', 'test_pairs'])} test pairs, "
          f"{int(table.loc['base', 'category_queries'])} held-out sample papers")
    print(table[cols].round(4).to_string())
    variants = [m for m in models if m not in ("tfidf", "base", "teacher")]
    against_base = ev.compare("base", models=["teacher", "tfidf", *variants])
    print(format_comparison(against_base).to_string(index=False))
    against = args.against if args.against in recipes else None  # the recipe every other one is paired with
    if against and len(variants) > 1:
        print(format_comparison(ev.compare(against, models=[v for v in variants if v != against])).to_string(index=False))
    out = []
    for r in runs + [{"seed": seed, "recipe": m} for m in ("tfidf", "base", "teacher")] + [
            {"seed": seed, "recipe": m} for m in variants if m.endswith("no projection")]:
        r.update({c: float(table.loc[r["recipe"], c]) for c in cols})
        for _, row in against_base[against_base["model"] == r["recipe"]].iterrows():
            r[f"d_{row['metric']}"] = [round(row["diff"], 4), round(row["ci_low"], 4), round(row["ci_high"], 4)]
        if against and r["recipe"] in variants and r["recipe"] != against:
            vs = ev.compare(against, models=[r["recipe"]])
            for _, row in vs.iterrows():
                r[f"vs_{against}_{row['metric']}"] = [round(row["diff"], 4), round(row["ci_low"], 4),
                                                    round(row["ci_high"], 4)]
        out.append(r)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--recipes", default="default,gemini,distil-only,rubric")
    ap.add_argument("--against", default="default", help="pair every other recipe with this one (when it runs)")
    ap.add_argument("--pairs", type=int, default=3000)
    ap.add_argument("--fresh", default=str(FRESH), help="the fresh corpus (Kaggle JSON Lines)")
    ap.add_argument("--eval-papers", type=int, default=EVAL_PAPERS)
    ap.add_argument("--base", default=DEFAULT_BASE_MODEL)
    ap.add_argument("--teacher", default=DEFAULT_TEACHER_MODEL)
    ap.add_argument("--prepare", action="store_true", help="only encode the teacher's vectors into the cache")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, MiniLM as its own teacher: the code path in CI")
    ap.add_argument("--out", default=str(REPO / "bench" / "_data" / "quality"))
    args = ap.parse_args()

    from arxiv_reco.papers.snapshot import load_papers

    t0 = time.perf_counter()
    work = Path(args.out)
    work.mkdir(parents=True, exist_ok=True)
    sample, _ = load_papers(SAMPLE_PAPERS)
    if args.smoke:  # the code path in CI: MiniLM as its own teacher, the sample's own papers as the fresh ones
        args.teacher, args.pairs, args.seeds = args.base, 40, "0"
        sample, fresh = sample.iloc[:120].reset_index(drop=True), sample.iloc[120:240].reset_index(drop=True)
        smoke = DEFAULT.but(epochs=1, max_seq_length=32, batch_size=8)
        RECIPES.update({"default": ("teacher", smoke.but(distill_papers=40)),
                        "gemini": ("rubric", smoke.but(distill_papers=40)),
                        "distil-only": ("rubric", smoke.but(distill_papers=40, pair_loss="none")),
                        "rubric": ("rubric", smoke.but(distill=False, interpolate="auto"))})
        args.recipes = "default,gemini,distil-only,rubric"
        evaluation, pool = fresh.iloc[:60].reset_index(drop=True), fresh.iloc[60:].reset_index(drop=True)
    else:
        fresh_file = Path(args.fresh)
        if not fresh_file.exists():
            raise SystemExit(f"no fresh corpus at {fresh_file}; pass --fresh FILE (Kaggle JSON Lines, disjoint "
                             "from the sample)")
        evaluation, pool = fresh_split(fresh_file, sample, args.eval_papers)
    recipes = args.recipes.split(",")
    unknown = [r for r in recipes if r not in RECIPES]
    if unknown:
        raise SystemExit(f"unknown recipe(s) {unknown}; known: {', '.join(RECIPES)}")
    if args.prepare:  # the pool's papers that these recipes distil, not the whole pool
        needed = max(len(with_pool(sample, pool, RECIPES[r][1].distill_papers or 0)) for r in recipes) - len(sample)
        prepare(args.teacher, sample, evaluation, pool.head(needed))
        return
    results = []
    for seed in (int(s) for s in args.seeds.split(",")):
        results += run_seed(seed, recipes, sample, evaluation, pool, args, work)
        (work / "results.json").write_text(json.dumps(results, indent=1))
    print(f"\nwall time {time.perf_counter() - t0:.0f}s; results in {work / 'results.json'}")


if __name__ == "__main__":
    main()
