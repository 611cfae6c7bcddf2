"""The honest protocol: a gain is only ever measured on papers no model trained on (the held-out
papers among themselves, or a fresh corpus), a model that is not better says so in plain words,
and the recipe's choices that fall back toward the base are made on the validation pairs."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from helpers import SAMPLE_2K

from arxiv_reco.cli import main
from arxiv_reco.labels.labeling import export_labels
from arxiv_reco.labels.store import LabelStore
from arxiv_reco.labels.teacher import label_pairs_teacher
from arxiv_reco.pairs.sampling import sample_pairs
from arxiv_reco.papers.snapshot import load_papers
from arxiv_reco.training.evaluate import measure, trained_ids
from arxiv_reco.training.recipe import DEFAULT, HOLDOUT, MANY_PAPERS, Recipe
from arxiv_reco.training.train import distill_papers, extra_papers, finetune

MINILM = "sentence-transformers/all-MiniLM-L6-v2"


@pytest.fixture(scope="module")
def corpus():
    papers, _ = load_papers(SAMPLE_2K, limit=400)
    return papers.iloc[:250].reset_index(drop=True), papers.iloc[250:].reset_index(drop=True)  # (sample, fresh)


@pytest.fixture(scope="module")
def labels(corpus, tmp_path_factory):
    """Teacher labels (MiniLM standing in for the teacher) on anchored pairs of the sample."""
    sample, _ = corpus
    work = tmp_path_factory.mktemp("labels")
    pairs = sample_pairs(sample, n=72, strategy="anchored", seed=0)
    with LabelStore(work / "l.sqlite") as store:
        s = label_pairs_teacher(pairs, store, MINILM, max_seq_length=64, progress=False)
        return export_labels(store, pairs, work / "labels.csv", model=s.model, prompt_version=s.prompt_version)


class _Field:
    """A stand-in model: a paper's vector says its primary category (and a little noise)."""

    def __init__(self, papers: pd.DataFrame, noise: float = 0.0, seed: int = 0):
        cats = sorted(set(papers["primary_category"]))
        rng = np.random.default_rng(seed)
        self.vec = {}
        for t, c in zip(papers["text"], papers["primary_category"]):
            v = np.zeros(len(cats) + 8)
            v[cats.index(c)] = 1.0
            v[len(cats):] = noise * rng.standard_normal(8)
            self.vec[t] = v / np.linalg.norm(v)

    def encode(self, texts, **kw):
        return np.stack([self.vec.get(t, np.full(len(next(iter(self.vec.values()))), 0.1)) for t in texts])


def test_held_out_papers_retrieve_only_among_themselves_and_a_fresh_corpus_is_its_own(corpus, labels):
    sample, fresh = corpus
    seen = trained_ids(labels)
    fresh_with_leak = pd.concat([fresh, sample[sample["id"].isin(seen)].head(5)], ignore_index=True)
    ev = measure({"field": _Field(pd.concat([sample, fresh]))}, sample, labels, corpus=fresh_with_leak)
    held = sample[~sample["id"].isin(seen)]
    per = ev.per_query["category"]["field"]
    # queries and candidates: the held-out papers only (a perfect model finds only them)
    assert set(per.index) <= set(held["id"]) and len(per) > 0
    assert ev.table.loc["field", "fresh_queries"] <= len(fresh)  # the 5 trained-on papers were left out
    assert not set(ev.per_query["fresh"]["field"].index) & seen
    # the same figures as ranking the held-out papers alone: no trained paper was a candidate
    from arxiv_reco.training.relevance import CategoryRelevance, per_query

    alone = per_query(_Field(pd.concat([sample, fresh])).encode(held["text"].tolist()), held["id"].tolist(),
                      CategoryRelevance(held.reset_index(drop=True)), 10)
    assert np.allclose(alone.loc[per.index].to_numpy(), per.to_numpy())


def test_distillation_never_reads_validation_test_or_held_out_papers(corpus, labels):
    sample, fresh = corpus
    papers = pd.concat([sample, fresh], ignore_index=True)
    texts, ids, passes = distill_papers(papers, labels, DEFAULT.but(distill_papers="all", epochs=2, distill_passes=1))
    val_test = set(labels.loc[labels["split"] != "train", "id_a"]) | set(labels.loc[labels["split"] != "train", "id_b"])
    assert not set(ids) & val_test
    train = set(labels.loc[labels["split"] == "train", "id_a"]) | set(labels.loc[labels["split"] == "train", "id_b"])
    unpaired = set(papers["id"]) - train - val_test
    extra = set(ids) - train
    assert extra <= unpaired and abs(len(extra) / len(unpaired) - (1 - HOLDOUT)) < 0.06  # a fifth kept unseen
    assert set(passes[[i in train for i in ids]]) == {2.0} and set(passes[[i in extra for i in ids]]) == {1.0}
    resolved = DEFAULT.but(epochs=1)  # distill_papers reads a recipe whose epochs are decided
    capped = distill_papers(papers, labels, resolved.but(distill_papers=50))[1]
    assert len(set(capped) - train) == 50
    # the default distils up to 4,000 more: every allowed paper of a corpus this small
    assert len(papers) < DEFAULT.distill_papers and set(distill_papers(papers, labels, resolved)[1]) == set(ids)
    assert set(distill_papers(papers, labels, resolved.but(distill_papers=0))[1]) == train  # 0: the training papers only
    with pytest.raises(ValueError, match="takes a resolved recipe"):
        distill_papers(papers, labels, DEFAULT)


