"""The label store: the only place labels live until export, and the only module touching SQLite.

One row per (pair_id, model, prompt_version): a score, or the reason there is none, with
tokens, attempts and latency. Each label is committed as it arrives (WAL), so a killed kernel
loses at most the requests in flight, and a re-run asks the API only for pairs without a label::

    store = LabelStore("labels.sqlite")
    store.counts()                       # {'ok': 1990, 'failed: http_503': 10}
    store.scores("gemini-2.5-flash")     # what export_labels joins with the pairs
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS labels (
    pair_id        TEXT NOT NULL,
    model          TEXT NOT NULL,
    prompt_version TEXT NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
    score          REAL CHECK (score IS NULL OR (score >= 0.0 AND score <= 1.0)),
    reason         TEXT,             -- the labeller's short reason, when asked for
    failure        TEXT,             -- why the pair has no label (status 'failed')
    labeler        TEXT NOT NULL,    -- gemini | gemini-batch | teacher
    attempts       INTEGER NOT NULL DEFAULT 1,
    input_tokens   INTEGER,
    output_tokens  INTEGER,
    latency_s      REAL,
    run_id         INTEGER,
    updated_at     REAL NOT NULL,
    PRIMARY KEY (pair_id, model, prompt_version),
    CHECK ((status = 'ok') = (score IS NOT NULL))
);
CREATE TABLE IF NOT EXISTS versions (
    model          TEXT NOT NULL,
    prompt_version TEXT NOT NULL,
    labeler        TEXT NOT NULL,     -- gemini | gemini-batch | teacher
    reads          INTEGER,           -- tokens of each paper the labeller read (teacher: max_seq_length)
    PRIMARY KEY (model, prompt_version)
);
CREATE TABLE IF NOT EXISTS runs (
    run_id     INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at REAL NOT NULL,
    settings   TEXT NOT NULL          -- the run's settings as JSON (never the API key)
);
CREATE TABLE IF NOT EXISTS batch_jobs (
    name           TEXT PRIMARY KEY,  -- batches/... as the Batch API names it
    model          TEXT NOT NULL,
    prompt_version TEXT NOT NULL,
    state          TEXT NOT NULL,
    units          TEXT NOT NULL,     -- JSON: request key -> the pair_ids it asks about
    created_at     REAL NOT NULL,
    updated_at     REAL NOT NULL
);
"""


