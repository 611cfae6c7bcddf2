"""`arxiv-reco sample | pairs | label | train | evaluate | index | recommend | demo`: the
pipeline's steps as subcommands (the notebooks call the same functions).

    arxiv-reco sample --snapshot arxiv-metadata-oai-snapshot.json --out papers.parquet --n 10000 --categories 'cs.*'
    arxiv-reco pairs --papers papers.parquet --n 2000 --strategy anchored --out pairs.csv
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from ..index.search import ANN_KINDS
from ..labels.labeling import LABELERS, LabelConfig
from ..options import add_arguments, from_args
from ..training.recipe import DEFAULT, Recipe, read_recipe
from ..vectors.backends import BATCH_SIZE
from .common import filter_args, print_comparison, print_df, print_frame, settings_for


def cmd_sample(args) -> int:
    from ..papers.files import save_papers
    from ..papers.sampler import sample_papers

    settings = settings_for(args, snapshot=args.snapshot)
    out = args.out or settings.papers
    papers, report = sample_papers(
        settings.snapshot, n=args.n, categories=args.categories, since=args.since, until=args.until,
        stratify=args.stratify, seed=args.seed, workers=args.workers,
    )
    print(report)
    save_papers(papers, out)
    print(f"wrote {len(papers):,} papers to {out}")
    return 0 if len(papers) else 1


def cmd_pairs(args) -> int:
    from ..pairs.sampling import pair_report, sample_pairs, save_pairs
    from ..papers.files import read_papers

    settings = settings_for(args)
    papers = read_papers(args.papers or settings.papers)
    out = args.out or settings.pairs
    mix = None
    if args.mix:
        mix = {k: float(v) for k, v in (part.split("=") for part in args.mix.split(","))}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pairs = sample_pairs(papers, n=args.n, strategy=args.strategy, mix=mix, seed=args.seed, model=args.model)
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)
    save_pairs(pairs, out)
    print(f"wrote {len(pairs):,} pairs to {out}  (split: "
          + ", ".join(f"{k} {v:,}" for k, v in pairs["split"].value_counts().items()) + ")")
    print_df(pair_report(pairs, papers))
    return 0 if len(pairs) else 1


def cmd_label(args) -> int:
    from ..labels.batch import label_pairs_batch
    from ..labels.gemini import label_pairs
    from ..labels.labeling import (
        choose_labeler,
        export_labels,
        format_plan,
        label_config,
        plan_labeling,
    )
    from ..labels.store import LabelStore
    from ..labels.teacher import label_pairs_teacher
    from ..pairs.sampling import read_pairs

    settings = settings_for(args, gemini_model=args.model, teacher_model=args.teacher_model)
    cfg = label_config(settings, from_args(LabelConfig, args))  # checked before any file is read
    pairs = read_pairs(args.pairs or settings.pairs)
    store = LabelStore(args.store or settings.label_store)
    out = args.out or settings.labeled_csv
    if choose_labeler(args.labeler, settings) == "teacher":
        why = "no Gemini key (GEMINI_API_KEY): " if args.labeler == "auto" else ""
        print(f"{why}labelling offline with the teacher model {settings.teacher_model} (no Gemini calls)")
        if args.dry_run:
            print(f"dry run: the teacher would score {len(pairs):,} pairs here, at no cost; nothing was labelled")
            return 0
        summary = label_pairs_teacher(pairs, store, settings.teacher_model, settings,
                                      max_seq_length=args.teacher_max_seq)
        print(summary)
        labels = export_labels(store, pairs, out, model=summary.model, prompt_version=summary.prompt_version,
                               gold=_gold(settings))
        print(f"wrote {len(labels):,} labelled pairs to {out}")
        return 0 if not summary.remaining else 1
    if args.dry_run:
        print(format_plan(plan_labeling(pairs, store, cfg)))
        return 0
    if args.batch:
        summary = label_pairs_batch(pairs, store, cfg, settings, poll_seconds=args.poll_seconds)
    else:
        summary = label_pairs(pairs, store, cfg, settings)
    print(summary)
    # the summary's version: the run settled the prompt layout for these pairs (anchored or not)
    labels = export_labels(store, pairs, out, model=summary.model, prompt_version=summary.prompt_version,
                           gold=_gold(settings))
    print(f"wrote {len(labels):,} labelled pairs to {out}")
    if not len(labels):
        print("no pair has a label yet: run the same command again", file=sys.stderr)
        return 1
    if summary.remaining:
        print(f"{summary.remaining:,} pairs have no label yet: run the same command again to retry them",
              file=sys.stderr)
        return 1
    return 0


def cmd_rate(args) -> int:
    from ..labels.rating import pairs_to_rate, rate_in_terminal
    from ..pairs.sampling import read_pairs

    settings = settings_for(args)
    pairs = read_pairs(args.pairs or settings.pairs)
    papers = _papers_if_any(args.papers, settings)
    ratings = rate_in_terminal(pairs_to_rate(pairs, args.n, args.seed), args.out or settings.ratings, papers)
    print(f"next: label the pairs (arxiv-reco label), then compare: arxiv-reco audit --ratings "
          f"{args.out or settings.ratings}" if len(ratings) else "no pair rated")
    return 0


def cmd_audit(args) -> int:
    from ..labels.audit import audit_labels, labellers_in
    from ..labels.rating import read_ratings
    from ..pairs.sampling import read_pairs

    settings = settings_for(args)
    pairs = read_pairs(args.pairs or settings.pairs)
    labellers = labellers_in(args.store or settings.label_store, pairs)
    if args.labeller:
        missing = [n for n in args.labeller if n not in labellers]
        if missing:
            raise ValueError(f"no labels from {missing} in the store; it holds {sorted(labellers)}")
        labellers = {n: labellers[n] for n in args.labeller}
    report = audit_labels(read_ratings(args.ratings or settings.ratings), labellers, pairs, planned=args.planned,
                          batch=not args.online, settings=settings)
    print(report)
    for name, table in report.disagreements.items():
        print(f"\nwhere you and {name} disagree most:")
        print_df(table)
    if args.plot:
        from ..artifacts import save_figure

        save_figure(report.plot().figure, args.plot)
        print(f"\nplot: {args.plot}")
    return 0


def _papers_if_any(path, settings):
    from ..papers.files import read_papers

    path = path or (settings.papers if settings.papers.exists() else None)
    return read_papers(path) if path else None


def _gold(settings):
    """The person's ratings in the work folder, when there are any: those pairs never train."""
    from ..labels.rating import read_ratings

    if not settings.ratings.exists():
        return None
    print(f"the {len(read_ratings(settings.ratings))} pairs you rated in {settings.ratings} are kept out of the "
          "training labels (they are what labels are audited against)")
    return settings.ratings


