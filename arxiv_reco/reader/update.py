"""Fresh papers into an index: the arXiv listings since its newest paper, appended without
re-encoding what is there.

    report = update_index("index/", "cs.CL,cs.IR")                   # since the newest paper, minus 3 days
    report = update_index("index/", "cs.CL", since="2026-11-20", api=ArxivAPI(pace=3.0))
    added = add_papers_by_id(index, ["2401.01234"], api)             # a library's missing papers

The window is re-queried with an overlap (papers appear in the API a day or more after their
submission date) and deduplicated by versionless id. Each page fetched is kept in a hidden
folder beside the index (``.index.fetch/``), written atomically, so a killed run continues at
the next page; encoding resumes from its own checkpoint (``.index.encoding/``). Both go once
the index is saved. Nothing new: the index folder is left untouched.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from ..artifacts import replace_file, write_json
from ..dates import days_before
from ..index.abstracts import AbstractStore
from ..papers.corpus import PAPER_COLUMNS, CategoryFilter, base_id, iso_date
from ..vectors.backends import BATCH_SIZE
from .arxiv_api import PAGE_SIZE, ArxivAPI, category_query
from .digest_options import OVERLAP_DAYS

MAX_RESULTS = 30_000  # the most the export API serves of one query (its documented limit)


@dataclass
class UpdateReport:
    """What one update did."""

    index: Path
    query: str
    fetched: int = 0  # papers the API returned in the window (deduplicated)
    added: int = 0  # of them, new to the index
    requests: int = 0
    resumed_from: int = 0  # results already fetched by a killed run
    total: int = 0  # index size afterwards
    dropped: int = 0  # entries whose id is not an arXiv id: never stored
    bad_dates: int = 0  # papers of the index whose update_date is impossible: treated as missing
    future_dates: int = 0  # papers dated after today: windows treat them as today
    stopped: str = ""  # why fetching stopped before the feed's claimed end, if it did
    added_ids: list[str] = field(default_factory=list)

    def notes(self) -> str:
        """What was set aside, if anything, in one line each."""
        lines = []
        if self.dropped:
            lines.append(f"dropped {self.dropped:,} feed entries whose id is not an arXiv id")
        if self.bad_dates:
            lines.append(f"{self.bad_dates:,} papers in the index have an impossible update_date (treated as missing)")
        if self.future_dates:
            lines.append(f"{self.future_dates:,} papers in the index are dated after today (windows treat them as "
                         "today)")
        if self.stopped:
            lines.append(self.stopped)
        return "".join(f"\nnote: {line}" for line in lines)

    def __str__(self) -> str:
        resumed = f", resumed after {self.resumed_from:,} already fetched" if self.resumed_from else ""
        if not self.added:
            return (f"{self.index}: nothing new ({self.fetched:,} papers in the window, all indexed; "
                    f"{self.requests} requests{resumed}); left it untouched ({self.total:,} papers)" + self.notes())
        return (f"{self.index}: added {self.added:,} new papers ({self.fetched:,} in the window, "
                f"{self.requests} requests{resumed}); now {self.total:,} papers, old ones not re-encoded"
                + self.notes())


def fetch_checkpoint(index_dir: str | Path) -> Path:
    """The hidden folder beside an index where the pages of an unfinished update are kept."""
    index_dir = Path(index_dir)
    return index_dir.with_name(f".{index_dir.name}.fetch")


def update_index(index_dir: str | Path, categories: str | Sequence[str], since: str | None = None,
                 until: str | None = None, model=None, api: ArxivAPI | None = None, page_size: int = PAGE_SIZE,
                 overlap_days: int = OVERLAP_DAYS, batch_size: int = BATCH_SIZE, show_progress: bool = True,
                 max_results: int = MAX_RESULTS, index=None) -> UpdateReport:
    """Fetch the listings of ``categories`` submitted since ``since`` (default: the index's
    newest paper minus ``overlap_days``) up to ``until`` (default: today, GMT), and append the
    new ones to the index at ``index_dir``. A killed run, started again with the same
    categories, continues where it stopped. Fetching stops at ``max_results`` (what arXiv serves of
    one query) and at a page that brings no paper not fetched already (an API repeating itself).
    ``index``: the index at ``index_dir`` already loaded (updated in place: the model loads once).

    >>> print(update_index("index/", "cs.CL,cs.IR"))
    """
    from tqdm.auto import tqdm

    from ..index.paper_index import PaperIndex

    index_dir = Path(index_dir)
    index = index if index is not None else PaperIndex.load(index_dir, model)
    api = api or ArxivAPI()
    cats = [c for c in (categories.replace(",", " ").split() if isinstance(categories, str) else categories) if c]
    ckpt = fetch_checkpoint(index_dir)
    job = _resume(ckpt, cats, iso_date(since), iso_date(until))
    if job is None:
        since = iso_date(since) or _default_since(index, overlap_days)
        until = iso_date(until) or datetime.now(timezone.utc).date().isoformat()
        if since > until:
            raise ValueError(f"--since {since} is after --until {until}: nothing to fetch")
        job = {"categories": cats, "since": since, "until": until, "page_size": page_size,
               "query": category_query(cats, since, until), "total": None}
    report = UpdateReport(index_dir, job["query"], bad_dates=index.bad_dates)
    papers, start = _pages(ckpt)
    report.resumed_from = start
    seen = {p["id"] for p in papers}
    bar = tqdm(desc=f"arXiv {', '.join(cats)} since {job['since']}", unit="paper", disable=not show_progress,
               initial=start, total=job["total"])
    try:
        while job["total"] is None or start < min(job["total"], max_results):
            page = api.page(job["query"], start=start, size=job["page_size"])
            if job["total"] != page.total:
                job["total"] = bar.total = page.total
                write_json(ckpt / "job.json", job)  # ckpt exists from here on: a kill now resumes
            fresh = {p["id"] for p in page.papers} - seen
            if not page.entries or (page.papers and not fresh):
                # a page of papers already fetched: the API repeats itself (or lies about its total)
                report.stopped = (f"the arXiv API served page {start:,} again (papers already fetched) of the "
                                  f"{page.total:,} it claims; stopped there") if page.entries else ""
                break
            seen |= fresh
            # the entries count moves the offset, whatever was dropped of them
            write_json(ckpt / f"page-{start:08d}.json", {"entries": page.entries, "papers": page.papers})
            papers.extend(page.papers)
            start += page.entries
            bar.update(page.entries)
    finally:
        bar.close()
        report.requests, report.dropped = api.requests, api.dropped
    if (job["total"] or 0) > max_results and not report.stopped:
        report.stopped = (f"the arXiv API serves at most {max_results:,} results of one query and claims "
                          f"{job['total']:,}; fetched the first {max_results:,}: narrow --categories or --since")
    window = _frame(papers, cats)
    report.fetched = len(window)
    new = window[~window["id"].isin(index.meta["id"].map(base_id))]
    if len(new):
        from ..vectors.embed import checkpoint_for, drop_checkpoint

        report.added = index.add(new, batch_size=batch_size, show_progress=show_progress,
                                 checkpoint=checkpoint_for(index_dir))
        report.added_ids = new["id"].tolist()
        if index.abstracts is None:  # from before 0.4: the file beside it (first: a kill after the save keeps them)
            save_abstracts(index_dir, new)
        index.save(index_dir)
        drop_checkpoint(checkpoint_for(index_dir))
    shutil.rmtree(ckpt, ignore_errors=True)
    report.total, report.future_dates = len(index), index.future_dates
    return report


def add_papers_by_id(index, ids: Sequence[str], api: ArxivAPI | None = None, save_to: str | Path | None = None,
                     show_progress: bool = False) -> list[str]:
    """Fetch the papers of ``ids`` missing from ``index`` (API id_list), add them, and save the
    index to ``save_to`` when given. Returns the ids added; ids arXiv does not know are left out.

    >>> add_papers_by_id(index, library.missing(index), save_to="index/")
    """
    missing = [i for i in dict.fromkeys(ids) if not index.contains(i)]
    if not missing:
        return []
    papers = (api or ArxivAPI()).fetch_ids(missing)
    if not papers:
        return []
    frame = pd.DataFrame(papers, columns=PAPER_COLUMNS)
    index.add(frame, show_progress=show_progress)
    if save_to is not None:
        if index.abstracts is None:  # an index from before 0.4 keeps no abstracts itself: the file beside it
            save_abstracts(save_to, frame)
        index.save(save_to)
    return frame["id"].tolist()


# ---- abstracts of fetched papers (the index keeps no abstracts; the page shows them) --------------
def abstracts_path(index_dir: str | Path) -> Path:
    """``index.abstracts.parquet`` beside the index folder: id and abstract of the fetched papers."""
    index_dir = Path(index_dir)
    return index_dir.with_name(f"{index_dir.name}.abstracts.parquet")


def save_abstracts(index_dir: str | Path, papers: pd.DataFrame) -> Path:
    """Merge the papers' abstracts into the file beside the index (replaced atomically)."""

    path = abstracts_path(index_dir)
    new = papers[["id", "abstract"]].astype(str)
    if path.exists():
        new = pd.concat([pd.read_parquet(path), new]).drop_duplicates("id", keep="last")
    with replace_file(path) as tmp:
        new.to_parquet(tmp, index=False)
    return path


