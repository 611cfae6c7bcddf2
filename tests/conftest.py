from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from fake_arxiv import FakeArxiv
from fake_gemini import FakeGemini
from fake_smtp import SmtpServer, certificate
from helpers import FAST, FAST_SKIP, KAGGLE_HEAD, KEY, MINILM, PASSWORD, SAMPLE_2K, SINCE, USER


@pytest.fixture(scope="session", autouse=True)
def _fast_loop():
    """In the fast loop a test that loads a real model is skipped at the moment it would load one
    (whatever path it takes there), so what counts as slow is what a test does, not a list."""
    if not FAST:
        yield
        return
    from sentence_transformers import SentenceTransformer

    original = SentenceTransformer.__init__

    def refuse(self, *args, **kwargs):
        pytest.skip(f"loads a real model: {FAST_SKIP}")

    SentenceTransformer.__init__ = refuse
    try:
        yield
    finally:
        SentenceTransformer.__init__ = original


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


# ---- the morning: an index, the arXiv API, a mail server ------------------------------------------
@pytest.fixture(scope="session")
def cert(tmp_path_factory) -> tuple[Path, Path]:
    """A self-signed certificate for the loopback addresses (the SMTP servers' STARTTLS)."""
    return certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def smtp(cert, monkeypatch):
    """A real SMTP server on 127.0.0.1: STARTTLS required, then AUTH with USER/PASSWORD; the
    settings point at it."""
    with SmtpServer("127.0.0.1", cert=cert, user=USER, password=PASSWORD) as server:
        monkeypatch.setenv("SSL_CERT_FILE", str(cert[0]))  # the client trusts this server's certificate
        monkeypatch.setenv("ARXIV_RECO_SMTP_URL", server.url)
        monkeypatch.setenv("ARXIV_RECO_SMTP_USER", USER)
        monkeypatch.setenv("ARXIV_RECO_SMTP_PASSWORD", PASSWORD)
        monkeypatch.setenv("ARXIV_RECO_EMAIL_FROM", "digest@example.org")
        yield server.box


def _ours(r) -> bool:
    return bool({"cs.CL", "cs.IR", "astro-ph.GA"} & set(r["categories"].split()))


@pytest.fixture(scope="session")
def older_index(tmp_path_factory, records, model) -> tuple[Path, list[dict]]:
    """An index of the sample's older cs.CL / cs.IR / astro-ph.GA papers (built once a session)."""
    from arxiv_reco.index.paper_index import PaperIndex
    from arxiv_reco.papers.corpus import normalize

    dated = sorted((r for r in records if r["update_date"] and _ours(r)), key=lambda r: r["update_date"])
    old = [r for r in dated if r["update_date"] < SINCE]
    papers = pd.DataFrame([normalize(r) for r in old])
    papers.loc[0, "update_date"] = "2026-13-45"  # one bad record never stops a digest
    path = tmp_path_factory.mktemp("older") / "index"
    PaperIndex.build(model, papers, show_progress=False, model_name=MINILM).save(path)
    return path, old


@pytest.fixture
def world(tmp_path, records, older_index, monkeypatch):
    """A reader's folder: the older papers' index, and the fake arXiv API (the settings point at
    it) serving the newer ones too; libraries of cs.IR and astro-ph.GA papers."""
    monkeypatch.chdir(tmp_path)
    path, old = older_index
    shutil.copytree(path, tmp_path / "index")
    ir = [r["id"] for r in old if r["categories"].split()[0] == "cs.IR"][:6]
    astro = [r["id"] for r in old if r["categories"].split()[0] == "astro-ph.GA"][:5]
    with FakeArxiv(records) as fake:
        monkeypatch.setenv("ARXIV_RECO_ARXIV_API", fake.url)
        yield {"dir": tmp_path, "ir": ir, "astro": astro, "fake": fake}