def _recipe(args):
    """The recipe this command line asks for: DEFAULT (or the --recipe file) with the flags given."""
    return from_args(Recipe, args, base=read_recipe(args.recipe) if args.recipe else DEFAULT)


def cmd_train(args) -> int:
    from ..papers.files import read_papers
    from ..training.relevance import read_qrels
    from ..training.train import check_labels, finetune

    settings = settings_for(args, base_model=args.base_model)
    labels = check_labels(args.labels or settings.labeled_csv)  # before anything heavy: a bad file says so at once
    recipe = _recipe(args)
    corpus = args.papers or (settings.papers if settings.papers.exists() else None)
    papers = read_papers(corpus) if corpus else None
    result = finetune(labels, papers, recipe, corpus=read_papers(args.corpus) if args.corpus else None,
                      base_model=settings.base_model, output_dir=args.out or settings.model_dir, seed=args.seed,
                      qrels=read_qrels(args.qrels) if args.qrels else None, push_to_hub=args.push_to_hub)
    print(f"base model: {result.base_source}; trained on {result.device} in {result.seconds:.0f}s "
          f"({result.pairs_per_second:.1f} pairs/s); recipe: {result.recipe.describe()}")
    print_df(result.table.round(4))
    print_comparison(result.comparison)
    print(f"\n{result.verdict}")
    print(f"saved {result.model_dir} (model card, training_curve.png, evaluation.json)")
    return 0


