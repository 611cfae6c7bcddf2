from __future__ import annotations

import json
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).parent.parent
KAGGLE_HEAD = FIXTURES / "kaggle_snapshot_head200.jsonl"  # the real snapshot's first 200 lines
UNARXIVE = FIXTURES / "unarxive_2212_sample49.jsonl"
CITATIONS = FIXTURES / "unarxive_2212_sample49_citations.tsv"
SAMPLE_2K = REPO / "data" / "raw" / "arxiv_sample_2k.jsonl"


@pytest.fixture(scope="session")
def kaggle_records() -> list[dict]:
    return [json.loads(line) for line in KAGGLE_HEAD.read_text().splitlines()]


@pytest.fixture(scope="session")
def sample_papers_df():
    """The bundled 2k sample as a corpus DataFrame (loaded once)."""
    from arxiv_reco.data import load_papers

    papers, _ = load_papers(SAMPLE_2K)
    return papers
