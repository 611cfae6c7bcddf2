"""Figures on one GPU, in a prepared run or two (not in CI; run where a GPU is lent, in minutes).

1. Encoding throughput through the product's path (`embed.encode`, torch on CUDA) at 256 and 128
   tokens, as the model is (float32) and in half precision, with the 2.8 M-paper time it implies;
   the vectors of each against float32's (cosine). Exact search (`search.exact_candidates`) over
   2.8 M vectors on that machine's CPUs.
2. Training on the GPU (bf16 from Ampere on, `train.device_and_precision`): the default recipe on
   3,000 teacher-labelled pairs at 128 tokens (the CPU table's setting) and at 256 (the setting a
   GPU affords), seeds 0 and 1, each evaluated against the base reading as much.
3. The knobs the CPU budget never let us sweep (learning rate, the distillation's temperature,
   weight and rows, the objectives), each at 128 tokens on seed 0, paired against the default
   trained in the same run; any that beats it by 0.004 Spearman re-run on seed 1 (none did).
4. ``--select``: named knobs and the default on seeds 2 and 3 (where a knob is chosen) and 0 and 1
   (where it is reported), each also on its seed's 3,000 fresh held-out pairs: bench/gpu_select.py
   prepares those pairs and reports (stop 32: twelve at once, 24 trainings in 450 s; none chosen).

The device machine has no model hub, and the 404 MB teacher does not travel: `--prepare` (on a
machine with the teacher, e.g. `make .venv/.teacher`) writes the teacher's labels and vectors and a
float16 copy of the base weights; the GPU run reads them and runs the real code otherwise
(`finetune` distils the prepared vectors: the very ones labelling wrote to the vector cache).

    python bench/gpu.py --prepare .gpu                 # here: labels, teacher vectors, base weights
    python bench/gpu.py --data .gpu --out OUT          # there: figures to OUT/results.json
    python bench/gpu.py --data .gpu --out OUT2 --workers 11 --only "lr 2e-4;rows of 6;..."

The first run stops starting trainings at ``--budget`` seconds (the README's figures: 6 of them
in 300 s on an H200, after the encoding figures); the second ran the other 11 sweep entries at
once, with no encoding figures. Each run's paired comparisons are printed and pickled
(``evaluation_<seed>.pkl``): the sweep against the default merges the two seed-0 pickles
(``Evaluation.merge``; the evaluation is deterministic for a given model).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SEEDS = (0, 1)
PAIRS = 3000
SMOKE = bool(os.environ.get("GPU_BENCH_SMOKE"))  # a few seconds of everything, to test the script on a CPU
WORKERS = 1 if SMOKE else 6  # trainings at once: MiniLM at batch 32 leaves most of an H100 idle
# name -> (finetune kwargs, patches of module constants); all at max_seq 128 unless they say
SWEEP = {
    "lr 2e-5": ({"learning_rate": 2e-5}, {}),
    "lr 1e-4": ({"learning_rate": 1e-4}, {}),
    "lr 2e-4": ({"learning_rate": 2e-4}, {}),
    "temperature 0.02": ({}, {"temperature": 0.02}),
    "temperature 0.05": ({}, {"temperature": 0.05}),  # bench/QUALITY.md's sweep ran before 0.1 became the default
    "no cosine matching": ({}, {"calibration": 0.0}),
    "cosine matching 10": ({}, {"calibration": 10.0}),
    "cosine matching 100": ({}, {"calibration": 100.0}),
    "rows of 6": ({}, {"group": 6, "ranks": ((0, 3), (3, 10), (10, 20), (20, 40), (40, 80))}),
    "wider neighbour bands": ({}, {"ranks": ((0, 20), (20, 200))}),
    "anchors ranked": ({"rank": True}, {}),  # the previous default ranked beside the distillation
    "no pair loss": ({}, {"drop": "pairs"}),
    "cosent pair loss": ({"loss": "cosent"}, {}),
    "batch 128, lr 1e-4": ({"batch_size": 128, "learning_rate": 1e-4}, {}),
    "temperature 0.2": ({}, {"temperature": 0.2}),
}
SELECT_SEEDS = (2, 3)  # --select: knobs chosen on these seeds' fresh pairs, reported on 0 and 1


# (tokens read, precision, batch): the product's default first (float32, batch 64)
ENCODINGS = [(256, "float32", 64), (256, "float32", 256), (256, "float16", 256), (256, "bfloat16", 256),
             (128, "float32", 256), (128, "float16", 256)]


def prepare(folder: Path) -> None:
    """Teacher labels (both seeds), the teacher's vectors of every sample paper, float16 base."""
    import numpy as np
    import pandas as pd

    from arxiv_reco.config import DEFAULT_BASE_MODEL, DEFAULT_TEACHER_MODEL, SAMPLE_PAPERS
    from arxiv_reco.vectors.embed import encode
    from arxiv_reco.labels.labeling import export_labels
    from arxiv_reco.vectors.models import load_model
    from arxiv_reco.pairs.sampling import sample_pairs
    from arxiv_reco.papers.snapshot import load_papers
    from arxiv_reco.labels.store import LabelStore
    from arxiv_reco.labels.teacher import label_pairs_teacher
    from arxiv_reco.vectors.cache import text_key

    folder.mkdir(parents=True, exist_ok=True)
    papers, _ = load_papers(SAMPLE_PAPERS)
    store = LabelStore(folder / "teacher_labels.sqlite")
    for seed in SEEDS:  # what bench/quality.py does, to the pair
        pairs = sample_pairs(papers, n=PAIRS, strategy="anchored", seed=seed)
        s = label_pairs_teacher(pairs, store, DEFAULT_TEACHER_MODEL, max_seq_length=256, progress=False)
        labels = export_labels(store, pairs, folder / f"labels_{seed}.csv", model=s.model,
                               prompt_version=s.prompt_version)
        labels.to_csv(folder / f"labels_{seed}.csv.gz", index=False)
        (folder / f"labels_{seed}.csv").unlink()
    teacher = load_model(DEFAULT_TEACHER_MODEL, max_seq_length=256)
    texts = papers["text"].tolist()
    vec = encode(teacher, texts, progress=False, desc="teacher", cache=True)  # labelling's vectors
    np.savez(folder / "teacher_vectors.npz", keys=np.array([text_key(t) for t in texts]), vectors=vec)
    base = load_model(DEFAULT_BASE_MODEL)
    base.half().save(str(folder / "base_fp16"))
    print(f"prepared {folder}: {sum(f.stat().st_size for f in folder.rglob('*') if f.is_file()) / 2**20:.1f} MiB"
          f" ({len(pd.read_csv(folder / 'labels_0.csv.gz'))} labels a seed)")


