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
from datetime import date, timedelta
from pathlib import Path

from ..artifacts import write_json
from ..papers.corpus import base_id

KEEP_DAYS = 14  # full entries kept (the Atom feed's window); older ones keep only their id and day


class DigestMemory:
    """The delivered papers (state: the file's content)."""

    def __init__(self, path: str | Path, keep_days: int = KEEP_DAYS):
        self.path = Path(path).expanduser()
        self.keep_days = keep_days
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            data = {}
        except ValueError as e:
            raise ValueError(f"{self.path} is not a digest memory (JSON): {e}; move it away to start afresh") from None
        if not isinstance(data, dict):
            raise ValueError(f"{self.path} is not a digest memory (a JSON object); move it away to start afresh")
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
        cutoff = (date.fromisoformat(today or date.today().isoformat()) - timedelta(days=self.keep_days)).isoformat()
        return sorted((e for e in self.entries if e.get("delivered", "") > cutoff),
                      key=lambda e: (e.get("delivered", ""), e.get("score") or 0), reverse=True)

    def _prune(self) -> None:
        self.entries = self.recent(self.last_run)

    def _save(self) -> None:
        write_json(self.path, {"sent": self.sent, "entries": self.entries, "pending": self.pending,
                               "last_run": self.last_run})


def memory_path(index_dir: str | Path) -> Path:
    """Where a digest of ``index_dir`` remembers by default: ``<index>.digest.json`` beside it."""
    index_dir = Path(index_dir).expanduser()
    return index_dir.with_name(f"{index_dir.name}.digest.json")
