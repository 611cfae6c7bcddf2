"""Averaging weights along the default recipe's own trajectory: does an EMA or a tail average of
the weights beat the end of the run? (bench/QUALITY.md, stop 34: no.)

One training a seed, the default recipe unchanged, at 128 tokens. A callback keeps an EMA of the
weights at each decay in DECAYS (started at the first step) and the uniform average of the weights
after every step of the last third ("tail"). The averages do not change the trajectory, so each
candidate is paired with the raw end of the same run, which is the default itself. Each candidate
gets the teacher projection fitted on its own weights, as the default does. Spearman on the seed's
3,000 fresh held-out pairs, paired against the default, by bench/gpu_select.py's report and its
selection rule (chosen on seeds 2 and 3: a mean gain of at least +0.002 and a gain on each).

    python bench/gpu_select.py --prepare .gpu          # labels and fresh pairs of seeds 2, 3, 0, 1
    python bench/averaging.py --data .gpu --out OUT --seeds 2 3    # ~16 min a seed on 2 CPU cores
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

DECAYS = (0.98, 0.99, 0.995)  # horizons of 50, 100 and 200 of the default's 348 steps
TAIL = 2 / 3  # the tail average starts after this fraction of the steps


def _averaging(state: dict):
    """Patch arxiv_reco.training.train so its trainer keeps the averages and each gets its projection."""
    import torch

    import arxiv_reco.training.train as train

    # the unpatched functions, kept from the first call: a second seed in one process must not wrap
    # the first seed's patch (its state, its model folders)
    history_callback = train.__dict__.setdefault("_unpatched_history_callback", train._history_callback)
    from arxiv_reco.training.projection import add_teacher_projection as project

    def callback(history: list[dict]):
        base = history_callback(history)

        class Averages(type(base)):  # the history callback's class: the training curve still logs
            def on_train_begin(self, args, st, control, model=None, **kw):
                state["params"] = {n: p for n, p in model.named_parameters() if p.requires_grad}
                state["ema"] = {d: {n: p.detach().clone() for n, p in state["params"].items()} for d in DECAYS}
                state["tail"] = {n: torch.zeros_like(p) for n, p in state["params"].items()}
                state["count"] = 0

            @torch.no_grad()
            def on_step_end(self, args, st, control, **kw):
                for decay, ema in state["ema"].items():
                    for n, p in state["params"].items():
                        ema[n].lerp_(p, 1 - decay)
                if st.global_step > st.max_steps * TAIL:
                    for n, p in state["params"].items():
                        state["tail"][n].add_(p)
                    state["count"] += 1

        return Averages()

    def project_each(model, texts, vectors, min_papers=None):
        weights = {f"ema {d}": w for d, w in state["ema"].items()}
        weights["tail"] = {n: t / max(1, state["count"]) for n, t in state["tail"].items()}
        for name, w in weights.items():
            m = copy.deepcopy(model)
            with torch.no_grad():
                for n, p in m.named_parameters():
                    if n in w:
                        p.copy_(w[n])
            project(m, texts, vectors, min_papers=min_papers)
            m.save(str(state["out"] / f"{name.replace(' ', '_')}-{state['seed']}"))
        return project(model, texts, vectors, min_papers=min_papers)

    train._history_callback, train.add_teacher_projection = callback, project_each
    return train


def run(data: Path, out: Path, seed: int) -> None:
    """One training on ``seed``'s labels; every candidate measured on its fresh pairs, saved for the report."""
    import numpy as np
    from gpu import _read, _setup, save_cos

    from arxiv_reco.config import DEFAULT_BASE_MODEL, SAMPLE_PAPERS
    from arxiv_reco.training.evaluate import measure
    from arxiv_reco.vectors.models import load_model
    from arxiv_reco.papers.snapshot import load_papers

    _setup(data)  # the prepared teacher vectors stand in for the teacher
    train = _averaging(state := {"out": out, "seed": seed})
    papers, _ = load_papers(SAMPLE_PAPERS)
    labels = _read(data / f"labels_{seed}.csv.gz", papers)
    t = time.perf_counter()
    train.finetune(labels, base_model=DEFAULT_BASE_MODEL, output_dir=out / f"default-{seed}", seed=seed,
                   papers=None, progress=False, max_seq_length=128)
    print(f"seed {seed}: trained in {time.perf_counter() - t:.0f} s ({state['count']} steps in the tail)", flush=True)
    names = ["default", *(f"ema {d}" for d in DECAYS), "tail"]
    models = {"base @128": load_model(DEFAULT_BASE_MODEL, max_seq_length=128)}
    models.update({n: load_model(str(out / f"{n.replace(' ', '_')}-{seed}"), max_seq_length=128) for n in names})
    ev = measure(models, papers, labels)
    print(ev.table[["spearman", "category_ndcg@10"]].round(4).to_string(), flush=True)
    fresh = measure(models, None, _read(data / f"fresh_{seed}.csv.gz", papers).assign(split="test"))
    save_cos(out / f"fresh_cos_{seed}.npz", {f"{n}|{seed}": np.array(
        [fresh.pair_cos["base @128"], fresh.pair_cos[n]], np.float32) for n in names})


def main() -> None:
    from gpu_select import gather, report

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=Path(".gpu"), help="bench/gpu_select.py --prepare's folder")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seeds", type=int, nargs="+", default=[2, 3])
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    warnings.simplefilter("ignore")
    for seed in a.seeds:
        if not (a.out / f"fresh_cos_{seed}.npz").exists():  # a re-run resumes after the seeds it has
            run(a.data, a.out, seed)
    gather(a.out.glob("fresh_cos_*.npz"), a.out)
    report(a.data, a.out)


if __name__ == "__main__":
    main()