def cmd_evaluate(args) -> int:
    from ..labels.labeling import read_labels
    from ..papers.files import read_papers
    from ..training.evaluate import measure, save_report
    from ..training.relevance import read_qrels
    from ..vectors.models import load_model, trained_on

    settings = settings_for(args)
    papers = read_papers(args.papers or settings.papers) if args.papers or settings.papers.exists() else None
    corpus = read_papers(args.corpus) if args.corpus else None
    if papers is None and corpus is None:
        raise FileNotFoundError(f"No papers to evaluate on: pass --papers or --corpus ({settings.papers} does not exist)")
    labels = read_labels(args.labels, required=("text_a", "text_b", "score")) if args.labels else None
    models = {"tfidf": "tfidf"}
    for name in args.baseline or []:
        models[Path(name).name] = load_model(name, max_seq_length=args.max_seq_length)
    models[Path(args.model).name] = load_model(args.model, max_seq_length=args.max_seq_length)
    seen = trained_on(args.model)  # papers the model learnt from besides the labels' pairs (distilled ones)
    evaluation = measure(models, papers, labels, read_qrels(args.qrels) if args.qrels else None, corpus=corpus,
                         seen=seen)
    if seen:
        print(f"left out {len(seen):,} papers {args.model} trained on, wherever they are in the corpus")
    print_df(evaluation.table.round(4))
    reference = Path(args.baseline[0]).name if args.baseline else "tfidf"
    print_comparison(evaluation.compare(reference, models=[Path(args.model).name]))
    json_path, png = save_report(evaluation, args.out or settings.work_dir / "report.json", reference=reference)
    print(f"wrote {json_path} and {png}")
    return 0


def cmd_index(args) -> int:
    from ..index.build import index_papers, model_for_index
    from ..papers.files import read_papers
    from ..vectors.models import load_model

    settings = settings_for(args)
    out = Path(args.out or settings.index_dir)
    ref, why = model_for_index(out, args.model, settings, rebuild=args.rebuild)
    print(f"encoding with {ref.name}: {why}", file=sys.stderr)
    model = load_model(ref, max_seq_length=args.max_seq_length)
    papers = read_papers(args.papers or settings.papers)
    existed = (out / "index.json").exists()
    index, added = index_papers(model, papers, out, batch_size=args.batch_size, faiss=args.faiss or None,
                                rebuild=args.rebuild, model_name=ref.name, encoder=args.encoder,
                                devices=args.devices.split(",") if args.devices else None, ann=args.ann)
    if not existed or args.rebuild and added == len(index):
        print(f"indexed {len(index):,} papers with {index.info['model']} into {out}")
    elif added:
        print(f"{out}: added {added:,} new papers (now {len(index):,}); existing ones were not re-encoded")
    else:
        print(f"{out}: all {len(papers):,} papers are already indexed; left it untouched ({len(index):,} papers)")
    return 0


def cmd_recommend(args) -> int:
    from ..index.paper_index import PaperIndex

    index = PaperIndex.load(args.index or settings_for(args).index_dir, args.model)
    filters = {"categories": args.categories, "since": args.since, "until": args.until}
    if args.id:
        df = index.similar(args.id, k=args.k, **filters)
    elif args.query:
        df = index.search(args.query, k=args.k, **filters)
    else:
        liked = [x for x in args.liked.split(",") if x.strip()]
        disliked = [x for x in (args.disliked or "").split(",") if x.strip()]
        df = index.recommend(liked, disliked, k=args.k, **filters)
    print_frame(df, args.format)
    return 0


