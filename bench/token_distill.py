"""Token-level distillation beside the default's: does the teacher's state for every token, not only
its vector for the paper, teach the student more from the same training papers? (bench/QUALITY.md,
stop 35: no; it costs held-out Spearman at both weights tried.)

The teacher (all-mpnet-base-v2) and the student (all-MiniLM-L6-v2) share BERT-uncased wordpieces: a
title and abstract tokenise to the same pieces in both (100% of the first 124 content tokens of 300
training texts), one special token in front. So the student's token at position p has the teacher's
contextual state for the same piece, computed with 256 tokens of context where the student reads 128:
about 126 targets a paper instead of one, which is where the recipe is short (it fits the training
papers; it generalises from too few of them).

The added term, in the distillation's own batches: the residual of the best linear map from the
student's last-layer token states (384) to the teacher's (768), ridge, centred, solved per batch in
float32, as a share of the teacher states' variance, over the content tokens. By the envelope theorem
its gradient is that of a head held at its optimum, so there is no head to learn and nothing is added
to the saved model. The weight is set so its gradient on the model equals the default distillation
loss's at the start (``--calibrate``: the first batch of a seed, no training), as DISTILL_CALIBRATION
was set (12.4 on seed 2); the candidates are that weight and a quarter of it. One training a
candidate and seed, the default recipe otherwise unchanged, at 128 tokens,
paired on the seed's 3,000 fresh held-out pairs against the default's cosines from a run of
bench/averaging.py on the same CPU (``--default``; CPU training is deterministic), by
bench/gpu_select.py's report and selection rule.

    python bench/token_distill.py --calibrate --data .gpu --out OUT          # prints the weight
    python bench/averaging.py --data .gpu --out AVG --seeds 2 3             # the default beside
    python bench/token_distill.py --data .gpu --out OUT --default AVG --unit 12.356 --seeds 2 3
                                                   # ~20 min a candidate and seed on 2 CPU cores
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

TEACHER_SEQ = 256  # the teacher's states are computed as it labelled: 256 tokens of context
STUDENT_SEQ = 128
RIDGE = 1e-3  # the per-batch map's penalty, a share of the mean student-state variance
WEIGHTS = {"tokens": 1.0, "tokens-quarter": 0.25}  # in units of --calibrate's weight (equal pull at the start)


def teacher_tokens(texts: list[str], folder: Path):
    """The teacher's last-layer token states for each text's first STUDENT_SEQ positions, (n, 128, 768)
    float16, cached in ``folder`` under a digest of the texts (a cache is never read for other
    texts): about 5 minutes for 1,300 papers on 2 cores."""
    import hashlib

    import numpy as np

    from arxiv_reco.artifacts import replace_file
    from arxiv_reco.config import DEFAULT_TEACHER_MODEL
    from arxiv_reco.vectors.models import load_model

    cache = folder / f"teacher_tokens_{hashlib.sha1(chr(0).join(texts).encode()).hexdigest()[:12]}.npy"
    if cache.exists():
        return np.load(cache, mmap_mode="r")
    teacher = load_model(DEFAULT_TEACHER_MODEL, max_seq_length=TEACHER_SEQ)
    arr = np.zeros((len(texts), STUDENT_SEQ, teacher.get_sentence_embedding_dimension()), np.float16)
    for i in range(0, len(texts), 64):
        for j, t in enumerate(teacher.encode(texts[i:i + 64], output_value="token_embeddings", batch_size=16)):
            n = min(STUDENT_SEQ, len(t))
            arr[i + j, :n] = t[:n].float().numpy()
        print(f"  teacher tokens {min(i + 64, len(texts))}/{len(texts)}", flush=True)
    with replace_file(cache) as tmp, open(tmp, "wb") as f:  # a killed run leaves no half-written cache
        np.save(f, arr)
    return arr


def token_residual(student, mask, target):
    """Share of the teacher states' variance left by the best ridge map from the student's states:
    ``student`` (B, L, d) and ``target`` (B, L, D) at the same positions, ``mask`` (B, L) the
    content tokens."""
    import torch

    s, t = student[mask].float(), target[mask].float()
    s, t = s - s.mean(0), t - t.mean(0)
    gram = s.T @ s
    lam = RIDGE * gram.diagonal().mean()
    w = torch.linalg.solve(gram + lam * torch.eye(len(gram), device=s.device), s.T @ t)
    return (t - s @ w).pow(2).sum() / t.pow(2).sum()


def _patch(state: dict):
    """Patch arxiv_reco.training.train: distillation rows carry their papers' indices, and the distillation
    loss adds the token term for them."""
    import numpy as np
    import torch
    from datasets import Dataset

    import arxiv_reco.training.objectives as ob
    import arxiv_reco.training.train as train

    build = ob.build_objectives  # the module's own, never patched: a second seed in one process
    # must not wrap the first seed's patch (its state, its cache file, its indices in the labels)

    class TokenDistillLoss(ob.SimilarityDistillLoss):
        def forward(self, sentence_features, labels):
            m = len(sentence_features)
            idx, labels = labels[:, -m:].round().long(), labels[:, :-m]
            outs = [self.model(f) for f in sentence_features]
            loss = self.similarity_loss([o["sentence_embedding"] for o in outs], labels)
            if not state["weight"]:
                return loss
            with torch.autocast(device_type=loss.device.type, enabled=False):  # float32, as the distillation
                tok = torch.cat([o["token_embeddings"] for o in outs])  # (m*B, L, d): every row's text k, then k+1
                att = torch.cat([o["attention_mask"] for o in outs]).bool()
                length = att.sum(1, keepdim=True)
                pos = torch.arange(att.shape[1], device=att.device)[None]
                content = att & (pos > 0) & (pos < length - 1)  # no [CLS], no [SEP]
                rows = idx.T.reshape(-1).cpu().numpy()  # the papers in the same order
                target = torch.from_numpy(np.asarray(state["tokens"][rows][:, : att.shape[1]], np.float32))
                term = token_residual(tok, content, target.to(tok.device))
            state["parts"], state["last"] = (loss, term), (float(loss), float(term))
            return loss + state["weight"] * term

    def build_objectives(model, train_df, pair_loss_name="cosine", rank=False, teacher_texts=None,
                         teacher_vectors=None, seed=0):
        out = build(model, train_df, pair_loss_name, rank, teacher_texts, teacher_vectors, seed)
        if "distill" in out:
            state["tokens"] = teacher_tokens(teacher_texts, state["out"])
            where = {t: i for i, t in enumerate(teacher_texts)}
            data, _ = out["distill"]
            m = sum(c.startswith("text") for c in data.column_names)
            cols = {c: data[c] for c in data.column_names if c != "label"}
            cols["label"] = [lab + [float(where[r[f"text{k}"]]) for k in range(m)]
                             for lab, r in zip(data["label"], data.select_columns([f"text{k}" for k in range(m)]))]
            out["distill"] = (Dataset.from_dict(cols), TokenDistillLoss(model))
        return out

    train.build_objectives = build_objectives
    return train


def calibrate(data: Path, out: Path, seed: int = 2) -> float:
    """Gradient norm of the default distillation loss over that of the token term, on the first 32
    distillation rows of ``seed``, the base model: the weight at which the two pull equally."""
    import torch
    from gpu import _read, _setup

    import arxiv_reco.training.train as train
    from arxiv_reco.config import DEFAULT_BASE_MODEL, SAMPLE_PAPERS
    from arxiv_reco.vectors.models import load_model
    from arxiv_reco.papers.snapshot import load_papers

    _setup(data)
    state = {"out": out, "seed": seed, "weight": 1.0}
    _patch(state)
    papers, _ = load_papers(SAMPLE_PAPERS)
    labels = _read(data / f"labels_{seed}.csv.gz", papers)
    tr = labels[labels["split"] == "train"].reset_index(drop=True)
    model = load_model(DEFAULT_BASE_MODEL, max_seq_length=STUDENT_SEQ)
    texts, vectors = train._teacher_vectors(None, None, tr)
    data_, loss = train.build_objectives(model, tr, "cosine", False, texts, vectors, seed)["distill"]
    rows = data_.select(range(32))
    m = sum(c.startswith("text") for c in rows.column_names)
    feats = [model.tokenize(rows[f"text{k}"]) for k in range(m)]
    lab = torch.tensor(rows["label"], dtype=torch.float32)
    loss(feats, lab)
    params = [p for p in model.parameters() if p.requires_grad]
    norms = []
    for part, value in zip(("distill", "token term"), state["parts"]):
        grads = torch.autograd.grad(value, params, retain_graph=True, allow_unused=True)
        norms.append(torch.sqrt(sum(g.pow(2).sum() for g in grads if g is not None)).item())
        print(f"  {part}: {float(value):.4f}, grad norm {norms[-1]:.4f}", flush=True)
    weight = norms[0] / norms[1]
    print(f"equal pull at the start: weight {weight:.3f}", flush=True)
    return weight


def run(data: Path, out: Path, seed: int, name: str, weight: float) -> None:
    """One training of candidate ``name`` on ``seed``'s labels, measured on its fresh pairs."""
    import numpy as np
    from gpu import _read, _setup, save_cos

    from arxiv_reco.config import DEFAULT_BASE_MODEL, SAMPLE_PAPERS
    from arxiv_reco.training.evaluate import measure
    from arxiv_reco.vectors.models import load_model
    from arxiv_reco.papers.snapshot import load_papers

    _setup(data)
    state = {"out": out, "seed": seed, "weight": weight}
    train = _patch(state)
    papers, _ = load_papers(SAMPLE_PAPERS)
    labels = _read(data / f"labels_{seed}.csv.gz", papers)
    t = time.perf_counter()
    train.finetune(labels, base_model=DEFAULT_BASE_MODEL, output_dir=out / f"{name}-{seed}", seed=seed,
                   papers=None, progress=False, max_seq_length=STUDENT_SEQ)
    print(f"seed {seed} {name}: trained in {time.perf_counter() - t:.0f} s (teacher tokens included; "
          f"last batch: distill {state['last'][0]:.4f}, token term {state['last'][1]:.4f})", flush=True)
    models = {"base @128": load_model(DEFAULT_BASE_MODEL, max_seq_length=STUDENT_SEQ),
              name: load_model(str(out / f"{name}-{seed}"), max_seq_length=STUDENT_SEQ)}
    ev = measure(models, papers, labels)
    print(ev.table[["spearman", "category_ndcg@10"]].round(4).to_string(), flush=True)
    fresh = measure(models, None, _read(data / f"fresh_{seed}.csv.gz", papers).assign(split="test"))
    save_cos(out / f"fresh_cos_{name}_{seed}.npz",
             {f"{name}|{seed}": np.array([fresh.pair_cos["base @128"], fresh.pair_cos[name]], np.float32)})


