"""The digest's ranker on real papers (the bundled sample, the real MiniLM): words, people and
meaning in one SVM; the reader's bar; why a paper ranks; the word counts kept with the index
through `index`, `update` and re-runs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from helpers import FETCH, MINILM, SINCE

from arxiv_reco.cli import main
from arxiv_reco.index.paper_index import PaperIndex
from arxiv_reco.papers.corpus import normalize
from arxiv_reco.reader.digest import because, because_text, features_of, feed, interest_of
from arxiv_reco.reader.rank import RANKER, fit_interest

TOPIC = "retrieval-augmented"


def _text(r: dict) -> str:
    return f"{r['title']} {r['abstract']}".lower()


@pytest.fixture(scope="module")
def sample_index(records, model):
    """An index of 600 sample papers: every paper on retrieval-augmented generation, every cs.IR
    paper, and others."""
    rows = [normalize(r) for r in records]
    keep = [r for r in rows if isinstance(r, dict)]
    topic = [r for r in keep if TOPIC in _text(r)]
    ir = [r for r in keep if r["primary_category"] == "cs.IR" and r not in topic]
    rest = [r for r in keep if r not in topic and r not in ir][:600 - len(topic) - len(ir)]
    papers = pd.DataFrame(topic + ir + rest)
    return PaperIndex.build(model, papers, show_progress=False, model_name=MINILM), papers


def _rank_of(scores: np.ndarray, cand: np.ndarray, row: int) -> int:
    return int((scores > scores[list(cand).index(row)]).sum())


def test_a_narrow_library_ranks_its_topic_above_papers_of_its_category_on_other_topics(sample_index):
    index, papers = sample_index
    topic = [i for i, t in enumerate(papers["title"] + " " + papers["abstract"]) if TOPIC in t.lower()]
    ir_other = [i for i in range(len(papers)) if papers["primary_category"].iloc[i] == "cs.IR" and i not in topic]
    library, held = topic[:3], topic[3:]
    interest = interest_of(features_of(index), library)
    cand = np.setdiff1d(np.arange(len(index)), library)
    scores = interest.scores(cand)
    topic_ranks = [_rank_of(scores, cand, r) for r in held]
    other_ranks = [_rank_of(scores, cand, r) for r in ir_other]
    # the topic's papers come first: each beats the median same-category paper on another topic
    assert np.median(topic_ranks) < np.percentile(other_ranks, 10)
    assert sum(r < 10 for r in topic_ranks) >= 6


def test_an_author_in_the_library_lifts_that_authors_next_paper(sample_index):
    index, papers = sample_index
    by: dict[str, list[int]] = {}
    for i, a in enumerate(papers["authors"]):
        for name in a.split(", "):
            by.setdefault(name, []).append(i)
    name, rows = next((n, r) for n, r in sorted(by.items()) if len(r) >= 3 and len(n.split()) >= 2)
    library, nxt = rows[:2], rows[2]
    cand = np.setdiff1d(np.arange(len(index)), library)
    with_people = features_of(index, RANKER)
    without = features_of(index, RANKER.but(people=0))
    rank_with = _rank_of(fit_interest(with_people, library).scores(cand), cand, nxt)
    rank_without = _rank_of(fit_interest(without, library).scores(cand), cand, nxt)
    assert rank_with < rank_without / 4 and rank_with < 20, (name, rank_with, rank_without)  # from the tail to the top
    words = [b for b in because(fit_interest(with_people, library), nxt) if "people" in b]
    assert words and name in words[0]["people"]


def test_a_disliked_paper_pushes_its_neighbours_down(sample_index):
    index, papers = sample_index
    topic = [i for i, t in enumerate(papers["title"] + " " + papers["abstract"]) if TOPIC in t.lower()]
    features = features_of(index)
    liked = topic[:3]
    cand = np.setdiff1d(np.arange(len(index)), liked)
    base = fit_interest(features, liked).scores(cand)
    best = [int(cand[i]) for i in np.argsort(-base)[:6]]
    disliked = best[0]
    # its nearest neighbour among the other top papers
    emb = np.asarray(index.embeddings, dtype=np.float32)
    neighbour = max(best[1:], key=lambda r: float(emb[r] @ emb[disliked]))
    after = fit_interest(features, liked, [disliked]).scores(cand)
    assert _rank_of(after, cand, neighbour) > _rank_of(base, cand, neighbour)


def test_the_bar_leaves_a_section_empty_when_nothing_new_is_near_the_library(sample_index):
    index, papers = sample_index
    topic = [i for i, t in enumerate(papers["title"] + " " + papers["abstract"]) if TOPIC in t.lower()]
    interest = interest_of(features_of(index), topic[:5])
    far = [i for i in range(len(index)) if papers["primary_category"].iloc[i].split(".")[0] in ("astro-ph", "math")]
    near = topic[5:]
    assert (interest.match(interest.scores(far)) < 50).all()  # a window of astronomy and mathematics: nothing passes
    assert (interest.match(interest.scores(near)) >= 50).mean() >= 0.5  # the topic's own new papers do
    assert 0 <= interest.match(interest.scores(np.arange(len(index)))).min() <= interest.match(
        interest.scores(np.arange(len(index)))).max() <= 100


def test_the_explanation_names_words_in_both_texts_and_the_closest_library_paper(sample_index):
    index, papers = sample_index
    topic = [i for i, t in enumerate(papers["title"] + " " + papers["abstract"]) if TOPIC in t.lower()]
    library = topic[:3]
    lookup = lambda ids: dict(zip(papers["id"], papers["abstract"]))  # noqa: E731
    got = feed(index, papers["id"].iloc[library].tolist(), k=5, bar=0, abstracts=lookup)
    assert len(got) == 5 and got["score"].between(0, 100).all()
    for pid, why in zip(got["id"], got["because"]):
        row = index.rows([pid])[0]
        words = next(b["words"] for b in why if "words" in b)
        mine = " ".join(_text(papers.iloc[r]) for r in library)
        for w in words:  # each shared word is in the paper and in the library (folded as the tokenizer does)
            assert w in _text(papers.iloc[row]).replace("-", " ") or w in _text(papers.iloc[row])
            assert w in mine.replace("-", " ") or w in mine
        closest = next(b for b in why if "id" in b)
        assert closest["id"] in set(papers["id"].iloc[library])
        assert because_text(why).startswith("because it shares")


def test_word_counts_are_kept_with_the_index_through_index_update_and_reruns(tmp_path, records, model, world,
                                                                             capsys):
    from arxiv_reco.index.words import WordIndex

    index = PaperIndex.load("index")
    assert index.words is not None and len(index.words) == len(index)
    before = len(index)
    assert main(["update", "--index", "index", *FETCH, "--since", SINCE]) == 0
    after = PaperIndex.load("index")
    assert len(after.words) == len(after) > before and len(after.words.shards) == 2
    # the new papers' counts are their own: counted again from their text, the same
    new = after.meta.iloc[before:before + 5]
    fresh = {r["id"]: r for r in records}
    again = WordIndex.count([fresh[i]["title"] for i in new["id"]], [fresh[i]["abstract"] for i in new["id"]],
                            new["authors"].tolist())
    words_cols = lambda m: [set(m[i].indices[m[i].indices < 1 << 20]) for i in range(m.shape[0])]  # noqa: E731
    assert words_cols(after.words.counts(range(before, before + 5))) == words_cols(again)
    # the old shard is linked into the new folder, not written again; nothing new: folder untouched
    shard = next((world["dir"] / "index" / "words").glob("shard-000000/indices.npy"))
    assert shard.stat().st_nlink >= 1
    stamp = (world["dir"] / "index" / "index.json").stat().st_mtime_ns
    assert main(["update", "--index", "index", *FETCH, "--since", SINCE]) == 0
    assert (world["dir"] / "index" / "index.json").stat().st_mtime_ns == stamp
    # a kill while saving leaves the old index and its words, whole (the folder is swapped in one step)
    assert len(PaperIndex.load("index").words) == len(after)
    capsys.readouterr()
    assert main(["feed", "--index", "index", "--library", ",".join(world["ir"]), "--since", SINCE, "--no-fetch",
                 "-k", "3", "--format", "json", "--bar", "0"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert len(got) == 3 and all(any("words" in b or "people" in b for b in g["because"]) for g in got)


def test_an_index_from_before_words_ranks_by_meaning_with_a_note_until_index_counts_them(tmp_path, sample_papers_df,
                                                                                          model, capsys):
    import shutil

    papers = sample_papers_df.head(120)
    papers.to_parquet(tmp_path / "papers.parquet")
    PaperIndex.build(model, papers, show_progress=False, model_name=MINILM).save(tmp_path / "ix")
    shutil.rmtree(tmp_path / "ix" / "words")  # as an index saved before 0.3 is
    assert PaperIndex.load(tmp_path / "ix").words is None
    liked = ",".join(papers["id"].head(3))
    args = ["feed", "--index", str(tmp_path / "ix"), "--library", liked, "--no-fetch", "-k", "3", "--bar", "0",
            "--format", "json"]
    assert main(args) == 0
    out, err = capsys.readouterr()
    assert "ranking by meaning alone" in err and len(json.loads(out)) == 3
    assert main(["index", "--papers", str(tmp_path / "papers.parquet"), "--out", str(tmp_path / "ix"),
                 "--model", MINILM, "--max-seq-length", "32"]) == 0
    index = PaperIndex.load(tmp_path / "ix")
    assert index.words is not None and len(index.words) == len(index) == 120
    capsys.readouterr()
    assert main(args) == 0
    assert "ranking by meaning alone" not in capsys.readouterr().err
