"""A reader's library: the papers they liked (and disliked), from BibTeX, ids or the page's likes.

    lib = load_library("my.bib")                         # Zotero, Mendeley, Google Scholar, arXiv exports
    lib = load_library(["2401.01234", "https://arxiv.org/abs/hep-th/9901001v2"], disliked="meh.bib")
    lib = load_library("reading_list.json")              # what the page saved (liked and disliked)
    print(lib.report())                                  # what was found, merged, and not matched
    to_bibtex(index.meta[index.meta.id.isin(lib.liked)]) # a reading list as BibTeX

arXiv ids are read from the fields exporters put them in (``eprint``, ``arxivid``, ``doi``
10.48550/arXiv.X, ``url``, then ``journal``/``note``/``eid``/``number``/``pages``, and a CoRR
``volume``), old-style ids included (``hep-th/9901001``, ``math.GT/0309136`` -> ``math/0309136``);
versions are dropped and duplicates merged by id, not by BibTeX key. A new-style number is only
taken where arXiv is named (a field for it, a URL, "arXiv:"), never from free text, where
1234.5678 may be a page range. Entries without an id are reported, never fatal.
"""

from __future__ import annotations

import codecs
import json
import logging
import re
import sys
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..artifacts import write_json
from ..papers.corpus import canonical_id
from .arxiv_api import ArxivAPIError
from .zotero import zotero_items

_NEW = r"(?P<new>\d{2}(?:0[1-9]|1[0-2])\.\d{4,5})(?:v\d+)?"  # YYMM.NNNN (2007-14) / YYMM.NNNNN (2015-)
_OLD = r"(?P<old>[a-z]+(?:-[a-z]+)?)(?:\.[a-z]{2})?/(?P<oldnum>\d{2}(?:0[1-9]|1[0-2])\d{3})(?:v\d+)?"
_ID = rf"(?:{_NEW}|{_OLD})(?![\d.])"
R_BARE = re.compile(rf"^\s*(?:arxiv:\s*)?{_ID}\s*(?:\[[^\]]*\])?\s*$", re.I)  # "2401.01234v2", "arXiv:1706.03762 [cs]"
R_DOI = re.compile(rf"10\.48550/arxiv\.{_ID}", re.I)
R_URL = re.compile(rf"arxiv\.org/(?:abs|pdf|html|format)/{_ID}", re.I)
R_TEXT = re.compile(rf"\barxiv\b(?:\s*preprint)?(?:\s*arxiv)?\s*[:\s]\s*(?:arxiv-)?{_ID}", re.I)
R_ABS = re.compile(r"^\s*abs/(?P<new>\d{4}\.\d{4,5})(?:v\d+)?\s*$", re.I)
TEXT_FIELDS = ("journal", "note", "eid", "number", "pages", "howpublished", "annote", "comment")


def _squeeze(text) -> str:
    """Runs of whitespace as one space: every pattern's ``\\s*`` then matches at most one
    character, so matching stays linear on any input (a line of 8,000 spaces took seconds)."""
    return " ".join(str(text or "").split())


def _canonical(m: re.Match) -> str:
    return m["new"] if m["new"] else f"{m['old'].lower()}/{m['oldnum']}"


def arxiv_id(text: str) -> str | None:
    """The versionless arXiv id in an id, an "arXiv:" reference or an arXiv URL; None if there is none.

    >>> arxiv_id("https://arxiv.org/pdf/2401.01234v3.pdf")
    '2401.01234'
    """
    text = _squeeze(text)
    for rx in (R_BARE, R_URL, R_DOI, R_TEXT):
        m = rx.search(text)
        if m:
            return _canonical(m)
    return None


def id_from_fields(fields: dict[str, str]) -> str | None:
    """The arXiv id of one BibTeX entry (field names lowercased), by the exporters' conventions.

    >>> id_from_fields({"journal": "arXiv preprint arXiv:1810.04805"})
    '1810.04805'
    """
    f = {k.lower(): _squeeze(v) for k, v in fields.items() if v is not None}
    archive = (f.get("archiveprefix") or f.get("eprinttype") or "arxiv").strip().lower()
    candidates = [(R_BARE, f.get("eprint")) if archive == "arxiv" else (None, None), (R_BARE, f.get("arxivid")),
                  (R_DOI, f.get("doi")), (R_URL, f.get("url")), (R_URL, f.get("eprint"))]
    candidates += [(rx, f.get(name)) for name in TEXT_FIELDS for rx in (R_TEXT, R_URL)]
    for rx, value in candidates:
        m = rx.search(value) if rx is not None and value else None
        if m:
            return _canonical(m)
    if re.fullmatch(r"\s*(corr|arxiv)\s*", f.get("journal", ""), re.I):
        m = R_ABS.match(f.get("volume", ""))
        if m:
            return m["new"]
    return None


