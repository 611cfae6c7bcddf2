"""Digest benchmark (not in CI but for --smoke): does the digest rank a reader's own line of work
as well as arxiv-sanity-lite does, and does it keep to the reader's field?

**Author continuation** on a fresh corpus (default ../shared/data/arxiv_fresh_15k.jsonl, 14,995
real 2025-26 papers that no model trained on): for every author with 5+ papers there and a full
given name ("Yuhan Wang", not "Y. Wang"), the library is the author's 3 earliest papers and the
papers the reader wants are the later ones. Every method ranks every other paper of the corpus;
recall@10 and nDCG@10 of the later papers, and the field share: the share of the top 10 whose
primary category is one of the library's categories (the digest's tail: papers from the reader's
field, whoever wrote them). The authors are split in two halves by a seeded shuffle: the weights
of the default ranker were chosen on the first half ("dev"), the figures are the second's
("test"). Every method is also run with the author names hidden from it (and from
arxiv-sanity-lite's text), so a gain that is only names shows as such.

Methods: arxiv-sanity-lite's ranker, as its compute.py and serve.py have it (TF-IDF of title,
abstract and author names: word 1-2 grams, 10,000 features, min_df 5, max_df 0.5, sublinear tf;
LinearSVC C=0.01, balanced, fitted on every paper); the mean cosine (zotero-arxiv-daily's idea);
and arxiv-reco's ranker (arxiv_reco.reader.rank) with its blocks alone and together, each a
``Ranker`` value. Differences are paired (same libraries), with bootstrap 95% intervals.

**The bar** (digest_options.BAR): at each bar, on the test libraries with the default ranker, the
share of the later papers above it (all, and those ranked in the top 10), how many other papers
per 1,000 pass it, and how often a window of 500 papers from other archives leaves the section
empty.

**Cold start** on the bundled sample: a sentence instead of a library (as before).

    python bench/feed.py                    # the fresh corpus: ~40 min on 2 CPU cores (--jobs 2)
    python bench/feed.py --split dev        # the half the weights were chosen on
    python bench/feed.py --smoke            # CI: the bundled sample, a few libraries
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
FRESH = REPO.parent / "shared" / "data" / "arxiv_fresh_15k.jsonl"
BASE = "sentence-transformers/all-MiniLM-L6-v2"
K = 10

from arxiv_reco.config import SAMPLE_PAPERS  # noqa: E402
from arxiv_reco.index.paper_index import PaperIndex  # noqa: E402
from arxiv_reco.index.words import WordIndex  # noqa: E402
from arxiv_reco.papers.corpus import normalize  # noqa: E402
from arxiv_reco.reader.digest_options import BAR  # noqa: E402
from arxiv_reco.reader.rank import RANKER, Features, Ranker, fit_interest, mean_interest  # noqa: E402
from arxiv_reco.training.stats import paired_bootstrap  # noqa: E402

# the levers, alone and together (RANKER is the default: words 1, people 0.75, meaning 0.75)
RANKERS = {
    "arxiv-reco default": RANKER,
    "meaning alone (the previous default)": Ranker(words=0, people=0, meaning=1),
    "words alone": Ranker(words=1, people=0, meaning=0),
    "people alone": Ranker(words=0, people=1, meaning=0),
    "words + meaning": RANKER.but(people=0),
    "words + people": RANKER.but(meaning=0),
    "default at C=0.1": RANKER.but(c=0.1),
}


def corpus(path: Path) -> tuple[list[dict], pd.DataFrame]:
    records = [json.loads(line) for line in path.read_text().splitlines()]
    rows = [normalize(r) for r in records]
    keep = [i for i, r in enumerate(rows) if isinstance(r, dict)]
    return [records[i] for i in keep], pd.DataFrame([rows[i] for i in keep])


def embeddings(papers: pd.DataFrame, name: str, max_seq: int) -> np.ndarray:
    cache = REPO / "bench" / "_data" / f"feed_{name}_minilm_{max_seq}.npy"
    if cache.exists():
        emb = np.load(cache)
        if len(emb) == len(papers):
            return emb.astype(np.float32)
    from arxiv_reco.vectors.embed import encode
    from arxiv_reco.vectors.models import load_model

    emb = encode(load_model(BASE, max_seq_length=max_seq), papers["text"].tolist(), desc=f"embedding {name}")
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.save(cache, emb)
    return emb.astype(np.float32)


def author_libraries(records: list[dict], least: int = 5, library: int = 3, seed: int = 0) -> dict[str, list]:
    """{"dev": [...], "test": [...]}: (author, library rows, later rows) for every author with
    ``least`` papers and a full given name; the library is the ``library`` earliest."""
    by: dict[tuple, set[int]] = defaultdict(set)
    for i, r in enumerate(records):
        for last, first, *_ in r.get("authors_parsed") or []:
            given = first.strip().replace(".", " ").split()
            if last.strip() and given and len(given[0]) > 1:
                by[(last.strip(), first.strip())].add(i)
    when = lambda i: (records[i]["update_date"] or "", records[i]["id"])  # noqa: E731
    libs = []
    for (last, first), rows in sorted(by.items()):
        rows = sorted(rows, key=when)
        if len(rows) >= least:
            libs.append((f"{first} {last}", rows[:library], rows[library:]))
    perm = np.random.default_rng(seed).permutation(len(libs))
    half = len(libs) // 2
    return {"dev": [libs[i] for i in perm[:half]], "test": [libs[i] for i in perm[half:]]}


def sanity_lite_matrix(records: list[dict], names: bool, min_df: int):
    """arxiv-sanity-lite's features (its compute.py): TF-IDF of title, abstract and author names."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    v = TfidfVectorizer(input="content", encoding="utf-8", decode_error="replace", strip_accents="unicode",
                        lowercase=True, analyzer="word", stop_words="english",
                        token_pattern=r"(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b", ngram_range=(1, 2), max_features=10000,
                        norm="l2", use_idf=True, smooth_idf=True, sublinear_tf=True, max_df=0.5, min_df=min_df)
    authors = lambda r: " ".join(a.strip() for a in r["authors"].replace(" and ", ", ").split(","))  # noqa: E731
    return v.fit_transform([" ".join([r["title"], r["abstract"], authors(r) if names else ""])
                            for r in records]).astype(np.float32)


