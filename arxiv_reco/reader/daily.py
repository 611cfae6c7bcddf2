"""The whole morning in one call: fetch the new listings, rank them for each interest, deliver by
email and Atom, remember what went out.

    report = run_daily("index", "cs.CL,cs.IR", parse_profiles(library=["my.bib"]), email="me@example.org",
                       atom="digest.atom")
    print(report)

What `arxiv-reco daily` runs. The order is the contract: (1) update the index from the arXiv API
(a failure after its retries stops here: nothing sent, nothing remembered); (2) each profile's
library papers the index lacks are fetched; (3) the papers since the last run (three days of
overlap: listings reach the API late) are ranked, less what was delivered before; (4) nothing new
(weekends, holidays) is one line and exit 0, with a short note by mail only if asked; (5) the
papers are written as pending, the mail sent (a failure: pending forgotten, one error), the
delivery recorded, the Atom feed rewritten from the record (:mod:`.memory` says why in this order).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from .digest import DEFAULT_METHOD, default_since, digest
from .memory import KEEP_DAYS, DigestMemory, memory_path

OVERLAP_DAYS = 3  # papers reach the API a day or more after their date: each window reaches back


@dataclass
class DailyReport:
    """What a morning's run did."""

    day: str
    since: str | None
    entries: list[dict] = field(default_factory=list)
    updated: str = ""  # update_index's report
    emailed: str | None = None  # the address the digest went to
    atom: Path | None = None
    dry_run: bool = False

    @property
    def quiet(self) -> bool:
        return not self.entries

    def __str__(self) -> str:
        lines = [self.updated] if self.updated else []
        if self.quiet:
            lines.append(f"no new papers since {self.since} (arXiv announces none on weekends and holidays); "
                         + ("nothing sent" if not self.emailed else f"a short note sent to {self.emailed}"))
            return "\n".join(lines)
        per = {}
        for e in self.entries:
            per[e["profile"]] = per.get(e["profile"], 0) + 1
        lines.append(f"{len(self.entries)} papers since {self.since}: "
                     + ", ".join(f"{n} for {p}" for p, n in per.items()))
        if self.dry_run:
            lines.append("dry run: nothing sent, nothing remembered")
        else:
            if self.emailed:
                lines.append(f"emailed to {self.emailed}")
            if self.atom:
                lines.append(f"Atom feed: {self.atom}")
        return "\n".join(lines)


def run_daily(index_dir: str | Path, categories: str | Sequence[str] | None, profiles: Sequence, *, k: int = 10,
              email: str | None = None, atom: str | Path | None = None, keep_days: int = KEEP_DAYS,
              state: str | Path | None = None, method: str = DEFAULT_METHOD, since: str | None = None,
              include: Sequence[str] = (), exclude: Sequence[str] = (), authors: Sequence[str] = (),
              send_empty: bool = False, resend: bool = False, dry_run: bool = False, papers=None, model=None,
              api=None, settings=None, fetch: bool = True, today: str | None = None, subject: str | None = None,
              say: Callable[[str], None] = print) -> DailyReport:
    """Update the index, rank the new papers for each profile, deliver, remember (see the module
    docstring for the order). ``categories`` None: no update, the index as it is. ``papers``: a
    corpus for abstracts (besides the ones ``update`` keeps beside the index).

    >>> print(run_daily("index", "cs.CL", parse_profiles(library=["my.bib"]), atom="digest.atom"))
    """
    from ..config import load_settings
    from ..index.paper_index import PaperIndex
    from .library import complete_library
    from .mail import compose, send
    from .update import abstract_lookup, update_index

    settings = settings or load_settings()
    day = today or date.today().isoformat()
    if not profiles and not authors:
        raise ValueError("no interest to rank for: give --library, --profile, --interest or --author")
    if email and not dry_run and not settings.smtp_url:
        raise ValueError("--email needs a mail server: set ARXIV_RECO_SMTP_URL (smtp://host:587 or smtps://host:465) "
                         "in the environment or .env")
    memory = DigestMemory(state or memory_path(index_dir), keep_days)
    report = DailyReport(day, since, dry_run=dry_run)
    # 1. the new listings (an API that fails after its retries raises here: nothing sent or remembered)
    if categories:
        report.updated = str(update_index(index_dir, categories, model=model, api=api, show_progress=False))
        say(report.updated)
    index = PaperIndex.load(index_dir, model)
    # 2. the libraries' papers the index lacks
    for profile in profiles:
        if profile.load().library and len(profile.library):
            complete_library(profile.library, index, index_dir, api=api, fetch=fetch, say=say)
    # 3. rank the window, less what went out before
    report.since = since or _window_start(memory, index)
    lookup = abstract_lookup(papers, index_dir)
    frame = digest(index, profiles, since=report.since, k=k, method=method, include=include, exclude=exclude,
                   authors=authors, abstracts=lookup, skip=() if resend else memory.delivered())
    abstracts = lookup(frame["id"].tolist()) if len(frame) else {}
    report.entries = entries(index, frame, abstracts)
    if dry_run:
        return report
    # 4. a quiet day
    if report.quiet:
        if send_empty and email:
            send(compose([], day, _sender(settings, email), email, note=f"No new papers since {report.since}: arXiv "
                         "announces none on weekends and holidays."), settings)
            report.emailed = email
        memory.ran(day)
        return report
    # 5. deliver: pending first, then the mail, then the record, then the feed made from the record
    memory.begin(day, report.entries)
    if email:
        message = compose(report.entries, day, _sender(settings, email), email)
        if subject:
            message.replace_header("Subject", subject)
        try:
            send(message, settings)
        except Exception:
            memory.abort()  # it did not go out: nothing is remembered as delivered
            raise
        report.emailed = email
    memory.commit()
    if atom:
        from .atom import write_atom

        report.atom = write_atom(atom, memory.recent(day))
    return report


def _window_start(memory: DigestMemory, index) -> str | None:
    if memory.last_run:
        return (date.fromisoformat(memory.last_run) - timedelta(days=OVERLAP_DAYS)).isoformat()
    return default_since(index)


def _sender(settings, email: str) -> str:
    """From: ARXIV_RECO_EMAIL_FROM, else the SMTP user when it is an address, else the reader's own."""
    if settings.email_from:
        return settings.email_from
    return settings.smtp_user if "@" in str(settings.smtp_user or "") else email


def entries(index, frame, abstracts: dict[str, str]) -> list[dict]:
    """A digest frame as the mail, the Atom feed, the memory and ``--format json`` have it: one dict
    a paper with id, title, url, score, profile, because, followed, authors, date, categories and
    the abstract's first sentences.

    >>> compose(entries(index, digest(index, profiles), abstracts), day, sender, to)
    """
    from .mail import first_sentences

    return [_entry(index, row, first_sentences(abstracts.get(row["id"], ""))) for _, row in frame.iterrows()]


def _entry(index, row, abstract: str) -> dict:
    paper = index.paper(row["id"])
    score = None if row["score"] is None or (isinstance(row["score"], float) and math.isnan(row["score"])) \
        else round(float(row["score"]), 4)
    return {"id": str(row["id"]), "title": str(row["title"]), "url": str(row["url"]), "score": score,
            "profile": row["profile"], "because": row["because"], "followed": row["followed"],
            "authors": str(row["authors"] or ""), "date": str(row["date"] or ""),
            "categories": list(paper["categories"]) if paper is not None else [], "abstract": abstract}
