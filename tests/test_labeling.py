"""The labelling engine against a loopback fake of the Gemini REST API, through the real SDK."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections import deque
from pathlib import Path

import pandas as pd
import pytest
from fake_gemini import FakeGemini
from helpers import KEY, REPO, SAMPLE_2K, assert_scores_are_the_pairs_own, at, fast, stored

from arxiv_reco.config import load_settings
from arxiv_reco.labels.gemini import alabel_pairs, label_pairs
from arxiv_reco.labels.labeling import (
    LABEL_COLUMNS,
    LabelConfig,
    LabelingAborted,
    MissingKeyError,
    export_labels,
    format_plan,
    plan_labeling,
    read_labels,
)
from arxiv_reco.labels.prompts import PromptSpec
from arxiv_reco.labels.store import LabelStore
from arxiv_reco.pairs.sampling import save_pairs
from arxiv_reco.papers.corpus import paper_text


def test_success_labels_every_pair_with_its_own_score(fake, settings, pairs, tmp_path):
    summary = label_pairs(pairs, tmp_path / "l.sqlite", settings=settings, **fast())
    assert summary.labeled == 40 and summary.remaining == 0 and not summary.failed
    assert summary.requests == 40 and summary.input_tokens > 0 and summary.cost_usd > 0
    assert_scores_are_the_pairs_own(tmp_path / "l.sqlite", pairs)
    # scores are not all alike: the test can tell pairs apart
    assert stored(tmp_path / "l.sqlite")["score"].nunique() > 20


def test_rerun_resumes_and_asks_nothing_twice(fake, settings, pairs, tmp_path):
    label_pairs(pairs.head(25), tmp_path / "l.sqlite", settings=settings, **fast())
    before = len(fake.log)
    summary = label_pairs(pairs, tmp_path / "l.sqlite", settings=settings, **fast())
    assert summary.already_labeled == 25 and summary.labeled == 15
    asked_again = set(fake.requested_pairs()[before:]) & set(pairs.head(25)["pair_id"])
    assert not asked_again


def test_429_waits_for_the_servers_retry_delay(fake, settings, pairs, tmp_path):
    fake.script.append("429:1.2")
    label_pairs(pairs.head(1), tmp_path / "l.sqlite", settings=settings, concurrency=1, **fast())
    first, second = fake.log[0], fake.log[1]
    assert first["fault"] == "429:1.2"
    assert second["t"] - first["t"] >= 1.15  # RetryInfo honoured, not the 20 ms backoff
    assert len(stored(tmp_path / "l.sqlite")) == 1


@pytest.mark.parametrize("fault", ["500", "503", "malformed", "out_of_range", "blocked", "empty"])
def test_transient_faults_are_retried_then_labelled(fake, settings, pairs, tmp_path, fault):
    fake.script.extend([fault, fault])
    summary = label_pairs(pairs.head(3), tmp_path / "l.sqlite", settings=settings, concurrency=1, **fast())
    assert summary.labeled == 3 and summary.retries == 2
    assert_scores_are_the_pairs_own(tmp_path / "l.sqlite", pairs)


@pytest.mark.parametrize(("fault", "reason"), [
    ("malformed", "invalid_json"), ("out_of_range", "score_out_of_range"), ("blocked", "blocked"), ("503", "http_503")])
def test_persistent_faults_become_failures_never_labels(fake, settings, pairs, tmp_path, fault, reason):
    victim = pairs.iloc[0]["pair_id"]
    fake.pair_faults[victim] = deque([fault] * 10)
    summary = label_pairs(pairs.head(4), tmp_path / "l.sqlite", settings=settings, max_attempts=3, **fast())
    assert summary.labeled == 3 and summary.failed == {reason: 1} and summary.remaining == 1
    rows = stored(tmp_path / "l.sqlite").set_index("pair_id")
    assert rows.loc[victim, "status"] == "failed" and pd.isna(rows.loc[victim, "score"])
    assert rows.loc[victim, "failure"] == reason and rows.loc[victim, "attempts"] == 3
    # the next run retries it (a failure is not a label)
    fake.pair_faults.clear()
    again = label_pairs(pairs.head(4), tmp_path / "l.sqlite", settings=settings, **fast())
    assert again.labeled == 1 and again.remaining == 0


def test_hung_request_times_out_and_is_retried(fake, settings, pairs, tmp_path):
    fake.script.append("hang:3")  # answers correctly, after 3 s: only a timeout makes it a retry
    summary = label_pairs(pairs.head(2), tmp_path / "l.sqlite", settings=settings, concurrency=1, timeout=0.5, **fast())
    assert summary.labeled == 2 and summary.retries == 1
    assert [e["fault"] for e in fake.log] == ["hang:3", None, None]  # abandoned, asked again, next pair


@pytest.mark.parametrize(("model", "key", "words"), [
    ("gemini-9-ultra", KEY, "was not found"), ("gemini-2.5-flash", "wrong-key", "rejected the API key")])
def test_errors_no_retry_can_fix_stop_the_run_at_once(fake, pairs, tmp_path, model, key, words):
    settings = load_settings(env_file=None, gemini_api_key=key)
    with pytest.raises(LabelingAborted, match=words):
        label_pairs(pairs, tmp_path / "l.sqlite", settings=settings, model=model, concurrency=4, **fast())
    assert len(fake.log) <= 4  # not 40 failing requests
    assert stored(tmp_path / "l.sqlite").empty


def test_missing_key_says_what_to_do(fake, pairs, tmp_path):
    with pytest.raises(MissingKeyError, match="GEMINI_API_KEY.*teacher"):
        label_pairs(pairs, tmp_path / "l.sqlite", settings=load_settings(env_file=None, gemini_api_key=""), **fast())


@pytest.mark.parametrize("fault", ["drop_first", "repeat_first"])
def test_several_pairs_per_request_with_one_missing_or_repeated(fake, settings, pairs, tmp_path, fault):
    fake.script.append(fault)
    summary = label_pairs(pairs.head(10), tmp_path / "l.sqlite", settings=settings, pairs_per_request=5,
                          concurrency=1, **fast())
    assert summary.labeled == 10 and summary.remaining == 0
    assert [len(e["pairs"]) for e in fake.log] == [5, 5, 1]  # the odd one out alone
    assert_scores_are_the_pairs_own(tmp_path / "l.sqlite", pairs)


def test_concurrent_slow_reordered_answers_land_on_the_right_pairs(settings, pairs, tmp_path, monkeypatch):
    with FakeGemini(api_key=KEY, latency=lambda rng: rng.uniform(0, 0.15)) as fake:
        summary = label_pairs(pairs, tmp_path / "l.sqlite", settings=at(settings, fake), concurrency=12, pairs_per_request=2, **fast())
    assert summary.labeled == 40
    assert_scores_are_the_pairs_own(tmp_path / "l.sqlite", pairs)


def test_client_pacing_stays_under_the_servers_rate_cap(settings, pairs, tmp_path, monkeypatch):
    with FakeGemini(api_key=KEY, rpm_cap=600) as fake:
        summary = label_pairs(pairs.head(24), tmp_path / "l.sqlite", settings=at(settings, fake), concurrency=8, rpm=600, **fast())
    assert summary.labeled == 24 and fake.rejected_429 == 0


def test_sigkill_mid_run_then_resume_labels_each_pair_exactly_once(settings, pairs, tmp_path, monkeypatch):
    pairs_csv = tmp_path / "pairs.csv"
    save_pairs(pairs, pairs_csv)
    store = tmp_path / "l.sqlite"
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(REPO)!r})
        from arxiv_reco.config import load_settings
        from arxiv_reco.labels.gemini import label_pairs
        from arxiv_reco.pairs.sampling import read_pairs
        label_pairs(read_pairs({str(pairs_csv)!r}), {str(store)!r}, concurrency=2, progress=False,
                    settings=load_settings(env_file=None, gemini_api_key={KEY!r}))
    """)
    with FakeGemini(api_key=KEY, latency=0.1) as fake:
        env = {**os.environ, "GOOGLE_GEMINI_BASE_URL": fake.url}
        proc = subprocess.Popen([sys.executable, "-c", script], env=env)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # kill once some labels are committed
            if store.exists() and _count_ok(store) >= 8:
                break
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        labelled_before = set(stored(store).query("status == 'ok'")["pair_id"])
        assert 8 <= len(labelled_before) < 40
        asked_before = len(fake.log)

        summary = label_pairs(pairs, store, settings=at(settings, fake), **fast())
        asked_after = fake.requested_pairs()[asked_before:]

    rows = stored(store)
    assert len(rows) == 40 and rows["pair_id"].is_unique and (rows["status"] == "ok").all()
    assert summary.already_labeled == len(labelled_before) and summary.labeled == 40 - len(labelled_before)
    assert not set(asked_after) & labelled_before  # nothing labelled was requested again
    assert_scores_are_the_pairs_own(store, pairs)


