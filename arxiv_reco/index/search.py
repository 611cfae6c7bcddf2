"""Vector search over an index's embeddings: which rows are each query's best candidates.

    ann = build_ann(embeddings, kind="ivf-pq")                    # compressed codes, FAISS IVF
    rows = ann_candidates(ann, queries, want=50, mask=in_cs)      # filters stay on the ANN index
    rows = exact_candidates(embeddings, queries, want=50)         # float16 blocks, torch.topk

Candidates are re-scored in float32 from the (memory-mapped) embeddings by the caller, so an
approximate index only has to put the true top k among them. The kinds of approximate index
(FAISS inverted lists over a coarse quantizer, inner product on normalised vectors):

- ``ivf-fp16``: float16 codes, 768 bytes a paper (as much memory as exact search);
- ``ivf-sq8``: int8 scalar-quantized codes, 384 bytes a paper (half, plus the lists' ids);
- ``ivf-sq6``: 6-bit scalar-quantized codes, 288 bytes a paper (0.39x with the ids): the
  float re-scoring of a slightly wider candidate list absorbs the coarser codes;
- ``ivf-pq``: product-quantized codes, 96 bytes a paper (an eighth); the float re-scoring of a
  wider candidate list restores the order (bench/recommend.py measures recall@10 against exact).

A category or date filter becomes an ``IDSelectorBitmap`` the FAISS search honours, so filtered
searches keep the approximate index's speed instead of falling back to a scan.
"""

from __future__ import annotations

import numpy as np

BLOCK = 262_144  # rows per float16 block: keeps the block's scores at ~50 MB for 100 queries
ANN_KINDS = ("ivf-fp16", "ivf-sq8", "ivf-sq6", "ivf-pq")
RESCORE = {"ivf-fp16": 1, "ivf-sq8": 2, "ivf-sq6": 3, "ivf-pq": 10}  # candidates per wanted result, re-scored in float32


def _scalar_types(faiss) -> dict:
    """Kind -> FAISS scalar-quantizer type: one table for building and for reading back."""
    q = faiss.ScalarQuantizer
    return {"ivf-fp16": q.QT_fp16, "ivf-sq8": q.QT_8bit, "ivf-sq6": q.QT_6bit}


def _faiss():
    try:
        import faiss
    except ImportError:
        raise ImportError("approximate search needs faiss: pip install 'arxiv-reco[faiss]' (or faiss-cpu)") from None
    return faiss


def build_ann(emb: np.ndarray, kind: str = "ivf-fp16", nlist: int | None = None, nprobe: int | None = None,
              train_size: int = 200_000, seed: int = 0):
    """A FAISS IVF index of ``kind`` over normalised embeddings (float16 or float32 rows).

    nlist defaults to ~4*sqrt(n); nprobe to 4% of the lists.

    >>> ann = build_ann(index.embeddings, kind="ivf-pq")
    """
    if kind not in ANN_KINDS:
        raise ValueError(f"kind must be one of {', '.join(ANN_KINDS)}, not {kind!r}")
    faiss = _faiss()
    n, d = emb.shape
    nlist = nlist or max(16, int(4 * np.sqrt(n)))
    quantizer = faiss.IndexFlatIP(d)
    if kind == "ivf-pq":
        m = next(m for m in (96, 64, 48, 32, 24, 16, 8, 4, 2, 1) if d % m == 0)
        nbits = max(1, min(8, int(np.log2(n))))  # 256 centroids per sub-vector, fewer for a tiny corpus
        ann = faiss.IndexIVFPQ(quantizer, d, nlist, m, nbits, faiss.METRIC_INNER_PRODUCT)
    else:
        ann = faiss.IndexIVFScalarQuantizer(quantizer, d, nlist, _scalar_types(faiss)[kind],
                                            faiss.METRIC_INNER_PRODUCT)
    rng = np.random.default_rng(seed)
    # PQ's codebooks need ~256 x 39 points, more only slows their k-means down
    want = min(n, max(40 * nlist, 256 * 39) if kind == "ivf-pq" else max(train_size, 40 * nlist))
    sample = np.sort(rng.choice(n, size=want, replace=False))
    ann.train(np.asarray(emb[sample], dtype=np.float32))
    for start in range(0, n, BLOCK):
        ann.add(np.asarray(emb[start : start + BLOCK], dtype=np.float32))
    ann.nprobe = nprobe or max(1, int(round(0.04 * nlist)))
    return ann