def _default_since(index, overlap_days: int) -> str:
    newest = index.newest_date()
    if newest is None:
        raise ValueError("this index has no dated papers to continue from; pass --since YYYY-MM-DD")
    return days_before(newest, overlap_days)


def _resume(ckpt: Path, cats: list[str], since: str | None, until: str | None) -> dict | None:
    """The unfinished job in ``ckpt`` when it is this one (same categories; dates, if given,
    the same); otherwise the stale pages are removed and None returned."""
    try:
        job = json.loads((ckpt / "job.json").read_text())
    except (OSError, ValueError):
        job = None
    same = (job is not None and job.get("categories") == cats and since in (None, job.get("since"))
            and until in (None, job.get("until")))
    if not same:
        shutil.rmtree(ckpt, ignore_errors=True)
        return None
    return job


def _pages(ckpt: Path) -> tuple[list[dict], int]:
    """The papers of the pages a killed run finished, and where the next page starts."""
    papers, start = [], 0
    while True:
        page = ckpt / f"page-{start:08d}.json"
        try:
            saved = json.loads(page.read_text())
        except (OSError, ValueError):
            return papers, start
        if isinstance(saved, list):  # a page kept before entries were counted: one paper an entry
            saved = {"entries": len(saved), "papers": saved}
        if not isinstance(saved, dict) or not saved.get("entries"):
            return papers, start
        papers.extend(saved.get("papers", []))
        start += int(saved["entries"])