@dataclass
class Unmatched:
    """A library entry with no arXiv id that could be found."""

    source: str  # the file (or "ids")
    key: str  # BibTeX key, or the text given
    title: str
    reason: str

    def __str__(self) -> str:
        title = f" {self.title[:70]!r}" if self.title else ""
        return f"{self.source}: {self.key}{title}: {self.reason}"


@dataclass
class Library:
    """Liked and disliked arXiv ids (versionless, in order, no duplicates) and what was not matched."""

    liked: list[str] = field(default_factory=list)
    disliked: list[str] = field(default_factory=list)
    unmatched: list[Unmatched] = field(default_factory=list)
    entries: int = 0  # entries and lines read
    duplicates: int = 0  # merged because they named a paper already in the library

    def __len__(self) -> int:
        return len(self.liked) + len(self.disliked)

    def report(self) -> str:
        """What was read, in a few lines: counts, duplicates merged, every entry not matched."""
        lines = [f"library: {len(self.liked)} liked, {len(self.disliked)} disliked papers from {self.entries} entries"
                 + (f" ({self.duplicates} duplicates merged)" if self.duplicates else "")]
        if self.unmatched:
            lines.append(f"{len(self.unmatched)} entries not matched to an arXiv paper (left out):")
            lines += [f"  {u}" for u in self.unmatched]
        return "\n".join(lines)

    def match_titles(self, index) -> int:
        """Match unmatched entries by exact title (case, accents and punctuation ignored) to one
        paper of ``index``; returns how many were matched (a published version's BibTeX often has
        no arXiv id, but the same title)."""
        by_title: dict[str, list[str]] = {}
        for pid, title in zip(index.meta["id"], index.meta["title"]):
            by_title.setdefault(_title_key(title), []).append(pid)
        still, n = [], 0
        for u in self.unmatched:
            hits = by_title.get(_title_key(u.title), []) if u.title else []
            if len(hits) == 1:
                n += 1
                if hits[0] not in self.liked and hits[0] not in self.disliked:
                    (self.disliked if u.source.startswith("disliked:") else self.liked).append(hits[0])
            else:
                still.append(u)
        self.unmatched = still
        return n

    def missing(self, index) -> list[str]:
        """Library ids the index does not hold."""
        return [i for i in self.liked + self.disliked if not index.contains(i)]


def _title_key(title: str) -> str:
    t = unicodedata.normalize("NFKD", str(title)).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "", t)


# ---- reading ----------------------------------------------------------------------------------
BIB_PART_BYTES = 512 << 10  # a larger .bib is parsed in parts of about this size, with a progress bar
_AT_LINE = re.compile(r"^[ \t]*@", re.M)
_STRING = re.compile(r"^[ \t]*@string\s*[{(].*?[})][ \t]*$", re.I | re.M | re.S)


def _bib_parts(text: str, size: int) -> list[tuple[int, str]]:
    """(first line number, text) of parts of about ``size`` characters, cut where an entry starts."""
    cuts, last = [0], 0
    for m in _AT_LINE.finditer(text):
        if m.start() - last >= size:
            cuts.append(m.start())
            last = m.start()
    cuts.append(len(text))
    parts, line = [], 0
    for a, b in zip(cuts, cuts[1:]):
        parts.append((line, text[a:b]))
        line += text.count("\n", a, b)
    return parts


