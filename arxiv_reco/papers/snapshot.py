"""Read the Kaggle arXiv snapshot (JSON Lines, plain/.gz/.zip): checks, streaming, the load report.

    for paper in iter_papers("arxiv-metadata-oai-snapshot.json", categories="cs.CL", limit=5): ...
    papers, report = load_papers(SAMPLE_PAPERS, categories="cs.*")

A pass never stops on a bad line: invalid JSON, invalid UTF-8, a record without
id/title/abstract/categories, a duplicate id are skipped and counted in the :class:`LoadReport`.
A file that is not the snapshot gets one error saying what was expected. Sampling a large file
fast is :mod:`arxiv_reco.sampler`'s job; it reads through the helpers here.
"""

from __future__ import annotations

import gzip
import io
import os
import time
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from .corpus import PAPER_COLUMNS, CategoryFilter, SnapshotFormatError, parse_record

BAD_REASONS = ("invalid_json", "invalid_utf8", "not_an_object", "missing_field", "duplicate_id")
BLOCK_BYTES = 8 << 20  # bytes read at a time per worker: memory stays flat whatever the file size
# the byte-level look at a line: the keys of the fields the filters read, as the snapshot writes them
CAT_KEY, DATE_KEY, ID_KEY = b'"categories":', b'"update_date":', b'"id":'


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


# ---- a byte-level look at a line: fields sliced out without parsing ---------------------------------
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


def _fast_reject(line: bytes, flt: CategoryFilter) -> bool:
    """True when the byte-level look already shows the line fails the filters."""
    if flt.exact_b or flt.prefixes_b:
        cats = _field_bytes(line, CAT_KEY)
        if cats is not None:
            exact, prefixes = flt.exact_b, flt.prefixes_b
            for c in cats.split():
                if c in exact or (prefixes and c.startswith(prefixes)):
                    break
            else:
                return True
    if flt.since_b or flt.until_b:
        date = _field_bytes(line, DATE_KEY)
        if date is not None and (not date or (flt.since_b and date < flt.since_b) or (flt.until_b and date > flt.until_b)):
            return True
    return False


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
            "(Cornell-University/arxiv) or use the bundled sample (arxiv_reco.config.SAMPLE_PAPERS)."
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


def _iter_blocks(f, start: int = 0, end: int | None = None) -> Iterator[tuple[int, bytearray, int]]:
    """(file offset, buffer, length) where buffer[:length] holds whole lines (no final newline),
    for the lines starting in [start, end).

    One buffer is reused (readinto, no copies of 8 MB blocks): use it before the next step.
    """
    buf, filled, pos = bytearray(BLOCK_BYTES), 0, start  # pos: the file offset of buf[0]
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


def _compressed(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == b"\x1f\x8b" or zipfile.is_zipfile(path)


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
    flt = CategoryFilter.build(categories, since, until)
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


def load_papers(path: str | os.PathLike, **filters):
    """All papers of a snapshot (filters and ``limit`` as in :func:`iter_papers`) as a DataFrame.

    Returns ``(papers, report)``. For a sample of a large file use :func:`sample_papers`.
    >>> papers, report = load_papers(SAMPLE_PAPERS, categories="cs.*")
    """
    import pandas as pd

    report = LoadReport()
    rows = list(iter_papers(path, report=report, **filters))
    return pd.DataFrame(rows, columns=PAPER_COLUMNS), report


# ---- progress -----------------------------------------------------------------------------------
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
