"""Digest benchmark (not in CI): which ranker puts a library's held-out papers higher, the linear
SVM (arxiv-sanity-lite's) or the mean of the liked vectors (PaperIndex.recommend)?

Leave-some-out on library-like samples of the bundled 1,990-paper sample, embedded by
all-MiniLM-L6-v2 (the base model; a fine-tuned one changes the vectors, not the protocol):
- authors: every author name with 3+ papers (distinct paper sets); each paper in turn is held
  out and the others are the library (leave-one-out);
- cross-lists: every exact category set of 2+ categories shared by 10+ papers (e.g.
  astro-ph.GA + astro-ph.SR); a random 5 of its papers are the library, the rest held out
  (5 draws per set);
- two interests: the libraries of two random cross-list sets together (what the mean of the
  liked vectors is expected to blur), the rest of both held out.
Candidates are all papers but the library (the held-out ones among them). Metrics per library:
recall@20 (share of the held-out papers in the top 20) and nDCG@20; and, for the digest's tail,
off-topic@10: in a window of 300 random other papers (a "since" date's worth), the share of the
top 10 whose primary archive (cs, math, astro-ph, ...) is none of the library's. Differences are
paired (same libraries for both rankers), with a bootstrap 95% interval (arxiv_reco.training.stats).

    python bench/feed.py                        # ~2 min on 2 CPU cores (embeddings cached in bench/_data)
    python bench/feed.py --max-seq 128 --c 0.01,0.1,1
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent

from arxiv_reco.config import SAMPLE_PAPERS  # noqa: E402
from arxiv_reco.reader.digest import svm_scores  # noqa: E402
from arxiv_reco.training.stats import paired_bootstrap  # noqa: E402

BASE = "sentence-transformers/all-MiniLM-L6-v2"
K = 20


def embeddings(texts: list[str], max_seq: int) -> np.ndarray:
    cache = REPO / "bench" / "_data" / f"feed_minilm_{max_seq}.npy"
    if cache.exists():
        emb = np.load(cache)
        if len(emb) == len(texts):
            return emb
    from arxiv_reco.vectors.embed import encode
    from arxiv_reco.vectors.models import load_model

    emb = encode(load_model(BASE, max_seq_length=max_seq), texts, desc="embedding the sample")
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.save(cache, emb)
    return emb


def libraries(records: list[dict], seed: int = 0) -> dict[str, list[tuple[list[int], list[int]]]]:
    """{sample kind: [(library rows, held-out rows)]} from the records' authors and categories."""
    rng = np.random.default_rng(seed)
    by_author: dict[str, set[int]] = defaultdict(set)
    by_cats: dict[tuple, list[int]] = defaultdict(list)
    for i, r in enumerate(records):
        for last, first, *_ in r.get("authors_parsed") or []:
            if last.strip() and first.strip():
                by_author[f"{last.strip()}, {first.strip()}".lower()].add(i)
        cats = tuple(sorted(set(r["categories"].split())))
        if len(cats) >= 2:
            by_cats[cats].append(i)
    out: dict[str, list] = {"authors": [], "cross-lists": [], "two interests": []}
    for group in {frozenset(g) for g in by_author.values() if len(g) >= 3}:
        rows = sorted(group)
        out["authors"] += [([r for r in rows if r != h], [h]) for h in rows]
    groups = [g for g in by_cats.values() if len(g) >= 10]
    splits = []
    for g in groups:
        for _ in range(5):
            perm = rng.permutation(g)
            splits.append((sorted(perm[:5].tolist()), sorted(perm[5:].tolist())))
    out["cross-lists"] = splits
    for _ in range(len(splits)):
        a, b = rng.choice(len(splits), 2, replace=False)
        if set(splits[a][0] + splits[a][1]) & set(splits[b][0] + splits[b][1]):
            continue
        out["two interests"].append((splits[a][0] + splits[b][0], splits[a][1] + splits[b][1]))
    return out


def metrics(scores: np.ndarray, cand: np.ndarray, held: list[int], window: np.ndarray, archives: np.ndarray,
            mine: set[str]) -> tuple[float, float, float]:
    """(recall@K, nDCG@K of the held-out papers, off-topic share of the top 10 within ``window``)."""
    order = np.argsort(-scores, kind="stable")
    top = cand[order[:K]]
    hits = np.isin(top, held)
    dcg = float((hits / np.log2(np.arange(2, K + 2))).sum())
    ideal = float((1 / np.log2(np.arange(2, min(K, len(held)) + 2))).sum())
    digest = cand[order][np.isin(cand[order], window)][:10]
    return hits.sum() / min(K, len(held)), dcg / ideal, float(np.mean([archives[i] not in mine for i in digest]))


