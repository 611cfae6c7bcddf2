"""The corpus: the paper schema, the one text recipe, the category filter, ids and dates.

    paper_text(title, abstract)                       # what every model reads for a paper
    canonical_id("http://arxiv.org/abs/2401.01234v2") # '2401.01234'; None for anything else
    CategoryFilter.build("cs.*,stat.ML").category_ok(["cs.CL"])

A paper is a row of PAPER_COLUMNS. The text a model sees is built by :func:`paper_text` alone,
for training, evaluation and indexing alike; TEXT_RECIPE names its version, recorded by models
and indexes so that a mismatch is caught.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

import orjson

PAPER_COLUMNS = ["id", "title", "abstract", "categories", "primary_category", "authors", "update_date", "text"]
# Bumped whenever paper_text() changes: indexes and models record it so a mismatch is caught.
TEXT_RECIPE = "title. abstract v1"


class SnapshotFormatError(ValueError):
    """The file is not the Kaggle JSON Lines snapshot (or a Parquet corpus where one is accepted)."""


_VERSION = re.compile(r"v\d+$")
# an arXiv identifier: new style YYMM.NNNN(N) (2007-) or old style archive[.SC]/YYMMNNN, any version,
# bare or as an arxiv.org/abs URL. Anything else is not an arXiv paper and never becomes an id here.
_ARXIV_ID = re.compile(
    r"(?:https?://(?:export\.)?arxiv\.org/abs/|arxiv:)?"
    r"(?:(?P<new>\d{2}(?:0[1-9]|1[0-2])\.\d{4,5})|(?P<old>[a-z]+(?:-[a-z]+)?)(?:\.[a-z]{2})?/(?P<num>\d{2}(?:0[1-9]|1[0-2])\d{3}))"
    r"(?:v\d{1,3})?", re.I)


def base_id(paper_id: str) -> str:
    """'2401.01234v2' -> '2401.01234': versions of one paper are the same paper.

    >>> base_id("hep-th/9901001v3")
    'hep-th/9901001'
    """
    return _VERSION.sub("", str(paper_id).strip())


def canonical_id(text) -> str | None:
    """The canonical versionless arXiv id of ``text`` (an id, any version, or its arxiv.org/abs
    URL); None when it is not an arXiv id.

    >>> canonical_id("http://arxiv.org/abs/math.GT/0309136v2"), canonical_id("2401.1)[x](y")
    ('math/0309136', None)
    """
    s = str(text or "").strip()
    m = _ARXIV_ID.fullmatch(s) if len(s) <= 80 else None
    if m is None:
        return None
    return m["new"] if m["new"] else f"{m['old'].lower()}/{m['num']}"


# ---- the text a model sees -------------------------------------------------------------------
def clean(s: str | None) -> str:
    """Collapse whitespace and newlines (arXiv wraps titles and abstracts at ~80 columns).

    Same result as ``" ".join(s.split())``, several times faster on the usual ASCII abstract whose
    lines wrap with single newlines: after the newlines become spaces, an ASCII string that is
    printable holds no other whitespace than single spaces, or it takes the general path.
    """
    if not s or not isinstance(s, str):  # None, or a Parquet null read as NaN
        return ""
    if s.isascii():
        t = s.replace("\n", " ").strip()
        if "  " not in t and t.isprintable():
            return t
    t = " ".join(s.split())
    # control characters (a bell, an escape; not whitespace, so split() keeps them) break XML and terminals
    return t if t.isprintable() else "".join(ch for ch in t if ch.isprintable() or ch == " ")


def clean_id(s) -> str:
    """A paper id as stored: no whitespace or control characters anywhere (an id with a newline in it
    would start a line of its own in a plain-text mail).

    >>> clean_id(" 2401.01234\\nhttps://evil.example ")
    '2401.01234https://evil.example'
    """
    return "".join(ch for ch in str(s or "") if ch.isprintable() and not ch.isspace())


def clean_category(s) -> str:
    """An arXiv category as stored: letters, digits, '.', '-' and '_' only.

    >>> clean_category("cs.CL\\x07")
    'cs.CL'
    """
    return re.sub(r"[^A-Za-z0-9._\-]", "", str(s or ""))


def abs_url(paper_id: str) -> str:
    """The arXiv abstract page of an arXiv id; "" for anything else (no link is ever made of it).

    >>> abs_url("2401.01234v2"), abs_url("not-an-id")
    ('https://arxiv.org/abs/2401.01234v2', '')
    """
    return f"https://arxiv.org/abs/{clean_id(paper_id)}" if canonical_id(paper_id) else ""


def paper_text(title: str, abstract: str) -> str:
    """The one text recipe for a paper, used by training, evaluation and indexing alike.

    >>> paper_text("Attention Is All You Need", "The dominant sequence transduction models...")
    'Attention Is All You Need. The dominant sequence transduction models...'
    """
    return _join(clean(title), clean(abstract))


def _join(title: str, abstract: str) -> str:
    if not title:
        return abstract
    sep = " " if title[-1] in ".?!" else ". "
    return f"{title}{sep}{abstract}" if abstract else title


# ---- the category and date filter --------------------------------------------------------------
@dataclass(frozen=True)
class CategoryFilter:
    """Which papers a step keeps: categories (exact names and archive prefixes; a paper matches
    when any listed category does, as arXiv cross-lists count) and an update_date range.

    >>> CategoryFilter.build("cs.*,stat.ML", since="2024-01-01").category_ok(["math.ST", "stat.ML"])
    True
    """

    exact: frozenset[str] = frozenset()
    prefixes: tuple[str, ...] = ()
    since: str | None = None  # ISO dates compare correctly as strings
    until: str | None = None

    def __post_init__(self):
        # bytes twins for the byte-level pre-filter, which never decodes a line
        object.__setattr__(self, "exact_b", frozenset(c.encode() for c in self.exact))
        object.__setattr__(self, "prefixes_b", tuple(c.encode() for c in self.prefixes))
        object.__setattr__(self, "since_b", self.since.encode() if self.since else None)
        object.__setattr__(self, "until_b", self.until.encode() if self.until else None)

    @classmethod
    def build(cls, categories: str | Iterable[str] | None, since=None, until=None) -> CategoryFilter:
        """From "cs.CL", "cs.*", "math.AG,hep-th" (or a list) and ISO dates."""
        if isinstance(categories, str):
            categories = [c for c in re.split(r"[,\s]+", categories) if c]
        exact, prefixes = set(), []
        for c in categories or ():
            if c.endswith("*"):
                # "cs.*" and "cs*" both mean the archive cs: match "cs." and "cs" exactly, never
                # "physics.optics" (a bare substring test for "cs." would).
                stem = c.rstrip("*").rstrip(".")
                prefixes.append(stem + ".")
                exact.add(stem)
            else:
                exact.add(c)
        return cls(frozenset(exact), tuple(prefixes), iso_date(since), iso_date(until))

    @property
    def active(self) -> bool:
        return bool(self.exact or self.prefixes or self.since or self.until)

    def category_ok(self, cats: Iterable[str]) -> bool:
        if not (self.exact or self.prefixes):
            return True
        return any(c in self.exact or c.startswith(self.prefixes) for c in cats)

    def date_ok(self, date: str | None) -> bool:
        if not (self.since or self.until):
            return True
        if not date:
            return False
        return (not self.since or date >= self.since) and (not self.until or date <= self.until)


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def valid_date(value) -> str | None:
    """The ISO date ``value`` starts with when it is a real calendar day, else None: a record's
    impossible date (2026-13-45) is treated as missing, never an error that stops a step.

    >>> valid_date("2026-11-20T18:00:00Z"), valid_date("2026-13-45")
    ('2026-11-20', None)
    """
    s = str(value or "").strip()[:10]
    if not _DATE.fullmatch(s):
        return None
    try:
        date.fromisoformat(s)
    except ValueError:
        return None
    return s


def iso_date(d) -> str | None:
    """An ISO date string from a date, a datetime or a string starting with one; None for None or "".

    >>> iso_date("2026-11-20T05:00:00Z")
    '2026-11-20'
    """
    if d is None or d == "":
        return None
    s = str(d)[:10]
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", s):
        raise ValueError(f"dates must look like 2024-01-31, got {d!r}")
    return s


# ---- one Kaggle record -> the corpus schema ----------------------------------------------------------
def parse_record(line: bytes, normalized: bool = True) -> dict | str:
    """A normalised paper dict, or the reason the line is bad (one of BAD_REASONS).

    ``normalized=False`` only validates (cheap): the raw record comes back.
    """
    try:
        rec = orjson.loads(line)
    except orjson.JSONDecodeError:
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            return "invalid_utf8"
        return "invalid_json"
    if not isinstance(rec, dict):
        return "not_an_object"
    if normalized:
        return normalize(rec)
    return rec if _valid(rec) else "missing_field"


def _valid(rec: dict) -> bool:
    """What normalize() requires, without building the cleaned strings."""
    pid, title, abstract, cats = rec.get("id"), rec.get("title"), rec.get("abstract"), rec.get("categories")
    return (
        isinstance(pid, str) and bool(pid.strip())
        and isinstance(title, str) and not title.isspace() and bool(title)
        and isinstance(abstract, str) and not abstract.isspace() and bool(abstract)
        and ((isinstance(cats, str) and bool(cats.split())) or (isinstance(cats, list) and bool(cats)))
    )


def normalize(rec: dict) -> dict | str:
    """Kaggle record -> the corpus schema (PAPER_COLUMNS), or "missing_field"."""
    pid, title, abstract, cats = rec.get("id"), rec.get("title"), rec.get("abstract"), rec.get("categories")
    if not (isinstance(pid, str) and pid.strip() and isinstance(title, str) and isinstance(abstract, str)):
        return "missing_field"
    title, abstract = clean(title), clean(abstract)
    if isinstance(cats, str):
        cats = cats.split()
    if not (title and abstract and isinstance(cats, list) and cats):
        return "missing_field"
    authors = rec.get("authors")
    cats = [c for c in map(clean_category, cats) if c]
    if not cats or not clean_id(pid):
        return "missing_field"
    return {
        "id": clean_id(pid),
        "title": title,
        "abstract": abstract,
        "categories": cats,
        "primary_category": cats[0],
        "authors": clean(authors) if isinstance(authors, str) else "",
        "update_date": str(rec.get("update_date") or ""),
        "text": _join(title, abstract),  # paper_text() of the cleaned strings
    }


# ---- corpora on disk ---------------------------------------------------------------------------
def to_frame(rows: list[dict]):
    """Corpus rows (dicts of PAPER_COLUMNS) -> DataFrame, built by column (faster than from a
    list of dicts).

    >>> papers = to_frame([normalize(rec) for rec in records])
    """
    import pandas as pd  # after the pass: forked workers need not carry it

    return pd.DataFrame({c: [r[c] for r in rows] for c in PAPER_COLUMNS}, columns=PAPER_COLUMNS)