def _count_ok(path: Path) -> int:
    try:
        with sqlite3.connect(path) as db:
            return db.execute("SELECT COUNT(*) FROM labels WHERE status='ok'").fetchone()[0]
    except sqlite3.Error:
        return 0


def test_prices_pick_the_most_specific_model_name():
    assert LabelConfig(model="gemini-2.5-flash-lite-preview-09-2025").price() == (0.10, 0.40)
    assert LabelConfig(model="models/gemini-2.5-flash").price(batch=True) == (0.15, 1.25)
    assert LabelConfig(model="gemini-9-ultra").cost(1000, 10) is None
    assert LabelConfig(model="my-model", prices={"my-model": (1.0, 2.0)}).cost(1_000_000, 500_000) == 2.0


def test_dry_run_shows_the_prompt_and_cost_without_calling(fake, pairs):
    plan = plan_labeling(pairs, config=LabelConfig(pairs_per_request=4))
    assert plan["requests"] == 10 and plan["to_label"] == 40
    assert plan["cost_usd"] > plan["batch_cost_usd"] > 0
    text = format_plan(plan)
    assert pairs.iloc[0]["pair_id"] in text and "research assistant" in text and "0.0 to 1.0" in text
    assert not fake.log


def test_prompt_version_separates_labels_of_different_prompts(fake, settings, pairs, tmp_path):
    store = tmp_path / "l.sqlite"
    label_pairs(pairs.head(5), store, settings=settings, **fast())
    summary = label_pairs(pairs.head(5), store, settings=settings, with_reason=True, **fast())
    assert summary.labeled == 5  # a changed prompt is a new version, not a resume
    assert len(LabelStore(store).versions()) == 2
    with pytest.raises(ValueError, match="several model/prompt versions"):
        export_labels(store, pairs, tmp_path / "out.csv")