def cold_start(records: list[dict], emb: np.ndarray, titles: np.ndarray, seed: int, limit: int | None) -> dict:
    """A reader who starts from a sentence (``--interest``): for each primary category with 12+
    papers, a sentence (another paper's title, the kind of line a reader types) against a
    4-paper library, ranking the category's other papers among everything; several draws a
    category. Returns {method: (recall@20 list, nDCG@20 list)}."""
    rng = np.random.default_rng(seed)
    by_cat: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(records):
        by_cat[r["categories"].split()[0]].append(i)
    n = len(emb)
    per: dict[str, tuple[list, list]] = defaultdict(lambda: ([], []))
    draws = 0
    for _category, rows in sorted(by_cat.items()):
        if len(rows) < 12:
            continue
        for _ in range(3):
            if limit and draws >= limit:
                return per
            draws += 1
            perm = rng.permutation(rows)
            sentence, lib, held = int(perm[0]), perm[1:5].tolist(), perm[5:].tolist()
            text = titles[sentence]
            cand = np.setdiff1d(np.arange(n), [sentence, *lib])
            window = cand  # no off-topic measure here
            ranked = {
                "sentence (svm)": svm_scores(emb, [], candidates=cand, extra=text[None, :]),
                "sentence (cosine)": emb[cand] @ text,
                "4-paper library (svm)": svm_scores(emb, lib, candidates=cand),
                "library + sentence (svm)": svm_scores(emb, lib, candidates=cand, extra=text[None, :]),
            }
            for method, scores in ranked.items():
                rec, ndcg, _ = metrics(scores, cand, held, window, np.array([""] * n), {""})
                per[method][0].append(rec)
                per[method][1].append(ndcg)
    return per


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--max-seq", type=int, default=256, help="tokens per paper (the model's own: 256)")
    ap.add_argument("--c", default="0.01,0.1,1", help="SVM C values to compare (arxiv-sanity-lite: 0.01)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", help="also write the figures here")
    ap.add_argument("--max-libraries", type=int, help="at most this many libraries of each kind")
    ap.add_argument("--cold-start-only", action="store_true", help="only the sentence-against-library comparison")
    ap.add_argument("--smoke", action="store_true", help="32 tokens a paper, one C, 20 libraries: the code path, for CI")
    args = ap.parse_args()
    if args.smoke:
        args.max_seq, args.c, args.max_libraries = 32, "0.01", 20

    t0 = time.perf_counter()
    records = [json.loads(line) for line in SAMPLE_PAPERS.read_text().splitlines()]
    from arxiv_reco.papers.corpus import paper_text

    emb = embeddings([paper_text(r["title"], r["abstract"]) for r in records], args.max_seq)
    n = len(emb)
    archives = np.array([r["categories"].split()[0].split(".")[0] for r in records])
    rng = np.random.default_rng(args.seed)
    cs = [float(c) for c in args.c.split(",")]
    results: dict = {}
    print(f"{n:,} papers, all-MiniLM-L6-v2 at max_seq {args.max_seq}; metric@{K}; SVM C in {cs}\n")
    names = ("recall@20", "nDCG@20", "off-topic@10")
    for kind, libs in ({} if args.cold_start_only else libraries(records, args.seed)).items():
        libs = libs[: args.max_libraries] if args.max_libraries else libs
        per = defaultdict(lambda: ([], [], []))  # method -> one list per metric, one value per library
        t = time.perf_counter()
        for lib, held in libs:
            cand = np.setdiff1d(np.arange(n), lib)
            window = rng.choice(cand, 300, replace=False)
            q = emb[lib].mean(axis=0)
            for method, scores in [("mean", emb[cand] @ (q / np.linalg.norm(q)))] + [
                    (f"svm C={c:g}", svm_scores(emb, lib, candidates=cand, c=c)) for c in cs]:
                for values, v in zip(per[method], metrics(scores, cand, held, window, archives, set(archives[lib]))):
                    values.append(v)
        sizes = [len(lib) for lib, _ in libs]
        print(f"{kind}: {len(libs)} libraries of {min(sizes)}-{max(sizes)} liked papers "
              f"({time.perf_counter() - t:.0f}s)")
        print(f"  {'method':<12}" + "".join(f"{m:>26}" for m in names) + "   (svm - mean [95% CI])")
        results[kind] = {}
        for method, values in per.items():
            row = {m: float(np.mean(v)) for m, v in zip(names, values)}
            line = f"  {method:<12}" + "".join(f"{row[m]:26.3f}" for m in names)
            if method != "mean":
                diffs = [paired_bootstrap(a, b) for a, b in zip(per["mean"], values)]
                cells = [f"{d['diff']:+.3f} [{d['ci_low']:+.3f},{d['ci_high']:+.3f}]" for d in diffs]
                line += "\n  " + " " * 12 + "".join(f"{c:>26}" for c in cells)
                row["vs_mean"] = dict(zip(names, diffs))
            print(line)
            results[kind][method] = row
        print()
    # cold start: a sentence instead of a library
    from arxiv_reco.vectors.embed import encode
    from arxiv_reco.vectors.models import load_model

    titles = encode(load_model(BASE, max_seq_length=args.max_seq), [r["title"] for r in records], progress=False)
    t = time.perf_counter()
    per = cold_start(records, emb, titles, args.seed, args.max_libraries)
    print(f"cold start: {len(per['sentence (svm)'][0])} draws (a category's papers held out; {time.perf_counter() - t:.0f}s)")
    print(f"  {'method':<26}{'recall@20':>12}{'nDCG@20':>12}   (minus the 4-paper library's nDCG@20 [95% CI])")
    results["cold start"] = {}
    for method, (rec, ndcg) in per.items():
        row = {"recall@20": float(np.mean(rec)), "nDCG@20": float(np.mean(ndcg))}
        line = f"  {method:<26}{row['recall@20']:12.3f}{row['nDCG@20']:12.3f}"
        if method != "4-paper library (svm)":
            d = paired_bootstrap(per["4-paper library (svm)"][1], ndcg)
            line += f"   {d['diff']:+.3f} [{d['ci_low']:+.3f}, {d['ci_high']:+.3f}]"
            row["vs_library"] = d
        print(line)
        results["cold start"][method] = row
    d = paired_bootstrap(per["sentence (svm)"][1], per["sentence (cosine)"][1])
    print(f"  a sentence alone, cosine minus svm: nDCG@20 {d['diff']:+.3f} [{d['ci_low']:+.3f}, {d['ci_high']:+.3f}]")
    results["cold start"]["cosine - svm (sentence)"] = d
    print(f"\ndone in {time.perf_counter() - t0:.0f}s")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
