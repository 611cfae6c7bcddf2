"""`arxiv-reco update | feed | serve`: the reader's daily loop on an index, as subcommands.

    arxiv-reco update --index index --categories 'cs.CL,cs.IR'
    arxiv-reco feed --index index --library my.bib --since 2026-11-20 -k 20
    arxiv-reco serve --index index --library my.bib
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .common import filter_args, print_frame, settings_for


def _api(args, settings):
    from ..reader.arxiv_api import PACE, ArxivAPI

    return ArxivAPI(settings.arxiv_api_url, pace=PACE if args.pace is None else args.pace,
                    timeout=args.timeout or 30.0)


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
                          api=_api(args, settings), page_size=args.page_size, batch_size=args.batch_size)
    print(report)
    return 0


def cmd_feed(args) -> int:
    from ..index.paper_index import PaperIndex
    from ..reader.digest import default_since, feed
    from ..reader.library import complete_library, load_library

    settings = settings_for(args)
    path, model = _index_with_model(args, settings)
    index = PaperIndex.load(path, model)
    say = lambda text: print(text, file=sys.stderr)  # noqa: E731  stdout stays the table/json/csv
    lib = complete_library(load_library(args.library, args.disliked), index, path, api=_api(args, settings),
                           fetch=not args.no_fetch, say=say)
    if index.bad_dates:
        say(f"note: {index.bad_dates:,} papers in the index have an impossible update_date (treated as missing)")
    since = args.since or default_since(index)
    df = feed(index, lib.liked, lib.disliked, since=since, until=args.until, k=args.k, method=args.method,
              categories=args.categories)
    say(f"{len(df)} papers since {since} ranked for {len(lib.liked)} liked papers ({args.method})")
    print_frame(df, args.format)
    return 0


def cmd_serve(args) -> int:
    from ..reader.app import serve

    settings = settings_for(args)
    path, model = _index_with_model(args, settings)
    papers = args.papers or (settings.papers if settings.papers.exists() else None)
    serve(path, library=args.library, papers=papers, reading_list=args.reading_list, port=args.port,
          host=args.host, since=args.since, k=args.k, method=args.method, model=model, api=_api(args, settings))
    return 0


def _api_args(s: argparse.ArgumentParser) -> None:
    s.add_argument("--pace", type=float, help="seconds between arXiv API requests (default 3, as arXiv asks)")
    s.add_argument("--timeout", type=float, help="seconds per arXiv API request (default 30)")


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
    """Register update, feed and serve on the main parser's subcommands."""
    s = sub.add_parser("update", help="add the arXiv listings since the index's newest paper to the index")
    s.add_argument("--index", help="default: <work dir>/index")
    s.add_argument("--categories", required=True, help="e.g. 'cs.CL,cs.IR' (cross-lists count)")
    s.add_argument("--since", help="submitted on or after YYYY-MM-DD (default: the index's newest paper, minus 3 days)")
    s.add_argument("--until", help="submitted on or before YYYY-MM-DD (default: today)")
    s.add_argument("--page-size", type=int, default=200, help="results per request (arXiv allows up to 2000)")
    _api_args(s)
    _model_args(s)
    s.add_argument("--batch-size", type=int, default=64)
    s.set_defaults(func=cmd_update)

    s = sub.add_parser("feed", help="the index's recent papers ranked for your library (a digest)")
    s.add_argument("--index", help="default: <work dir>/index")
    _library_args(s, required=True)
    s.add_argument("-k", type=int, default=20)
    filter_args(s, "only these categories, e.g. 'cs.CL,cs.IR'")
    s.add_argument("--method", choices=["svm", "mean"], default="svm",
                   help="svm: a linear SVM on the library's embeddings (arxiv-sanity-lite's; measured better, "
                        "bench/feed.py); mean: the mean of the liked vectors")
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
    s.add_argument("--since", help="'New for you' from this date (default: the week before the newest paper)")
    s.add_argument("-k", type=int, default=10, help="cards per list")
    s.add_argument("--method", choices=["svm", "mean"], default="svm")
    _api_args(s)
    _model_args(s)
    s.set_defaults(func=cmd_serve)
