"""What the daily digest delivered: each paper once, whatever its version, across days and
interests. One JSON file beside the index, replaced atomically.

    memory = DigestMemory("index.digest.json")
    fresh = digest(index, profiles, skip=memory.delivered())    # nothing delivered twice
    memory.begin("2026-12-05", entries)                         # written before anything is sent
    send(...); write_atom(...)
    memory.commit()                                             # then recorded as delivered

The side chosen when a run dies between sending and recording: at least once. The day's papers
are written as *pending* before the mail goes; a run that then dies leaves them pending, and the
next run, not knowing whether the mail left, treats them as not delivered: they may come once
more (a duplicate is a nuisance; a digest lost without a word is worse). Once that run delivers
them they are recorded, so no paper comes a third time. A send that fails for sure (refused,
timeout, bad password) removes the pending record: nothing is marked as delivered.
"""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

from ..artifacts import write_json
from ..dates import days_before
from ..papers.corpus import base_id
from .digest_options import KEEP_DAYS

FORMAT = "arxiv-reco digest memory"  # written in every memory file: the file is the memory's own
KEYS = {"format", "sent", "entries", "pending", "last_run"}


class DigestMemory:
    """The delivered papers (state: the file's content)."""

    def __init__(self, path: str | Path, keep_days: int = KEEP_DAYS):
        self.path = Path(path).expanduser()
        self.keep_days = keep_days
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            data = {"format": FORMAT}
        except (ValueError, UnicodeDecodeError) as e:
            raise ValueError(f"{self.path} is not a digest memory (JSON): {e}; it is left as it is: give --state a "
                             "file of its own, or move this one away to start afresh") from None
        except IsADirectoryError:
            raise ValueError(f"{self.path} is a folder; give --state a file of its own") from None
        _check(self.path, data)
        self.sent: dict[str, str] = dict(data.get("sent", {}))  # versionless id -> day delivered
        self.entries: list[dict] = list(data.get("entries", []))  # the last keep_days days, in full
        self.pending: dict = dict(data.get("pending") or {})  # {"day": ..., "entries": [...]} of an unfinished run
        self.last_run: str | None = data.get("last_run")

    def delivered(self) -> set[str]:
        """The versionless ids delivered on any day (pending ones are not: at least once)."""
        return set(self.sent)

    def begin(self, day: str, entries: list[dict]) -> None:
        """Record the day's papers as pending, before anything is sent."""
        self.pending = {"day": day, "entries": entries}
        self._save()

    def abort(self) -> None:
        """Forget the pending papers: the send failed, nothing went out."""
        self.pending = {}
        self._save()

    def commit(self) -> None:
        """The pending papers are delivered: recorded, and older full entries pruned."""
        if self.pending:
            day = self.pending["day"]
            for e in self.pending["entries"]:
                self.sent[base_id(e["id"])] = day
            self.entries = [e for e in self.entries if base_id(e["id"]) not in
                            {base_id(p["id"]) for p in self.pending["entries"]}] + \
                [dict(e, delivered=day) for e in self.pending["entries"]]
            self.last_run = day
        self.pending = {}
        self._prune()
        self._save()

    def ran(self, day: str) -> None:
        """Remember a run that delivered nothing (a quiet day): the next window starts from it."""
        self.last_run = day
        self._save()

    def recent(self, today: str | None = None) -> list[dict]:
        """The full entries of the last ``keep_days`` days, newest first (what the Atom feed shows)."""
        cutoff = days_before(today or date.today().isoformat(), self.keep_days)
        return sorted((e for e in self.entries if e.get("delivered", "") > cutoff),
                      key=lambda e: (e.get("delivered", ""), e.get("score") or 0), reverse=True)

    def _prune(self) -> None:
        self.entries = self.recent(self.last_run)

    def _save(self) -> None:
        write_json(self.path, {"format": FORMAT, "sent": self.sent, "entries": self.entries, "pending": self.pending,
                               "last_run": self.last_run})


def _check(path: Path, data) -> None:
    """Refuse a file that is not a digest memory, or one whose records are broken, before anything is
    sent (a record failing after the mail left would resend the digest every morning); the file is
    never overwritten then."""
    def bad(why: str) -> ValueError:
        return ValueError(f"{path} is not a digest memory ({why}); it is left as it is: give --state a file of "
                          "its own, or move this one away to start afresh")

    if not isinstance(data, dict):
        raise bad("not a JSON object")
    if data.get("format", FORMAT) != FORMAT or set(data) - KEYS:  # a reading list, an index's JSON, ...
        raise bad(f"it holds {', '.join(sorted(map(str, set(data) - KEYS))[:4]) or data.get('format')!r}")
    sent = data.get("sent", {})
    if not isinstance(sent, dict) or not all(isinstance(k, str) and _is_day(v) for k, v in sent.items()):
        raise bad("'sent' must map paper ids to days")
    entries = data.get("entries", [])
    pending = data.get("pending") or {}
    if not isinstance(pending, dict) or (pending and not _is_day(pending.get("day"))):
        raise bad("'pending' must hold a day and its entries")
    for where, rows in (("entries", entries), ("pending entries", pending.get("entries", []))):
        if not isinstance(rows, list):
            raise bad(f"'{where}' must be a list")
        for i, e in enumerate(rows):
            if not isinstance(e, dict) or not isinstance(e.get("id"), str) or not e["id"].strip():
                raise bad(f"{where} #{i + 1} has no paper id")
    if data.get("last_run") is not None and not _is_day(data["last_run"]):
        raise bad("'last_run' must be a day, YYYY-MM-DD")


def _is_day(value) -> bool:
    try:
        date.fromisoformat(str(value))
    except ValueError:
        return False
    return isinstance(value, str)


def memory_path(index_dir: str | Path, reader: str | None = None) -> Path:
    """Where a digest of ``index_dir`` remembers by default: ``<index>.digest.json`` beside it, and
    a lab's reader ``<index>.digest.NAME.json`` (each reader remembered apart).

    >>> memory_path("index", "ana")
    PosixPath('index.digest.ana.json')
    """
    index_dir = Path(index_dir).expanduser()
    if reader is not None and not re.fullmatch(r"[\w.-]+", reader):
        raise ValueError(f"a reader's name is letters, digits, '.', '-' and '_', not {reader!r} (it names a file)")
    return index_dir.with_name(f"{index_dir.name}.digest{'.' + reader if reader else ''}.json")
