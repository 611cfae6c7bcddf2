"""`arxiv-reco`: the pipeline's steps and the reader's daily loop as subcommands (the notebooks
call the same functions).

    arxiv-reco sample --snapshot arxiv-metadata-oai-snapshot.json --out papers.parquet --n 10000 --categories 'cs.*'
    arxiv-reco pairs --papers papers.parquet --n 2000 --strategy anchored --out pairs.csv

The daily loop:

    arxiv-reco update --index index --categories 'cs.CL,cs.IR'        # fresh listings from arXiv
    arxiv-reco feed --index index --library my.bib --since 2026-11-20 -k 20
    arxiv-reco serve --index index --library my.bib                   # the page
"""

from __future__ import annotations

import argparse
import logging
import sys
import traceback
import warnings

from .. import __version__
from . import reader, steps


def build_parser() -> argparse.ArgumentParser:
    """The command line's parser, every subcommand registered."""
    # Defaults that are settings (file names, models) are None here and come from config.Settings:
    # defaults < .env < environment < these options. Files default to the work folder's.
    p = argparse.ArgumentParser(prog="arxiv-reco", description=__doc__.split("\n")[0])
    p.add_argument("--version", action="version", version=f"arxiv-reco {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="log what happens (model sources, retries)")
    p.add_argument("--work-dir", help="folder of the pipeline's files (default: $ARXIV_RECO_WORK_DIR, else .)")
    sub = p.add_subparsers(dest="command", required=True)
    steps.add_commands(sub)
    reader.add_commands(sub)  # update, feed, serve: the reader's daily loop
    return p


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A warning as one line on stderr, without the source line Python would print under it."""
    print(f"warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    warnings.showwarning = _show_warning
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print(f"arxiv-reco {args.command}: interrupted; finished work is saved, run again to resume", file=sys.stderr)
        return 130
    except (KeyError, FileNotFoundError, ValueError, OSError, RuntimeError, ImportError) as e:
        # The messages say what to do; a traceback would bury them (-v shows it).
        if args.verbose:
            traceback.print_exc()
        message = e.args[0] if isinstance(e, KeyError) and e.args else e  # an unknown paper id: it says which
        print(f"arxiv-reco {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
