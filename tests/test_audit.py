"""A person's own ratings and the audit of labellers against them: the rater in a notebook
(ipywidgets, driven by clicks) and at a prompt (stdin), answers kept and resumed, the audit's
statistics on pairs of known agreement, two labellers (the real SDK against the Gemini fake, and
a local teacher) in one store, and a Gemini user's recipe distilling a teacher when one is there."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
from helpers import KEY, MINILM, SAMPLE_2K

from arxiv_reco.cli import main
from arxiv_reco.labels.audit import anchor_of, audit_labels, labellers_in
from arxiv_reco.labels.prompts import ANCHORS
from arxiv_reco.labels.rating import (
    Rater,
    pairs_to_rate,
    read_ratings,
    save_rating,
)


@pytest.fixture(scope="module")
def many_pairs():
    from arxiv_reco.pairs.sampling import sample_pairs
    from arxiv_reco.papers.snapshot import load_papers

    papers, _ = load_papers(SAMPLE_2K, limit=400)
    return sample_pairs(papers, n=120, strategy="mixed", seed=0), papers


def test_pairs_to_rate_cover_the_scale_and_are_seeded(many_pairs):
    pairs, _ = many_pairs
    todo = pairs_to_rate(pairs, n=20, seed=3)
    assert len(todo) == 20 and todo["pair_id"].is_unique
    every = pairs_to_rate(pairs, n=len(pairs))["tfidf"]
    # the whole scale: the most similar pairs and the least, though most pairs are unrelated
    assert todo["tfidf"].max() >= every.quantile(0.95) and todo["tfidf"].min() <= every.quantile(0.2)
    assert todo["pair_id"].tolist() == pairs_to_rate(pairs, n=20, seed=3)["pair_id"].tolist()
    assert todo["pair_id"].tolist() != pairs_to_rate(pairs, n=20, seed=4)["pair_id"].tolist()


def test_the_notebook_rater_saves_every_click_and_a_new_one_resumes(many_pairs, tmp_path):
    pairs, papers = many_pairs
    todo = pairs_to_rate(pairs, n=5)
    out = tmp_path / "my_ratings.csv"
    rater = Rater(todo, out, papers)
    assert [b.description for b in rater.buttons] == [label for label, _, _ in ANCHORS]
    assert todo["title_a"].iloc[0] in rater.pair.children[0].children[0].value
    first, second = rater.current["pair_id"], None
    rater.buttons[4].click()  # "0.7"
    second = rater.current["pair_id"]
    rater.skip.click()
    rater.buttons[0].click()
    saved = read_ratings(out)
    assert saved.set_index("pair_id")["rating"].to_dict() == {first: 0.7, todo["pair_id"].iloc[2]: 0.0}
    assert second not in set(saved["pair_id"])
    # a restarted kernel: a new rater starts at the first unrated pair, the saved ones kept
    again = Rater(todo, out, papers)
    assert again.rated == 2 and again.current["pair_id"] not in set(saved["pair_id"])
    for _ in range(3):
        again.buttons[3].click()
    assert len(read_ratings(out)) == 5 and "Done" in again.status.value and all(b.disabled for b in again.buttons)


def test_rate_at_a_prompt_through_stdin_keeps_what_was_rated_on_quit(many_pairs, tmp_path, monkeypatch, capsys):
    pairs, papers = many_pairs
    from arxiv_reco.pairs.sampling import save_pairs

    save_pairs(pairs, tmp_path / "pairs.csv")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.stdin", io.StringIO("5\nmaybe\ns\n0.3\nq\n"))
    assert main(["rate", "--pairs", "pairs.csv", "--n", "6", "--out", "mine.csv"]) == 0
    out = capsys.readouterr().out
    assert "'maybe' is not one of 0-6, s or q" in out and "stopped; 2 ratings kept in mine.csv" in out
    assert sorted(read_ratings("mine.csv")["rating"]) == [0.3, 0.9]
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # end of input: quits, keeps everything
    assert main(["rate", "--pairs", "pairs.csv", "--n", "6", "--out", "mine.csv"]) == 0
    assert "2 of 6 pairs rated already" in capsys.readouterr().out and len(read_ratings("mine.csv")) == 2


def _ratings(pairs: pd.DataFrame, values) -> pd.DataFrame:
    return pd.DataFrame({"pair_id": pairs["pair_id"], "rating": values, "rated_at": "2026-12-07T10:00:00"})


def test_the_audit_on_pairs_of_known_agreement(many_pairs):
    pairs, _ = many_pairs
    rng = np.random.default_rng(0)
    truth = rng.choice([v for _, v, _ in ANCHORS], size=len(pairs))
    person = _ratings(pairs, truth)
    monotone = pd.DataFrame({"pair_id": pairs["pair_id"], "score": truth ** 2 * 0.8 + 0.1, "labeler": "teacher"})
    shuffled = pd.DataFrame({"pair_id": pairs["pair_id"], "score": rng.permutation(truth), "labeler": "gemini"})
    report = audit_labels(person, {"monotone": monotone, "shuffled": shuffled}, pairs, planned=3000)
    t = report.table
    assert t.loc["monotone", "spearman"] == pytest.approx(1.0) and t.loc["monotone", "kendall"] == pytest.approx(1.0)
    assert t.loc["shuffled", "spearman_low"] < 0 < t.loc["shuffled", "spearman_high"]
    assert t.loc["monotone", "cost_usd"] == 0 and t.loc["monotone", "teacher"]
    # the confusion table counts every pair once; the disagreements are the largest gaps, with titles
    assert report.confusion["shuffled"].to_numpy().sum() == len(pairs)
    worst = report.disagreements["shuffled"]
    assert len(worst) == 10 and (worst["you"] - worst["shuffled"]).abs().is_monotonic_decreasing
    assert worst["title_a"].str.len().min() > 0
    [cmp] = report.comparisons.to_dict("records")
    assert cmp["verdict"] in ("better", "worse") and cmp["ci_high"] < 0  # shuffled minus monotone
    text = str(report)
    assert "good enough to train on" in text and "shuffled" not in text.split("good enough to train on")[1]
    assert list(anchor_of([0.0, 0.12, 0.18, 0.31, 0.95])) == [0, 1, 1, 2, 5]


def test_two_labellers_in_one_store_audited_from_the_command_line(fake, many_pairs, tmp_path, monkeypatch, capsys):
    from arxiv_reco.config import load_settings
    from arxiv_reco.labels.gemini import label_pairs
    from arxiv_reco.labels.store import LabelStore
    from arxiv_reco.labels.teacher import label_pairs_teacher
    from arxiv_reco.pairs.sampling import save_pairs

    pairs, _ = many_pairs
    pairs = pairs.head(30)
    monkeypatch.chdir(tmp_path)
    save_pairs(pairs, tmp_path / "pairs.csv")
    settings = load_settings(env_file=None, gemini_api_key=KEY)
    with LabelStore(tmp_path / "labels.sqlite") as store:
        label_pairs(pairs, store, settings=settings, backoff_base=0.02, progress=False)
        label_pairs_teacher(pairs, store, MINILM, settings, max_seq_length=32, progress=False)
        teacher = store.scores(MINILM)
    # a person who agrees with the teacher, on a coarser scale
    for pid, score in zip(teacher["pair_id"].head(20), teacher["score"].head(20)):
        save_rating(tmp_path / "my_ratings.csv", pid, float(min(1.0, max(0.0, round(score * 2, 1) / 2))))
    assert set(labellers_in(tmp_path / "labels.sqlite")) == {"gemini-2.5-flash", MINILM}
    assert main(["audit", "--plot", "audit.png"]) == 0
    out = capsys.readouterr().out
    assert f"{MINILM}: 20 pairs; Spearman" in out and "gemini-2.5-flash: 20 pairs; Spearman" in out
    assert "minus" in out and "where you and gemini-2.5-flash disagree most" in out
    assert (tmp_path / "audit.png").stat().st_size > 10_000
    # the rated pairs never train: the export leaves them out
    assert main(["label", "--labeler", "teacher", "--teacher-model", MINILM, "--teacher-max-seq", "32"]) == 0
    assert "the 20 pairs you rated" in capsys.readouterr().out
    labels = pd.read_csv(tmp_path / "my_labeled_training_data.csv")
    assert len(labels) == 10 and not set(labels["pair_id"]) & set(read_ratings("my_ratings.csv")["pair_id"])


def test_gemini_labels_distil_a_teacher_when_one_is_there_and_say_so_when_not(many_pairs, tmp_path, monkeypatch):
    """A small model stands in for the teacher (MiniLM is installed; mpnet, the default, is not in CI)."""
    from arxiv_reco.labels.teacher import installed_teacher
    from arxiv_reco.training.recipe import DEFAULT
    from arxiv_reco.training.train import NoTeacherWarning, finetune

    pairs, papers = many_pairs
    rng = np.random.default_rng(0)
    from arxiv_reco.pairs.sampling import pair_texts

    text_a, text_b = pair_texts(pairs)
    labels = pairs.assign(text_a=text_a, text_b=text_b, score=rng.choice([0.0, 0.3, 0.5, 0.7, 0.9], len(pairs)),
                          labeler="gemini", model="gemini-2.5-flash", prompt_version="p1")
    tiny = DEFAULT.but(max_seq_length=32, batch_size=8, distill_papers=20)
    monkeypatch.setenv("ARXIV_RECO_TEACHER_MODEL", MINILM)
    assert installed_teacher() == MINILM
    result = finetune(labels, papers, tiny, output_dir=tmp_path / "m", progress=False, evaluate=False)
    record = json.loads((tmp_path / "m" / "arxiv_reco.json").read_text())
    assert result.recipe.distill and result.recipe.pair_loss == "cosent" and record["teacher"] == MINILM
    assert record["objectives"]["distill"] > 0 and record["objectives"]["pairs"] > 0
    assert result.recipe.train_seq_length == 32  # a CPU trains on 128 unless told; this model reads 32
    monkeypatch.setenv("ARXIV_RECO_TEACHER_MODEL", str(tmp_path / "no-such-teacher"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.warns(NoTeacherWarning, match="no teacher model here to distil"):
        alone = finetune(labels, papers, tiny, output_dir=tmp_path / "n", progress=False, evaluate=False)
    assert not alone.recipe.distill and alone.recipe.epochs == 3
