"""`feed`: the index's recent papers ranked for a library (the SVM over words, people and meaning,
or the mean vector), never a library paper, from the command line in three formats, with
unmatched entries on stderr."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
from fake_arxiv import FakeArxiv
from helpers import SAMPLE_2K

from arxiv_reco.cli import main
from arxiv_reco.index.paper_index import PaperIndex
from arxiv_reco.reader.digest import feed
from arxiv_reco.reader.rank import Features, Ranker, fit_interest

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
SINCE = "2026-01-01"
TOPICS = {"cs.IR", "cs.CL", "astro-ph.GA", "math.AG", "q-bio.NC"}


@pytest.fixture(scope="module")
def corpus(sample_papers_df) -> pd.DataFrame:
    """Real papers of five primary categories; the first cs.IR paper also as a second version."""
    papers = sample_papers_df[sample_papers_df["primary_category"].isin(TOPICS)].reset_index(drop=True)
    first_ir = papers[papers["primary_category"] == "cs.IR"].iloc[[0]]
    twin = first_ir.assign(id=first_ir["id"] + "v2", update_date="2026-06-01")  # recent: a top candidate
    return pd.concat([papers, twin], ignore_index=True)


@pytest.fixture(scope="module")
def library(corpus) -> list[str]:
    """Six cs.IR papers from before SINCE: a retrieval reader's library."""
    ir = corpus[(corpus["primary_category"] == "cs.IR") & (corpus["update_date"] < SINCE)
                & ~corpus["id"].str.endswith("v2")]
    return ir["id"].head(6).tolist()


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory, corpus) -> str:
    from arxiv_reco.vectors.models import load_model

    out = tmp_path_factory.mktemp("feed") / "index"
    PaperIndex.build(load_model(MINILM, max_seq_length=32), corpus, show_progress=False, model_name=MINILM).save(out)
    return str(out)


@pytest.fixture(scope="module")
def index(index_dir) -> PaperIndex:
    return PaperIndex.load(index_dir)


@pytest.mark.parametrize("method", ["svm", "mean"])
def test_feed_ranks_recent_papers_never_a_library_one(index, corpus, library, method):
    twin = corpus["id"].iloc[-1]
    assert twin.removesuffix("v2") in library  # another version of a liked paper, dated after SINCE
    got = feed(index, library, since=SINCE, k=15, method=method, bar=0)  # bar 0: the best 15, whatever they score
    assert len(got) == 15 and list(got.columns) == ["id", "title", "score", "category", "date", "authors", "url",
                                                    "because"]
    assert not set(got["id"]) & {*library, twin} and (got["date"] >= SINCE).all()
    assert got["score"].is_monotonic_decreasing
    assert (got["category"].head(10).isin({"cs.IR", "cs.CL"})).sum() >= 6  # the library's neighbourhood first
    # disliked papers are never returned and pull the ranking away from themselves
    far = feed(index, library, disliked=got["id"].head(3).tolist(), since=SINCE, k=15, method=method, bar=0)
    assert not set(far["id"]) & set(got["id"].head(3))
    emb = pd.DataFrame(np.asarray(index.embeddings, dtype=np.float32), index=index.meta["id"])
    d = emb.loc[got["id"].head(3)].to_numpy().mean(axis=0)
    assert (emb.loc[far["id"]].to_numpy() @ d).mean() < (emb.loc[got["id"]].to_numpy() @ d).mean()


def test_feed_edges(index, library):
    assert len(feed(index, library, since="2099-01-01")) == 0  # nothing that new: an empty digest
    with pytest.raises(ValueError, match="none of the library's liked papers is in this index"):
        feed(index, ["2412.99999"])
    with pytest.raises(ValueError, match="method must be one of"):
        feed(index, library, method="knn")
    only = feed(index, library, since=SINCE, categories="astro-ph.*", k=5, bar=0)
    assert len(only) == 5 and set(only["category"]) == {"astro-ph.GA"}
    assert len(feed(index, library, since=SINCE, categories="astro-ph.*", k=5)) < 5  # an IR library's bar: few pass


def test_svm_is_the_linear_decision_function():
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(300, 8)).astype(np.float32)
    emb[:10] += 3.0  # a separable "topic"
    meta = pd.DataFrame({"id": [f"2401.{i:05d}" for i in range(300)], "title": "", "authors": "",
                         "primary_category": "cs.IR", "categories": [["cs.IR"]] * 300, "update_date": ""})
    features = Features(PaperIndex(emb, meta, {}), None, Ranker(words=0, people=0, meaning=1))
    scores = fit_interest(features, range(5), calibrate=False).scores(np.arange(5, 300))
    assert set(np.argsort(-scores)[:5] + 5) <= set(range(5, 10))  # the topic's other papers come first
    tiny = Features(PaperIndex(emb[:3], meta.head(3), {}), None, Ranker(words=0, people=0, meaning=1))
    with pytest.raises(ValueError, match="outside the library"):
        fit_interest(tiny, range(3))


