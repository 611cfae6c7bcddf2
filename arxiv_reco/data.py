"""Read the Kaggle arXiv snapshot (JSON Lines, plain/.gz/.zip) and sampled corpora (Parquet).

One pass, bounded memory, whatever the file size::

    papers, report = sample_papers("arxiv-metadata-oai-snapshot.json", n=10_000, categories="cs.*")
    print(report)

How it stays fast on a 4.6 GB file: each 8 MB block is searched at the byte level (the
``"categories"`` field is found with ``bytes.find`` and tested by one anchored regex; dates are
sliced out without parsing), so a line that fails the filters never becomes a Python object.
The sample is the n papers with the smallest ``hash(seed, id)`` (bottom-k sampling: a
reservoir sample whose result depends only on the seed and the set of valid records, not on
the order they are seen), so plain files are split across processes with an identical result
for any worker count, and only the winners are parsed with orjson.

Bad lines never stop a pass: invalid JSON, invalid UTF-8, a record without id/title/abstract/
categories, a duplicate id are skipped and counted in the :class:`LoadReport`. A record is
checked when it is parsed: when it is among the winners (a bad winner is replaced by the next
candidate), or when its layout is unusual, or always in :func:`iter_papers`. A line that fails
the byte-level filter is counted as filtered out.
"""

from __future__ import annotations

import contextlib
import gzip
import heapq
import importlib
import io
import os
import re
import sys
import threading
import time
import zipfile
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import orjson
import xxhash

PAPER_COLUMNS = ["id", "title", "abstract", "categories", "primary_category", "authors", "update_date", "text"]
BAD_REASONS = ("invalid_json", "invalid_utf8", "not_an_object", "missing_field", "duplicate_id")
# Bumped whenever paper_text() changes: indexes and models record it so a mismatch is caught.
TEXT_RECIPE = "title. abstract v1"

_BLOCK = 8 << 20  # bytes read at a time per worker: memory stays flat whatever the file size
_PARALLEL_MIN_BYTES = 64 << 20  # below this, starting processes costs more than it saves


class SnapshotFormatError(ValueError):
    """The file is not the Kaggle JSON Lines snapshot (or a Parquet corpus where one is accepted)."""


# ---- the text a model sees -------------------------------------------------------------------
def clean(s: str | None) -> str:
    """Collapse whitespace and newlines (arXiv wraps titles and abstracts at ~80 columns).

    Same result as ``" ".join(s.split())``, several times faster on the usual ASCII abstract whose
    lines wrap with single newlines: after the newlines become spaces, an ASCII string that is
    printable holds no other whitespace than single spaces, or it takes the general path.
    """
    if not s:
        return ""
    if s.isascii():
        t = s.replace("\n", " ").strip()
        if "  " not in t and t.isprintable():
            return t
    return " ".join(s.split())


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


