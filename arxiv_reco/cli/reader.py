"""`arxiv-reco update | feed | serve | daily`: the reader's daily loop on an index, as subcommands.

    arxiv-reco update --index index --categories 'cs.CL,cs.IR'
    arxiv-reco feed --index index --library my.bib --since 2026-11-20 -k 20
    arxiv-reco serve --index index --library my.bib
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..dates import FORMS, day_arg
from .common import clip, filter_args, print_frame, settings_for


def _api(settings, pace: float | None = None, timeout: float | None = None):
    """The arXiv API client of the settings' endpoint; None: its own defaults."""
    from ..reader.arxiv_api import PACE, TIMEOUT, ArxivAPI

    return ArxivAPI(settings.arxiv_api_url, pace=PACE if pace is None else pace, timeout=timeout or TIMEOUT)


def _index_with_model(args, settings):
    """The index, with the model given by --model/--max-seq-length (else its recorded one, lazily)."""
    from ..index.paper_index import PaperIndex

    path = Path(args.index or settings.index_dir)
    model = None
    if args.model or args.max_seq_length:
        from ..vectors.models import load_model

        model = load_model(args.model or PaperIndex.load(path).info.get("model"), max_seq_length=args.max_seq_length)
    return path, model


def cmd_update(args) -> int:
    from ..reader.update import update_index

    settings = settings_for(args)
    path, model = _index_with_model(args, settings)
    report = update_index(path, args.categories, since=args.since, until=args.until, model=model,
                          api=_api(settings, args.pace, args.timeout), page_size=args.page_size, batch_size=args.batch_size)
    print(report)
    return 0


def _profiles(args, config: dict | None = None) -> list:
    from ..reader.profiles import parse_profiles

    pick = _from(args, config or {})
    return parse_profiles(pick("profile"), pick("library"), pick("disliked"), pick("interest"), config)


def _from(args, config: dict):
    """An option's value: the command line's, else the config file's (underscores), else None."""
    def pick(name: str):
        given = getattr(args, name, None)
        return given if given not in (None, []) else config.get(name)
    return pick


def _complete(profiles, index, path, args, settings, say) -> None:
    from ..reader.library import complete_library

    for p in profiles:
        if p.load().library is not None and len(p.library):
            complete_library(p.library, index, path, api=_api(settings, args.pace, args.timeout), fetch=not args.no_fetch, say=say)


def _print_digest(df, fmt: str) -> None:
    """A digest as a table, JSON (the because lists as lists) or CSV (the because line as text)."""
    from ..reader.digest import because_text

    if fmt == "json":
        print(df.to_json(orient="records", indent=1) if len(df) else "[]")
        return
    print_frame(df.assign(because=df["because"].map(because_text).astype(object)), fmt,
                empty="nothing new above your bar in this window")


def cmd_feed(args) -> int:
    from ..index.paper_index import PaperIndex
    from ..reader.digest import NO_WORDS, default_since, digest
    from ..reader.digest_options import DigestOptions
    from ..reader.update import abstract_lookup

    settings = settings_for(args)
    path, model = _index_with_model(args, settings)
    index = PaperIndex.load(path, model)
    say = lambda text: print(text, file=sys.stderr)  # noqa: E731  stdout stays the table/json/csv
    profiles = _profiles(args)
    if not profiles and not args.author:
        raise ValueError("nothing to rank for: give --library, --profile NAME=SOURCE, --interest TEXT or --author")
    _complete(profiles, index, path, args, settings, say)
    if index.bad_dates:
        say(f"note: {index.bad_dates:,} papers in the index have an impossible update_date (treated as missing)")
    if index.words is None:
        say(NO_WORDS)
    since = args.since or default_since(index)
    options = DigestOptions(since=since, k=args.k, method=args.method, include=tuple(args.include or ()),
                            exclude=tuple(args.exclude or ()), author=tuple(args.author or ()), bar=args.bar,
                            near_miss=args.near_miss)
    df = digest(index, profiles, options, until=args.until, categories=args.categories,
                abstracts=abstract_lookup(None, path))
    liked = sum(len(p.liked) for p in profiles)
    say(f"{len(df)} papers since {since} ranked for {liked} liked papers in {len(profiles)} "
        f"interest{'s' * (len(profiles) != 1)} ({args.method})")
    for name in df.attrs.get("quiet", []):
        say(f"{name}: nothing above your bar (--bar {args.bar:g}); --near-miss shows the nearest paper below it")
    _print_digest(df, args.format)
    return 0