def test_cli_feed_formats_and_unmatched_entries_on_stderr(index_dir, index, library, tmp_path, capsys, monkeypatch):
    bib = tmp_path / "my.bib"
    bib.write_text("".join(f"@misc{{p{i},\n  title={{Paper {i}}},\n  eprint={{{pid}}},\n  archivePrefix={{arXiv}},\n}}\n"
                           for i, pid in enumerate(library))
                   + "@article{nolink, title={A Journal Paper Without arXiv}, doi={10.1000/1}}\n")
    base = ["feed", "--index", index_dir, "--library", str(bib), "--since", SINCE, "-k", "7", "--no-fetch", "--bar", "0"]
    assert main([*base, "--format", "json"]) == 0
    out, err = capsys.readouterr()
    got = json.loads(out)
    assert len(got) == 7 and not {g["id"] for g in got} & set(library)
    assert "nolink 'A Journal Paper Without arXiv': no arXiv id" in err and "(svm)" in err
    assert main([*base, "--format", "csv", "--method", "mean"]) == 0
    out, err = capsys.readouterr()
    csv = pd.read_csv(io.StringIO(out))
    assert len(csv) == 7 and list(csv.columns)[:3] == ["id", "title", "score"] and "(mean)" in err
    assert main([*base]) == 0
    assert "score" in capsys.readouterr().out
    # a library paper the index lacks: reported with --no-fetch, fetched from arXiv otherwise
    records = [json.loads(line) for line in SAMPLE_2K.read_text().splitlines()]
    outside = next(r["id"] for r in records if r["id"] not in set(index.meta["id"]) and r["update_date"])
    assert main([*base, "--library", outside]) == 0
    assert f"not in the index (left out): {outside}" in capsys.readouterr().err
    with FakeArxiv(records) as fake:
        monkeypatch.setenv("ARXIV_RECO_ARXIV_API", fake.url)
        fetch = [a for a in base if a != "--no-fetch"]
        assert main([*fetch, "--library", outside, "--pace", "0.01", "--max-seq-length", "32"]) == 0
    out, err = capsys.readouterr()
    assert "added 1 paper to the index" in err and "not in the index" not in err and fake.log[0]["params"]["id_list"] == outside
    assert outside in set(PaperIndex.load(index_dir).meta["id"])


def test_cli_feed_says_what_to_do_when_nothing_matches(index_dir, capsys):
    assert main(["feed", "--index", index_dir, "--library", "2412.99999", "--no-fetch"]) == 2
    err = capsys.readouterr().err
    assert "none of the library's liked papers is in this index" in err and "Traceback" not in err


@pytest.mark.parametrize("fmt", ["table", "json", "csv"])
def test_cli_feed_on_a_quiet_day_is_one_line_and_exit_0(index_dir, library, capsys, fmt):
    # a window with no paper in it (a weekend, a late --since): the issue 54 crash was an AttributeError
    argv = ["feed", "--index", index_dir, "--library", ",".join(library[:2]), "--since", "2099-01-01", "--no-fetch",
            "--format", fmt]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "0 papers since 2099-01-01" in err
    assert out.strip().splitlines() == {"table": ["nothing new above your bar in this window"], "json": ["[]"]}.get(
        fmt, out.strip().splitlines()) and len(out.strip().splitlines()) == 1  # csv: its header alone


@pytest.mark.parametrize("text", ["2026/06/01", "2026-13-45", "last week"])
def test_a_date_that_is_not_one_is_refused_naming_the_forms(index_dir, library, capsys, text):
    with pytest.raises(SystemExit) as stop:
        main(["feed", "--index", index_dir, "--library", library[0], "--since", text, "--no-fetch"])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "YYYY-MM-DD, today, yesterday or Nd" in err and "Traceback" not in err


def test_dates_a_reader_types():
    from datetime import date

    from arxiv_reco.dates import day
    from arxiv_reco.reader.digest_options import DigestOptions

    today = date(2026, 12, 7)
    assert [day(t, today) for t in ("2026-06-01", "today", "yesterday", "7d", " 30 days ")] == [
        "2026-06-01", "2026-12-07", "2026-12-06", "2026-11-30", "2026-11-07"]
    assert DigestOptions(since="today").since == date.today().isoformat()
    with pytest.raises(ValueError, match="since: '2026-02-30' is not a day of the calendar"):
        DigestOptions(since="2026-02-30")


