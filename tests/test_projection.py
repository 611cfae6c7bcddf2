"""The teacher projection: the closed-form map makes the student's cosines the teacher's, it is
saved and loaded with the model, and fine-tuning adds it only where it has papers enough."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from helpers import SAMPLE_2K
from scipy.stats import spearmanr

from arxiv_reco.papers.snapshot import load_papers
from arxiv_reco.training.projection import ALPHAS, add_teacher_projection, fit_projection

MINILM = "sentence-transformers/all-MiniLM-L6-v2"


def _unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _pair_cosines(x, pairs):
    x = _unit(x)
    return np.einsum("ij,ij->i", x[pairs[:, 0]], x[pairs[:, 1]])


def test_fitted_map_gives_the_student_the_teachers_cosines():
    # a teacher that sees what the student's vectors only hint at: a different, wider space,
    # with a few strong directions (topics) the student carries weakly among many weak ones
    rng = np.random.default_rng(0)
    n, d, dt = 1200, 64, 96
    topics = rng.normal(size=(n, 8)) * 3
    student = np.hstack([topics * 0.3, rng.normal(size=(n, d - 8))])
    teacher = np.hstack([topics, 0.3 * rng.normal(size=(n, dt - 8))]) @ np.linalg.qr(rng.normal(size=(dt, dt)))[0]
    train, test = np.arange(800), np.arange(800, n)
    fit = fit_projection(student[train], teacher[train])
    assert fit["weight"].shape == (d, d) and fit["bias"].shape == (d,) and fit["alpha"] in ALPHAS
    mapped = _unit(student) @ fit["weight"].T + fit["bias"]

    pairs = rng.integers(0, len(test), size=(2000, 2)) + test[0]  # papers the map never saw
    truth = _pair_cosines(teacher, pairs)
    before = spearmanr(_pair_cosines(student, pairs), truth).statistic
    after = spearmanr(_pair_cosines(mapped, pairs), truth).statistic
    assert after > 0.9 > before + 0.2


def test_mismatched_or_too_few_vectors_are_refused():
    with pytest.raises(ValueError, match="same papers"):
        fit_projection(np.ones((10, 4)), np.ones((9, 4)))
    with pytest.raises(ValueError, match="3 or more"):
        fit_projection(np.ones((2, 4)), np.ones((2, 4)))


@pytest.fixture(scope="module")
def minilm():
    from arxiv_reco.vectors.models import load_model

    return load_model(MINILM, max_seq_length=64)


def test_too_few_papers_leave_the_model_as_it_is(minilm):
    papers, _ = load_papers(SAMPLE_2K, limit=50)
    before = len(minilm)
    assert add_teacher_projection(minilm, papers["text"].tolist(), np.ones((50, 384))) is None
    assert len(minilm) == before  # 50 papers, a 384-dimensional map: it would overfit


@pytest.mark.slow
def test_projected_model_saves_loads_and_converts_the_same(tmp_path):
    from arxiv_reco.vectors.backends import OpenVINOEncoder, fast_encoder
    from arxiv_reco.vectors.embed import encode
    from arxiv_reco.vectors.models import load_model

    papers, _ = load_papers(SAMPLE_2K, limit=60)
    texts = papers["text"].tolist()
    model = load_model(MINILM, max_seq_length=64)
    # the same model reading four times as much stands in for the teacher
    teacher = encode(load_model(MINILM, max_seq_length=256), texts, progress=False, backend="torch")
    info = add_teacher_projection(model, texts, teacher, min_papers=3)
    assert info["papers"] == 60 and info["alpha"] in ALPHAS
    assert [type(m).__name__ for m in model][-2:] == ["Dense", "Normalize"]
    mine = encode(model, texts, progress=False, backend="torch")
    assert mine.shape == (60, 384)

    model.save(str(tmp_path / "m"))
    again = load_model(tmp_path / "m", max_seq_length=64)
    assert np.allclose(encode(again, texts, progress=False, backend="torch"), mine, atol=1e-5)
    pytest.importorskip("openvino")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # a conversion that drops the layer would warn
        fast = fast_encoder(again, "openvino-f32")
    assert isinstance(fast, OpenVINOEncoder)
    assert np.min(np.sum(fast.encode(texts) * mine, axis=1)) > 0.999


@pytest.mark.slow
def test_finetune_ends_with_the_projection_on_teacher_labels(tmp_path):
    from arxiv_reco.labels.labeling import export_labels
    from arxiv_reco.labels.store import LabelStore
    from arxiv_reco.labels.teacher import label_pairs_teacher
    from arxiv_reco.pairs.sampling import sample_pairs
    from arxiv_reco.training.train import finetune
    from arxiv_reco.vectors.models import load_model

    papers, _ = load_papers(SAMPLE_2K, limit=200)
    pairs = sample_pairs(papers, n=60, strategy="anchored", seed=0)
    store = LabelStore(tmp_path / "labels.sqlite")
    s = label_pairs_teacher(pairs, store, MINILM, max_seq_length=128, progress=False)  # MiniLM stands in for mpnet
    labels = export_labels(store, pairs, tmp_path / "labels.csv", model=s.model, prompt_version=s.prompt_version)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = finetune(labels, base_model=MINILM, output_dir=tmp_path / "m", epochs=1, max_seq_length=32,
                          progress=False, project=True)
        default = finetune(labels, base_model=MINILM, output_dir=tmp_path / "d", epochs=1, max_seq_length=32,
                           progress=False)
    meta = json.loads((result.model_dir / "arxiv_reco.json").read_text())
    assert meta["projection"]["papers"] > 3 and "teacher projection" in (result.model_dir / "README.md").read_text()
    assert [type(m).__name__ for m in load_model(result.model_dir)][-2:] == ["Dense", "Normalize"]
    # by default, a hundred-odd training papers are too few for a 384 x 384 map
    assert json.loads((default.model_dir / "arxiv_reco.json").read_text())["projection"] is None
    assert [type(m).__name__ for m in load_model(default.model_dir)][-1] == "Normalize"
    assert "Dense" not in [type(m).__name__ for m in load_model(default.model_dir)]
