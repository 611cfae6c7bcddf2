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
from ..options import add_arguments, from_args
from ..reader.arxiv_api import PACE
from ..reader.arxiv_api import TIMEOUT as API_TIMEOUT
from ..reader.digest_options import METHODS, DigestOptions, K
from ..vectors.backends import BATCH_SIZE
from .common import clip, filter_args, print_frame, settings_for

# the digest's options that `feed` takes (its window is --since/--until, its categories a filter)
FEED_OPTIONS = ("fetch", "page_likes", "library", "zotero", "disliked", "profile", "interest", "author", "include", "exclude",
                "k", "method", "bar", "near_miss", "model", "max_seq_length", "pace", "timeout")


def _api(settings, pace: float | None = None, timeout: float | None = None):
    """The arXiv API client of the settings' endpoint; None: its own defaults."""
    from ..reader.arxiv_api import PACE, TIMEOUT, ArxivAPI

    return ArxivAPI(settings.arxiv_api_url, pace=PACE if pace is None else pace, timeout=timeout or TIMEOUT)


def _index_with_model(args, settings):
    """The index's folder, and the model --model/--max-seq-length ask for (None: the index loads the
    one it records, lazily, when it first needs one)."""
    path = Path(args.index or settings.index_dir)
    return path, _encoder(path, args.model, args.max_seq_length)


def _encoder(index_dir: Path, model: str | None, max_seq_length: int | None):
    """The model that encodes new papers into the index: the one named, else the one the index
    records (read at a different length when asked); None when neither is asked for."""
    if not (model or max_seq_length):
        return None
    from ..index.build import model_for_index
    from ..vectors.models import load_model

    return load_model(model_for_index(index_dir, model)[0], max_seq_length=max_seq_length)


def cmd_update(args) -> int:
    from ..reader.update import update_index

    settings = settings_for(args)
    path, model = _index_with_model(args, settings)
    report = update_index(path, args.categories, since=args.since, until=args.until, model=model,
                          api=_api(settings, args.pace, args.timeout), page_size=args.page_size, batch_size=args.batch_size)
    print(report)
    return 0






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
    from ..reader.library import reading_list_path
    from ..reader.profiles import complete_profiles, profiles_of, with_reading_list
    from ..reader.update import abstract_lookup

    settings = settings_for(args)
    options = from_args(DigestOptions, args, only=FEED_OPTIONS)
    path, model = _index_with_model(args, settings)
    index = PaperIndex.load(path, model)
    say = lambda text: print(text, file=sys.stderr)  # noqa: E731  stdout stays the table/json/csv
    profiles = profiles_of(options)
    if options.page_likes:
        profiles = with_reading_list(profiles, reading_list_path(path))
    if not profiles and not options.author:
        raise ValueError("nothing to rank for: give --library, --profile NAME=SOURCE, --interest TEXT or --author")
    complete_profiles(profiles, index, path, _api(settings, options.pace, options.timeout), options.fetch, say)
    if index.bad_dates:
        say(f"note: {index.bad_dates:,} papers in the index have an impossible update_date (treated as missing)")
    if index.words is None:
        say(NO_WORDS)
    options = options.but(since=args.since or default_since(index))
    df = digest(index, profiles, options, until=args.until, categories=args.categories,
                abstracts=abstract_lookup(None, path))
    liked = len({pid for p in profiles for pid in p.liked})
    say(f"{len(df)} papers since {options.since} ranked for {liked} liked papers in {len(profiles)} "
        f"interest{'s' * (len(profiles) != 1)} ({options.method})")
    for name in df.attrs.get("quiet", []):
        say(f"{name}: nothing above your bar (--bar {options.bar:g}); --near-miss shows the nearest paper below it")
    _print_digest(df, args.format)
    return 0


def cmd_daily(args) -> int:
    import json as json_module

    from ..reader.daily import run_daily, run_lab
    from ..reader.digest import because_text
    from ..reader.digest_options import example_config, read_config
    from ..reader.profiles import profiles_of

    if args.example_config:
        print(example_config(), end="")
        return 0
    # the file's options, then the flags given (each checked, naming the key or flag, before any work)
    options = from_args(DigestOptions, args, base=read_config(args.config) if args.config else None)
    settings = settings_for(args)
    index_dir = Path(options.index or settings.index_dir)
    model = _encoder(index_dir, options.model, options.max_seq_length)
    say = (lambda text: print(text, file=sys.stderr)) if options.format == "json" else print  # noqa: E731
    api = _api(settings, options.pace, options.timeout)
    if options.readers:  # a lab: one update, each reader's digest on its own
        reports = run_lab(index_dir, options, model=model, api=api, settings=settings, say=say)
    else:
        reports = {"": run_daily(index_dir, profiles_of(options), options, model=model, api=api, settings=settings,
                                 say=say)}
    if options.format == "json":
        entries = [{**({"reader": name} if name else {}), **e} for name, r in reports.items() for e in r.entries]
        print(json_module.dumps(entries, indent=1, ensure_ascii=False))
    for name, report in reports.items():
        say(f"[{name}] {report}" if name else str(report))
        if report.dry_run and options.format != "json":
            for e in report.entries:
                say(f"  [{e['profile']}] {clip(e['title'], 80)} {e['url']}\n      {because_text(e['because'])}")
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
    s.add_argument("--pace", type=float, help=f"seconds between arXiv API requests (default {PACE:g}, as arXiv asks)")
    s.add_argument("--timeout", type=float, help=f"seconds one arXiv API request may take in all (default {API_TIMEOUT:g})")


def _model_args(s: argparse.ArgumentParser) -> None:
    s.add_argument("--model", help="the index's model (default: the one recorded in the index)")
    s.add_argument("--max-seq-length", type=int, help="tokens per paper when encoding new papers")




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
    s.add_argument("--batch-size", type=int, default=BATCH_SIZE, help=f"papers per encoding batch (default: {BATCH_SIZE})")
    s.set_defaults(func=cmd_update)

    s = sub.add_parser("feed", help="the index's recent papers ranked for your interests (the ranking step alone)")
    s.add_argument("--index", help="default: <work dir>/index")
    filter_args(s, "only these categories, e.g. 'cs.CL,cs.IR'")
    s.add_argument("--format", choices=["table", "json", "csv"], default="table")
    add_arguments(s, DigestOptions, only=FEED_OPTIONS)  # the digest's own options: one meaning, one default
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
    s.add_argument("-k", type=int, default=K, help=f"cards per list (default: {K})")
    s.add_argument("--method", choices=METHODS, default=METHODS[0])
    _api_args(s)
    _model_args(s)
    s.set_defaults(func=cmd_serve)

    s = sub.add_parser("daily", help="the whole morning: update, rank for each interest, email and Atom, remember")
    s.add_argument("--config", help="a TOML file with any of these options (see --example-config); flags win")
    s.add_argument("--example-config", action="store_true", help="print a commented example config and stop")
    add_arguments(s, DigestOptions)
    s.set_defaults(func=cmd_daily)