@pytest.mark.parametrize("where", ["refused", "no such host"])
def test_an_unreachable_arxiv_fails_fast_and_says_no_fetch(index_dir, library, capsys, monkeypatch, where):
    import socket
    import time

    with socket.socket() as s:  # a loopback port nobody listens on: connection refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/api/query" if where == "refused" else "https://arxiv.invalid/api/query"
    monkeypatch.setenv("ARXIV_RECO_ARXIV_API", url)
    t = time.monotonic()
    assert main(["feed", "--index", index_dir, "--library", f"{library[0]},2412.99999", "--since", SINCE,
                 "--bar", "0"]) == 0  # the digest goes on with what the index holds
    err = capsys.readouterr().err
    assert time.monotonic() - t < 20  # not 5 tries with 15-120 s waits
    assert "cannot reach the arXiv API" in err and "--no-fetch" in err and "Traceback" not in err


ZOTERO_KEY = "zotero-key-never-printed-0123456789"


def test_a_zotero_library_is_read_straight_from_zotero(index_dir, corpus, library, capsys, monkeypatch):
    from fake_zotero import FakeZotero, zotero_item

    papers = corpus.set_index("id")
    saved = [zotero_item({"id": pid, **papers.loc[pid]}, how, n)  # as Zotero's connectors save them
             for n, (pid, how) in enumerate(zip(library, ["preprint", "preprint", "doi", "journal", "note"]))]
    others = [zotero_item({"id": "0000.00000", "title": f"A book on topic {n}"}, "journal", 100 + n) for n in range(120)]
    libraries = {"/users/4242": saved + others, "/groups/77/collections/ABCD2345": saved[:1]}
    argv = ["feed", "--index", index_dir, "--zotero", "4242", "--since", SINCE, "--no-fetch", "--bar", "0",
            "--format", "json", "-k", "4", "--no-page-likes"]
    with FakeZotero(libraries, key=ZOTERO_KEY, private=("/users/4242",)) as fake:
        monkeypatch.setenv("ARXIV_RECO_ZOTERO_API", fake.url)
        monkeypatch.setenv("ZOTERO_API_KEY", ZOTERO_KEY)
        fake.faults.append("429:0.05")  # Zotero asks to wait: it is waited for, not failed on
        assert main(argv) == 0
        out, err = capsys.readouterr()
        # an arXiv id where Zotero keeps one (archiveID, the arXiv DOI); the published version by its title
        assert "library: 4 liked, 0 disliked papers from 124 entries" in err
        assert "120 entries not matched to an arXiv paper" in err and ZOTERO_KEY not in out + err
        assert not {g["id"] for g in json.loads(out)} & set(library[:4]) and len(json.loads(out)) == 4
        pages = [e["query"]["start"] for e in fake.log if e["path"] == "/users/4242/items/top"]
        assert pages == ["0", "0", "100"] and {e["version"] for e in fake.log} == {"3"}  # the 429, then 2 pages
        # a group's collection, as a library source like any other
        assert main([*argv[:3], "--library", "zotero:groups/77/collections/ABCD2345", *argv[5:]]) == 0
        assert "library: 1 liked" in capsys.readouterr().err
        # no key for a private library: one line that says which setting, and nothing else runs
        monkeypatch.delenv("ZOTERO_API_KEY")
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "needs ZOTERO_API_KEY" in err
        assert main([*argv[:4], "4243", *argv[5:]]) == 2
        assert "no library or collection at /users/4243" in capsys.readouterr().err


def test_where_the_zotero_key_goes_is_never_a_dotenvs_choice(tmp_path, monkeypatch):
    from arxiv_reco.config import load_settings

    monkeypatch.delenv("ARXIV_RECO_ZOTERO_API", raising=False)
    (tmp_path / ".env").write_text(f"ZOTERO_API_KEY={ZOTERO_KEY}\nARXIV_RECO_ZOTERO_API=https://evil.example\n")
    with pytest.warns(UserWarning, match="ignored ARXIV_RECO_ZOTERO_API"):
        settings = load_settings(tmp_path / ".env")
    assert settings.zotero_api_url == "https://api.zotero.org" and settings.zotero_api_key.reveal() == ZOTERO_KEY
    assert ZOTERO_KEY not in repr(settings)
