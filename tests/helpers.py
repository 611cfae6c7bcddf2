"""What the tests share besides fixtures: paths of the real data, the fake key, and small helpers
that read what a run left behind. Fixtures live in conftest.py; tests import these by name."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
from fake_gemini import expected_score

from arxiv_reco.config import SAMPLE_PAPERS

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).parent.parent
KAGGLE_HEAD = FIXTURES / "kaggle_snapshot_head200.jsonl"  # the real snapshot's first 200 lines
UNARXIVE = FIXTURES / "unarxive_2212_sample49.jsonl"
CITATIONS = FIXTURES / "unarxive_2212_sample49_citations.tsv"
SAMPLE_2K = SAMPLE_PAPERS  # the sample as the installed package carries it
MINILM = "sentence-transformers/all-MiniLM-L6-v2"
# `make test-fast`: the loop without a real model, strace, a browser or the notebooks (each skipped where
# it would start: conftest.py's _fast_loop for models, the modules' own marks for the rest)
FAST = os.environ.get("ARXIV_RECO_FAST_TESTS") == "1"
FAST_SKIP = "not in the fast loop (make test runs it)"

# ---- labelling: the real SDK against the loopback fake ------------------------------------------
KEY = "fake-gemini-key-never-printed-0123456789"

# ---- the morning: the digest's mail server and window -------------------------------------------
USER, PASSWORD = "reader@example.org", "s3cret-smtp-password-never-printed"
SINCE = "2026-01-01"
FETCH = ["--categories", "cs.CL,cs.IR,astro-ph.GA", "--pace", "0", "--max-seq-length", "32"]


def at(settings, fake):
    """``settings`` sending the key to ``fake`` (a FakeGemini started by the test itself)."""
    from dataclasses import replace

    return replace(settings, gemini_base_url=fake.url)


def fast(**kw) -> dict:
    """Small backoffs so retry tests take milliseconds."""
    return {"backoff_base": 0.02, "progress": False, **kw}


def stored(store_path) -> pd.DataFrame:
    from arxiv_reco.labels.store import LabelStore

    return LabelStore(store_path).rows()


def assert_scores_are_the_pairs_own(store_path, pairs):
    expected = {r["pair_id"]: expected_score(r) for r in pairs.to_dict("records")}
    rows = stored(store_path)
    ok = rows[rows["status"] == "ok"]
    assert len(ok) > 0
    for pid, score in zip(ok["pair_id"], ok["score"]):
        assert score == pytest.approx(expected[pid]), f"{pid} got another pair's score"