def _read(path: Path, papers):
    """A prepared labels file, its texts put back from the sample by id when they were left out."""
    import pandas as pd

    df = pd.read_csv(path, dtype={"id_a": str, "id_b": str, "pair_id": str})
    if "text_a" not in df.columns:
        text = dict(zip(papers["id"].astype(str), papers["text"]))
        df = df.assign(text_a=df["id_a"].map(text), text_b=df["id_b"].map(text))
    return df


def save_cos(path: Path, cos: dict) -> None:
    """Write fresh-pair cosines ("name|seed" -> base and model cosines) atomically: the scripts resume
    by whether this file exists, so a run killed while writing must not leave a half-written one."""
    import numpy as np

    from arxiv_reco.artifacts import replace_file

    with replace_file(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **cos)


def _setup(data: Path):
    """In a worker: the prepared teacher vectors stand in for the teacher model."""
    import numpy as np

    import arxiv_reco.training.train as train
    from arxiv_reco.vectors.cache import text_key

    with np.load(data / "teacher_vectors.npz") as z:
        where = {k: v for k, v in zip(z["keys"].tolist(), z["vectors"])}

    def teacher_vectors(teacher, taught, train_df):
        texts = list(dict.fromkeys(train_df["text_a"].tolist() + train_df["text_b"].tolist()))
        return texts, np.stack([where[text_key(t)] for t in texts])

    train._teacher_vectors = teacher_vectors


def _patch(p: dict) -> None:
    import arxiv_reco.training.objectives as ob
    import arxiv_reco.training.train as train

    # the defaults were bound when the functions were defined: patch the defaults themselves
    if "temperature" in p or "calibration" in p:
        kw = {k: p[k] for k in ("temperature", "calibration") if k in p}
        ob.SimilarityDistillLoss.__init__.__defaults__ = (kw.get("temperature", ob.DISTILL_TEMPERATURE),
                                                          kw.get("calibration", ob.DISTILL_CALIBRATION))
    if "group" in p:
        ob.distill_dataset.__defaults__ = (0, p["group"])
    if "ranks" in p:
        ob.DISTILL_RANKS = p["ranks"]
    if "drop" in p:
        build = ob.build_objectives

        def without(*a, **k):
            out = build(*a, **k)
            out.pop(p["drop"], None)
            return out

        train.build_objectives = without