def cmd_demo(args) -> int:
    """The whole pipeline on the bundled sample, every artifact in one folder."""
    from ..pipeline import run_pipeline

    out = Path(args.out)
    result = run_pipeline(out, n_papers=args.papers, n_pairs=args.pairs, labeler=args.labeler,
                          teacher_max_seq=args.teacher_max_seq, epochs=args.epochs,
                          max_seq_length=args.max_seq_length, seed=args.seed,
                          say=lambda text: print(text, flush=True))
    trained, index, papers = result.train, result.index, result.papers
    print(f"\ntrained on {trained.device} in {trained.seconds:.0f}s; before/after on papers no model trained on:")
    print_df(trained.table.round(4))
    print_comparison(trained.comparison)
    print(f"\n{trained.verdict}")

    print("\na few recommendations")
    columns = ["id", "score", "category", "title"]
    for pid in papers["id"].iloc[:2]:
        print(f"\nrelated to {pid}: {papers.set_index('id').loc[pid, 'title'][:90]}")
        print_df(index.similar(pid, k=5)[columns].assign(title=lambda d: d["title"].str.slice(0, 80)))
    query = "large language models for scientific discovery"
    print(f"\nfor the text {query!r}:")
    print_df(index.search(query, k=5)[columns].assign(title=lambda d: d["title"].str.slice(0, 80)))

    print(f"\ndone in {result.seconds:.0f}s; artifacts in {out.resolve()}:")
    for p in sorted(out.iterdir()):
        if not p.name.startswith("."):
            print(f"  {p.name}{'/' if p.is_dir() else ''}")
    return 0


