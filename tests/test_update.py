"""`update`: fresh arXiv listings into an index, against a loopback fake of the export API that
answers real Atom XML built from the bundled sample's records (paging, 503, 429 with
Retry-After, a slow answer, the empty-page quirk, a kill mid-fetch)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fake_arxiv import FakeArxiv, error_feed

import arxiv_reco
from arxiv_reco.index.paper_index import PaperIndex
from arxiv_reco.papers.corpus import normalize
from arxiv_reco.reader.arxiv_api import (
    ArxivAPI,
    ArxivAPIError,
    EmptyPageError,
    _retry_after,
    category_query,
    parse_feed,
)
from arxiv_reco.reader.update import abstracts_path, fetch_checkpoint, update_index
from arxiv_reco.vectors.embed import _PROBE

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
CATS = ["cs.CL", "cs.IR"]
CUTOFF = "2026-03-01"  # the index holds papers up to here; the fake has the sample's later ones too
PACE = 0.2




def _ours(r: dict) -> bool:
    return bool(set(r["categories"].split()) & set(CATS))


@pytest.fixture(scope="module")
def old_papers(records) -> pd.DataFrame:
    """What the index starts with: the 20 latest cs.CL/cs.IR papers before CUTOFF and 20 others."""
    dated = sorted((r for r in records if r["update_date"] and r["update_date"] < CUTOFF), key=lambda r: r["update_date"])
    mine = [r for r in dated if _ours(r)][-20:]
    others = [r for r in dated if not _ours(r)][-20:]
    return pd.DataFrame([normalize(r) for r in mine + others])


def expected_new(records, old: pd.DataFrame) -> set[str]:
    newest = max(old["update_date"])
    since = (date.fromisoformat(newest) - timedelta(days=3)).isoformat()
    return {r["id"] for r in records if r["update_date"] and r["update_date"] >= since and _ours(r)} - set(old["id"])


@pytest.fixture(scope="module")
def built(tmp_path_factory, model, old_papers) -> Path:
    out = tmp_path_factory.mktemp("built") / "index"
    PaperIndex.build(model, old_papers, show_progress=False, model_name=MINILM).save(out)
    return out


@pytest.fixture
def index_dir(tmp_path, built) -> Path:
    """A fresh copy of the 40-paper index for each test."""
    shutil.copytree(built, tmp_path / "index")
    return tmp_path / "index"


class _CountingModel:
    """The real model, recording the papers it was asked to encode (not the fingerprint probe)."""

    def __init__(self, model):
        self.model, self.seen = model, []

    def encode(self, texts, **kw):
        self.seen.extend(t for t in texts if not t.startswith(_PROBE))
        return self.model.encode(texts, **kw)


def _gaps(log: list[dict]) -> list[float]:
    return [b["t"] - a["t"] for a, b in zip(log, log[1:])]


def test_update_adds_exactly_the_new_papers_through_faults_at_the_pace(records, model, old_papers, index_dir):
    want = expected_new(records, old_papers)
    assert 8 <= len(want) <= 40  # the window holds real new papers, over several pages of 4
    before = np.asarray(PaperIndex.load(index_dir).embeddings).copy()
    with FakeArxiv(records) as fake:
        fake.script.extend(["503", "slow:1.2", "429:0.6", None, "empty"])
        api = ArxivAPI(fake.url, pace=PACE, timeout=0.6, backoff=0.05)
        spy = _CountingModel(model)
        report = update_index(index_dir, "cs.CL,cs.IR", model=spy, api=api, page_size=4, show_progress=False)
    assert report.added == len(want) and set(report.added_ids) == want
    assert len(spy.seen) == len(want)  # only the new papers were encoded
    index = PaperIndex.load(index_dir, model)
    assert len(index) == len(old_papers) + len(want)
    assert np.array_equal(np.asarray(index.embeddings[: len(before)]), before)  # the old rows untouched
    assert set(index.meta["id"]) == set(old_papers["id"]) | want  # versionless ids, nothing twice
    new = index.meta[index.meta["id"].isin(want)]
    by_id = {r["id"]: r for r in records}
    for pid, cats, primary in zip(new["id"], new["categories"], new["primary_category"]):
        assert list(cats) == by_id[pid]["categories"].split() and primary == cats[0]  # primary first
    # the fake saw: a 503, a slow answer (timed out, asked again), a 429 (Retry-After: 0.6), an empty page
    faults = [e["fault"] for e in fake.log]
    assert faults[:5] == ["503", "slow:1.2", "429:0.6", None, "empty"]
    gaps = _gaps(fake.log)
    assert min(gaps) >= PACE - 0.02  # one request every PACE seconds, retries included
    assert gaps[2] >= 0.6 - 0.02  # the 429's Retry-After was honoured
    starts = [int(e["params"]["start"]) for e in fake.log]
    assert starts[:5] == [0, 0, 0, 0, 4] and starts[5] == 4  # retried in place; the empty page asked again
    assert all(e["params"]["sortBy"] == "submittedDate" for e in fake.log)
    assert "submittedDate:[" in fake.log[0]["params"]["search_query"]
    # the new papers' abstracts are kept by the index itself, nothing is left beside it
    by_id = {r["id"]: r["abstract"] for r in records}
    assert PaperIndex.load(index_dir).abstract_of(sorted(want)) == {i: by_id[i] for i in want}
    assert not abstracts_path(index_dir).exists() and not fetch_checkpoint(index_dir).exists()


def test_nothing_new_leaves_the_index_untouched(records, old_papers, index_dir, model):
    stamp = (index_dir / "index.json").stat().st_mtime_ns
    with FakeArxiv(records) as fake:  # February: all its cs.CL/cs.IR papers are indexed
        spy = _CountingModel(model)
        report = update_index(index_dir, CATS, since="2026-02-01", until="2026-02-28", model=spy,
                              api=ArxivAPI(fake.url, pace=0.01), show_progress=False)
    assert report.added == 0 and report.fetched > 0 and not spy.seen
    assert (index_dir / "index.json").stat().st_mtime_ns == stamp and "nothing new" in str(report)


def test_update_resumes_after_a_kill_without_refetching_or_reencoding(records, model, old_papers, index_dir):
    want = expected_new(records, old_papers)
    env = {**os.environ, "PYTHONPATH": str(Path(arxiv_reco.__file__).parent.parent)}
    with FakeArxiv(records) as fake:
        env["ARXIV_RECO_ARXIV_API"] = fake.url
        fake.script.extend([None, None, "hang:20"])  # the third page never comes: the run is mid-fetch
        proc = subprocess.Popen([sys.executable, "-m", "arxiv_reco.cli", "update", "--index", str(index_dir),
                                 "--categories", "cs.CL,cs.IR", "--page-size", "3", "--pace", "0.05"],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        ckpt = fetch_checkpoint(index_dir)
        deadline = time.monotonic() + 60
        while len(list(ckpt.glob("page-*.json"))) < 2 or len(fake.log) < 3:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the update never reached its third page"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        assert len(PaperIndex.load(index_dir)) == len(old_papers)  # killed: the index is as it was
        fetched_before = len(fake.log)
        spy = _CountingModel(model)
        report = update_index(index_dir, "cs.CL,cs.IR", model=spy, api=ArxivAPI(fake.url, pace=0.01),
                              show_progress=False)
        resumed = [int(e["params"]["start"]) for e in fake.log[fetched_before:]]
    assert report.resumed_from == 6 and resumed[0] == 6  # pages 0 and 3 were not fetched again
    assert set(report.added_ids) == want and len(spy.seen) == len(want)  # nothing encoded twice
    assert len(PaperIndex.load(index_dir)) == len(old_papers) + len(want)
    assert not fetch_checkpoint(index_dir).exists()


def test_a_different_job_discards_the_stale_pages(records, index_dir, model):
    ckpt = fetch_checkpoint(index_dir)
    ckpt.mkdir()
    (ckpt / "job.json").write_text(json.dumps({"categories": ["math.AG"], "since": "2020-01-01"}))
    (ckpt / "page-00000000.json").write_text("[]")
    with FakeArxiv(records) as fake:
        report = update_index(index_dir, CATS, api=ArxivAPI(fake.url, pace=0.01), model=model, show_progress=False)
    assert report.resumed_from == 0 and report.added > 0


def test_errors_say_what_to_do(records, index_dir):
    with FakeArxiv(records) as fake:
        fake.script.extend(["503"] * 3)
        with pytest.raises(ArxivAPIError, match="did not answer after 3 tries.*run the same command again"):
            ArxivAPI(fake.url, pace=0.01, tries=3, backoff=0.01).page(category_query(CATS))
        fake.script.extend(["empty"] * 2)
        with pytest.raises(EmptyPageError, match="empty page at 0"):
            ArxivAPI(fake.url, pace=0.01, empty_tries=2).page(category_query(CATS))
        asked = len(fake.log)
        assert ArxivAPI(fake.url, pace=0.01).fetch_ids(["12345", "x)[a](https://evil.example)"]) == []
        assert len(fake.log) == asked  # what is not an arXiv id is never sent
    with pytest.raises(ArxivAPIError, match="refused the query: incorrect id format"):
        parse_feed(error_feed("incorrect id format for 1234.12345").encode())
    with pytest.raises(ArxivAPIError, match="not an Atom feed"):
        parse_feed(b"<html>Rate exceeded")
    with pytest.raises(ValueError, match="--since 2026-03-01 is after --until 2026-02-01"):
        update_index(index_dir, CATS, since="2026-03-01", until="2026-02-01")


def test_query_and_retry_after_forms():
    assert category_query("cs.CL, cs.IR", since="2026-11-20", until="2026-11-27") == (
        "(cat:cs.CL OR cat:cs.IR) AND submittedDate:[202611200000 TO 202611272359]")
    assert category_query(["hep-th"]) == "cat:hep-th"
    with pytest.raises(ValueError, match="at least one"):
        category_query("")
    assert _retry_after("7") == 7.0 and _retry_after(None) is None and _retry_after("soon") is None
    assert 0 <= _retry_after("Wed, 21 Oct 2015 07:28:00 GMT") < 1  # a date in the past: now


def test_cli_update(records, index_dir, capsys, monkeypatch):
    from arxiv_reco.cli import main

    with FakeArxiv(records) as fake:
        monkeypatch.setenv("ARXIV_RECO_ARXIV_API", fake.url)
        assert main(["update", "--index", str(index_dir), "--categories", "cs.CL,cs.IR", "--pace", "0.01",
                     "--max-seq-length", "32"]) == 0
        assert "added" in capsys.readouterr().out
        assert main(["update", "--index", str(index_dir), "--categories", "cs.CL,cs.IR", "--pace", "0.01"]) == 0
        assert "nothing new" in capsys.readouterr().out
    assert fake.log[0]["params"]["search_query"].startswith("(cat:cs.CL OR cat:cs.IR) AND submittedDate:[")