def test_export_and_read_labels(fake, settings, pairs, tmp_path):
    store = LabelStore(tmp_path / "l.sqlite")
    label_pairs(pairs, store, settings=settings, **fast())
    out = tmp_path / "my_labeled_training_data.csv"
    export_labels(store, pairs, out)
    labels = read_labels(out)
    assert list(labels.columns) == LABEL_COLUMNS and len(labels) == 40
    assert set(labels["split"]) <= {"train", "validation", "test"} and (labels["labeler"] == "gemini").all()
    by_pair = pairs.set_index("pair_id")
    for _, row in labels.iterrows():  # the texts are the one text recipe of each pair's own papers
        src = by_pair.loc[row["pair_id"]]
        assert row["text_a"] == paper_text(src["title_a"], src["abstract_a"])
        assert row["text_b"] == paper_text(src["title_b"], src["abstract_b"])


def test_sync_entry_point_inside_a_running_loop(fake, settings, pairs, tmp_path):
    async def notebook_cell():
        # what a Jupyter cell does: a loop is already running
        return label_pairs(pairs.head(3), tmp_path / "l.sqlite", settings=settings, **fast())

    assert asyncio.run(notebook_cell()).labeled == 3

    async def top_level_await():
        return await alabel_pairs(pairs.head(6), tmp_path / "l.sqlite", settings=settings, **fast())

    assert asyncio.run(top_level_await()).labeled == 3