def add_commands(sub) -> None:
    """Register the pipeline's steps (sample, pairs, label, train, evaluate, index, recommend, demo)."""
    from ..pairs import sampling as pairs_module  # its strategies (no torch)


    s = sub.add_parser("sample", help="sample papers from the Kaggle snapshot into Parquet")
    s.add_argument("--snapshot", help="arxiv-metadata-oai-snapshot.json (.gz/.zip ok); default: $ARXIV_RECO_SNAPSHOT or the bundled sample")
    s.add_argument("--out", help="default: <work dir>/papers.parquet")
    s.add_argument("--n", type=int, default=10_000)
    filter_args(s, "e.g. 'cs.*' or 'cs.CL,cs.IR,stat.ML'")
    s.add_argument("--stratify", action="store_true", help="equal share per primary category")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--workers", type=int, help="processes (default: all cores for plain files >= 64 MB)")
    s.set_defaults(func=cmd_sample)

    s = sub.add_parser("pairs", help="sample paper pairs worth labelling into pairs.csv")
    s.add_argument("--papers", help="Parquet from `sample`, or Kaggle JSON Lines (.gz ok); default: <work dir>/papers.parquet")
    s.add_argument("--out", help="default: <work dir>/pairs.csv")
    s.add_argument("--n", type=int, default=2_000)
    s.add_argument("--strategy", default=pairs_module.DEFAULT_STRATEGY, choices=pairs_module.STRATEGIES)
    s.add_argument("--mix", help="for mixed: e.g. neighbors=0.4,category=0.3,random=0.3")
    s.add_argument("--model", help="also take neighbours from this sentence-transformers model")
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(func=cmd_pairs)

    s = sub.add_parser("label", help="score pairs with Gemini into the label store, export the training CSV")
    s.add_argument("--pairs", help="pairs.csv from `arxiv-reco pairs`; default: <work dir>/pairs.csv")
    s.add_argument("--out", help="default: <work dir>/my_labeled_training_data.csv")
    s.add_argument("--store", help="SQLite label store (resumable); default: <work dir>/labels.sqlite")
    add_arguments(s, LabelConfig)  # how Gemini is called, from LabelConfig's fields
    s.add_argument("--batch", action="store_true", help="Gemini Batch API: half price, results within 24 h")
    s.add_argument("--poll-seconds", type=float, default=30.0, help=argparse.SUPPRESS)
    s.add_argument("--dry-run", action="store_true", help="print the first prompt and the estimated cost; call nothing")
    s.add_argument("--labeler", choices=LABELERS, default="auto",
                   help="who labels: gemini, or teacher (offline, a stronger local model); auto: Gemini when a key "
                        "is set, else the teacher (default: auto)")
    s.add_argument("--teacher-model", help="name or path (default: $ARXIV_RECO_TEACHER_MODEL or all-mpnet-base-v2)")
    s.add_argument("--teacher-max-seq", type=int, help="tokens the teacher reads per paper (default: its own)")
    s.set_defaults(func=cmd_label)

    s = sub.add_parser("rate", help="rate a few pairs yourself: the gold set labels are audited against")
    s.add_argument("--pairs", help="pairs.csv from `arxiv-reco pairs`; default: <work dir>/pairs.csv")
    s.add_argument("--n", type=int, default=40, help="pairs to rate, drawn evenly over their TF-IDF cosine")
    s.add_argument("--out", help="the ratings file (resumed where it stopped); default: <work dir>/my_ratings.csv")
    s.add_argument("--papers", help="the corpus, to show each paper's categories (default: <work dir>/papers.parquet)")
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(func=cmd_rate)

    s = sub.add_parser("audit", help="each labeller in the store against your ratings: agreement, cost, disagreements")
    s.add_argument("--ratings", help="default: <work dir>/my_ratings.csv")
    s.add_argument("--store", help="the label store; default: <work dir>/labels.sqlite")
    s.add_argument("--pairs", help="pairs.csv (titles, and the cost of labelling them); default: <work dir>/pairs.csv")
    s.add_argument("--labeller", action="append", help="only this labeller (a model name as the audit lists it; "
                                                       "repeatable)")
    s.add_argument("--planned", type=int, help="pairs you plan to label, for the cost (default: all of --pairs)")
    s.add_argument("--online", action="store_true", help="online prices (default: the Batch API's, half)")
    s.add_argument("--plot", help="save agreement against cost as a PNG here")
    s.set_defaults(func=cmd_audit)

    s = sub.add_parser("train", help="fine-tune a sentence-transformer on the labels; before/after on unseen papers")
    s.add_argument("--labels", help="default: <work dir>/my_labeled_training_data.csv")
    s.add_argument("--out", help="default: <work dir>/finetuned-arxiv-recommender")
    s.add_argument("--papers", help="the corpus the pairs came from (Parquet or JSON Lines): its held-out papers are "
                                    "evaluated on; default: <work dir>/papers.parquet when it exists")
    s.add_argument("--corpus", help="other papers to evaluate on, none of them trained on (a later month, a "
                                    "field's sample): the headline figure")
    s.add_argument("--qrels", help="external judgments: TSV query_id, doc_id, grade")
    s.add_argument("--base-model", help="default: $ARXIV_RECO_BASE_MODEL or sentence-transformers/all-MiniLM-L6-v2")
    s.add_argument("--recipe", metavar="FILE", help="a recipe as a TOML file of Recipe's fields (an experiment as a "
                                                    "file); the flags below change it further")
    add_arguments(s, Recipe)  # every knob of the recipe, from its fields: help, default and limits in one place
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--push-to-hub", metavar="USER/NAME", help="also upload the model to the Hugging Face Hub")
    s.set_defaults(func=cmd_train)

    s = sub.add_parser("evaluate", help="evaluate a model on papers it never saw, against TF-IDF (and baselines)")
    s.add_argument("--model", required=True, help="a saved model folder or a hub name")
    s.add_argument("--papers", help="a corpus whose papers outside the labels' train/validation pairs are queried; "
                                    "default: <work dir>/papers.parquet when it exists")
    s.add_argument("--corpus", help="other papers (Parquet or JSON Lines): a fresh corpus, queried among themselves")
    s.add_argument("--labels", help="my_labeled_training_data.csv: pair agreement on its test split, and which papers "
                                    "were trained on")
    s.add_argument("--qrels", help="external judgments: TSV query_id, doc_id, grade")
    s.add_argument("--baseline", action="append", help="another model to compare (repeatable)")
    s.add_argument("--max-seq-length", type=int)
    s.add_argument("--out", help="default: <work dir>/report.json")
    s.set_defaults(func=cmd_evaluate)

    s = sub.add_parser("index", help="embed a corpus with a model into a searchable index folder")
    s.add_argument("--model", help="the model that encodes the papers (a folder or a hub name); default: the one the "
                   "index records, else <work dir>/finetuned-arxiv-recommender, else the base model")
    s.add_argument("--papers", help="Kaggle JSON Lines (plain or .gz) or Parquet; default: <work dir>/papers.parquet")
    s.add_argument("--out", help="default: <work dir>/index")
    s.add_argument("--batch-size", type=int, default=BATCH_SIZE, help=f"papers per encoding batch (default: {BATCH_SIZE})")
    s.add_argument("--max-seq-length", type=int)
    s.add_argument("--faiss", action="store_true", help="also build an approximate FAISS index (auto above 1M papers)")
    s.add_argument("--encoder", default="auto", choices=["auto", "torch", "openvino-bf16", "openvino-f32"],
                   help="how the model runs: auto = OpenVINO bf16 on a CPU with native bf16 (~2x), else torch")
    s.add_argument("--devices", help="several workers: e.g. cuda:0,cuda:1 (every GPU) or cpu,cpu")
    s.add_argument("--ann", default="ivf-fp16", choices=list(ANN_KINDS),
                   help="the approximate index's codes: ivf-sq8 half the memory, ivf-sq6 0.39x, ivf-pq an eighth (with --faiss)")
    s.add_argument("--rebuild", action="store_true",
                   help="the index at --out was built by another model: re-encode everything with this one")
    s.set_defaults(func=cmd_index)

    s = sub.add_parser("recommend", help="related papers for a paper, a text, or a reading list")
    s.add_argument("--index", help="default: <work dir>/index")
    what = s.add_mutually_exclusive_group(required=True)
    what.add_argument("--id", help="an arXiv id in the index")
    what.add_argument("--query", help="free text")
    what.add_argument("--liked", help="comma-separated arXiv ids a reader liked")
    s.add_argument("--disliked", help="comma-separated arXiv ids a reader disliked (with --liked)")
    s.add_argument("-k", type=int, default=10)
    filter_args(s, "only these categories, e.g. 'cs.*,stat.ML'")
    s.add_argument("--model", help="the index's model (default: the one recorded in the index)")
    s.add_argument("--format", choices=["table", "json", "csv"], default="table")
    s.set_defaults(func=cmd_recommend)

    s = sub.add_parser("demo", help="run the whole pipeline on the bundled sample (about 7 min on 2 CPU cores)")
    s.add_argument("--out", default="demo-output")
    s.add_argument("--papers", type=int, default=1_000, help="papers from the bundled 2k sample")
    s.add_argument("--pairs", type=int, default=1_500)
    s.add_argument("--teacher-max-seq", type=int, default=128,
                   help="tokens the offline teacher reads per paper (mpnet: ~6 papers/s on 2 cores at 128)")
    s.add_argument("--labeler", choices=["auto", "gemini", "teacher"], default="auto",
                   help="auto: Gemini when GEMINI_API_KEY is set, else the offline teacher")
    s.add_argument("--epochs", type=float, help="default: the recipe's (1 when 2,000+ more papers are distilled, else 3)")
    s.add_argument("--max-seq-length", type=int, default=128, help="128 keeps the CPU demo short (the recipe's own: 256)")
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(func=cmd_demo)