@pytest.mark.slow
def test_train_reports_fresh_gains_says_when_it_is_not_better_and_evaluate_leaves_out_what_it_learnt(
        corpus, labels, tmp_path, capsys):
    sample, fresh = corpus
    sample.to_parquet(tmp_path / "sample.parquet")
    fresh.to_parquet(tmp_path / "fresh.parquet")
    labels.to_csv(tmp_path / "labels.csv", index=False)
    # a learning rate too small to move anything: the model is the base, and it must say so
    assert main(["train", "--labels", str(tmp_path / "labels.csv"), "--papers", str(tmp_path / "sample.parquet"),
                 "--corpus", str(tmp_path / "fresh.parquet"), "--out", str(tmp_path / "m"), "--epochs", "1",
                 "--learning-rate", "1e-12", "--max-seq-length", "32", "--distill-papers", "40",
                 "--interpolate", "auto"]) == 0
    out = capsys.readouterr().out
    assert "fresh_ndcg@10" in out and "category_ndcg@10" in out
    assert "not measurably better than the base model" in out and "of the fresh corpus no model trained on" in out
    card = (tmp_path / "m" / "README.md").read_text()
    assert "not measurably better than the base model" in card and "reads 32 tokens" in card
    meta = json.loads((tmp_path / "m" / "arxiv_reco.json").read_text())
    # the interpolation weight: chosen among the grid by the validation pairs (recorded), never by test
    tried = {float(w): rho for w, rho in meta["interpolation"]["validation_spearman"].items()}
    assert set(tried) == {0.0, 0.25, 0.5, 0.75, 1.0}
    assert meta["interpolation"]["weight"] == max(tried, key=lambda w: (round(tried[w], 4), w))
    assert meta["distilled_papers"] > 40  # the training papers and 40 more
    learnt = set((tmp_path / "m" / "trained_on.txt").read_text().split())
    assert len(learnt) == meta["distilled_papers"] + len(trained_ids(labels) - set(labels.query("split == 'train'")[["id_a", "id_b"]].stack()))

    # evaluate on the sample itself: every paper the model learnt from (pairs and distilled) is left out
    assert main(["evaluate", "--model", str(tmp_path / "m"), "--papers", str(tmp_path / "sample.parquet"),
                 "--baseline", MINILM, "--max-seq-length", "32", "--out", str(tmp_path / "r.json")]) == 0
    out = capsys.readouterr().out
    assert f"left out {len(learnt):,} papers" in out
    report = json.loads((tmp_path / "r.json").read_text())
    queries = {r["model"]: r["category_queries"] for r in report["models"]}
    assert max(queries.values()) <= len(set(sample["id"]) - learnt)


@pytest.mark.slow
def test_a_recipe_is_a_value_passed_in(labels, tmp_path):
    recipe = Recipe(epochs=1, max_seq_length=32, batch_size=8, freeze_layers=3, pair_loss="cosent")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = finetune(labels, recipe=recipe, base_model=MINILM, output_dir=tmp_path / "m", progress=False,
                          evaluate=False)
    meta = json.loads((tmp_path / "m" / "arxiv_reco.json").read_text())
    assert meta["recipe"]["freeze_layers"] == 3 and meta["recipe"]["pair_loss"] == "cosent"
    assert result.recipe.distill is True  # decided by the labels: they name a teacher
    with pytest.raises(TypeError, match=r"unknown field\(s\) \['epoch'\] of Recipe"):
        DEFAULT.but(epoch=2)


def test_one_pass_over_the_pairs_when_thousands_of_papers_are_distilled_three_otherwise(corpus, labels):
    sample, fresh = corpus
    many = DEFAULT.resolve(teacher=True, anchored=True, extra_papers=MANY_PAPERS)
    few = DEFAULT.resolve(teacher=True, anchored=True, extra_papers=MANY_PAPERS - 1)
    assert (many.epochs, few.epochs) == (1.0, 3.0)
    rubric = DEFAULT.resolve(teacher=False, anchored=True, extra_papers=10 * MANY_PAPERS)
    assert (rubric.epochs, rubric.distill, rubric.distill_papers) == (3.0, False, 0)  # no teacher: nothing to distil
    assert DEFAULT.but(epochs=2).resolve(teacher=True, anchored=True, extra_papers=MANY_PAPERS).epochs == 2
    # the training papers' passes follow the same decision: a corpus this small gets three
    papers = pd.concat([sample, fresh], ignore_index=True)
    extra = len(extra_papers(papers, labels, DEFAULT))
    ids, passes = distill_papers(papers, labels, DEFAULT.resolve(teacher=True, anchored=True, extra_papers=extra))[1:]
    train = set(labels.loc[labels["split"] == "train", ["id_a", "id_b"]].stack())
    assert set(passes[[i in train for i in ids]]) == {3.0}
    assert "1 epoch distilling 2,000+ more papers, else 3" in DEFAULT.describe()