def main() -> None:
    from gpu_select import gather, report

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=Path(".gpu"), help="bench/gpu_select.py --prepare's folder")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--default", type=Path, help="a bench/averaging.py output with the default's fresh cosines")
    ap.add_argument("--seeds", type=int, nargs="+", default=[2, 3])
    ap.add_argument("--candidates", nargs="+", default=list(WEIGHTS))
    ap.add_argument("--unit", type=float, help="--calibrate's weight (measured once, then fixed)")
    ap.add_argument("--calibrate", action="store_true")
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    warnings.simplefilter("ignore")
    if a.calibrate:
        calibrate(a.data, a.out)
        return
    if a.unit is None:
        ap.error("--unit: the weight --calibrate printed (12.356 for the prepared seed 2)")
    for name in a.candidates:
        for seed in a.seeds:
            if not (a.out / f"fresh_cos_{name}_{seed}.npz").exists():  # a re-run resumes
                run(a.data, a.out, seed, name, WEIGHTS[name] * a.unit)
    gather([*a.out.glob("fresh_cos_*_*.npz"), *(a.default.glob("fresh_cos_*.npz") if a.default else [])],
           a.out, keep=lambda k: k.startswith(("default|", *(f"{n}|" for n in WEIGHTS))))
    report(a.data, a.out)


if __name__ == "__main__":
    main()