def read_bibtex(text: str, source: str = "bibtex", part_bytes: int = BIB_PART_BYTES,
                progress: bool | None = None) -> tuple[list[str], list[Unmatched], int, int]:
    """(arXiv ids in order, unmatched entries, entries read, duplicates merged) of a BibTeX text.
    A text larger than ``part_bytes`` is parsed part by part with a progress bar (bibtexparser
    reads ~5 s a MB: a 10 MB export takes a minute); ``@string`` macros reach every part.

    >>> ids, unmatched, entries, duplicates = read_bibtex(open("my.bib").read())
    """
    import bibtexparser
    from bibtexparser.middlewares import LatexDecodingMiddleware, NormalizeFieldKeys
    from tqdm.auto import tqdm

    middleware = [NormalizeFieldKeys(allow_inplace_modification=True), LatexDecodingMiddleware()]
    parts = _bib_parts(text, part_bytes)
    macros = "".join(m.group(0) + "\n" for m in _STRING.finditer(text)) if len(parts) > 1 else ""
    shift = macros.count("\n")
    entries, unmatched = [], []
    quiet = logging.getLogger("bibtexparser")
    level, quiet.level = quiet.level, logging.ERROR  # its warnings repeat what the report says
    bar = tqdm(total=len(text), desc=f"reading {source}", unit="B", unit_scale=True, file=sys.stderr,
               disable=not (progress if progress is not None else len(parts) > 1))
    try:
        for first_line, part in parts:
            lib = bibtexparser.parse_string(macros + part, append_middleware=middleware)
            entries += lib.entries
            for block in lib.failed_blocks:
                if type(block).__name__ == "DuplicateBlockKeyBlock":
                    # exports repeat keys; the ignored block skipped the middlewares: parse it on its own
                    entries += bibtexparser.parse_string(block.raw, append_middleware=middleware).entries
                elif block.start_line >= shift:  # a macro repeated for this part is the first part's to report
                    first = block.raw.strip().splitlines()[0][:60] if block.raw.strip() else "?"
                    unmatched.append(Unmatched(source, f"line {block.start_line - shift + first_line + 1}", "",
                                               f"not valid BibTeX, skipped ({first!r})"))
            bar.update(len(part))
    finally:
        quiet.level = level
        bar.close()
    ids, seen, dups = [], set(), 0
    for e in entries:
        fields = {f.key.lower(): f.value for f in e.fields}
        pid = id_from_fields(fields)
        if pid is None:
            where = ", ".join(k for k in ("eprint", "url", "doi", "journal", "note") if k in fields) or "no such fields"
            unmatched.append(Unmatched(source, e.key, _flat(fields.get("title", "")),
                                       f"no arXiv id in eprint, url, doi, journal or note ({where})"))
        elif pid in seen:
            dups += 1
        else:
            seen.add(pid)
            ids.append(pid)
    if not entries and text.strip():
        unmatched.append(Unmatched(source, "(the whole file)", "", "no BibTeX entry found in it"))
    return ids, unmatched, len(entries), dups


def _flat(s) -> str:
    return " ".join(str(s).replace("{", "").replace("}", "").split())


def read_ids(items: Iterable[str], source: str = "ids") -> tuple[list[str], list[Unmatched], int, int]:
    """(ids, unmatched, read, duplicates) of arXiv ids or URLs, one per item (an item may hold
    several, comma-separated, as ``--library 2401.01234,2312.04567`` does); '#' starts a comment."""
    ids, unmatched, n, dups = [], [], 0, 0
    pieces = (p for raw in items for p in str(raw).split("#", 1)[0].split(","))
    for piece in pieces:
        item = piece.strip()
        if not item:
            continue
        n += 1
        pid = arxiv_id(item)
        if pid is None:
            unmatched.append(Unmatched(source, item[:60], "", "not an arXiv id or URL"))
        elif pid in ids:
            dups += 1
        else:
            ids.append(pid)
    return ids, unmatched, n, dups


def read_zotero(source: str, name: str) -> tuple[list[str], list[Unmatched], int, int]:
    """(ids, unmatched, entries, duplicates) of a Zotero library: each item's arXiv id where Zotero
    keeps it (``archiveID``, the arXiv DOI, the URL, ``extra``); an item without one stays unmatched
    with its title, for :meth:`Library.match_titles`.

    >>> ids, unmatched, n, dup = read_zotero("zotero:1234567", "zotero:1234567")
    """
    ids: list[str] = []
    unmatched: list[Unmatched] = []
    items = zotero_items(source)
    for item in items:
        pid = id_from_fields(item["fields"])
        if pid is None:
            unmatched.append(Unmatched(name, item["key"], item["title"], "no arXiv id in Zotero (its title may match)"))
        elif pid not in ids:
            ids.append(pid)
    return ids, unmatched, len(items), len(items) - len(unmatched) - len(ids)


def _read_source(src, label: str) -> tuple[list[str], list[str], list[Unmatched], int, int]:
    """(liked, disliked, unmatched, read, duplicates) of one source: a .bib/.json/text file, a
    comma-separated string of ids, or a list of ids."""
    if not isinstance(src, str | Path):
        ids, um, n, d = read_ids(src, f"{label}ids")
        return ids, [], um, n, d
    if isinstance(src, str) and _ZOTERO.match(src):
        ids, um, n, d = read_zotero(src.strip(), f"{label}{src.strip()}")
        return ids, [], um, n, d
    path = Path(str(src)).expanduser()
    if not path.is_file():
        if isinstance(src, Path) or _FILE.search(str(src)):
            raise FileNotFoundError(f"No library file at {path}; pass a .bib export, a reading_list.json "
                                    "or a list of arXiv ids")
        ids, um, n, d = read_ids(str(src).split(","), f"{label}ids")
        return ids, [], um, n, d
    text = read_text(path)
    name = f"{label}{path.name}"
    if path.suffix.lower() == ".json":
        data = _reading_list_data(text, path)
        liked, um1, n1, d1 = read_ids(data["liked"], name)
        disliked, um2, n2, d2 = read_ids(data["disliked"], name)
        return liked, disliked, um1 + um2, n1 + n2, d1 + d2
    if path.suffix.lower() == ".bib" or re.search(r"^\s*@\w+\s*[{(]", text, re.M):
        ids, um, n, d = read_bibtex(text, name)
        return ids, [], um, n, d
    ids, um, n, d = read_ids(text.splitlines(), name)
    return ids, [], um, n, d