def test_the_key_never_reaches_outputs_logs_or_files(fake, pairs, tmp_path, capfd, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    settings = load_settings(env_file=None, gemini_api_key=KEY)
    fake.script.extend(["503", "429:0.05"])
    store = LabelStore(tmp_path / "l.sqlite")
    summary = label_pairs(pairs.head(4), store, settings=settings, backoff_base=0.02, progress=True)
    print(summary, repr(settings), settings)
    export_labels(store, pairs, tmp_path / "out.csv")
    with pytest.raises(LabelingAborted) as err:
        label_pairs(pairs, tmp_path / "l2.sqlite", settings=load_settings(env_file=None, gemini_api_key=KEY + "x"))
    out, errout = capfd.readouterr()
    seen = out + errout + caplog.text + str(err.value)
    seen += (tmp_path / "out.csv").read_text() + "".join(p.read_bytes().decode("latin-1") for p in tmp_path.glob("l.sqlite*"))
    assert KEY not in seen and KEY[4:20] not in seen


@pytest.fixture(scope="module")
def anchored_pairs():
    from arxiv_reco.pairs.sampling import sample_pairs
    from arxiv_reco.papers.snapshot import load_papers

    papers, _ = load_papers(SAMPLE_2K, limit=300)
    return sample_pairs(papers, n=36, strategy="anchored", seed=0)


def test_anchored_pairs_are_scored_one_anchor_per_request_online_and_in_batch(fake, settings, anchored_pairs, tmp_path):
    from arxiv_reco.labels.batch import label_pairs_batch

    summary = label_pairs(anchored_pairs, tmp_path / "l.sqlite", settings=settings, **fast())
    assert summary.labeled == 36 and summary.remaining == 0
    assert summary.requests < 36 / 3  # about six candidates a request
    for entry in fake.log:  # every request held one anchor's candidates
        asked = anchored_pairs.set_index("pair_id").loc[entry["pairs"]]
        assert asked["anchor"].nunique() == 1 and len(entry["pairs"]) >= 1
    assert_scores_are_the_pairs_own(tmp_path / "l.sqlite", anchored_pairs)
    assert stored(tmp_path / "l.sqlite")["prompt_version"].iloc[0] == plan_labeling(anchored_pairs)["prompt_version"]
    batch = label_pairs_batch(anchored_pairs, tmp_path / "b.sqlite", settings=settings, poll_seconds=0.01, **fast())
    assert batch.labeled == 36
    assert_scores_are_the_pairs_own(tmp_path / "b.sqlite", anchored_pairs)


def test_a_candidate_missing_from_an_anchored_answer_is_asked_again_alone(fake, settings, anchored_pairs, tmp_path):
    fake.script.append("drop_first")
    summary = label_pairs(anchored_pairs.head(12), tmp_path / "l.sqlite", settings=settings, concurrency=1, **fast())
    assert summary.labeled == 12 and summary.remaining == 0
    assert len(fake.log[-1]["pairs"]) == 1  # the dropped candidate, on its own
    assert_scores_are_the_pairs_own(tmp_path / "l.sqlite", anchored_pairs)


def test_the_anchored_layout_sends_fewer_input_tokens_per_label(anchored_pairs):
    anchored = plan_labeling(anchored_pairs)
    one_by_one = plan_labeling(anchored_pairs, config=LabelConfig(prompt=PromptSpec(layout="pairs")))
    assert anchored["prompt_version"] != one_by_one["prompt_version"]
    assert anchored["input_tokens"] < 0.75 * one_by_one["input_tokens"]
    assert "\nREFERENCE\n" in anchored["first_prompt"] and "\nPAIRS\n" in one_by_one["first_prompt"]