def task(args: tuple) -> dict:
    """One training and its evaluation, with the base reading as much, on its seed's held-out data."""
    name, seed, kw, patches, data, base, workers = args
    import warnings

    import torch

    torch.set_num_threads(max(1, (os.cpu_count() or 4) // workers))  # the cores shared among the trainings at once
    from arxiv_reco.config import SAMPLE_PAPERS
    from arxiv_reco.training.evaluate import measure
    from arxiv_reco.vectors.models import load_model
    from arxiv_reco.papers.snapshot import load_papers
    from arxiv_reco.training.train import finetune

    _setup(Path(data))
    _patch(patches)
    papers, _ = load_papers(SAMPLE_PAPERS)
    labels = _read(Path(data) / f"labels_{seed}.csv.gz", papers)
    reads = kw.get("max_seq_length", 128)
    models = {f"base @{reads}": load_model(base, max_seq_length=reads)}
    out = {"name": name, "seed": seed, "reads": reads}
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = finetune(labels, base_model=base, output_dir=f"/tmp/gpu-models/{name}-{seed}".replace(" ", "_"),
                     seed=seed, papers=None, progress=False, **{"max_seq_length": 128, **kw})
    out.update(seconds=round(time.perf_counter() - t, 1), pairs_per_s=round(r.pairs_per_second, 1), device=r.device)
    models[name] = load_model(r.model_dir, max_seq_length=reads)
    out["evaluation"] = measure(models, papers, labels)
    fresh = Path(data) / f"fresh_{seed}.csv.gz"
    if fresh.exists():  # the held-out pairs the Spearman target is measured on (3,000, not 300)
        fev = measure(models, None, _read(fresh, papers).assign(split="test"))
        out["fresh_cos"] = {"base": fev.pair_cos[f"base @{reads}"].tolist(), "model": fev.pair_cos[name].tolist()}
    return out


def encoding(base: str, out: dict) -> None:
    import numpy as np
    import torch

    from arxiv_reco.config import SAMPLE_PAPERS
    from arxiv_reco.vectors.embed import encode
    from arxiv_reco.vectors.models import load_model
    from arxiv_reco.index.search import exact_candidates
    from arxiv_reco.papers.snapshot import load_papers

    papers, _ = load_papers(SAMPLE_PAPERS)
    texts = [f"{t} ({i})" for i in range(10 if not SMOKE else 1) for t in papers["text"]][: None if not SMOKE else 300]  # distinct texts: no cache can help
    ref: dict = {}
    for reads, prec, batch in ENCODINGS:
        m = load_model(base, max_seq_length=reads).to(getattr(torch, prec))
        encode(m, texts[:2000], batch_size=batch, progress=False)  # warm-up
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        t = time.perf_counter()
        v = encode(m, texts, batch_size=batch, progress=False)
        s = time.perf_counter() - t
        ref.setdefault(reads, v)  # float32 comes first at each length
        row = {"reads": reads, "precision": prec, "batch": batch, "papers_per_s": round(len(texts) / s),
               "hours_2.8M": round(2.8e6 / (len(texts) / s) / 3600, 2),
               "min_cos_to_fp32": round(float(np.min(np.sum(v * ref[reads], axis=1))), 5)}
        out.setdefault("encoding", []).append(row)
        print(row, flush=True)
        del m
    rng = np.random.default_rng(0)
    emb = rng.standard_normal((2_800_000 if not SMOKE else 10_000, 384), dtype=np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    emb = emb.astype(np.float16)
    q = emb[:100].astype(np.float32)
    exact_candidates(emb, q[:4], want=10)
    t = time.perf_counter()
    exact_candidates(emb, q, want=10)
    s = time.perf_counter() - t
    out["exact_search_2.8M"] = {"queries": 100, "seconds": round(s, 2), "ms_per_query": round(s * 10, 1),
                                "cpu_threads": torch.get_num_threads()}
    print(out["exact_search_2.8M"], flush=True)


def run(data: Path, out_dir: Path, budget: float, only: list[str] | None = None, workers: int = WORKERS,
        select: list[str] | None = None) -> None:
    import multiprocessing as mp
    import pickle

    import numpy as np
    import torch

    from arxiv_reco.training.evaluate import format_comparison
    from arxiv_reco.vectors.models import load_model

    t0 = time.perf_counter()
    out: dict = {"gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none", "torch": torch.__version__}
    base = "/tmp/gpu-base"
    m = load_model(str(data / "base_fp16"))
    m.float().save(base)  # float32 again: the trainer's master weights
    del m
    try:
        if not only and not select:  # a second run for the rest of the sweep skips the figures the first has
            encoding(base, out)
    except Exception as e:  # the training figures matter more: go on
        out["encoding_error"] = repr(e)
        print("encoding failed:", repr(e), flush=True)
    (out_dir / "results.json").write_text(json.dumps(out, indent=1))
    jobs = [("default", s, {}, {}) for s in SEEDS]
    jobs += [("default @256", s, {"max_seq_length": 256}, {}) for s in SEEDS]
    jobs += [(n, 0, kw, p) for n, (kw, p) in SWEEP.items()]
    if only:
        jobs = [(n, 0, *SWEEP[n]) for n in only]
    if select:  # the default and each knob on every seed: chosen on SELECT_SEEDS, reported on SEEDS
        seeds = (*SELECT_SEEDS, *SEEDS)
        jobs = [j for s in seeds for j in [("default", s, {}, {})] + [(n, s, *SWEEP[n]) for n in select]]
        if SMOKE:
            jobs = [(n, s, {**kw, "epochs": 0.01}, p) for n, s, kw, p in jobs if s in (2, 0)][:3]
    elif SMOKE:
        jobs = [(n, 0, {**kw, "epochs": 0.01}, p) for n, s, kw, p in jobs if (n, s) in (("default", 0), ("rows of 6", 0))]
    results, evals, fresh = [], {}, {}
    ctx = mp.get_context("spawn")

    pool = ctx.Pool(workers, maxtasksperchild=1)  # a fresh process a run: patches do not leak into the next
    deadline = t0 + budget

    def collect(batch: list) -> None:  # results as they come, until the deadline
        it = pool.imap_unordered(task, [(n, s, kw, p, str(data), base, workers) for n, s, kw, p in batch])
        for _ in batch:
            try:
                r = it.next(timeout=max(1.0, deadline - time.perf_counter()))
            except mp.TimeoutError:
                print("deadline: the runs still going are left out", flush=True)
                return
            except Exception as e:  # one failed run: the others still report
                print("a run failed:", repr(e), flush=True)
                continue
            ev = r.pop("evaluation")
            if "fresh_cos" in r:
                fresh[f"{r['name']}|{r['seed']}"] = np.array([r["fresh_cos"]["base"], r.pop("fresh_cos")["model"]], np.float32)
                save_cos(out_dir / "fresh_cos.npz", fresh)
            evals.setdefault(r["seed"], []).append(ev)
            r.update({k: round(float(v), 4) for k, v in ev.table.loc[r["name"], ["spearman", "category_ndcg@10"]].items()})
            results.append(r)
            print(r, f"{time.perf_counter() - t0:.0f}s", flush=True)
            out["runs"] = results
            (out_dir / "results.json").write_text(json.dumps(out, indent=1))

    collect(jobs)
    d0 = next((r["spearman"] for r in results if r["name"] == "default" and r["seed"] == 0), None)
    best = sorted((r for r in results if r["seed"] == 0 and r["name"] in SWEEP and d0 is not None
                   and r["spearman"] >= d0 + 0.004), key=lambda r: -r["spearman"])[:workers]
    if best and not select and deadline - time.perf_counter() > 60:
        deadline += 120  # the seed-1 re-runs of what beat the default: worth two more minutes
        collect([(r["name"], 1, *SWEEP[r["name"]]) for r in best])
    pool.terminate()
    for seed, evs in evals.items():
        ev = evs[0]
        for other in evs[1:]:
            ev = ev.merge(other)
        ev.table = ev.table[~ev.table.index.duplicated()]
        print(f"\nseed {seed}\n", ev.table[["spearman", "category_ndcg@10"]].round(4).to_string())
        for ref, names in (("base @128", [n for n in ev.table.index if not n.startswith("base") and "@256" not in n]),
                           ("default", [n for n in ev.table.index if n in SWEEP]),
                           ("base @256", ["default @256"])):
            if ref in ev.table.index and names:
                cmp = ev.compare(ref, models=names)
                cmp = cmp[cmp["metric"].isin(["spearman", "category_ndcg@10"])]
                print(f"\nseed {seed}: against {ref}\n", format_comparison(cmp).to_string(index=False), flush=True)
                out.setdefault("comparisons", []).append(
                    {"seed": seed, "reference": ref, "rows": json.loads(cmp.to_json(orient="records"))})
        with open(out_dir / f"evaluation_{seed}.pkl", "wb") as f:
            pickle.dump(ev, f)
    out["wall_s"] = round(time.perf_counter() - t0)
    (out_dir / "results.json").write_text(json.dumps(out, indent=1))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prepare", type=Path, help="write the prepared inputs to this folder (needs the teacher)")
    ap.add_argument("--data", type=Path, default=REPO / ".gpu")
    ap.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "bench/_data/gpu")))
    ap.add_argument("--budget", type=float, default=420.0, help="seconds after which no seed-1 re-runs start")
    ap.add_argument("--only", help="semicolon-separated sweep names: only these, on seed 0, no encoding figures")
    ap.add_argument("--workers", type=int, default=WORKERS)
    ap.add_argument("--select", help="semicolon-separated sweep names: each and the default on seeds 2, 3, 0, 1, "
                    "each also on its fresh pairs (bench/gpu_select.py prepares them and reports)")
    a = ap.parse_args()
    if a.prepare:
        return prepare(a.prepare)
    a.out.mkdir(parents=True, exist_ok=True)
    run(a.data.resolve(), a.out, a.budget, a.only.split(";") if a.only else None, a.workers,
        a.select.split(";") if a.select else None)


if __name__ == "__main__":
    main()