def _frame(papers: list[dict], cats: list[str]) -> pd.DataFrame:
    """The fetched papers, one row per versionless id (the latest version), in the corpus schema."""
    df = pd.DataFrame(papers, columns=PAPER_COLUMNS)
    if df.empty:
        return df
    flt = CategoryFilter.build(cats)  # the API matches cross-lists too; so does the filter
    df = df[[flt.category_ok(c) for c in df["categories"]]]
    return df.sort_values("update_date", kind="stable").drop_duplicates("id", keep="last").reset_index(drop=True)


def abstract_lookup(papers, index_dir: str | Path | None) -> Callable[[list[str]], dict[str, str]]:
    """A function ids -> {id: abstract}, from a corpus (a DataFrame or a file; Parquet is read per
    call, so a 2.8M-paper corpus stays on disk), the abstracts the index keeps itself, and (an
    index from before 0.4) the fetched papers' file beside it.

    >>> abstracts = abstract_lookup("papers.parquet", "index"); abstracts(["2401.01234"])
    """
    known: dict[str, str] = {}
    parquet: list[Path] = []
    if papers is not None and hasattr(papers, "columns"):
        known.update(zip(papers["id"].astype(str), papers["abstract"].astype(str)))
    elif papers is not None:
        path = Path(papers).expanduser()
        with open(path, "rb") as f:
            is_parquet = f.read(4) == b"PAR1"
        if is_parquet:
            parquet.append(path)  # read per page of cards: a 2.8M-paper corpus stays on disk
        else:
            from ..papers.files import read_papers

            df = read_papers(path)
            known.update(zip(df["id"].astype(str), df["abstract"].astype(str)))
    if index_dir is not None and abstracts_path(index_dir).exists():
        parquet.append(abstracts_path(index_dir))

    def lookup(ids: list[str]) -> dict[str, str]:
        out = {i: known[i] for i in ids if i in known}
        # what the index keeps itself, read as it lies now (a daily run may have saved it since)
        kept = AbstractStore.load(Path(index_dir) / "abstracts") if index_dir is not None else None
        if kept is not None:
            out.update(kept.get([i for i in ids if i not in out]))
        for path in parquet:
            todo = [i for i in ids if i not in out]
            if todo:
                df = pd.read_parquet(path, columns=["id", "abstract"], filters=[("id", "in", todo)])
                out.update(zip(df["id"].astype(str), df["abstract"].astype(str)))
        return out

    return lookup
