"""The daily digest's options, declared once: `arxiv-reco daily`'s flags, the keys of its TOML
file (`--config`, see digest.example.toml) and docs/cli.md's table are all made from these fields.

    options = read_config("digest.toml")                         # typed and checked, unknown keys refused
    options = options.but(k=5, dry_run=True)
    report = run_daily(options.index or "index", profiles_of(options), options)

A value from a file is checked before anything is fetched or sent, naming the key: a wrong type
(``keep_days = "14"``), a bad choice, a number out of range, a misspelt key at any level.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..dates import FORMS, day
from ..options import but, default_of, from_mapping, option, read_toml, validate
from .arxiv_api import PACE
from .arxiv_api import TIMEOUT as API_TIMEOUT
from .deadline import MAIL_TIMEOUT

METHODS = ("svm", "mean")
K = 10  # papers per interest in a digest: a ceiling, only papers above the bar are shown
BAR = 50.0  # 0-100: halfway from a typical paper of the index to the reader's own (docs/benchmarks.md)
KEEP_DAYS = 14  # days the Atom feed holds (and the memory keeps in full)
TLDR_CAP = 30  # new TL;DR sentences a day at most: a day's cost is bounded whatever the window holds
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
    pace: float | None = option(None, "seconds between arXiv API requests", minimum=0, words=f"{PACE:g}, as arXiv asks",
                                  metavar="S")
    timeout: float | None = option(None, "seconds one network exchange may take in all (an API request, the mail)",
                                   minimum=0.001, words=f"{API_TIMEOUT:g} for the API, {MAIL_TIMEOUT:g} for the mail", metavar="S")
    fetch: bool = option(True, "fetch library papers missing from the index from arXiv")
    page_likes: bool = option(True, "the page's likes and dislikes (reading_list.json beside the index) shape the "
                                    "digest: a liked paper joins the library, a disliked one is pushed away")
    # ---- what the reader likes ----
    library: tuple[str, ...] = option(
        (), "liked papers: a .bib export (Zotero, Mendeley, Google Scholar, arXiv), the page's reading_list.json, "
            "a file of arXiv ids/URLs, or comma-separated ids (repeatable)", metavar="SOURCE")
    zotero: tuple[str, ...] = option((), "a Zotero library's papers as liked ones: your user id (zotero.org/settings/"
                                         "keys), groups/ID, either with /collections/KEY; a private one needs "
                                         "ZOTERO_API_KEY (repeatable)", metavar="ID")
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
    tldr: bool = option(False, "a one-sentence Gemini TL;DR of each delivered paper (needs GEMINI_API_KEY; each "
                               "paper summarised once, kept beside the index; --dry-run shows the cost)")
    tldr_cap: int = option(TLDR_CAP, "new TL;DR sentences a day at most (the rest wait for tomorrow)", minimum=0,
                           metavar="N")
    # ---- this run only (the command line's, not a file's) ----
    resend: bool = option(False, "ignore what was delivered before", file=False)
    dry_run: bool = option(False, "rank and print; send nothing, remember nothing", file=False)
    format: str = option("text", "json: the digest on stdout", choices=("text", "json"), file=False)
    profiles: dict = field(default_factory=dict, metadata={"help": "[profiles.NAME] tables", "cli": False,
                                                          "file": False})
    # a lab's digest: one index, one update, several readers, each with its own interests, mail and memory
    readers: dict = field(default_factory=dict, metadata={"help": "[readers.NAME] tables: name -> DigestOptions",
                                                         "cli": False, "file": False})

    def __post_init__(self):
        validate(self)

    def but(self, **changes) -> DigestOptions:
        """These options with some changed (``KEEP`` leaves one as it is), checked again.

        >>> DigestOptions().but(k=3, since=KEEP).k
        3
        """
        return but(self, **changes)


# what each [readers.NAME] table may set: its own interests, mail and memory (OWN_KEYS, never inherited
# from the top of the file) and how its sections rank (inherited unless set)
OWN_KEYS = ("library", "zotero", "disliked", "interest", "author", "include", "exclude", "email", "subject", "atom",
            "state")
READER_KEYS = (*OWN_KEYS, "k", "method", "bar", "near_miss", "keep_days", "send_empty", "page_likes", "tldr",
               "tldr_cap")


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
    path = Path(path).expanduser()
    data = read_toml(path, "digest config (start from `arxiv-reco daily --example-config`)")
    options = _with_profiles(from_mapping(DigestOptions, data, where=str(path), skip=("profiles", "readers")), data,
                             str(path))
    readers = data.get("readers", {})
    if not isinstance(readers, dict) or not all(isinstance(t, dict) for t in readers.values()):
        raise ValueError(f"{path}: readers must be tables, e.g. [readers.ana] with email = \"ana@example.org\"")
    lab = {}
    for name, table in readers.items():
        where = f"{path} [readers.{name}]"
        shared = sorted(set(table) - set(READER_KEYS) - {"profiles"})
        if shared:
            raise ValueError(f"{where}: {', '.join(shared)} belong at the top of the file: one index and one update "
                             f"serve the whole lab (a reader sets {', '.join(READER_KEYS)} and profiles)")
        # a reader starts from the file's shared options (k, bar, ...), not from its interests or its mail
        # and the page (one folder, one reading list) is one person's: a reader takes its likes only when told
        base = options.but(**{k: default_of(DigestOptions, k) for k in OWN_KEYS}, profiles={}, readers={},
                           page_likes=False)
        lab[name] = _with_profiles(from_mapping(DigestOptions, table, where=where, base=base, skip=("profiles",)),
                                   table, where)
    return options.but(readers=lab)


def _with_profiles(options: DigestOptions, data: dict, where: str) -> DigestOptions:
    tables = data.get("profiles", {})
    if not isinstance(tables, dict) or not all(isinstance(t, dict) for t in tables.values()):
        raise ValueError(f"{where}: profiles must be tables, e.g. [profiles.ml] with library = [\"my.bib\"]")
    return options.but(profiles={name: from_mapping(ProfileTable, table, where=f"{where} [profiles.{name}]")
                                 for name, table in tables.items()})



def example_config() -> str:
    """The commented example of a digest config that ships with the package."""
    from importlib.resources import files

    return (files("arxiv_reco.reader") / "digest.example.toml").read_text(encoding="utf-8")