def cmd_daily(args) -> int:
    import json as json_module

    from ..options import from_args
    from ..reader.daily import run_daily
    from ..reader.digest_options import DigestOptions, example_config, read_config
    from ..reader.profiles import profiles_of

    if args.example_config:
        print(example_config(), end="")
        return 0
    # the file's options, then the flags given (each checked, naming the key or flag, before any work)
    options = from_args(DigestOptions, args, base=read_config(args.config) if args.config else None)
    settings = settings_for(args)
    index_dir = Path(options.index or settings.index_dir)
    model = None
    if options.model or options.max_seq_length:
        from ..index.paper_index import PaperIndex
        from ..vectors.models import load_model

        model = load_model(options.model or PaperIndex.load(index_dir).info.get("model"),
                           max_seq_length=options.max_seq_length)
    say = (lambda text: print(text, file=sys.stderr)) if options.format == "json" else print  # noqa: E731
    api = _api(settings, options.pace, options.timeout)
    report = run_daily(index_dir, profiles_of(options), options, model=model, api=api, settings=settings, say=say)
    if options.format == "json":
        print(json_module.dumps(report.entries, indent=1, ensure_ascii=False))
        say(str(report))
    else:
        print(str(report))
        if report.dry_run:
            from ..reader.digest import because_text

            for e in report.entries:
                print(f"  [{e['profile']}] {clip(e['title'], 80)} {e['url']}\n      {because_text(e['because'])}")
    return 0


def cmd_serve(args) -> int:
    from ..reader.app import serve

    settings = settings_for(args)
    path, model = _index_with_model(args, settings)
    papers = args.papers or (settings.papers if settings.papers.exists() else None)
    serve(path, library=args.library, papers=papers, reading_list=args.reading_list, port=args.port,
          host=args.host, since=args.since, k=args.k, method=args.method, model=model, api=_api(settings, args.pace, args.timeout))
    return 0


def _api_args(s: argparse.ArgumentParser) -> None:
    s.add_argument("--pace", type=float, help="seconds between arXiv API requests (default 3, as arXiv asks)")
    s.add_argument("--timeout", type=float, help="seconds one arXiv API request may take in all (default 30)")


def _model_args(s: argparse.ArgumentParser) -> None:
    s.add_argument("--model", help="the index's model (default: the one recorded in the index)")
    s.add_argument("--max-seq-length", type=int, help="tokens per paper when encoding new papers")


def _interest_args(s: argparse.ArgumentParser) -> None:
    s.add_argument("--profile", action="append", metavar="NAME=SOURCE[,SOURCE...]",
                   help="an interest of its own (its own ranking and section); SOURCE as --library takes it (repeatable)")
    s.add_argument("--interest", action="append", metavar="TEXT",
                   help="an interest from a sentence: no library needed (repeatable)")
    s.add_argument("--author", action="append", metavar="'SURNAME, GIVEN'",
                   help="every new paper by this author, marked as followed (repeatable)")
    s.add_argument("--include", action="append", metavar="WORD", help="only papers whose title or abstract has a "
                                                                      "word given here (repeatable)")
    s.add_argument("--exclude", action="append", metavar="WORD", help="no paper whose title or abstract has it "
                                                                      "(repeatable)")


