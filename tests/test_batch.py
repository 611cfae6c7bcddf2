"""Batch mode survives what a 24-hour wait meets: transient faults, lost answers, a killed poller."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest
from fake_gemini import FakeGemini
from helpers import KEY, REPO, assert_scores_are_the_pairs_own, at, stored

import arxiv_reco.labels.batch as batch
from arxiv_reco.labels.batch import label_pairs_batch
from arxiv_reco.labels.labeling import label_config
from arxiv_reco.pairs.sampling import save_pairs


def quick(**kw) -> dict:
    return {"poll_seconds": 0.01, "progress": False, "backoff_base": 0.02, **kw}


def test_batch_mode_labels_into_the_same_store_and_resumes_by_job_name(fake, settings, pairs, tmp_path):
    store = tmp_path / "l.sqlite"
    first = label_pairs_batch(pairs, store, settings=settings, poll_seconds=0.01, progress=False, wait=False)
    assert first.batch_job and first.labeled == 0  # submitted, still pending
    jobs_before = len(fake.batches)
    second = label_pairs_batch(pairs, store, settings=settings, poll_seconds=0.01, progress=False, pairs_per_request=4)
    assert len(fake.batches) == jobs_before == 1  # resumed, not submitted twice
    assert second.batch_job == first.batch_job and second.labeled == 40
    rows = stored(store)
    assert (rows["labeler"] == "gemini-batch").all()
    assert_scores_are_the_pairs_own(store, pairs)
    assert second.cost_usd == pytest.approx(label_config(settings).cost(second.input_tokens, second.output_tokens) / 2)


def test_polling_rides_out_503s_429s_dropped_connections_and_timeouts(fake, settings, pairs, tmp_path):
    fake.batch_polls_pending = 3
    fake.call_faults["get"].extend(["503", "drop", "429:0.05", "503", "hang:2", "drop"])
    summary = label_pairs_batch(pairs, tmp_path / "l.sqlite", settings=settings, timeout=1, **quick())
    assert summary.labeled == 40 and summary.remaining == 0 and not summary.failed
    # five faults answer nothing; the hung poll is answered late and still counts as one of the 4
    # polls a job needs, so 9 is the least (10 when the hang's late answer lands after the last poll)
    assert len(fake.batches) == 1 and fake.calls["get"] >= 5 + 4
    assert_scores_are_the_pairs_own(tmp_path / "l.sqlite", pairs)


def test_a_job_accepted_whose_answer_was_lost_is_found_not_paid_twice(fake, settings, pairs, tmp_path):
    fake.call_faults["create"].append("accept_then_drop")
    fake.call_faults["list"].append("503")
    summary = label_pairs_batch(pairs, tmp_path / "l.sqlite", settings=settings, **quick())
    assert len(fake.batches) == 1 and summary.labeled == 40
    assert fake.calls["create"] == 1  # looked up after the lost answer, never created again


def test_large_jobs_go_through_an_uploaded_file_with_retried_upload_and_download(fake, settings, pairs, tmp_path,
                                                                                 monkeypatch):
    monkeypatch.setattr(batch, "INLINE_LIMIT_BYTES", 0)  # every job is "large": the JSONL file path
    fake.call_faults["upload"].append("503")
    fake.call_faults["download"].extend(["503", "drop"])
    summary = label_pairs_batch(pairs, tmp_path / "l.sqlite", settings=settings, pairs_per_request=3, **quick())
    assert summary.labeled == 40 and not summary.failed
    uploaded = [f for f in fake.files if not f.startswith("files/out-")]
    assert len(uploaded) == 1 and fake.files[uploaded[0]].count(b'"key"') == 14  # 40 pairs, 3 per request
    assert fake.calls["download"] == 3
    assert_scores_are_the_pairs_own(tmp_path / "l.sqlite", pairs)


def test_a_job_the_service_lost_leaves_its_pairs_for_the_next_run(fake, settings, pairs, tmp_path):
    store = tmp_path / "l.sqlite"
    first = label_pairs_batch(pairs, store, settings=settings, wait=False, **quick())
    del fake.batches[first.batch_job]  # deleted on the service's side (or expired long ago)
    gone = label_pairs_batch(pairs, store, settings=settings, **quick())
    assert gone.labeled == 0 and gone.failed == {"batch_not_found": 40}
    again = label_pairs_batch(pairs, store, settings=settings, **quick())
    assert again.labeled == 40 and len(fake.batches) == 1


def _job_names(store) -> list[str]:
    try:
        with sqlite3.connect(store) as db:
            return [r[0] for r in db.execute("SELECT name FROM batch_jobs")]
    except sqlite3.Error:
        return []


@pytest.mark.slow
def test_a_killed_poller_resumes_the_same_job(settings, pairs, tmp_path, monkeypatch):
    pairs_csv, store = tmp_path / "pairs.csv", tmp_path / "l.sqlite"
    save_pairs(pairs, pairs_csv)
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(REPO)!r})
        from arxiv_reco.labels.batch import label_pairs_batch
        from arxiv_reco.config import load_settings
        from arxiv_reco.pairs.sampling import read_pairs
        label_pairs_batch(read_pairs({str(pairs_csv)!r}), {str(store)!r}, poll_seconds=0.05, progress=False,
                          settings=load_settings(env_file=None, gemini_api_key={KEY!r}))
    """)
    with FakeGemini(api_key=KEY, batch_polls_pending=10**9) as fake:  # never done while the first poller lives
        proc = subprocess.Popen([sys.executable, "-c", script], env={**os.environ, "GOOGLE_GEMINI_BASE_URL": fake.url})
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (fake.calls["get"] >= 3):
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert fake.calls["get"] >= 3 and len(fake.batches) == 1
        assert [n for n in _job_names(store) if n.startswith("batches/")] == list(fake.batches)

        fake.batch_polls_pending = 0
        summary = label_pairs_batch(pairs, store, settings=at(settings, fake), **quick())
        assert len(fake.batches) == 1  # resumed, not submitted again
        assert summary.labeled == 40 and summary.batch_job == next(iter(fake.batches))
    assert (stored(store)["status"] == "ok").all()


def test_new_pairs_are_submitted_beside_a_job_still_open(fake, settings, pairs, tmp_path):
    store = tmp_path / "l.sqlite"
    label_pairs_batch(pairs.head(20), store, settings=settings, wait=False, **quick())  # still pending
    both = label_pairs_batch(pairs, store, settings=settings, **quick())
    assert both.labeled == 40 and len(fake.batches) == 2  # the open job collected, the other 20 in a new one
    assert (stored(store)["status"] == "ok").sum() == 40