def ann_kind(ann) -> str:
    """The kind of an approximate index read back from disk."""
    faiss = _faiss()
    if isinstance(ann, faiss.IndexIVFPQ):
        return "ivf-pq"
    sq = faiss.downcast_index(ann)
    qtype = getattr(getattr(sq, "sq", None), "qtype", None)
    return {v: k for k, v in _scalar_types(faiss).items()}.get(qtype, "ivf-fp16")


def ann_bytes(ann) -> int:
    """The memory an approximate index holds: its codes and ids (the float embeddings it is
    re-scored from stay memory-mapped on disk)."""
    return int(ann.ntotal) * (int(ann.code_size) + 8) + int(ann.quantizer.ntotal) * int(ann.d) * 4


def ann_candidates(ann, queries: np.ndarray, want: int, mask: np.ndarray | None = None,
                   kind: str | None = None) -> list[np.ndarray]:
    """Row ids of about ``want`` x RESCORE[kind] candidates per query from the approximate index,
    among the rows ``mask`` keeps (the filter is applied inside the FAISS search)."""
    faiss = _faiss()
    kind = kind or ann_kind(ann)
    fetch = min(int(ann.ntotal), want * RESCORE[kind])
    params = None
    if mask is not None:
        if not mask.any():
            return [np.array([], dtype=np.int64) for _ in queries]
        bits = np.packbits(np.asarray(mask, dtype=bool), bitorder="little")  # alive until the search returns
        # a filter keeping a fraction f of the papers leaves ~f of each list: probe ~1/f more lists
        # so as many candidates pass as an unfiltered search finds
        nprobe = min(int(ann.nlist), int(np.ceil(ann.nprobe / max(float(mask.mean()), 1e-6))))
        params = faiss.SearchParametersIVF(sel=faiss.IDSelectorBitmap(len(mask), faiss.swig_ptr(bits)), nprobe=nprobe)
    _, idx = ann.search(np.ascontiguousarray(queries, dtype=np.float32), fetch, params=params)
    return [row[row >= 0].astype(np.int64) for row in idx]


def exact_candidates(emb: np.ndarray, queries: np.ndarray, want: int, mask: np.ndarray | None = None) -> list[np.ndarray]:
    """Row ids of the `want` best rows per query: float16 products and torch.topk, block by block
    (torch multiplies float16 directly; numpy would first convert, ~5x slower)."""
    import torch

    qs = torch.from_numpy(np.ascontiguousarray(queries, dtype=np.float16)).T
    scores_parts, rows_parts = [], []
    for start in range(0, len(emb), BLOCK):
        block = torch.from_numpy(np.asarray(emb[start : start + BLOCK], dtype=np.float16))
        scores = (block @ qs).float()  # (rows, queries)
        if mask is not None:
            scores[torch.from_numpy(~mask[start : start + BLOCK])] = -torch.inf
        top = torch.topk(scores, min(want, scores.shape[0]), dim=0)
        scores_parts.append(top.values)
        rows_parts.append(top.indices + start)
    scores = torch.cat(scores_parts).numpy()  # (candidates, queries)
    rows = torch.cat(rows_parts).numpy()
    out = []
    for j in range(scores.shape[1]):
        keep = np.isfinite(scores[:, j])
        s, r = scores[keep, j], rows[keep, j]
        if len(s) > want:
            r = r[np.argpartition(-s, want - 1)[:want]]
        out.append(r.astype(np.int64))
    return out
