"""A seeded random sample of a 4.6 GB snapshot in one pass, with flat memory, on every core.

    papers, report = sample_papers("arxiv-metadata-oai-snapshot.json", n=10_000, categories="cs.*")

How it stays fast: each 8 MB block is searched at the byte level (the ``"categories"`` field is
found with ``bytes.find`` and tested by one anchored regex; dates are sliced out without
parsing), so a line that fails the filters never becomes a Python object. The sample is the n
papers with the smallest ``hash(seed, id)`` (bottom-k sampling: a reservoir sample whose result
depends only on the seed and the set of valid records, not on the order they are seen), so
plain files are split across processes with an identical result for any worker count, and
only the winners are parsed with orjson. A candidate is validated when it is among the winners
(a bad winner is replaced by the next candidate) or when its layout is unusual.
"""

from __future__ import annotations

import contextlib
import heapq
import importlib
import os
import re
import sys
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import xxhash

from .corpus import CategoryFilter, paper_text, parse_record, to_frame
from .scan import (
    CAT_KEY,
    ID_KEY,
    Ticking,
    fast_reject,
    field_bytes,
    is_compressed,
    iter_blocks,
    open_binary,
    progress_bar,
)
from .snapshot import LoadReport, check_snapshot

_PARALLEL_MIN_BYTES = 64 << 20  # below this, starting processes costs more than it saves
NEWLINE, BACKSLASH = 10, 92  # byte values
# Kaggle lines start with the id: '{"id":"0704.0001",' (or with a space after the colon, as
# json.dumps writes); the id is read in place at this offset from the line start
ID_AT = {b'{"id":"': len(b'{"id":"'), b'{"id": "': len(b'{"id": "')}
MAX_ID_BYTES = 64  # longer than any arXiv id: a longer "id" means an unusual line, parsed the slow way


def sample_key(seed: int, paper_id: str | bytes) -> int:
    """The paper's place in the seeded random order: a 64-bit hash of (seed, id).

    xxh3 is ~9x cheaper than blake2b here, and this runs for every matching line.
    """
    if isinstance(paper_id, str):
        paper_id = paper_id.encode()
    return xxhash.xxh3_64_intdigest(paper_id, seed & 0xFFFFFFFFFFFFFFFF)


def _category_regex(flt: CategoryFilter) -> re.Pattern:
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

    def __init__(self, flt: CategoryFilter, cap: int, stratify: bool, seed: int):
        self.flt, self.cap, self.stratify, self.seed = flt, cap, stratify, seed
        self.capped: set[str] = set()  # strata with more candidates than the cap kept
        self.report = LoadReport()
        self.heaps: dict[str, list[tuple[int, int]]] = {}  # stratum -> max-heap of (-key, -offset)
        self.members: dict[str, dict[int, list[int]]] = {}  # stratum -> key -> offsets of that id

    def block(self, off: int, block: bytearray, end: int, cat_re: re.Pattern) -> None:
        """The complete lines in block[:end]; the common Kaggle layout never leaves C for a
        line that fails the filter."""
        # numpy counts newlines ~3x faster than bytes.count
        lines = int(np.count_nonzero(np.frombuffer(block, np.uint8, end) == NEWLINE)) + 1
        # find() skips through the block (a 13-byte needle), an anchored match() tests the filter;
        # the number of fields found doubles as the check that every line has exactly one.
        find, match, hits, fields = block.find, cat_re.match, [], 0
        j = find(CAT_KEY, 0, end)
        while j >= 0:
            fields += 1
            m = match(block, j, end)
            if m is not None:
                hits.append(m)
            j = find(CAT_KEY, j + len(CAT_KEY), end)
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
            i = next((ls + skip for start, skip in ID_AT.items() if block.startswith(start, ls)), -1)
            e = find(b'"', i, i + MAX_ID_BYTES + 1) if i > 0 else -1
            if e < 0 or dates or BACKSLASH in block[i:e]:  # an escape in the id: parse it properly
                le = find(b"\n", m.end(), end)
                line = bytes(block[ls : le if le >= 0 else end])
                if e < 0 or BACKSLASH in block[i:e]:
                    report.lines -= 1
                    self.line(off + ls, line)  # unusual layout: the careful path decides
                    continue
                if fast_reject(line, self.flt):
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
        if flt.active and fast_reject(line, flt):
            self.report.filtered_out += 1
            return
        raw_id = field_bytes(line, ID_KEY)
        raw_cats = field_bytes(line, CAT_KEY)
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


def _scan(path: str, start: int, end: int | None, flt: CategoryFilter, cap: int, stratify: bool, seed: int, tick=None):
    """One worker's share: the cap smallest (key, offset) per stratum, lines starting in [start, end)."""
    sampler = _Sampler(flt, cap, stratify, seed)
    cat_re = _category_regex(flt)
    with open_binary(Path(path)) as f:
        if start:
            f.seek(start)
        if tick is not None:
            f = Ticking(f, tick)
        for off, block, length in iter_blocks(f, start, end):
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
    flt = CategoryFilter.build(categories, since, until)
    t0 = time.perf_counter()
    plain = not is_compressed(path)
    if workers is None:
        workers = _cpus() if plain and path.stat().st_size >= _PARALLEL_MIN_BYTES else 1
    workers = max(1, workers if plain else 1)
    margin = max(64, n // 16)  # spare candidates in case some winners turn out to be bad lines
    with ProcessPoolExecutor(workers) if workers > 1 else contextlib.nullcontext() as pool:
        while True:
            report = LoadReport(path=str(path))
            candidates, capped = _scan_all(path, flt, n + margin, stratify, seed, pool, workers, progress, report)
            rows = _select(path, candidates, capped, n, stratify, flt, report, pool, workers)
            if rows is not None:
                break
            margin *= 8  # more bad lines among the winners than spares: look further (rare)
    report.kept = len(rows)
    report.seconds = time.perf_counter() - t0
    if report.kept < n:
        report.bad_examples.append(f"only {report.kept:,} papers matched; asked for {n:,}")
    return to_frame(rows), report


def _read_records(path: str, offsets: list[int], with_text: bool = True) -> list[dict | str]:
    """The parsed record (or bad-line reason) at each offset, offsets ascending.

    Workers pass ``with_text=False``: the parent rebuilds `text`, halving what is pickled back.
    """
    out = []
    with open_binary(Path(path)) as f:
        for off in offsets:
            f.seek(off)
            rec = parse_record(f.readline())
            if not with_text and isinstance(rec, dict):
                del rec["text"]
            out.append(rec)
    return out


def _scan_all(path: Path, flt: CategoryFilter, cap: int, stratify: bool, seed: int, pool, workers: int,
              progress: bool, report: LoadReport) -> tuple[dict[str, list[tuple[int, list[int]]]], set[str]]:
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
    bar = progress_bar(size if pool or not is_compressed(path) else None, progress, f"sampling {path.name}")
    if pool is None:
        absorb(_scan(str(path), 0, None, flt, cap, stratify, seed, tick=bar.update))
    else:
        ranges = _split_ranges(path, workers)
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
            stratify: bool, flt: CategoryFilter, report: LoadReport, pool=None, workers: int = 1) -> list[dict] | None:
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
            w = workers
            shares = [offsets[k * len(offsets) // w : (k + 1) * len(offsets) // w] for k in range(w)]
            parsed = [rec for part in pool.map(_read_records, [str(path)] * len(shares), shares, [False] * len(shares))
                      for rec in part]
            for rec in parsed:
                if isinstance(rec, dict):
                    rec["text"] = paper_text(rec["title"], rec["abstract"])
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
