from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from helpers import SAMPLE_2K

import arxiv_reco.index.search as search
from arxiv_reco.cli import main
from arxiv_reco.index.paper_index import IndexMismatchError, PaperIndex
from arxiv_reco.papers.snapshot import load_papers

MINILM = "sentence-transformers/all-MiniLM-L6-v2"


@pytest.fixture(scope="module")
def model():
    from arxiv_reco.vectors.models import load_model

    return load_model(MINILM, max_seq_length=64)


@pytest.fixture(scope="module")
def corpus():
    papers, _ = load_papers(SAMPLE_2K, limit=160)
    # a second version of the first paper, as the snapshot can hold
    twin = papers.iloc[[0]].assign(id=papers["id"].iloc[0] + "v2")
    return pd.concat([papers, twin], ignore_index=True)


@pytest.fixture(scope="module")
def index(model, corpus):
    return PaperIndex.build(model, corpus, show_progress=False, model_name=MINILM)


def test_similar_never_returns_the_paper_or_its_other_versions(index, corpus):
    pid = corpus["id"].iloc[0]
    got = index.similar(pid, k=20)
    assert pid not in set(got["id"]) and pid + "v2" not in set(got["id"])
    assert len(got) == 20 and got["score"].is_monotonic_decreasing
    assert list(got.columns) == ["id", "title", "score", "category", "date", "authors", "url"]
    assert got["url"].iloc[0] == f"https://arxiv.org/abs/{got['id'].iloc[0]}"
    # asking by the versioned id finds the same paper
    assert index.similar(pid + "v2", k=5)["id"].tolist() == index.similar(pid, k=5)["id"].tolist()


def test_search_finds_a_paper_by_its_own_title(index, corpus):
    target = corpus.iloc[17]
    got = index.search(target["title"], k=3)
    assert got["id"].iloc[0] == target["id"]


def test_results_are_the_exact_nearest_neighbours(index):
    emb = np.asarray(index.embeddings, dtype=np.float32)
    row = 5
    brute = np.argsort(-(emb @ emb[row]))
    brute = [index.meta["id"][i] for i in brute if index.meta["id"][i] != index.meta["id"][row]][:10]
    assert index.similar(index.meta["id"][row], k=10)["id"].tolist() == brute


def test_block_merging_matches_one_block(index, monkeypatch):
    q = np.asarray(index.embeddings[[3, 40, 99]], dtype=np.float32)
    whole = index.search_many(q, k=7)
    monkeypatch.setattr(search, "BLOCK", 13)  # many small blocks, merged
    assert index.search_many(q, k=7) == whole


def test_recommend_from_liked_and_disliked(index, corpus):
    liked, disliked = corpus["id"].iloc[[10, 11]].tolist(), [corpus["id"].iloc[12]]
    plain = index.recommend(liked, k=10)
    pushed = index.recommend(liked, disliked, k=10, dislike_weight=1.0)
    for df in (plain, pushed):
        assert not set(df["id"]) & set(liked + disliked)
    emb = pd.DataFrame(np.asarray(index.embeddings, dtype=np.float32), index=index.meta["id"])
    d = emb.loc[disliked[0]].to_numpy()
    assert (emb.loc[pushed["id"]].to_numpy() @ d).mean() < (emb.loc[plain["id"]].to_numpy() @ d).mean()


