"""The last step of fine-tuning with the offline teacher: a linear layer, fitted in closed form,
that maps the student's vectors onto the teacher's.

    info = add_teacher_projection(model, texts, teacher_vectors)   # the model gains Dense + Normalize

Why: a student reading 128 tokens, trained by gradient descent on pair scores and the teacher's
similarity structure, ends level with the teacher reading the same 128 tokens (bench/quality.py).
The teacher's vectors of the training papers were made from more of each abstract; a ridge
regression from the student's vectors onto them (sentence-transformers' distillation target, the
teacher reduced to the student's dimension, solved exactly instead of by SGD) carries part of
that into the student's space. It adds one 384 x 384 layer: the same index size, and one small
matrix product per paper beside the transformer's. Measured gains: docs/quality.md
(bench/quality.py).
"""

from __future__ import annotations

import logging

import numpy as np

from ..vectors.embed import embedding_dim, encode

log = logging.getLogger("arxiv_reco")

# ridge penalties tried; leave-one-out error over the training papers picks one (sklearn's RidgeCV,
# exact and cheap for this size), so nothing held out is looked at. It chose 1.0 on both seeds.
ALPHAS = (0.1, 0.3, 1.0, 3.0, 10.0)
# a map fitted on fewer training papers than three times the student's dimension is noise as often
# as signal: on the bundled sample (fine-tuned students, seeds 0 / 1, held-out nDCG@10), 200 papers
# lost 0.017 / 0.009, 800 moved it -0.002 / +0.008, ~1,320 (3,000 pairs' training papers) +0.003 / +0.011
MIN_PAPERS_PER_DIM = 3


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def fit_projection(student: np.ndarray, teacher: np.ndarray, dim: int | None = None) -> dict:
    """The ridge map from the student's (normalised) vectors onto the teacher's, projected onto the
    teacher's top-``dim`` principal axes (not centred: the cosines between papers stay the
    teacher's; the labels are those cosines). Returns {"weight": (dim, d_student), "bias": (dim,),
    "alpha", "r2"}; fewer papers than ``dim`` leave the extra outputs at zero.

    >>> fit_projection(student_vectors, teacher_vectors)["weight"].shape
    (384, 384)
    """
    from sklearn.decomposition import PCA
    from sklearn.linear_model import RidgeCV

    x, t = _unit(student), _unit(teacher)
    if len(x) != len(t) or len(x) < 3:
        raise ValueError(f"need the same papers (3 or more) from student and teacher, got {len(x)} and {len(t)}")
    dim = dim or x.shape[1]
    k = min(dim, t.shape[1], len(t) - 1)
    axes = PCA(k, svd_solver="full").fit(t).components_  # (k, d_teacher), orthonormal rows
    target = np.zeros((len(t), dim))
    target[:, :k] = t @ axes.T
    ridge = RidgeCV(alphas=ALPHAS, fit_intercept=True).fit(x, target)
    return {"weight": ridge.coef_.astype(np.float32), "bias": np.asarray(ridge.intercept_, np.float32),
            "alpha": float(ridge.alpha_), "r2": float(ridge.score(x, target))}


def add_teacher_projection(model, texts: list[str], teacher_vectors: np.ndarray,
                           min_papers: int | None = None) -> dict | None:
    """Fit the map on ``texts`` (the training papers) and append it to ``model`` as a Dense layer
    and a Normalize, in place; saved and loaded with the model like any sentence-transformers
    module. None (and the model unchanged) with fewer than ``min_papers`` texts (default: three
    times the model's dimension), where the map would overfit.

    >>> add_teacher_projection(model, train_texts, teacher.encode(train_texts))
    {'papers': 1322, 'alpha': 1.0, 'r2': 0.355}
    """
    import torch
    from sentence_transformers.sentence_transformer.modules import Dense, Normalize


    dim = embedding_dim(model)
    need = MIN_PAPERS_PER_DIM * dim if min_papers is None else min_papers
    if len(texts) < need:
        log.info("no teacher projection: %d training papers, fewer than the %d a %d-dimensional map needs",
                 len(texts), need, dim)
        return None
    # the student's vectors as the new layer will see them: normalised, which its last module does
    # (a model without one gets it first); torch in float32, not a bf16 conversion made only for this
    if type(model[-1]).__name__ != "Normalize":
        model.append(Normalize())
    student = encode(model, texts, progress=False, desc="projection", backend="torch")
    fit = fit_projection(student, teacher_vectors, dim)
    device = next(model.parameters()).device
    model.append(Dense(dim, dim, bias=True, activation_function=torch.nn.Identity(),
                       init_weight=torch.from_numpy(fit["weight"]), init_bias=torch.from_numpy(fit["bias"])).to(device))
    model.append(Normalize())
    info = {"papers": len(texts), "alpha": fit["alpha"], "r2": round(fit["r2"], 3)}
    log.info("teacher projection: %s", info)
    return info