# ---- report ----------------------------------------------------------------------------------
@dataclass
class LoadReport:
    """What a pass over a snapshot saw: printed by notebooks and the CLI."""

    path: str = ""
    lines: int = 0  # non-blank lines read
    filtered_out: int = 0  # valid-looking lines rejected by the category/date filters
    matched: int = 0  # lines that passed the filters
    parsed: int = 0  # lines fully parsed (matched and a sampling candidate)
    kept: int = 0  # papers returned
    bad: dict[str, int] = field(default_factory=lambda: dict.fromkeys(BAD_REASONS, 0))
    bad_examples: list[str] = field(default_factory=list)  # "line-offset: reason" for the first few
    seconds: float = 0.0
    bytes: int = 0

    @property
    def skipped(self) -> int:
        return sum(self.bad.values())

    def merge(self, other: LoadReport) -> None:
        for name in ("lines", "filtered_out", "matched", "parsed", "bytes"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for k, v in other.bad.items():
            self.bad[k] = self.bad.get(k, 0) + v
        self.bad_examples = (self.bad_examples + other.bad_examples)[:5]

    def count_bad(self, reason: str, where: int | str) -> None:
        self.bad[reason] += 1
        if len(self.bad_examples) < 5:
            self.bad_examples.append(f"{where}: {reason}")

    def __str__(self) -> str:
        rate = self.bytes / self.seconds / 1e6 if self.seconds else 0.0
        bad = ", ".join(f"{k} {v:,}" for k, v in self.bad.items() if v) or "none"
        return (
            f"{self.path}: {self.lines:,} lines in {self.seconds:.1f}s ({rate:.0f} MB/s); "
            f"{self.matched:,} matched the filters, {self.filtered_out:,} filtered out, "
            f"{self.parsed:,} parsed, {self.kept:,} kept; skipped bad records: {bad}"
        )

    def _repr_html_(self) -> str:  # a notebook shows the same one-liner, not a dataclass dump
        return f"<pre>{self}</pre>"


# ---- filters ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Filter:
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
    def build(cls, categories: str | Iterable[str] | None, since=None, until=None) -> _Filter:
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
        return cls(frozenset(exact), tuple(prefixes), _iso(since), _iso(until))

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


def _iso(d) -> str | None:
    if d is None or d == "":
        return None
    s = str(d)[:10]
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", s):
        raise ValueError(f"dates must look like 2024-01-31, got {d!r}")
    return s


def _field_bytes(line: bytes, key: bytes) -> bytes | None:
    """The raw value of a simple string field, sliced without parsing; None if not found.

    A key with unescaped quotes cannot occur inside a JSON string value, so a hit is the field.
    """
    i = line.find(key)
    if i < 0:
        return None
    j = i + len(key)
    while line[j : j + 1] == b" ":
        j += 1
    if line[j : j + 1] != b'"':
        return None
    k = line.find(b'"', j + 1)
    return line[j + 1 : k] if k > 0 else None


_CAT_KEY, _DATE_KEY, _ID_KEY = b'"categories":', b'"update_date":', b'"id":'


def _fast_reject(line: bytes, flt: _Filter) -> bool:
    """True when the byte-level look already shows the line fails the filters."""
    if flt.exact_b or flt.prefixes_b:
        cats = _field_bytes(line, _CAT_KEY)
        if cats is not None:
            exact, prefixes = flt.exact_b, flt.prefixes_b
            for c in cats.split():
                if c in exact or (prefixes and c.startswith(prefixes)):
                    break
            else:
                return True
    if flt.since_b or flt.until_b:
        date = _field_bytes(line, _DATE_KEY)
        if date is not None and (not date or (flt.since_b and date < flt.since_b) or (flt.until_b and date > flt.until_b)):
            return True
    return False


# ---- parsing one record --------------------------------------------------------------------
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
    return {
        "id": pid.strip(),
        "title": title,
        "abstract": abstract,
        "categories": [str(c) for c in cats],
        "primary_category": str(cats[0]),
        "authors": clean(authors) if isinstance(authors, str) else "",
        "update_date": str(rec.get("update_date") or ""),
        "text": _join(title, abstract),  # paper_text() of the cleaned strings
    }


def sample_key(seed: int, paper_id: str | bytes) -> int:
    """The paper's place in the seeded random order: a 64-bit hash of (seed, id).

    xxh3 is ~9x cheaper than blake2b here, and this runs for every matching line.
    """
    if isinstance(paper_id, str):
        paper_id = paper_id.encode()
    return xxhash.xxh3_64_intdigest(paper_id, seed & 0xFFFFFFFFFFFFFFFF)


# ---- opening files ---------------------------------------------------------------------------
def _open_binary(path: Path) -> io.BufferedIOBase:
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic[:2] == b"\x1f\x8b":
        return gzip.open(path, "rb")
    if magic == b"PK\x03\x04":  # Kaggle's download is a zip holding the snapshot
        zf = zipfile.ZipFile(path)
        members = [m for m in zf.infolist() if not m.is_dir()]
        if len(members) != 1:
            raise SnapshotFormatError(f"{path} is a zip with {len(members)} files; unzip it and pass the .json file")
        return zf.open(members[0])
    return open(path, "rb")


def check_snapshot(path: str | os.PathLike) -> Path:
    """Raise one clear error unless ``path`` is a readable JSON Lines file (plain, .gz or .zip)."""
    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(
            f"No snapshot at {path}. Download 'arxiv-metadata-oai-snapshot.json' from Kaggle "
            "(Cornell-University/arxiv) or use the bundled sample data/raw/arxiv_sample_2k.jsonl."
        )
    if path.is_dir():
        raise SnapshotFormatError(f"{path} is a folder; pass the arxiv-metadata-oai-snapshot.json file inside it")
    with open(path, "rb") as f:
        if f.read(4) == b"PAR1":
            raise SnapshotFormatError(
                f"{path} is a Parquet file, not JSON Lines. Load a sampled corpus with read_papers(), "
                "or pass the Kaggle snapshot (one JSON object per line)."
            )
    expected = "expected JSON Lines: one JSON object per line, like Kaggle's arxiv-metadata-oai-snapshot.json"
    with _open_binary(path) as f:
        head = f.read(1 << 20)
    text = head.lstrip()
    if not text:
        raise SnapshotFormatError(f"{path} is empty; {expected}")
    if text[:1] == b"[":
        raise SnapshotFormatError(f"{path} holds a JSON array, not JSON Lines; {expected}")
    lines = [ln for ln in text.split(b"\n")[:-1 if len(head) == 1 << 20 else None] if ln.strip()][:20]
    if not any(_is_json_object(ln) for ln in lines):
        first = lines[0][:60].decode("utf-8", "replace") if lines else ""
        kind = "a CSV file" if b"," in lines[0] and not text.startswith(b"{") else "not JSON Lines"
        raise SnapshotFormatError(f"{path} looks like {kind} (first line: {first!r}); {expected}")
    return path


def _is_json_object(line: bytes) -> bool:
    try:
        return isinstance(orjson.loads(line), dict)
    except orjson.JSONDecodeError:
        return False


def _iter_lines(f) -> Iterator[tuple[int, bytes]]:
    """(offset, line) for every line, read in fixed-size blocks."""
    for off, block, length in _iter_blocks(f):
        for line in bytes(block[:length]).split(b"\n"):
            yield off, line
            off += len(line) + 1


# ---- streaming all matching papers --------------------------------------------------------------
def iter_papers(
    path: str | os.PathLike,
    categories: str | Iterable[str] | None = None,
    since: str | None = None,
    until: str | None = None,
    limit: int | None = None,
    report: LoadReport | None = None,
) -> Iterator[dict]:
    """Yield normalised papers in file order, filtered, up to ``limit``; counts go to ``report``.

    >>> for paper in iter_papers("arxiv-metadata-oai-snapshot.json", categories="cs.CL", limit=5): ...
    """
    path = check_snapshot(path)
    report = report if report is not None else LoadReport()
    report.path = str(path)
    flt = _Filter.build(categories, since, until)
    seen: set[str] = set()
    t0 = time.perf_counter()
    with _open_binary(path) as f:
        for off, line in _iter_lines(f):
            report.bytes += len(line) + 1
            if not line.strip():
                continue
            report.lines += 1
            if flt.active and _fast_reject(line, flt):
                report.filtered_out += 1
                continue
            rec = parse_record(line)
            report.parsed += 1
            if isinstance(rec, str):
                report.count_bad(rec, f"byte {off}")
                continue
            if not (flt.category_ok(rec["categories"]) and flt.date_ok(rec["update_date"])):
                report.filtered_out += 1
                continue
            report.matched += 1
            if rec["id"] in seen:
                report.count_bad("duplicate_id", rec["id"])
                continue
            seen.add(rec["id"])
            report.kept += 1
            report.seconds = time.perf_counter() - t0
            yield rec
            if limit is not None and report.kept >= limit:
                return
    report.seconds = time.perf_counter() - t0


# ---- sampling --------------------------------------------------------------------------------
def _category_regex(flt: _Filter) -> re.Pattern:
    """Matches the categories field of lines that pass the category filter (all lines if none).

    Run over a whole block, it leaves rejected lines to C: no Python work per filtered line.
    A token must match whole: "cs.*" matches "cs.CL" and "cs", never "physics.optics".
    """
    alts = [re.escape(c.encode()) for c in sorted(flt.exact)]
    alts += [re.escape(p.encode()) + rb'[^" ]+' for p in flt.prefixes]
    look = rb'(?=(?:[^"]* )?(?:' + b"|".join(alts) + rb')[ "])' if alts else b""
    return re.compile(rb'"categories": ?"' + look + rb'([^"]*)"')


class _Sampler:
    """Bottom-n (key, offset) per stratum over the lines of one byte range (its state is real)."""

    def __init__(self, flt: _Filter, cap: int, stratify: bool, seed: int):
        self.flt, self.cap, self.stratify, self.seed = flt, cap, stratify, seed
        self.capped: set[str] = set()  # strata with more candidates than the cap kept
        self.report = LoadReport()
        self.heaps: dict[str, list[tuple[int, int]]] = {}  # stratum -> max-heap of (-key, -offset)
        self.members: dict[str, dict[int, list[int]]] = {}  # stratum -> key -> offsets of that id

    def block(self, off: int, block: bytearray, end: int, cat_re: re.Pattern) -> None:
        """The complete lines in block[:end]; the common Kaggle layout never leaves C for a
        line that fails the filter."""
        # numpy counts newlines ~3x faster than bytes.count
        lines = int(np.count_nonzero(np.frombuffer(block, np.uint8, end) == 10)) + 1
        # find() skips through the block (a 13-byte needle), an anchored match() tests the filter;
        # the number of fields found doubles as the check that every line has exactly one.
        find, match, hits, fields = block.find, cat_re.match, [], 0
        j = find(_CAT_KEY, 0, end)
        while j >= 0:
            fields += 1
            m = match(block, j, end)
            if m is not None:
                hits.append(m)
            j = find(_CAT_KEY, j + 13, end)
        if fields != lines:  # a blank line, a line without the field or with two: the slow way
            for line in bytes(block[:end]).split(b"\n"):
                self.line(off, line)
                off += len(line) + 1
            return
        report = self.report
        report.lines += lines
        report.filtered_out += lines - len(hits)
        dates = bool(self.flt.since_b or self.flt.until_b)
        stratify, offer, cap = self.stratify, self.offer, self.cap
        heap = self.heaps.setdefault("", []) if not stratify else None
        seed, xxh, rfind = self.seed & 0xFFFFFFFFFFFFFFFF, xxhash.xxh3_64_intdigest, block.rfind
        lost = 0
        for m in hits:
            ls = rfind(b"\n", 0, m.start()) + 1
            # Kaggle lines start with the id: read it in place, without slicing the line out
            if block.startswith(b'{"id":"', ls):
                i = ls + 7
            elif block.startswith(b'{"id": "', ls):
                i = ls + 8
            else:
                i = -1
            e = find(b'"', i, i + 65) if i > 0 else -1
            if e < 0 or dates or 92 in block[i:e]:  # 92: a backslash escape in the id
                le = find(b"\n", m.end(), end)
                line = bytes(block[ls : le if le >= 0 else end])
                if e < 0 or 92 in block[i:e]:
                    report.lines -= 1
                    self.line(off + ls, line)  # unusual layout: the careful path decides
                    continue
                if _fast_reject(line, self.flt):
                    report.filtered_out += 1  # outside the date range
                    continue
            if stratify:
                offer(block[i:e].decode("utf-8", "replace"), m.group(1).split(b" ", 1)[0].decode("ascii", "replace"), off + ls)
                continue
            # the common case, inlined: most candidates lose to the heap's largest key
            key = xxh(block[i:e], seed)
            if len(heap) >= cap and key >= -heap[0][0]:
                lost += 1
                continue
            offer(block[i:e].decode("utf-8", "replace"), "", off + ls, key)
        if lost:  # matched, but beyond the cap smallest keys: tallied once per block
            report.matched += lost
            self.capped.add("")

    def line(self, off: int, line: bytes) -> None:
        """One line, checked field by field (the slow, careful path)."""
        if not line.strip():
            return
        self.report.lines += 1
        flt = self.flt
        if flt.active and _fast_reject(line, flt):
            self.report.filtered_out += 1
            return
        raw_id = _field_bytes(line, _ID_KEY)
        raw_cats = _field_bytes(line, _CAT_KEY)
        if raw_id is None or raw_cats is None or b"\\" in raw_id:
            rec = parse_record(line)
            self.report.parsed += 1
            if isinstance(rec, str):
                self.report.count_bad(rec, f"byte {off}")
                return
            if not (flt.category_ok(rec["categories"]) and flt.date_ok(rec["update_date"])):
                self.report.filtered_out += 1
                return
            self.offer(rec["id"], rec["primary_category"] if self.stratify else "", off)
            return
        stratum = raw_cats.split(b" ", 1)[0].decode("ascii", "replace") if self.stratify else ""
        self.offer(raw_id.decode("utf-8", "replace"), stratum, off)

    def offer(self, pid: str, stratum: str, off: int, key: int | None = None) -> None:
        """A record that passed the filters: a candidate if its key is among the cap smallest.

        Candidates are validated later, winners only (see _select): parsing every heap entrant
        would cost ~3x more parses than the sample has papers.
        """
        self.report.matched += 1
        key = sample_key(self.seed, pid) if key is None else key
        heap = self.heaps.setdefault(stratum, [])
        seen = self.members.setdefault(stratum, {})
        if len(heap) >= self.cap and key >= -heap[0][0]:
            self.capped.add(stratum)
            return
        if key in seen:  # the same id again: which copy is valid is settled in _select
            seen[key].append(off)
            return
        seen[key] = [off]
        if len(heap) < self.cap:
            heapq.heappush(heap, (-key, -off))
        else:
            self.capped.add(stratum)
            old, _ = heapq.heappushpop(heap, (-key, -off))
            del seen[-old]

    def result(self):
        """{stratum: [(key, [offsets of that id])]}, capped strata, report."""
        return {s: [(-k, self.members[s][-k]) for k, _ in h] for s, h in self.heaps.items()}, self.capped, self.report


def _iter_blocks(f, start: int = 0, end: int | None = None) -> Iterator[tuple[int, bytearray, int]]:
    """(file offset, buffer, length) where buffer[:length] holds whole lines (no final newline),
    for the lines starting in [start, end).

    One buffer is reused (readinto, no copies of 8 MB blocks): use it before the next step.
    """
    buf, filled, pos = bytearray(_BLOCK), 0, start  # pos: the file offset of buf[0]
    while True:
        want = len(buf) - filled if end is None else min(len(buf) - filled, end - pos - filled)
        with memoryview(buf) as mv, mv[filled : filled + max(want, 0)] as part:
            got = f.readinto(part) if want > 0 else 0
        filled += got
        if not got:
            if filled:  # an unterminated last line
                yield pos, buf, filled
            return
        cut = buf.rfind(b"\n", 0, filled)
        if cut < 0:
            if filled == len(buf):
                buf.extend(bytes(len(buf)))  # a line longer than the buffer
            continue
        yield pos, buf, cut
        rest = filled - cut - 1
        buf[:rest] = buf[cut + 1 : filled]
        pos, filled = pos + cut + 1, rest


def _scan(path: str, start: int, end: int | None, flt: _Filter, cap: int, stratify: bool, seed: int, tick=None):
    """One worker's share: the cap smallest (key, offset) per stratum, lines starting in [start, end)."""
    sampler = _Sampler(flt, cap, stratify, seed)
    cat_re = _category_regex(flt)
    with _open_binary(Path(path)) as f:
        if start:
            f.seek(start)
        if tick is not None:
            f = _Ticking(f, tick)
        for off, block, length in _iter_blocks(f, start, end):
            sampler.report.bytes += length + 1
            sampler.block(off, block, length, cat_re)
    return sampler.result()


def _split_ranges(path: Path, parts: int) -> list[tuple[int, int]]:
    size = path.stat().st_size
    bounds = [0]
    with open(path, "rb") as f:
        for i in range(1, parts):
            f.seek(max(size * i // parts, bounds[-1]))
            f.readline()  # align to the next line start
            bounds.append(min(f.tell(), size))
    bounds.append(size)
    return [(a, b) for a, b in zip(bounds, bounds[1:]) if b > a]


def _allocate(counts: dict[str, int], n: int) -> dict[str, int]:
    """Equal shares per stratum; a stratum smaller than its share gives the rest to the others."""
    quota, left, todo = {}, n, sorted(counts, key=lambda s: (counts[s], s))
    while todo:
        share = left // len(todo)
        small = [s for s in todo if counts[s] <= share]
        if not small:
            extra = left - share * len(todo)  # the remainder goes to the largest strata
            for i, s in enumerate(sorted(todo, key=lambda s: (-counts[s], s))):
                quota[s] = share + (1 if i < extra else 0)
            break
        for s in small:
            quota[s] = counts[s]
            left -= counts[s]
        todo = [s for s in todo if s not in small]
    return quota


def sample_papers(
    path: str | os.PathLike,
    n: int = 10_000,
    categories: str | Iterable[str] | None = None,
    since: str | None = None,
    until: str | None = None,
    stratify: bool = False,
    seed: int = 0,
    workers: int | None = None,
    progress: bool = True,
):
    """A uniform (or per-primary-category stratified) random sample of n papers, in one pass.

    Returns ``(papers DataFrame, LoadReport)``; the rows come in the seeded random order.
    ``categories`` takes exact names and archive prefixes ("cs.CL", "cs.*", "math.AG,hep-th").
    ``stratify=True`` gives every primary category an equal share (smaller ones give theirs away).

    >>> papers, report = sample_papers("arxiv-metadata-oai-snapshot.json", n=10_000, categories="cs.*")
    """
    if n <= 0:
        raise ValueError("n must be positive")
    path = check_snapshot(path)
    flt = _Filter.build(categories, since, until)
    t0 = time.perf_counter()
    plain = not _compressed(path)
    if workers is None:
        workers = _cpus() if plain and path.stat().st_size >= _PARALLEL_MIN_BYTES else 1
    workers = max(1, workers if plain else 1)
    margin = max(64, n // 16)  # spare candidates in case some winners turn out to be bad lines
    with ProcessPoolExecutor(workers) if workers > 1 else contextlib.nullcontext() as pool:
        while True:
            report = LoadReport(path=str(path))
            candidates, capped = _scan_all(path, flt, n + margin, stratify, seed, pool, progress, report)
            rows = _select(path, candidates, capped, n, stratify, flt, report, pool)
            if rows is not None:
                break
            margin *= 8  # more bad lines among the winners than spares: look further (rare)
    report.kept = len(rows)
    report.seconds = time.perf_counter() - t0
    if report.kept < n:
        report.bad_examples.append(f"only {report.kept:,} papers matched; asked for {n:,}")
    return _frame(rows), report


def _read_records(path: str, offsets: list[int], with_text: bool = True) -> list[dict | str]:
    """The parsed record (or bad-line reason) at each offset, offsets ascending.

    Workers pass ``with_text=False``: the parent rebuilds `text`, halving what is pickled back.
    """
    out = []
    with _open_binary(Path(path)) as f:
        for off in offsets:
            f.seek(off)
            rec = parse_record(f.readline())
            if not with_text and isinstance(rec, dict):
                del rec["text"]
            out.append(rec)
    return out


def _compressed(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == b"\x1f\x8b" or zipfile.is_zipfile(path)


def _frame(rows: list[dict]):
    """Corpus rows -> DataFrame, built by column (faster than from a list of dicts)."""
    import pandas as pd  # after the pass: forked workers need not carry it

    return pd.DataFrame({c: [r[c] for r in rows] for c in PAPER_COLUMNS}, columns=PAPER_COLUMNS)


def _scan_all(path: Path, flt: _Filter, cap: int, stratify: bool, seed: int, pool, progress: bool,
              report: LoadReport) -> tuple[dict[str, list[tuple[int, list[int]]]], set[str]]:
    """The cap smallest (key, offset) candidates per stratum over the whole file, and which
    strata had more. One range per worker: each range keeps its own cap, so more ranges cost more."""
    heaps: dict[str, dict[int, list[int]]] = {}
    capped: set[str] = set()

    def absorb(result):
        part_heaps, part_capped, part_report = result
        report.merge(part_report)
        capped.update(part_capped)
        for stratum, items in part_heaps.items():
            dest = heaps.setdefault(stratum, {})
            for key, offs in items:
                dest[key] = sorted(dest.get(key, []) + offs)  # the same id in several ranges

    size = path.stat().st_size
    bar = _progress(size if pool or not _compressed(path) else None, progress, f"sampling {path.name}")
    if pool is None:
        absorb(_scan(str(path), 0, None, flt, cap, stratify, seed, tick=bar.update))
    else:
        ranges = _split_ranges(path, pool._max_workers)
        futures = [pool.submit(_scan, str(path), a, b, flt, cap, stratify, seed) for a, b in ranges]
        if "pandas" not in sys.modules:
            # The workers are forked now and this process only waits: hide pandas' import
            # (~0.3 s) behind the scan instead of paying it after.
            threading.Thread(target=importlib.import_module, args=("pandas",), daemon=True).start()
        for (a, b), fut in zip(ranges, futures):
            absorb(fut.result())
            bar.update(b - a)
    bar.close()
    out = {}
    for stratum, items in heaps.items():
        ranked = sorted(items.items())
        if len(ranked) > cap:
            capped.add(stratum)
        out[stratum] = ranked[:cap]
    return out, capped


def _select(path: Path, candidates: dict[str, list[tuple[int, list[int]]]], capped: set[str], n: int,
            stratify: bool, flt: _Filter, report: LoadReport, pool=None) -> list[dict] | None:
    """Validate candidates in key order until each stratum's quota holds only good records.

    An id seen more than once counts as its first valid copy, as in :func:`iter_papers`; the
    other valid copies are counted as duplicates.

    Lines are read in offset order (forward seeks only, so a .gz or .zip is decompressed at most
    once more). Returns the records in the seeded random order, or None when a stratum ran out
    of spare candidates while more existed in the file.
    """
    pos = dict.fromkeys(candidates, 0)
    good: dict[str, list[tuple[int, dict]]] = {s: [] for s in candidates}
    while True:
        available = {s: len(good[s]) + len(c) - pos[s] for s, c in candidates.items()}
        quota = _allocate(available, n) if stratify else {s: n for s in candidates}
        want: dict[int, tuple[str, int]] = {}
        for s, q in quota.items():
            batch = candidates[s][pos[s] : pos[s] + q - len(good[s])]
            pos[s] += len(batch)
            for key, offs in batch:
                want.update((off, (s, key)) for off in offs)
        if not want:
            break
        found: dict[int, tuple[str, dict]] = {}
        offsets = sorted(want)
        if pool is None:
            parsed = _read_records(str(path), offsets)
        else:  # each worker reads a contiguous share: forward seeks still
            w = pool._max_workers
            shares = [offsets[k * len(offsets) // w : (k + 1) * len(offsets) // w] for k in range(w)]
            parsed = [rec for part in pool.map(_read_records, [str(path)] * len(shares), shares, [False] * len(shares))
                      for rec in part]
            for rec in parsed:
                if isinstance(rec, dict):
                    rec["text"] = _join(rec["title"], rec["abstract"])
        for off, rec in zip(offsets, parsed):
            s, key = want[off]
            report.parsed += 1
            if isinstance(rec, str):
                report.count_bad(rec, f"byte {off}")
            elif not (flt.category_ok(rec["categories"]) and flt.date_ok(rec["update_date"])):
                report.matched -= 1
                report.filtered_out += 1
            elif key in found:
                report.count_bad("duplicate_id", rec["id"])
            else:
                found[key] = (s, rec)
        for key, (s, rec) in found.items():
            good[s].append((key, rec))
    for s, q in quota.items():
        if len(good[s]) < q and s in capped:
            return None
    return [rec for _, rec in sorted(kr for s in good for kr in good[s][: quota[s]])]


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))  # the cores this process may use, not the host's
    except AttributeError:
        return os.cpu_count() or 1


class _Ticking:
    """A file whose reads advance a progress bar (single-process passes, gz included)."""

    def __init__(self, f, tick):
        self._f, self._tick = f, tick

    def readinto(self, b):
        got = self._f.readinto(b)
        self._tick(got)
        return got


class _NoBar:
    def update(self, _n):
        pass

    def close(self):
        pass


def _progress(total, enabled: bool, desc: str):
    if not enabled:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="B", unit_scale=True, unit_divisor=1024, leave=False)


# ---- corpora on disk ---------------------------------------------------------------------------
def load_papers(path: str | os.PathLike, **filters):
    """All papers of a snapshot (filters and ``limit`` as in :func:`iter_papers`) as a DataFrame.

    Returns ``(papers, report)``. For a sample of a large file use :func:`sample_papers`.
    >>> papers, report = load_papers("data/raw/arxiv_sample_2k.jsonl", categories="cs.*")
    """
    import pandas as pd

    report = LoadReport()
    rows = list(iter_papers(path, report=report, **filters))
    return pd.DataFrame(rows, columns=PAPER_COLUMNS), report


def save_papers(papers, path: str | os.PathLike) -> Path:
    """Write a corpus as Parquet (replaced atomically), so a re-run does not re-read the 4.6 GB snapshot.

    >>> save_papers(papers, "papers.parquet")
    """
    from .artifacts import replace_file

    path = Path(path)
    with replace_file(path) as tmp:
        papers[PAPER_COLUMNS].to_parquet(tmp, index=False)
    return path


def read_papers(path: str | os.PathLike):
    """A corpus from Parquet (written by ``save_papers``) or a Kaggle JSON Lines file (plain/.gz).

    >>> papers = read_papers("papers.parquet")
    """
    import pandas as pd

    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"No papers file at {path}; run `arxiv-reco sample` first or pass a snapshot")
    with open(path, "rb") as f:
        is_parquet = f.read(4) == b"PAR1"
    if not is_parquet:
        return load_papers(path)[0]
    df = pd.read_parquet(path)
    missing = [c for c in ("id", "title", "abstract") if c not in df.columns]
    if missing:
        raise SnapshotFormatError(f"{path} lacks column(s) {missing}; expected a corpus written by save_papers()")
    df["id"] = df["id"].astype(str)
    df["title"] = df["title"].map(clean)
    df["abstract"] = df["abstract"].map(clean)
    if "categories" not in df.columns:
        df["categories"] = [[] for _ in range(len(df))]
    df["categories"] = [list(c) if c is not None and not isinstance(c, str) else str(c or "").split() for c in df["categories"]]
    if "primary_category" not in df.columns:
        df["primary_category"] = [c[0] if len(c) else "" for c in df["categories"]]
    for col in ("authors", "update_date"):
        if col not in df.columns:
            df[col] = ""
    df["text"] = [paper_text(t, a) for t, a in zip(df["title"], df["abstract"])]
    return df[PAPER_COLUMNS].reset_index(drop=True)