def sanity_lite_scores(x, library: list[int]) -> np.ndarray:
    """Its serve.py: LinearSVC(class_weight='balanced', C=0.01) fitted on every paper, the library positive."""
    from sklearn.svm import LinearSVC

    y = np.zeros(x.shape[0])
    y[library] = 1
    clf = LinearSVC(class_weight="balanced", verbose=False, max_iter=10000, tol=1e-6, C=0.01).fit(x, y)
    return clf.decision_function(x)


def measure(scores: np.ndarray, library: list[int], later: list[int], primary: np.ndarray, field: set[str]):
    """(recall@K, nDCG@K of the later papers, field share of the top K)."""
    s = np.asarray(scores, dtype=np.float64).copy()
    s[library] = -np.inf
    top = np.argsort(-s, kind="stable")[:K]
    hits = np.isin(top, later)
    ideal = (1 / np.log2(np.arange(2, min(K, len(later)) + 2))).sum()
    return (hits.sum() / min(K, len(later)), (hits / np.log2(np.arange(2, K + 2))).sum() / ideal,
            float(np.mean([primary[t] in field for t in top])))


def continuation(records, papers, emb, libs, jobs: int, min_df: int) -> dict[str, np.ndarray]:
    """Every method on every library: {method: array (libraries x (recall, nDCG, field))}."""
    meta = papers[["id", "title", "authors", "primary_category", "categories", "update_date"]]
    index = PaperIndex(emb, meta, {}, words=WordIndex.build(papers))
    hidden = PaperIndex(emb, meta.assign(authors=""), {}, words=WordIndex.build(papers.assign(authors="")))
    asl = {True: sanity_lite_matrix(records, True, min_df), False: sanity_lite_matrix(records, False, min_df)}
    methods = {"arxiv-sanity-lite": lambda lib: sanity_lite_scores(asl[True], lib),
               "arxiv-sanity-lite, names hidden": lambda lib: sanity_lite_scores(asl[False], lib)}
    everything = np.arange(len(index))
    for name, ranker in RANKERS.items():
        f = Features(index, index.words, ranker)
        methods[name] = lambda lib, f=f: fit_interest(f, lib, calibrate=False).scores(everything)
    f_hidden = Features(hidden, hidden.words, RANKER)
    methods["arxiv-reco default, names hidden"] = lambda lib: fit_interest(f_hidden, lib, calibrate=False).scores(
        everything)
    meaning = Features(index, None, Ranker(words=0, people=0))
    methods["mean cosine"] = lambda lib: mean_interest(meaning, lib, calibrate=False).scores(everything)
    primary = papers["primary_category"].to_numpy()

    def one(item):
        _, lib, later = item
        field = {c for r in lib for c in papers["categories"].iloc[r]}
        return {m: measure(fn(lib), lib, later, primary, field) for m, fn in methods.items()}

    rows = _map(one, libs, jobs)
    return {m: np.array([r[m] for r in rows]) for m in methods}


