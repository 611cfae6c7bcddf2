from __future__ import annotations

import pandas as pd
import pytest

from arxiv_reco.pairs.sampling import (
    PAIR_COLUMNS,
    PairShortfallWarning,
    assign_splits,
    pair_report,
    read_pairs,
    sample_pairs,
    save_pairs,
)


@pytest.fixture(scope="module")
def mixed(sample_papers_df):
    return sample_pairs(sample_papers_df, n=1500, strategy="mixed", seed=0)


def _unordered(pairs):
    return [tuple(sorted(ab)) for ab in zip(pairs["id_a"], pairs["id_b"])]


def test_exactly_n_unique_pairs_without_self_pairs(mixed):
    assert len(mixed) == 1500
    assert (mixed["id_a"] != mixed["id_b"]).all()
    assert len(set(_unordered(mixed))) == 1500
    assert mixed["pair_id"].is_unique
    assert list(mixed.columns) == PAIR_COLUMNS


def test_pair_id_is_the_sorted_ids(mixed):
    assert (mixed["id_a"] < mixed["id_b"]).all()
    assert (mixed["pair_id"] == mixed["id_a"] + "__" + mixed["id_b"]).all()


def test_texts_belong_to_their_ids(mixed, sample_papers_df):
    by_id = sample_papers_df.set_index("id")
    row = mixed.iloc[123]
    assert row["title_a"] == by_id.loc[row["id_a"], "title"]
    assert row["abstract_b"] == by_id.loc[row["id_b"], "abstract"]


def test_deterministic_for_a_seed(sample_papers_df, mixed):
    again = sample_pairs(sample_papers_df, n=1500, strategy="mixed", seed=0)
    pd.testing.assert_frame_equal(again, mixed)
    other = sample_pairs(sample_papers_df, n=1500, strategy="mixed", seed=1)
    assert set(other["pair_id"]) != set(mixed["pair_id"])


def test_splits_are_disjoint_by_paper(mixed):
    papers_in = {s: set(g["id_a"]) | set(g["id_b"]) for s, g in mixed.groupby("split")}
    assert set(papers_in) == {"train", "validation", "test"}
    assert not papers_in["train"] & papers_in["test"]
    assert not papers_in["train"] & papers_in["validation"]
    assert not papers_in["validation"] & papers_in["test"]
    assert mixed["split"].value_counts()["train"] == 1200  # 80/10/10 of the pairs


def test_split_of_a_paper_is_stable_when_the_corpus_grows(sample_papers_df):
    ids = sample_papers_df["id"]
    small = assign_splits(ids[:500], seed=0)
    full = assign_splits(ids, seed=0)
    assert (full[small.index] == small).all()
    assert 0.75 < (full == "train").mean() < 0.85


def test_mixed_follows_its_proportions(sample_papers_df):
    pairs = sample_pairs(sample_papers_df, n=1000, mix={"neighbors": 0.5, "category": 0.5, "random": 0}, seed=3)
    counts = pairs["strategy"].value_counts()
    assert set(counts.index) == {"neighbors", "category"}
    assert abs(counts["neighbors"] - 500) <= 2


def test_strategies_differ_in_the_way_that_matters(mixed, sample_papers_df):
    report = pair_report(mixed, sample_papers_df)
    assert report.loc["category", "shared_category"] == 1.0
    assert report.loc["random", "same_primary"] < 0.05
    assert report.loc["category", "same_primary"] > 0.5
    assert report.loc["neighbors", "tfidf_mean"] > 2 * report.loc["random", "tfidf_mean"]
    assert report.loc["all", "pairs"] == 1500


def test_shortfall_warns_with_the_count(sample_papers_df):
    tiny = sample_papers_df.head(12)
    with pytest.warns(PairShortfallWarning, match="only .* of the 100 pairs"):
        pairs = sample_pairs(tiny, n=100, strategy="random", splits={"train": 1.0})
    assert len(pairs) == 66  # every possible pair of 12 papers
    assert len(set(_unordered(pairs))) == 66


def test_pool_exhaustion_never_duplicates(sample_papers_df):
    pairs = sample_pairs(sample_papers_df.head(40), n=700, strategy="mixed", splits={"train": 1.0}, seed=2)
    assert len(pairs) == 700 and len(set(_unordered(pairs))) == 700  # 700 of the 780 possible


def test_tiny_splits_without_shared_categories_still_finish(kaggle_records):
    from helpers import UNARXIVE

    from arxiv_reco.papers.snapshot import load_papers

    papers, _ = load_papers(UNARXIVE)  # 49 papers: some splits hold a handful, no two alike
    pairs = sample_pairs(papers, n=20, seed=0)
    assert len(pairs) == 20 and len(set(_unordered(pairs))) == 20


def test_bad_arguments_say_what_to_do(sample_papers_df):
    with pytest.raises(ValueError, match="choose one of"):
        sample_pairs(sample_papers_df, n=10, strategy="nearest")
    with pytest.raises(ValueError, match="sum to 1"):
        sample_pairs(sample_papers_df, n=10, splits={"train": 0.5, "test": 0.2})
    with pytest.raises(ValueError, match="read_papers"):
        sample_pairs(sample_papers_df[["id", "title"]], n=10)


def test_csv_round_trip(mixed, tmp_path):
    path = tmp_path / "pairs.csv"
    save_pairs(mixed, path)
    back = read_pairs(path)
    pd.testing.assert_frame_equal(back, mixed)
    bad = tmp_path / "bad.csv"
    mixed.drop(columns=["split"]).to_csv(bad, index=False)
    with pytest.raises(ValueError, match="split"):
        read_pairs(bad)


@pytest.mark.slow
def test_model_neighbors_join_tfidf_neighbors(sample_papers_df):
    from arxiv_reco.vectors.models import load_model

    model = load_model("sentence-transformers/all-MiniLM-L6-v2", max_seq_length=64)
    papers = sample_papers_df.head(150)
    with_model = sample_pairs(papers, n=120, strategy="neighbors", splits={"train": 1.0}, model=model, seed=0)
    without = sample_pairs(papers, n=120, strategy="neighbors", splits={"train": 1.0}, seed=0)
    assert len(with_model) == 120
    assert set(with_model["pair_id"]) != set(without["pair_id"])
