"""Read the Kaggle arXiv snapshot (JSON Lines, plain/.gz/.zip): checks, streaming, the load report.

    for paper in iter_papers("arxiv-metadata-oai-snapshot.json", categories="cs.CL", limit=5): ...
    papers, report = load_papers(SAMPLE_PAPERS, categories="cs.*")

A pass never stops on a bad line: invalid JSON, invalid UTF-8, a record without
id/title/abstract/categories, a duplicate id are skipped and counted in the :class:`LoadReport`.
A file that is not the snapshot gets one error saying what was expected. Sampling a large file
fast is :mod:`arxiv_reco.papers.sampler`'s job; it reads through the helpers here.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from .corpus import PAPER_COLUMNS, CategoryFilter, SnapshotFormatError, parse_record
from .scan import fast_reject, iter_lines, open_binary

BAD_REASONS = ("invalid_json", "invalid_utf8", "not_an_object", "missing_field", "duplicate_id")


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


# ---- opening files ---------------------------------------------------------------------------
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
    with open_binary(path) as f:
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
    with open_binary(path) as f:
        for off, line in iter_lines(f):
            report.bytes += len(line) + 1
            if not line.strip():
                continue
            report.lines += 1
            if flt.active and fast_reject(line, flt):
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


