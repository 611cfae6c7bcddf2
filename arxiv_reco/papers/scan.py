"""The snapshot at the byte level: files opened whatever their packing, read in fixed blocks of
whole lines, fields sliced out of a line without parsing it. What the streaming loader
(:mod:`.snapshot`) and the sampler (:mod:`.sampler`) read through.

    with open_binary(path) as f:
        for offset, line in iter_lines(f):
            if fast_reject(line, CategoryFilter.build("cs.*")): continue
"""

from __future__ import annotations

import gzip
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

from .corpus import CategoryFilter, SnapshotFormatError

BLOCK_BYTES = 8 << 20  # bytes read at a time per worker: memory stays flat whatever the file size
# the byte-level look at a line: the keys of the fields the filters read, as the snapshot writes them
CAT_KEY, DATE_KEY, ID_KEY = b'"categories":', b'"update_date":', b'"id":'


def field_bytes(line: bytes, key: bytes) -> bytes | None:
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


def fast_reject(line: bytes, flt: CategoryFilter) -> bool:
    """True when the byte-level look already shows the line fails the filters."""
    if flt.exact_b or flt.prefixes_b:
        cats = field_bytes(line, CAT_KEY)
        if cats is not None:
            exact, prefixes = flt.exact_b, flt.prefixes_b
            for c in cats.split():
                if c in exact or (prefixes and c.startswith(prefixes)):
                    break
            else:
                return True
    if flt.since_b or flt.until_b:
        date = field_bytes(line, DATE_KEY)
        if date is not None and (not date or (flt.since_b and date < flt.since_b) or (flt.until_b and date > flt.until_b)):
            return True
    return False


# ---- opening and reading files ---------------------------------------------------------------
def open_binary(path: Path) -> io.BufferedIOBase:
    """The file's bytes, whether plain, gzip or Kaggle's one-file zip."""
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


def iter_lines(f) -> Iterator[tuple[int, bytes]]:
    """(offset, line) for every line, read in fixed-size blocks."""
    for off, block, length in iter_blocks(f):
        for line in bytes(block[:length]).split(b"\n"):
            yield off, line
            off += len(line) + 1


def iter_blocks(f, start: int = 0, end: int | None = None) -> Iterator[tuple[int, bytearray, int]]:
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


def is_compressed(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == b"\x1f\x8b" or zipfile.is_zipfile(path)


# ---- progress -----------------------------------------------------------------------------------
class Ticking:
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


def progress_bar(total, enabled: bool, desc: str):
    """A tqdm bar of bytes read (a do-nothing one when not ``enabled``)."""
    if not enabled:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="B", unit_scale=True, unit_divisor=1024, leave=False)