def load_library(liked=None, disliked=None) -> Library:
    """A library from any mix of sources for the liked papers and for the disliked ones: a BibTeX
    file, a reading_list.json saved by the page (it holds both), a text file of ids/URLs (one a
    line), a comma-separated string of ids, a list of ids, or a Zotero library
    (``zotero:USER_ID``, ``zotero:groups/ID``, ``.../collections/KEY``: :mod:`arxiv_reco.reader.zotero`). A paper rated twice keeps its first
    rating: the liked sources are read first, in order, then the disliked ones.

    >>> lib = load_library(["my.bib", "reading_list.json"], disliked="2402.00001")
    """
    lib = Library()
    for sources, label in ((liked, ""), (disliked, "disliked:")):
        for src in _sources(sources):
            pos, neg, um, n, d = _read_source(src, label)
            lib.entries += n
            lib.unmatched += um
            lib.duplicates += d
            for pid, is_liked in [(p, not label) for p in pos] + [(p, False) for p in neg]:
                if pid in lib.liked or pid in lib.disliked:
                    lib.duplicates += 1
                else:
                    (lib.liked if is_liked else lib.disliked).append(pid)
    return lib


_FILE = re.compile(r"\.(bib|json|txt)$", re.I)
_ZOTERO = re.compile(r"\s*zotero:", re.I)  # a Zotero library (zotero.py)


def _sources(x) -> list:
    """One source, or a list of sources, or a list of ids (one source)."""
    if x is None:
        return []
    if isinstance(x, str | Path):
        return [x]
    x = list(x)
    if all(isinstance(s, str) and not _FILE.search(s) and not _ZOTERO.match(s) and not Path(s).expanduser().is_file()
           for s in x):
        return [x]
    return x


def complete_library(lib: Library, index, index_dir: str | Path | None = None, api=None, fetch: bool = True,
                     say=print) -> Library:
    """Make ``lib`` fit ``index``: fetch its papers the index lacks from the arXiv API and add
    them (saved to ``index_dir``), match id-less entries by title, and report what is left out
    through ``say``. A failed fetch is reported, never fatal.

    >>> lib = complete_library(load_library("my.bib"), index, "index/")
    """
    # update.py brings pandas; reading a library needs none
    from .update import add_papers_by_id

    missing = lib.missing(index)
    if fetch and missing:
        say(f"fetching {len(missing)} library papers missing from the index from arXiv…")
        try:
            added = add_papers_by_id(index, missing, api, save_to=index_dir)
            say(f"added {len(added)} paper{'s' * (len(added) != 1)} to the index")
        except ArxivAPIError as e:
            say(f"could not fetch them ({e}); going on without them (--no-fetch skips the fetch)")
    lib.match_titles(index)
    say(lib.report())
    missing = lib.missing(index)
    if missing:
        say(f"{len(missing)} library papers are not in the index (left out): {', '.join(missing[:10])}"
            + (" …" if len(missing) > 10 else ""))
    return lib


# ---- the page's reading list --------------------------------------------------------------------
def reading_list_path(index_dir: str | Path) -> Path:
    """Where the page keeps likes for an index: ``reading_list.json`` beside the index folder."""
    return Path(index_dir).expanduser().parent / "reading_list.json"


def read_reading_list(path: str | Path) -> dict[str, list[str]]:
    """{"liked": [...], "disliked": [...]} saved by :func:`save_reading_list` (empty if none); a
    plain JSON list is the liked papers; what is not an arXiv id is left out (ids reach the page's
    links, so only canonical ids pass).

    >>> read_reading_list("reading_list.json")["liked"]
    """
    try:
        data = _reading_list_data(read_text(Path(path)), Path(path))
    except FileNotFoundError:
        return {"liked": [], "disliked": []}
    return {k: list(dict.fromkeys(i for i in map(canonical_id, data[k]) if i)) for k in ("liked", "disliked")}


