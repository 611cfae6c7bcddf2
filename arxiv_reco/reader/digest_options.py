"""The daily digest's options, declared once: `arxiv-reco daily`'s flags, the keys of its TOML
file (`--config`, see digest.example.toml) and docs/cli.md's table are all made from these fields.

    options = read_config("digest.toml")                         # typed and checked, unknown keys refused
    options = options.but(k=5, dry_run=True)
    report = run_daily(options.index or "index", profiles_of(options), options)

A value from a file is checked before anything is fetched or sent, naming the key: a wrong type
(``keep_days = "14"``), a bad choice, a number out of range, a misspelt key at any level.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..dates import FORMS, day
from ..options import but, from_mapping, option, validate

METHODS = ("svm", "mean")
K = 10  # papers per interest in a digest: a ceiling, only papers above the bar are shown
BAR = 50.0  # 0-100: halfway from a typical paper of the index to the reader's own (docs/benchmarks.md)
KEEP_DAYS = 14  # days the Atom feed holds (and the memory keeps in full)
OVERLAP_DAYS = 3  # papers reach the API a day or more after their date: each window reaches back this far


@dataclass(frozen=True)
class DigestOptions:
    """Every option of `arxiv-reco daily` (and of its TOML file, spelled with underscores).

    >>> DigestOptions(k=5).k
    5
    """

    # ---- where the papers come from ----
    index: str | None = option(None, "the folder `arxiv-reco index` built", words="<work dir>/index", metavar="DIR")
    categories: str | None = option(None, "what to fetch from arXiv first, e.g. 'cs.CL,cs.IR' (none: no update)",
                                     metavar="CATS")
    papers: str | None = option(None, "a corpus for abstracts", words="those the index keeps", metavar="FILE")
    model: str | None = option(None, "the index's model", words="the one recorded in the index", metavar="NAME")
    max_seq_length: int | None = option(None, "tokens per paper when encoding new papers", minimum=8, metavar="N")
    pace: float | None = option(None, "seconds between arXiv API requests", minimum=0, words="3, as arXiv asks",
                                  metavar="S")
    timeout: float | None = option(None, "seconds one network exchange may take in all (an API request, the mail)",
                                   minimum=0.001, words="30 for the API, 60 for the mail", metavar="S")
    fetch: bool = option(True, "fetch library papers missing from the index from arXiv")
    # ---- what the reader likes ----
    library: tuple[str, ...] = option(
        (), "liked papers: a .bib export (Zotero, Mendeley, Google Scholar, arXiv), the page's reading_list.json, "
            "a file of arXiv ids/URLs, or comma-separated ids (repeatable)", metavar="SOURCE")
    disliked: tuple[str, ...] = option((), "disliked papers, in the same forms (repeatable)", metavar="SOURCE")
    profile: tuple[str, ...] = option(
        (), "an interest of its own (its own ranking and section); SOURCE as --library takes it (repeatable; in a "
            "file: [profiles.NAME] tables)", metavar="NAME=SOURCE[,SOURCE...]", file=False)
    interest: tuple[str, ...] = option((), "an interest from a sentence: no library needed (repeatable)",
                                       metavar="TEXT")
    author: tuple[str, ...] = option((), "every new paper by this author, marked as followed (repeatable)",
                                     metavar="'SURNAME, GIVEN'")
    include: tuple[str, ...] = option((), "only papers whose title or abstract has a word given here (repeatable)",
                                      metavar="WORD")
    exclude: tuple[str, ...] = option((), "no paper whose title or abstract has it (repeatable)", metavar="WORD")
    # ---- the ranking ----
    k: int = option(K, "papers per interest", minimum=1, flag="-k", metavar="K")
    method: str = option("svm", "svm: a linear SVM per interest against the rest of the index (arxiv-sanity-lite's); "
                                "mean: the mean of the liked vectors", choices=METHODS)
    bar: float = option(BAR, "a paper is shown from this score on, 0-100: 0 is a typical paper of the index, 100 as "
                             "close as your own papers are to the rest of your library (0: the best k, whatever "
                             "they score)", minimum=0, maximum=100, metavar="SCORE")
    near_miss: bool = option(False, "an interest with nothing above the bar shows its best paper below it, marked")
    since: str | None = option(None, f"rank papers from this date: {FORMS}",
                               words=f"the last run, minus {OVERLAP_DAYS} days", metavar="DATE", parse=day)
    # ---- delivery and memory ----
    email: str | None = option(None, "send the digest to this address (SMTP from ARXIV_RECO_SMTP_URL)", metavar="ADDRESS")
    subject: str | None = option(None, "the mail's subject", words="the day and how many papers", metavar="TEXT")
    atom: str | None = option(None, "keep an Atom feed of the last days at this file", metavar="FILE")
    keep_days: int = option(KEEP_DAYS, "days the Atom feed holds", minimum=1, metavar="N")
    state: str | None = option(None, "what was delivered", words="<index>.digest.json beside the index",
                               metavar="FILE")
    send_empty: bool = option(False, "on a day with nothing new, send a short note instead of nothing")
    # ---- this run only (the command line's, not a file's) ----
    resend: bool = option(False, "ignore what was delivered before", file=False)
    dry_run: bool = option(False, "rank and print; send nothing, remember nothing", file=False)
    format: str = option("text", "json: the digest on stdout", choices=("text", "json"), file=False)
    profiles: dict = field(default_factory=dict, metadata={"help": "[profiles.NAME] tables", "cli": False,
                                                          "file": False})

    def __post_init__(self):
        validate(self)

    def but(self, **changes) -> DigestOptions:
        """These options with some changed (``KEEP`` leaves one as it is), checked again.

        >>> DigestOptions().but(k=3, since=KEEP).k
        3
        """
        return but(self, **changes)


@dataclass(frozen=True)
class ProfileTable:
    """One ``[profiles.NAME]`` table of a digest file."""

    def __post_init__(self):
        validate(self)

    library: tuple[str, ...] = option((), "liked papers, as --library takes them")
    disliked: tuple[str, ...] = option((), "disliked papers")
    interest: str | None = option(None, "a sentence")


def read_config(path: str | Path) -> DigestOptions:
    """A digest's TOML file (see arxiv_reco/reader/digest.example.toml) as checked options: every
    key known (at every level), every value of the right type and range, or one ValueError naming
    the file and the key.

    >>> read_config("digest.toml").categories
    """
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib

    path = Path(path).expanduser()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"No digest config at {path}; start from `arxiv-reco daily --example-config`") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path} is not valid TOML ({e})") from None
    tables = data.get("profiles", {})
    if not isinstance(tables, dict) or not all(isinstance(t, dict) for t in tables.values()):
        raise ValueError(f"{path}: profiles must be tables, e.g. [profiles.ml] with library = [\"my.bib\"]")
    profiles = {name: from_mapping(ProfileTable, table, where=f"{path} [profiles.{name}]")
                for name, table in tables.items()}
    return replace(from_mapping(DigestOptions, data, where=str(path), skip=("profiles",)), profiles=profiles)


def example_config() -> str:
    """The commented example of a digest config that ships with the package."""
    from importlib.resources import files

    return (files("arxiv_reco.reader") / "digest.example.toml").read_text(encoding="utf-8")
