"""The whole morning in one call: fetch the new listings, rank them for each interest, deliver by
email and Atom, remember what went out.

    options = DigestOptions(categories="cs.CL,cs.IR", library=("my.bib",), email="me@example.org", atom="digest.atom")
    print(run_daily("index", profiles_of(options), options))

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
from datetime import date
from pathlib import Path

from ..artifacts import Busy, exclusive
from ..config import load_settings
from ..dates import days_before
from ..index.paper_index import PaperIndex
from ..papers.corpus import abs_url, clean, clean_category, clean_id
from .atom import check_atom_target, write_atom
from .deadline import MAIL_TIMEOUT
from .digest import NO_WORDS, default_since, digest
from .digest_options import OVERLAP_DAYS, DigestOptions
from .library import reading_list_path
from .mail import compose, first_sentences, send
from .memory import DigestMemory, memory_path
from .profiles import complete_profiles, profiles_of, with_reading_list
from .tldr import estimate, plan, read_cache, summarize, tldr_path
from .update import abstract_lookup, update_index


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
    window: int = 0  # new papers in the window, before ranking
    below_bar: list[str] = field(default_factory=list)  # interests with nothing above their bar
    tldr: str = ""  # what --tldr did (written, cached, capped, cost) or would cost

    @property
    def quiet(self) -> bool:
        return not self.entries

    def __str__(self) -> str:
        lines = [self.updated] if self.updated else []
        sent = "nothing sent" if not self.emailed else f"a short note sent to {self.emailed}"
        if self.quiet and not self.window:
            lines.append(f"no new papers since {self.since} (arXiv announces none on weekends and holidays); {sent}")
            return "\n".join(lines)
        if self.quiet:
            lines.append(f"{self.window:,} new papers since {self.since}, none above your bar today; {sent}")
            return "\n".join(lines)
        per = {}
        for e in self.entries:
            per[e["profile"]] = per.get(e["profile"], 0) + 1
        lines.append(f"{len(self.entries)} papers since {self.since}: "
                     + ", ".join(f"{n} for {p}" for p, n in per.items()))
        if self.below_bar:
            lines.append(f"nothing today above your bar for {', '.join(self.below_bar)}")
        if self.tldr:
            lines.append(self.tldr)
        if self.dry_run:
            lines.append("dry run: nothing sent, nothing remembered")
        else:
            if self.emailed:
                lines.append(f"emailed to {self.emailed}")
            if self.atom:
                lines.append(f"Atom feed: {self.atom}")
        return "\n".join(lines)


def run_daily(index_dir: str | Path, profiles: Sequence, options: DigestOptions | None = None, *, model=None,
              api=None, settings=None, today: str | None = None, say: Callable[[str], None] = print) -> DailyReport:
    """Update the index, rank the new papers for each profile, deliver, remember (see the module
    docstring for the order). ``options.categories`` None: no update, the index as it is. One run
    at a time per memory file: a second one stops at once with :class:`~arxiv_reco.artifacts.Busy`.

    >>> print(run_daily("index", profiles_of(options), read_config("digest.toml")))
    """
    settings = settings or load_settings()
    o = options or DigestOptions()
    day = today or date.today().isoformat()
    if o.page_likes:  # what the reader clicked on the page counts, with no flag
        profiles = with_reading_list(profiles, reading_list_path(index_dir))
    if not profiles and not o.author:
        raise ValueError("no interest to rank for: give --library, --profile, --interest or --author (or like a "
                         "few papers on the page: arxiv-reco serve)")
    if o.email and not o.dry_run and not settings.smtp_url:
        raise ValueError("--email needs a mail server: set ARXIV_RECO_SMTP_URL (smtp://host:587 or smtps://host:465) "
                         "in the environment or .env")
    state = Path(o.state).expanduser() if o.state else memory_path(index_dir)
    try:
        with exclusive(state, "daily", wait=False):
            return _run(index_dir, profiles, o, state, day, model, api, settings, say)
    except Busy as e:
        who = f" (pid {e.holder})" if e.holder else ""
        raise Busy(f"another daily run{who} is using {state}: one daily run at a time per memory file; this one "
                   "stops, nothing sent", e.holder) from None


def run_lab(index_dir: str | Path, options: DigestOptions, *, model=None, api=None, settings=None,
            today: str | None = None, say: Callable[[str], None] = print) -> dict[str, DailyReport]:
    """A lab's morning: one index, one update (with the first reader's run), then each reader of
    ``options.readers`` ranked, mailed and remembered on their own (``<index>.digest.NAME.json``
    unless the reader names a state file). What this run was told (dry run, resend, since) holds for all.

    >>> reports = run_lab("index", read_config("lab.toml"))
    """
    reports = {}
    for i, (name, reader) in enumerate(options.readers.items()):
        reader = reader.but(categories=options.categories if i == 0 else None, dry_run=options.dry_run,
                            resend=options.resend, since=options.since, format=options.format,
                            state=reader.state or str(memory_path(index_dir, name)))
        reports[name] = run_daily(index_dir, profiles_of(reader), reader, model=model, api=api, settings=settings,
                                  today=today, say=say)
    return reports


def _run(index_dir, profiles, o: DigestOptions, state: Path, day: str, model, api, settings, say) -> DailyReport:
    memory = DigestMemory(state, o.keep_days)  # a file that is not a memory is refused here, before any work
    if o.atom:
        check_atom_target(o.atom, state)
    report = DailyReport(day, o.since, dry_run=o.dry_run)
    # 1. the new listings (an API that fails after its retries raises here: nothing sent or remembered)
    index = PaperIndex.load(index_dir, model)  # one index and one model for every step (updated in place)
    if o.categories:  # (the report says what it added, once, at the end)
        report.updated = str(update_index(index_dir, o.categories, api=api, show_progress=False, index=index))
    if index.words is None:
        say(NO_WORDS)
    # 2. the libraries' papers the index lacks
    complete_profiles(profiles, index, index_dir, api, o.fetch, say)
    # 3. rank the window, less what went out before
    report.since = o.since or _window_start(memory, index)
    lookup = abstract_lookup(o.papers, index_dir)
    frame = digest(index, profiles, o.but(since=report.since), abstracts=lookup,
                   skip=() if o.resend else memory.delivered())
    abstracts = lookup(frame["id"].tolist()) if len(frame) else {}
    report.entries = entries(index, frame, abstracts)
    report.window, report.below_bar = frame.attrs.get("window", 0), frame.attrs.get("quiet", [])
    if o.tldr and report.entries:
        report.tldr = _tldrs(report, o, index_dir, settings, lookup)
    if o.dry_run:
        return report
    timeout = o.timeout or MAIL_TIMEOUT
    # 4. a quiet day
    if report.quiet:
        if o.send_empty and o.email:
            note = (f"No new papers since {report.since}: arXiv announces none on weekends and holidays."
                    if not report.window else f"{report.window:,} new papers since {report.since}, none above your "
                    "bar today.")
            send(compose([], day, _sender(settings, o.email), o.email, note=note), settings, timeout)
            report.emailed = o.email
        memory.ran(day)
        return report
    # 5. deliver: pending first, then the mail, then the record, then the feed made from the record
    memory.begin(day, report.entries)
    if o.email:
        message = compose(report.entries, day, _sender(settings, o.email), o.email, quiet=report.below_bar)
        if o.subject:
            message.replace_header("Subject", o.subject)
        try:
            send(message, settings, timeout)
        except Exception:
            memory.abort()  # it did not go out: nothing is remembered as delivered
            raise
        report.emailed = o.email
    memory.commit()
    if o.atom:
        report.atom = write_atom(o.atom, memory.recent(day))
    return report


def _tldrs(report: DailyReport, o: DigestOptions, index_dir, settings, lookup) -> str:
    """Each entry's TL;DR (``entry["tldr"]``) when there is a key; what it did, or would cost, in one line."""
    if not settings.has_gemini_key:
        return "TL;DR: none today, no GEMINI_API_KEY (the digest goes without them)"
    cache = tldr_path(index_dir)
    whole = lookup([e["id"] for e in report.entries])
    if o.dry_run:
        todo, capped = plan(report.entries, read_cache(cache), o.tldr_cap)
        usd = estimate(todo, settings.gemini_model, whole)
        money = f"about ${usd:.4f}" if usd is not None else "cost unknown for this model"
        return (f"TL;DR: would write {len(todo)} with {settings.gemini_model} ({money})"
                + (f", {capped} over the cap" if capped else "") + "; none written in a dry run")
    sentences, done = summarize(report.entries, settings, cache, o.tldr_cap, whole)
    for e in report.entries:
        if e["id"] in sentences:
            e["tldr"] = sentences[e["id"]]
    return str(done)


def _window_start(memory: DigestMemory, index) -> str | None:
    if memory.last_run:
        return days_before(memory.last_run, OVERLAP_DAYS)
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

    >>> compose(entries(index, digest(index, profiles, options), abstracts), day, sender, to)
    """

    return [_entry(index, row, first_sentences(abstracts.get(row["id"], ""))) for _, row in frame.iterrows()]


def _entry(index, row, abstract: str) -> dict:
    paper = index.paper(row["id"])
    score = None if row["score"] is None or (isinstance(row["score"], float) and math.isnan(row["score"])) \
        else round(float(row["score"]), 4)
    # cleaned again on the way out: an index built before its fields were cleaned on the way in
    cats = [c for c in map(clean_category, paper["categories"] if paper is not None else []) if c]
    return {"id": clean_id(row["id"]), "title": clean(str(row["title"])), "url": abs_url(row["id"]), "score": score,
            "profile": row["profile"], "because": row["because"], "followed": row["followed"],
            "near_miss": bool(row.get("near_miss", False)),
            "authors": clean(str(row["authors"] or "")), "date": clean(str(row["date"] or "")),
            "categories": cats, "abstract": clean(abstract)}