class LabelStore:
    """A SQLite file of labels (its connection is the state worth a class).

    >>> with LabelStore("labels.sqlite") as store: print(store.counts())
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        # NORMAL is durable across a killed process (the WAL is on disk); only power loss
        # can drop the last commits. FULL would fsync per label.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> LabelStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- runs ---------------------------------------------------------------------------------
    def start_run(self, settings: dict) -> int:
        cur = self._db.execute("INSERT INTO runs (started_at, settings) VALUES (?, ?)",
                               (time.time(), json.dumps(settings, sort_keys=True, default=str)))
        return int(cur.lastrowid)

    # ---- who labels -----------------------------------------------------------------------------
    def put_version(self, model: str, prompt_version: str, labeler: str, reads: int | None) -> None:
        """Record who labels under (model, prompt_version) and how much of each paper it reads: the
        export names the labeller from this, never from the version string."""
        self._db.execute("INSERT OR REPLACE INTO versions VALUES (?, ?, ?, ?)", (model, prompt_version, labeler, reads))

    def version_info(self, model: str, prompt_version: str) -> tuple[str, int | None] | None:
        """(labeler, tokens read) recorded for (model, prompt_version), or None (a store from before)."""
        row = self._db.execute("SELECT labeler, reads FROM versions WHERE model=? AND prompt_version=?",
                               (model, prompt_version)).fetchone()
        return (row[0], row[1]) if row else None

    # ---- labels -------------------------------------------------------------------------------
    def labeled(self, model: str, prompt_version: str) -> set[str]:
        """pair_ids that already have a score for this model and prompt version."""
        rows = self._db.execute(
            "SELECT pair_id FROM labels WHERE model=? AND prompt_version=? AND status='ok'", (model, prompt_version))
        return {r[0] for r in rows}

    def put_label(self, pair_id: str, model: str, prompt_version: str, score: float, *, labeler: str,
                  reason: str | None = None, attempts: int = 1, input_tokens: int | None = None,
                  output_tokens: int | None = None, latency_s: float | None = None, run_id: int | None = None) -> None:
        """Record a score; committed before returning. A pair keeps its first score."""
        self._db.execute(
            """INSERT INTO labels (pair_id, model, prompt_version, status, score, reason, failure, labeler,
                                   attempts, input_tokens, output_tokens, latency_s, run_id, updated_at)
               VALUES (?, ?, ?, 'ok', ?, ?, NULL, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (pair_id, model, prompt_version) DO UPDATE SET
                   status='ok', score=excluded.score, reason=excluded.reason, failure=NULL,
                   labeler=excluded.labeler, attempts=labels.attempts + excluded.attempts,
                   input_tokens=excluded.input_tokens, output_tokens=excluded.output_tokens,
                   latency_s=excluded.latency_s, run_id=excluded.run_id, updated_at=excluded.updated_at
               WHERE labels.status != 'ok'""",
            (pair_id, model, prompt_version, float(score), reason, labeler, attempts, input_tokens,
             output_tokens, latency_s, run_id, time.time()),
        )

    def put_failure(self, pair_id: str, model: str, prompt_version: str, failure: str, *, labeler: str,
                    attempts: int = 1, run_id: int | None = None) -> None:
        """Record why a pair got no label; never overwrites a score."""
        self._db.execute(
            """INSERT INTO labels (pair_id, model, prompt_version, status, score, failure, labeler, attempts,
                                   run_id, updated_at)
               VALUES (?, ?, ?, 'failed', NULL, ?, ?, ?, ?, ?)
               ON CONFLICT (pair_id, model, prompt_version) DO UPDATE SET
                   failure=excluded.failure, attempts=labels.attempts + excluded.attempts,
                   run_id=excluded.run_id, updated_at=excluded.updated_at
               WHERE labels.status != 'ok'""",
            (pair_id, model, prompt_version, failure, labeler, attempts, run_id, time.time()),
        )

    def rows(self, model: str | None = None, prompt_version: str | None = None):
        """All label rows (scores and failures) as a DataFrame."""
        import pandas as pd

        where, args = _where(model, prompt_version)
        return pd.read_sql_query(f"SELECT * FROM labels {where} ORDER BY updated_at", self._db, params=args)

    def counts(self, model: str | None = None, prompt_version: str | None = None) -> dict[str, int]:
        """{'ok': n, 'failed: <reason>': n, ...}"""
        where, args = _where(model, prompt_version)
        rows = self._db.execute(
            f"SELECT status, COALESCE(failure, ''), COUNT(*) FROM labels {where} GROUP BY 1, 2", args)
        return {("ok" if s == "ok" else f"failed: {f}"): n for s, f, n in rows}

    def versions(self) -> list[tuple[str, str, int]]:
        """(model, prompt_version, labels) present in the store, most labels first."""
        return list(self._db.execute(
            "SELECT model, prompt_version, COUNT(*) FROM labels WHERE status='ok' GROUP BY 1, 2 ORDER BY 3 DESC"))

    def scores(self, model: str | None = None, prompt_version: str | None = None):
        """The scores (pair_id, score, labeler, model, prompt_version) of one (model, prompt
        version). With several in the store, name the one you want: labels from different
        prompts are never mixed silently."""
        versions = [(m, v) for m, v, _ in self.versions()
                    if (model is None or m == model) and (prompt_version is None or v == prompt_version)]
        if len(versions) > 1:
            raise ValueError(
                f"{self.path} holds labels from several model/prompt versions {versions}; "
                "pass model= and prompt_version= to choose which to export")
        labels = self.rows(*(versions[0] if versions else (model, prompt_version)))
        return labels[labels["status"] == "ok"][["pair_id", "score", "labeler", "model", "prompt_version"]]

    # ---- batch jobs ---------------------------------------------------------------------------
    def add_batch_job(self, name: str, model: str, prompt_version: str, state: str, units: dict[str, list[str]]) -> None:
        now = time.time()
        self._db.execute(
            "INSERT OR REPLACE INTO batch_jobs VALUES (?, ?, ?, ?, ?, ?, ?)",
            (name, model, prompt_version, state, json.dumps(units), now, now))

    def set_batch_state(self, name: str, state: str) -> None:
        self._db.execute("UPDATE batch_jobs SET state=?, updated_at=? WHERE name=?", (state, time.time(), name))

    def rename_batch_job(self, old: str, new: str, state: str) -> None:
        """A job registered before submission gets the name the service gave it."""
        self._db.execute("UPDATE batch_jobs SET name=?, state=?, updated_at=? WHERE name=?", (new, state, time.time(), old))

    def open_batch_jobs(self, model: str, prompt_version: str) -> list[tuple[str, dict[str, list[str]]]]:
        """Jobs submitted but not yet written into the store: resumed instead of re-submitted."""
        rows = self._db.execute(
            "SELECT name, units FROM batch_jobs WHERE model=? AND prompt_version=? AND state NOT IN "
            "('collected', 'abandoned', 'JOB_STATE_FAILED', 'JOB_STATE_CANCELLED', 'JOB_STATE_EXPIRED', "
            "'JOB_STATE_NOT_FOUND') ORDER BY created_at",
            (model, prompt_version))
        return [(name, json.loads(units)) for name, units in rows]


def _where(model: str | None, prompt_version: str | None) -> tuple[str, tuple]:
    clauses, args = [], []
    if model is not None:
        clauses.append("model=?")
        args.append(model)
    if prompt_version is not None:
        clauses.append("prompt_version=?")
        args.append(prompt_version)
    return ("WHERE " + " AND ".join(clauses) if clauses else ""), tuple(args)