def _library_args(s: argparse.ArgumentParser, required: bool = False) -> None:
    s.add_argument("--library", action="append", required=required,
                   help="liked papers: a .bib export (Zotero, Mendeley, Google Scholar, arXiv), the page's "
                        "reading_list.json, a file of arXiv ids/URLs, or comma-separated ids (repeatable)")
    s.add_argument("--disliked", action="append", help="disliked papers, in the same forms (repeatable)")
    s.add_argument("--no-fetch", action="store_true", help="do not fetch library papers missing from the index")


def add_commands(sub) -> None:
    """Register update, feed, serve and daily on the main parser's subcommands."""
    s = sub.add_parser("update", help="add the arXiv listings since the index's newest paper to the index")
    s.add_argument("--index", help="default: <work dir>/index")
    s.add_argument("--categories", required=True, help="e.g. 'cs.CL,cs.IR' (cross-lists count)")
    s.add_argument("--since", type=day_arg, metavar="DATE",
                   help=f"submitted on or after this day, {FORMS} (default: the index's newest paper, minus 3 days)")
    s.add_argument("--until", type=day_arg, metavar="DATE", help="submitted on or before this day (default: today)")
    s.add_argument("--page-size", type=int, default=200, help="results per request (arXiv allows up to 2000)")
    _api_args(s)
    _model_args(s)
    s.add_argument("--batch-size", type=int, default=64)
    s.set_defaults(func=cmd_update)

    s = sub.add_parser("feed", help="the index's recent papers ranked for your interests (the ranking step alone)")
    s.add_argument("--index", help="default: <work dir>/index")
    _library_args(s)
    _interest_args(s)
    s.add_argument("-k", type=int, default=20, help="papers per interest")
    filter_args(s, "only these categories, e.g. 'cs.CL,cs.IR'")
    s.add_argument("--method", choices=["svm", "mean"], default="svm",
                   help="svm: a linear SVM over the papers' words, people and meaning (arxiv-sanity-lite's method; "
                        "measured better, bench/feed.py); mean: the mean of the liked vectors")
    s.add_argument("--bar", type=float, default=50.0, metavar="SCORE",
                   help="shown from this score on, 0-100 (0: a typical paper, 100: as close as your own papers; "
                        "0 shows the best -k whatever they score)")
    s.add_argument("--near-miss", action="store_true", help="an interest with nothing above the bar shows its best "
                                                            "paper below it")
    s.add_argument("--format", choices=["table", "json", "csv"], default="table")
    _api_args(s)
    _model_args(s)
    s.set_defaults(func=cmd_feed)

    s = sub.add_parser("serve", help="the page: search, more like this, like/dislike, new for you, BibTeX export")
    s.add_argument("--index", help="default: <work dir>/index")
    _library_args(s)
    s.add_argument("--papers", help="the corpus, for the abstracts (default: <work dir>/papers.parquet when it exists)")
    s.add_argument("--reading-list", help="where likes are kept (default: reading_list.json beside the index)")
    s.add_argument("--port", type=int, help="default: 7860 or the next free one")
    s.add_argument("--host", default="127.0.0.1", help="0.0.0.0 to open the page to your network")
    s.add_argument("--since", type=day_arg, metavar="DATE",
                   help="'New for you' from this day (default: the week before the newest paper)")
    s.add_argument("-k", type=int, default=10, help="cards per list")
    s.add_argument("--method", choices=["svm", "mean"], default="svm")
    _api_args(s)
    _model_args(s)
    s.set_defaults(func=cmd_serve)

    from ..options import add_arguments
    from ..reader.digest_options import DigestOptions

    s = sub.add_parser("daily", help="the whole morning: update, rank for each interest, email and Atom, remember")
    s.add_argument("--config", help="a TOML file with any of these options (see --example-config); flags win")
    s.add_argument("--example-config", action="store_true", help="print a commented example config and stop")
    add_arguments(s, DigestOptions)
    s.set_defaults(func=cmd_daily)