def test_filters_by_category_and_date(index, corpus):
    pid = corpus["id"].iloc[0]
    got = index.similar(pid, k=5, categories="astro-ph.*")
    assert len(got) and all(any(c.startswith("astro-ph") for c in index.meta.set_index("id").loc[i, "categories"])
                            for i in got["id"])
    dates = sorted(corpus["update_date"].unique())
    since = dates[len(dates) // 2]
    assert (index.similar(pid, k=10, since=since)["date"] >= since).all()


def test_errors_and_edge_cases(index, model, corpus):
    with pytest.raises(KeyError, match="9999.99999 not in this index"):
        index.similar("9999.99999")
    with pytest.raises(KeyError, match="unknown disliked id"):
        index.recommend([corpus["id"].iloc[0]], ["nope"])
    with pytest.raises(ValueError, match="at least one liked"):
        index.recommend([])
    with pytest.raises(ValueError, match="empty"):
        index.search("   ")
    with pytest.raises(ValueError, match="k must be"):
        index.similar(corpus["id"].iloc[0], k=0)
    everything = index.similar(corpus["id"].iloc[3], k=10_000)  # k beyond the corpus: all others
    assert len(everything) == len(corpus) - 1
    empty = PaperIndex.build(model, corpus.head(0), show_progress=False)
    with pytest.raises(ValueError, match="index is empty"):
        empty.search("anything")


class _CountingModel:
    """Wraps the real model and records what it was asked to encode."""

    def __init__(self, model):
        self.model, self.seen = model, []

    def encode(self, texts, **kw):
        self.seen.extend(texts)
        return self.model.encode(texts, **kw)


def test_add_encodes_only_new_papers(model, corpus):
    spy = _CountingModel(model)
    index = PaperIndex.build(spy, corpus.head(30), show_progress=False)
    spy.seen.clear()
    added = index.add(corpus.head(40), show_progress=False)
    assert added == 10 and len(index) == 40
    assert spy.seen == corpus["text"].iloc[30:40].tolist()
    assert index.similar(corpus["id"].iloc[35], k=3)["id"].notna().all()


def test_save_load_memory_mapped_and_model_mismatch(index, model, corpus, tmp_path):
    index.save(tmp_path / "ix")
    loaded = PaperIndex.load(tmp_path / "ix", model)
    assert isinstance(loaded.embeddings, np.memmap) and loaded.embeddings.dtype == np.float16
    assert loaded.similar(corpus["id"].iloc[9], k=5)["id"].tolist() == index.similar(corpus["id"].iloc[9], k=5)["id"].tolist()
    info = json.loads((tmp_path / "ix" / "index.json").read_text())
    assert info["text_recipe"] and info["count"] == len(corpus) and info["model"] == MINILM

    class Other:
        def encode(self, texts, **kw):
            return np.random.default_rng(0).normal(size=(len(texts), 384)).astype(np.float32)

    with pytest.raises(IndexMismatchError, match="built with"):
        PaperIndex.load(tmp_path / "ix", Other())
    with pytest.raises(FileNotFoundError, match="arxiv-reco index"):
        PaperIndex.load(tmp_path / "nothing")


def test_faiss_index_agrees_with_exact_search(index, model, tmp_path):
    pytest.importorskip("faiss")
    index = PaperIndex(index.embeddings, index.meta, index.info, model)  # its own: the module's stays exact
    ids = index.meta["id"].tolist()
    exact = [index.similar(i, k=10, backend="exact")["id"].tolist() for i in ids[:40]]
    index.build_ann(nlist=8, nprobe=8)  # probing every list: must equal exact search
    approx = [index.similar(i, k=10, backend="faiss")["id"].tolist() for i in ids[:40]]
    assert approx == exact
    index.save(tmp_path / "ix")
    assert PaperIndex.load(tmp_path / "ix")._faiss is not None


def test_cli_index_and_recommend(tmp_path, capsys, corpus):
    papers = tmp_path / "papers.parquet"
    corpus.head(60).to_parquet(papers)
    # no fine-tuned model in the work folder: a reader who only wants the digest gets the base model, told so
    assert main(["--work-dir", str(tmp_path), "index", "--papers", str(papers), "--out", str(tmp_path / "ix"),
                 "--max-seq-length", "64"]) == 0
    assert f"encoding with {MINILM}: the base model: no fine-tuned model at" in capsys.readouterr().err
    pid = corpus["id"].iloc[1]
    assert main(["recommend", "--index", str(tmp_path / "ix"), "--id", pid, "-k", "4", "--format", "json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert len(got) == 4 and pid not in {g["id"] for g in got}
    assert main(["recommend", "--index", str(tmp_path / "ix"), "--query", "galaxies and dark matter", "--format", "csv"]) == 0
    assert capsys.readouterr().out.startswith("id,title,score,category,date,authors,url")
    assert main(["recommend", "--index", str(tmp_path / "ix"), "--liked", f"{pid},{corpus['id'].iloc[2]}",
                 "--disliked", corpus["id"].iloc[3]]) == 0
    assert "score" in capsys.readouterr().out
    assert main(["recommend", "--index", str(tmp_path / "ix"), "--id", "0000.00000"]) == 2
    assert "not in this index" in capsys.readouterr().err
    # a window with nothing in it is one line in every format, and exit 0
    for fmt, line in (("table", "no papers match"), ("json", "[]")):
        assert main(["recommend", "--index", str(tmp_path / "ix"), "--id", pid, "--since", "2099-01-01",
                     "--format", fmt]) == 0
        assert capsys.readouterr().out.strip() == line
    # re-indexing adds only the new papers, with the model the index records (no --model needed)
    corpus.head(70).to_parquet(papers)
    assert main(["index", "--papers", str(papers), "--out", str(tmp_path / "ix"), "--max-seq-length", "64"]) == 0
    out, err = capsys.readouterr()
    assert "added 10 new papers" in out and "the model the index was built with" in err
    # the index keeps its papers' abstracts itself (the mail, the JSON and the page need no corpus)
    kept = PaperIndex.load(tmp_path / "ix").abstract_of(corpus["id"].head(70).tolist())
    assert kept == dict(zip(corpus["id"].head(70), corpus["abstract"].head(70)))
    # an index from before 0.4 keeps none: the next `index` keeps them, in place, once
    shutil.rmtree(tmp_path / "ix" / "abstracts")
    assert PaperIndex.load(tmp_path / "ix").abstract_of([pid]) == {}
    assert main(["index", "--papers", str(papers), "--out", str(tmp_path / "ix"), "--max-seq-length", "64"]) == 0
    assert PaperIndex.load(tmp_path / "ix").abstract_of([pid]) == {pid: corpus.set_index("id").loc[pid, "abstract"]}


@pytest.mark.parametrize("kind", ["ivf-sq8", "ivf-sq6", "ivf-pq"])
def test_compressed_indexes_and_filters_stay_on_the_approximate_search(index, model, kind, tmp_path, monkeypatch):
    pytest.importorskip("faiss")
    import arxiv_reco.index.search as search_module

    index = PaperIndex(index.embeddings, index.meta, dict(index.info), model)
    ids = index.meta["id"].tolist()
    exact = [index.similar(i, k=5, backend="exact")["id"].tolist() for i in ids[:30]]
    exact_astro = [index.similar(i, k=5, categories="astro-ph.*", backend="exact")["id"].tolist() for i in ids[:30]]
    ann = index.build_ann(kind, nlist=4, nprobe=4)  # every list probed: only the codes approximate
    from arxiv_reco.index.search import ann_bytes

    assert ann_bytes(ann) < index.embeddings.nbytes * {"ivf-sq8": 0.6, "ivf-sq6": 0.45, "ivf-pq": 0.3}[kind]
    import faiss

    from arxiv_reco.index.search import ann_kind

    assert ann_kind(faiss.deserialize_index(faiss.serialize_index(ann))) == kind  # as read back from disk
    approx = [index.similar(i, k=5, backend="faiss")["id"].tolist() for i in ids[:30]]
    assert np.mean([len(set(a) & set(e)) / 5 for a, e in zip(approx, exact)]) >= 0.95  # re-scored in float32
    scans = []
    monkeypatch.setattr(search_module, "exact_candidates", lambda *a, **k: scans.append(1) or [])
    astro = [index.similar(i, k=5, categories="astro-ph.*", backend="faiss")["id"].tolist() for i in ids[:30]]
    assert not scans  # the filter ran inside the FAISS search, no exact scan
    assert np.mean([len(set(a) & set(e)) / max(len(e), 1) for a, e in zip(astro, exact_astro)]) >= 0.95
    cats = index.meta.set_index("id")["categories"]
    assert all(any(c.startswith("astro-ph") for c in cats[i]) for row in astro for i in row)
    index.save(tmp_path / "ix")
    assert PaperIndex.load(tmp_path / "ix").info["ann"] == kind