def bar_table(records, papers, emb, libs, bars=(30, 40, 50, 60, 70), seed: int = 1) -> list[dict]:
    """The default ranker's bar, calibrated per library, at several heights (see the docstring)."""
    meta = papers[["id", "title", "authors", "primary_category", "categories", "update_date"]]
    index = PaperIndex(emb, meta, {}, words=WordIndex.build(papers))
    f = Features(index, index.words, RANKER)
    archive = papers["primary_category"].str.split(".").str[0].to_numpy()
    rng = np.random.default_rng(seed)
    per = {b: [] for b in bars}
    for _, lib, later in libs:
        interest = fit_interest(f, lib)
        match = interest.match(interest.scores(np.arange(len(index))))
        match[lib] = -1
        top_later = [t for t in np.argsort(-match)[:K] if t in set(later)]
        others = np.setdiff1d(np.arange(len(index)), np.r_[lib, later])
        far = np.flatnonzero(~np.isin(archive, list({archive[r] for r in lib})))
        window = rng.choice(far, min(500, len(far)), replace=False)
        for b in bars:
            per[b].append((np.mean(match[later] >= b), np.mean(match[top_later] >= b) if top_later else np.nan,
                           1000 * np.mean(match[others] >= b), float(not (match[window] >= b).any())))
    out = []
    for b in bars:
        a = np.array(per[b])
        out.append({"bar": b, "later kept": float(np.nanmean(a[:, 0])), "top-10 later kept": float(np.nanmean(a[:, 1])),
                    "others per 1,000": float(a[:, 2].mean()), "others per 1,000 (median)": float(np.median(a[:, 2])),
                    "far window empty": float(a[:, 3].mean())})
    return out


def cold_start(records: list[dict], emb: np.ndarray, titles: np.ndarray, seed: int, limit: int | None) -> dict:
    """A reader who starts from a sentence (``--interest``): for each primary category with 12+
    papers, a sentence (another paper's title, the kind of line a reader types) against a
    4-paper library, ranking the category's other papers among everything (embeddings only, as
    a sentence ranks); several draws a category. Returns {method: (recall@20 list, nDCG@20 list)}."""
    from scipy import sparse

    rng = np.random.default_rng(seed)
    by_cat: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(records):
        by_cat[r["categories"].split()[0]].append(i)
    n = len(emb)
    index = PaperIndex(emb, pd.DataFrame({"id": [r["id"] for r in records], "title": "", "authors": "",
                                          "primary_category": "", "categories": [[]] * n, "update_date": ""}), {})
    f = Features(index, None, Ranker(words=0, people=0))
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
            text = sparse.csr_matrix(titles[sentence][None, :])
            cand = np.setdiff1d(np.arange(n), [sentence, *lib])
            ranked = {
                "sentence (svm)": fit_interest(f, [], extra=text, calibrate=False).scores(cand),
                "sentence (cosine)": emb[cand] @ titles[sentence],
                "4-paper library (svm)": fit_interest(f, lib, calibrate=False).scores(cand),
                "library + sentence (svm)": fit_interest(f, lib, extra=text, calibrate=False).scores(cand),
            }
            for method, scores in ranked.items():
                order = cand[np.argsort(-scores, kind="stable")][:20]
                hits = np.isin(order, held)
                ideal = (1 / np.log2(np.arange(2, min(20, len(held)) + 2))).sum()
                per[method][0].append(hits.sum() / min(20, len(held)))
                per[method][1].append((hits / np.log2(np.arange(2, 22))).sum() / ideal)
    return per