def _reading_list_data(text: str, path: Path) -> dict[str, list]:
    """A library .json's {"liked": [...], "disliked": [...]} (a list: the liked papers)."""
    try:
        data = json.loads(text)
    except ValueError as e:
        raise ValueError(f"{path} is not valid JSON ({e}); a library .json is a list of arXiv ids or "
                         '{"liked": [...], "disliked": [...]}') from None
    if isinstance(data, list):
        data = {"liked": data}
    ok = isinstance(data, dict) and all(isinstance(data.get(k, []), list) for k in ("liked", "disliked"))
    if not ok:
        raise ValueError(f"{path} holds a JSON {type(data).__name__}; a library .json is a list of arXiv ids or "
                         '{"liked": [...], "disliked": [...]}')
    return {k: [str(x) for x in data.get(k, []) if isinstance(x, str | int | float)] for k in ("liked", "disliked")}


def read_text(path: Path) -> str:
    """A library file's text in whatever Unicode encoding its byte-order mark says (UTF-8
    otherwise, a stray byte replaced); a binary file is refused in one line.

    >>> read_text(Path("my.bib"))[:9]
    '@article{'
    """
    data = path.read_bytes()
    for bom, encoding in ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
                          (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
                          (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            return data.decode(encoding, errors="replace")
    head = data[:4096]
    if head and head.count(0) > len(head) // 4:  # UTF-16 without a mark: every other byte is zero
        zeros_odd = head[1::2].count(0) > head[0::2].count(0)
        try:
            return data.decode("utf-16-le" if zeros_odd else "utf-16-be")
        except UnicodeDecodeError:
            pass
    if b"\0" in head or (head and sum(b < 9 or 13 < b < 32 for b in head) > len(head) // 10):
        raise ValueError(f"{path} is not a text file (binary content); export your library as BibTeX (.bib) "
                         "or list arXiv ids one per line")
    return data.decode("utf-8", errors="replace")


def save_reading_list(path: str | Path, liked: Sequence[str], disliked: Sequence[str]) -> Path:
    """Replace the reading list file atomically."""
    return write_json(path, {"liked": list(dict.fromkeys(liked)), "disliked": list(dict.fromkeys(disliked))})


# ---- writing BibTeX -------------------------------------------------------------------------------
def _year(pid: str, date: str) -> str:
    m = re.match(r"^(\d{2})\d{2}\.", pid) or re.search(r"/(\d{2})\d{5}$", pid)
    if m:
        yy = int(m[1])
        return str(1900 + yy if yy >= 91 else 2000 + yy)
    return str(date or "")[:4]


def _braced(s: str) -> str:
    """Text safe inside {...}: unbalanced braces would break the entry."""
    s = " ".join(str(s).split())
    depth = 0
    for ch in s:
        depth += (ch == "{") - (ch == "}")
        if depth < 0:
            break
    return s if depth == 0 else s.replace("{", "").replace("}", "")


def to_bibtex(papers) -> str:
    """BibTeX entries for papers (rows with id, title, authors, primary_category, update_date), in
    the shape of arXiv's own "Export BibTeX citation".

    >>> print(to_bibtex(index.meta[index.meta["id"].isin(liked)]))
    """
    rows = papers.to_dict("records") if hasattr(papers, "to_dict") else list(papers)
    out, keys = [], set()
    for r in rows:
        pid = str(r["id"])
        authors = [a.strip() for a in re.split(r",\s*|\s+and\s+", str(r.get("authors") or "")) if a.strip()]
        last = unicodedata.normalize("NFKD", authors[0].split()[-1] if authors else "arxiv")
        word = re.sub(r"[^a-z]", "", (re.findall(r"[A-Za-z]{4,}", str(r.get("title", ""))) or ["paper"])[0].lower())
        key = re.sub(r"[^a-z0-9]", "", last.encode("ascii", "ignore").decode().lower()) + _year(pid, r.get("update_date")) + word
        base, n = key, 1
        while key in keys:
            n += 1
            key = f"{base}{n}"
        keys.add(key)
        fields = [("title", _braced(r.get("title", ""))), ("author", _braced(" and ".join(authors))),
                  ("year", _year(pid, r.get("update_date"))), ("eprint", pid), ("archivePrefix", "arXiv"),
                  ("primaryClass", str(r.get("primary_category") or "")), ("url", f"https://arxiv.org/abs/{pid}")]
        body = ",\n".join(f"      {k}={{{v}}}" for k, v in fields if v)
        out.append(f"@misc{{{key},\n{body},\n}}\n")
    return "\n".join(out)
