from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from fake_gemini import FakeGemini, expected_score

from arxiv_reco.config import SAMPLE_PAPERS

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).parent.parent
KAGGLE_HEAD = FIXTURES / "kaggle_snapshot_head200.jsonl"  # the real snapshot's first 200 lines
UNARXIVE = FIXTURES / "unarxive_2212_sample49.jsonl"
CITATIONS = FIXTURES / "unarxive_2212_sample49_citations.tsv"
SAMPLE_2K = SAMPLE_PAPERS  # the sample as the installed package carries it


@pytest.fixture(scope="session")
def kaggle_records() -> list[dict]:
    return [json.loads(line) for line in KAGGLE_HEAD.read_text().splitlines()]


@pytest.fixture(scope="session")
def records() -> list[dict]:
    """The bundled sample's records, as the Kaggle snapshot spells them."""
    return [json.loads(line) for line in SAMPLE_2K.read_text().splitlines()]


@pytest.fixture(scope="session")
def model():
    """The real all-MiniLM-L6-v2 reading 32 tokens: quick to encode with, the same weights."""
    from arxiv_reco.vectors.models import load_model

    return load_model("sentence-transformers/all-MiniLM-L6-v2", max_seq_length=32)


@pytest.fixture(scope="session")
def sample_papers_df():
    """The bundled 2k sample as a corpus DataFrame (loaded once)."""
    from arxiv_reco.papers.snapshot import load_papers

    papers, _ = load_papers(SAMPLE_2K)
    return papers


# ---- labelling: the real SDK against the loopback fake ------------------------------------------
KEY = "fake-gemini-key-never-printed-0123456789"


@pytest.fixture(scope="module")
def pairs():
    """40 mixed pairs of real papers: what the labelling tests label."""
    from arxiv_reco.pairs.sampling import sample_pairs
    from arxiv_reco.papers.snapshot import load_papers

    papers, _ = load_papers(SAMPLE_2K, limit=300)
    return sample_pairs(papers, n=40, strategy="mixed", seed=0)


@pytest.fixture
def fake(monkeypatch):
    with FakeGemini(api_key=KEY) as server:
        monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", server.url)
        yield server


@pytest.fixture
def settings(request):
    """Settings with the fake's key; pointed at the fake when the test has one (the endpoint is
    read from the environment when the settings are made)."""
    from arxiv_reco.config import load_settings

    if "fake" in request.fixturenames:
        request.getfixturevalue("fake")
    return load_settings(env_file=None, gemini_api_key=KEY)


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