def cost_at_scale(papers: pd.DataFrame, emb: np.ndarray, arxiv: int = 2_800_000, day: int = 2_000) -> dict:
    """What keeping the words with the index costs at arXiv's size, measured on this machine: the
    corpus's counts saved once and memory-mapped, then listed again and again up to ``arxiv``
    rows (the same files: no 20 GB written), against which a morning's ``day`` new papers are
    counted, saved and ranked; beside it, what refitting a vocabulary (arxiv-sanity-lite's
    TfidfVectorizer) costs on the same papers, scaled to ``arxiv``."""
    import tempfile

    from sklearn.feature_extraction.text import TfidfVectorizer

    from arxiv_reco.index.words import COLUMNS

    out = {}
    folder = Path(tempfile.mkdtemp(prefix="words-scale-"))
    t = time.perf_counter()
    words = WordIndex.build(papers)
    out["count, papers/s"] = len(papers) / (time.perf_counter() - t)
    words.save(folder / "a")
    one = WordIndex.load(folder / "a")
    copies = -(-arxiv // len(papers))
    big = WordIndex(one.shards * copies, one.df * copies, one.sources * copies)  # arXiv's size, by reference
    new = papers.sample(day, random_state=0, replace=len(papers) < day)
    t = time.perf_counter()
    big.add(new)
    out["a day's papers counted, s"] = time.perf_counter() - t
    big.shards, big.sources = [big.shards[0], big.shards[-1]], [big.sources[0], None]  # one old shard is enough to
    big.offsets = np.cumsum([0, len(papers), day])  # time a save: linking is per shard, not per row
    t = time.perf_counter()
    big.save(folder / "b")
    out["a day's save (new shard, links, counts), s"] = time.perf_counter() - t
    big = WordIndex(one.shards * copies, one.df * copies, one.sources * copies)
    rows = np.sort(np.random.default_rng(0).choice(len(big), 50_000 + day, replace=False))
    t = time.perf_counter()
    x = big.features(rows)
    out["features of 50,000 negatives and a day's window, s"] = time.perf_counter() - t
    out["bytes per paper on disk"] = sum(f.stat().st_size for f in (folder / "a").rglob("*.npy")
                                         if f.name != "df.npy") / len(papers)
    out["the counts at arXiv's size, GB"] = out["bytes per paper on disk"] * arxiv / 1e9 + COLUMNS * 8 / 1e9
    v = TfidfVectorizer(strip_accents="unicode", lowercase=True, stop_words="english",
                        token_pattern=r"(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b", ngram_range=(1, 2), max_features=10000,
                        sublinear_tf=True, max_df=0.5, min_df=5)
    t = time.perf_counter()
    v.fit_transform(papers["title"] + " " + papers["abstract"])
    out["a refit of arxiv-sanity-lite's vocabulary at arXiv's size, s (scaled)"] = (time.perf_counter() - t) * copies
    out["features nnz"] = int(x.nnz)
    import shutil

    shutil.rmtree(folder, ignore_errors=True)
    return out


_JOB = None  # the function the forked workers run (closures do not pickle; forked memory is shared)


def _call(item):
    return _JOB(item)


def _map(fn, items, jobs: int):
    global _JOB
    if jobs <= 1:
        return [fn(x) for x in items]
    import multiprocessing as mp

    _JOB = fn
    with mp.get_context("fork").Pool(jobs) as pool:  # the features are shared copy-on-write
        return pool.map(_call, items, chunksize=4)


def _diff(a: np.ndarray, b: np.ndarray) -> str:
    d = paired_bootstrap(a, b)
    return f"{d['diff']:+.3f} [{d['ci_low']:+.3f}, {d['ci_high']:+.3f}]"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fresh", default=str(FRESH), help="the fresh corpus (Kaggle JSON Lines)")
    ap.add_argument("--split", choices=["dev", "test"], default="test", help="which half of the authors to report")
    ap.add_argument("--max-libraries", type=int, help="at most this many libraries")
    ap.add_argument("--jobs", type=int, default=2, help="processes (the SVMs are single-threaded)")
    ap.add_argument("--max-seq", type=int, default=256, help="tokens per paper (the model's own: 256)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", help="also write the figures here")
    ap.add_argument("--smoke", action="store_true", help="the bundled sample, 32 tokens, a few libraries: CI")
    ap.add_argument("--scale", action="store_true", help="with --smoke: also the cost at a (small) scale")
    args = ap.parse_args()
    t0 = time.perf_counter()
    least, library, min_df, name = 5, 3, 5, "fresh"
    path = Path(args.fresh)
    if args.smoke:  # the code path in CI: the sample's authors with 3 papers, 2 of them the library
        path, least, library, min_df, name = SAMPLE_PAPERS, 3, 2, 2, "sample"
        args.max_seq, args.max_libraries, args.jobs = 32, 6, 1
    if not path.exists():
        raise SystemExit(f"no fresh corpus at {path}: pass --fresh FILE (Kaggle JSON Lines), or --smoke")
    records, papers = corpus(path)
    emb = embeddings(papers, name, args.max_seq)
    libs = author_libraries(records, least, library, args.seed)[args.split][: args.max_libraries]
    print(f"{len(papers):,} papers of {path.name}; {len(libs)} author libraries ({args.split} half); "
          f"all-MiniLM-L6-v2 at {args.max_seq} tokens; metrics@{K}\n")
    results: dict = {"libraries": len(libs), "split": args.split}
    t = time.perf_counter()
    res = continuation(records, papers, emb, libs, args.jobs, min_df)
    print(f"author continuation ({time.perf_counter() - t:.0f}s): minus arxiv-sanity-lite [95% CI]; field share minus "
          "the previous default [95% CI]")
    asl, prev = res["arxiv-sanity-lite"], res["meaning alone (the previous default)"]
    print(f"  {'method':<40}{'recall@10':>10}{'nDCG@10':>9}{'field':>7}   {'recall@10 - asl':>26}   {'field - previous':>26}")
    results["continuation"] = {}
    for method, v in res.items():
        base = res["arxiv-sanity-lite, names hidden"] if "hidden" in method else asl
        print(f"  {method:<40}{v[:, 0].mean():10.3f}{v[:, 1].mean():9.3f}{v[:, 2].mean():7.3f}   "
              f"{_diff(base[:, 0], v[:, 0]):>26}   {_diff(prev[:, 2], v[:, 2]):>26}")
        results["continuation"][method] = {
            "recall@10": float(v[:, 0].mean()), "nDCG@10": float(v[:, 1].mean()), "field": float(v[:, 2].mean()),
            "recall@10 - sanity-lite": paired_bootstrap(base[:, 0], v[:, 0]),
            "nDCG@10 - sanity-lite": paired_bootstrap(base[:, 1], v[:, 1]),
            "field - previous default": paired_bootstrap(prev[:, 2], v[:, 2])}
    ratio = res["arxiv-reco default"][:, 0].mean() / max(asl[:, 0].mean(), 1e-9)
    print(f"  the default's recall@10 is {ratio:.2f}x arxiv-sanity-lite's\n")
    results["ratio"] = ratio
    t = time.perf_counter()
    bars = bar_table(records, papers, emb, libs[: 120 if not args.smoke else 3])
    print(f"the bar (the default ranker, {min(len(libs), 120)} libraries, {time.perf_counter() - t:.0f}s; "
          f"the default bar is {BAR:g}):")
    for row in bars:
        print("  " + "  ".join(f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()))
    results["bar"] = bars
    if not args.smoke or args.scale:
        t = time.perf_counter()
        cost = cost_at_scale(papers, emb, **({"arxiv": 20_000, "day": 200} if args.smoke else {}))
        print(f"\nthe words at arXiv's size ({time.perf_counter() - t:.0f}s):")
        for k, v in cost.items():
            print(f"  {k}: {v:,.2f}")
        results["scale"] = cost
    # cold start, on the bundled sample (as before)
    from arxiv_reco.vectors.embed import encode
    from arxiv_reco.vectors.models import load_model

    s_records, s_papers = corpus(SAMPLE_PAPERS)
    s_emb = embeddings(s_papers, "sample", args.max_seq)
    titles = encode(load_model(BASE, max_seq_length=args.max_seq), s_papers["title"].tolist(), progress=False)
    t = time.perf_counter()
    per = cold_start(s_records, s_emb, titles, args.seed, 6 if args.smoke else None)
    print(f"\ncold start on the bundled sample: {len(per['sentence (svm)'][0])} draws ({time.perf_counter() - t:.0f}s)")
    results["cold start"] = {}
    for method, (rec, ndcg) in per.items():
        line = f"  {method:<26}{np.mean(rec):12.3f}{np.mean(ndcg):12.3f}"
        if method != "4-paper library (svm)":
            line += f"   {_diff(np.array(per['4-paper library (svm)'][1]), np.array(ndcg))}"
        print(line)
        results["cold start"][method] = {"recall@20": float(np.mean(rec)), "nDCG@20": float(np.mean(ndcg))}
    print(f"\ndone in {time.perf_counter() - t0:.0f}s")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=float))


if __name__ == "__main__":
    main()
