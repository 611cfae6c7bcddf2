"""The three notebooks run headless, top to bottom, with tiny parameters; the README's Python runs."""

from __future__ import annotations

import json
import re

import nbformat
import pandas as pd
import pytest
from fake_gemini import FakeGemini
from helpers import FAST, FAST_SKIP, REPO
from nbclient import NotebookClient

from arxiv_reco.labels.labeling import LABEL_COLUMNS

pytestmark = pytest.mark.skipif(FAST, reason=f"the notebooks: {FAST_SKIP}")

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
KEY = "fake-notebook-key-0123456789abcdefghij"


def run(name: str, params: dict, cwd) -> nbformat.NotebookNode:
    """Execute a notebook with `params` injected after its `parameters` cell (as papermill does)."""
    nb = nbformat.read(REPO / "notebooks" / name, as_version=4)
    at = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    injected = nbformat.v4.new_code_cell("\n".join(f"{k} = {v!r}" for k, v in params.items()))
    injected.metadata["tags"] = ["injected-parameters"]
    nb.cells.insert(at + 1, injected)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}).execute()
    return nb


def outputs_text(nb) -> str:
    return json.dumps([c.get("outputs", []) for c in nb.cells])


def test_committed_notebooks_have_no_outputs():
    assert len(NOTEBOOKS) == 3
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, f"{path.name} has outputs: clear them"
        assert sum("parameters" in c.metadata.get("tags", []) for c in nb.cells) == 1
        assert "colab.research.google.com" in nb.cells[0].source


@pytest.mark.slow
def test_the_three_notebooks_run_end_to_end(tmp_path, monkeypatch):
    work = tmp_path / "work"
    with FakeGemini(api_key=KEY) as fake:
        # the kernel inherits this environment: the real SDK talks to the loopback fake
        monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", fake.url)
        monkeypatch.setenv("GEMINI_API_KEY", KEY)
        nb1 = run("01_label_pairs_with_gemini.ipynb", {
            "N_PAPERS": 150, "N_PAIRS": 60, "LABELER": "gemini", "WORK_DIR": str(work), "RATE_PAIRS": 0}, tmp_path)
        asked = set(fake.requested_pairs())
        # the default anchored pairs: one request scores an anchor against all its partners
        assert len(asked) == 60 and len(fake.log) < 30
    labels = pd.read_csv(work / "my_labeled_training_data.csv")
    assert list(labels.columns) == LABEL_COLUMNS and len(labels) == 60 and (labels["labeler"] == "gemini").all()
    assert set(labels["pair_id"]) == asked and labels["anchor"].notna().all()
    assert "labeller: gemini" in outputs_text(nb1) and "image/png" in outputs_text(nb1)  # the histogram
    assert KEY not in outputs_text(nb1) and KEY[4:20] not in outputs_text(nb1)

    nb2 = run("02_finetune_sentence_transformer.ipynb", {
        "LABELS": str(work / "my_labeled_training_data.csv"), "PAPERS": str(work / "papers.parquet"),
        "RECIPE": {"epochs": 1, "max_seq_length": 32, "train_seq_length": 16},
        "OUTPUT_DIR": str(work / "finetuned-arxiv-recommender"), "N_EXAMPLES": 2}, tmp_path)
    text = outputs_text(nb2)
    assert "fine-tuned" in text and "tfidf" in text and "image/png" in text
    from arxiv_reco.vectors.models import load_model

    model = load_model(work / "finetuned-arxiv-recommender")
    assert model.encode(["a paper"]).shape == (1, 384)
    meta = json.loads((work / "finetuned-arxiv-recommender" / "arxiv_reco.json").read_text())
    assert (meta["recipe"]["train_seq_length"], model.max_seq_length) == (16, 32)  # trained short, reads long

    nb3 = run("03_recommend.ipynb", {
        "MODEL_DIR": str(work / "finetuned-arxiv-recommender"), "PAPERS": str(work / "papers.parquet"),
        "INDEX_DIR": str(work / "index"), "K": 3}, tmp_path)
    assert "arxiv.org/abs/" in outputs_text(nb3)
    from arxiv_reco.index.paper_index import PaperIndex

    index = PaperIndex.load(work / "index", model)
    assert len(index) == 150 and len(index.similar(index.meta["id"][0], k=3)) == 3


@pytest.mark.slow
def test_readme_python_section_runs_as_written(tmp_path, monkeypatch):
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Use it from Python", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert 5 <= len(code.strip().splitlines()) <= 14
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {})
    assert (tmp_path / "my_labeled_training_data.csv").exists()
