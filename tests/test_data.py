from __future__ import annotations

import gzip
import json
import shutil
import zipfile

import pandas as pd
import pytest
from helpers import KAGGLE_HEAD, SAMPLE_2K, UNARXIVE

from arxiv_reco.papers.corpus import SnapshotFormatError, paper_text
from arxiv_reco.papers.files import read_papers, save_papers
from arxiv_reco.papers.sampler import sample_papers
from arxiv_reco.papers.snapshot import iter_papers, load_papers


def test_real_kaggle_lines_parse_exactly(kaggle_records):
    papers, report = load_papers(KAGGLE_HEAD)
    assert report.lines == 200 and report.kept == 200 and report.skipped == 0
    assert list(papers["id"]) == [r["id"] for r in kaggle_records]
    assert papers["id"].iloc[0] == "0704.0001"
    first = papers.iloc[0]
    # the raw title wraps with "\n  "; the corpus has it on one line
    assert "\n" in kaggle_records[0]["title"]
    assert first["title"] == "Calculation of prompt diphoton production cross sections at Tevatron and LHC energies"
    assert first["categories"] == ["hep-ph"] and first["primary_category"] == "hep-ph"
    assert first["text"].startswith(first["title"] + ". A fully differential calculation")
    for rec, (_, row) in zip(kaggle_records, papers.iterrows()):
        assert row["categories"] == rec["categories"].split()
        assert row["primary_category"] == rec["categories"].split()[0]
        assert row["title"] == " ".join(rec["title"].split())  # LaTeX kept, whitespace collapsed
        assert "\n" not in row["abstract"] and "  " not in row["abstract"]
        assert row["update_date"] == rec["update_date"]


def test_latex_survives(kaggle_records):
    papers, _ = load_papers(KAGGLE_HEAD)
    with_latex = [r for r in kaggle_records if "$" in r["title"]]
    assert with_latex, "the real head of the snapshot has LaTeX titles"
    row = papers.set_index("id").loc[with_latex[0]["id"]]
    assert row["title"] == " ".join(with_latex[0]["title"].split())


@pytest.fixture
def dirty_snapshot(tmp_path):
    """Real Kaggle lines with every kind of bad line mixed in."""
    lines = KAGGLE_HEAD.read_bytes().splitlines()
    good = lines[:30]
    first = json.loads(good[0])
    no_abstract = dict(json.loads(good[1]), id="9999.00001")
    del no_abstract["abstract"]
    blank_title = dict(json.loads(good[2]), id="9999.00002", title="   ")
    bad = [
        good[3][: len(good[3]) // 2],  # truncated JSON
        b'{"id":"9999.00003","title":"Caf\xe9","abstract":"x","categories":"cs.LG"}',  # latin-1, not UTF-8
        b"[1, 2, 3]",  # valid JSON, not an object
        json.dumps(no_abstract).encode(),
        json.dumps(blank_title).encode(),
        json.dumps(dict(first, title="A duplicate of the first")).encode(),  # duplicate id
        b"",  # blank lines are not records
    ]
    path = tmp_path / "dirty.jsonl"
    path.write_bytes(b"\n".join(good[:10] + bad + good[10:]) + b"\n")
    return path


def test_every_malformed_kind_is_counted_and_skipped(dirty_snapshot):
    papers, report = load_papers(dirty_snapshot)
    assert len(papers) == 30
    assert papers["id"].is_unique
    assert report.bad == {"invalid_json": 1, "invalid_utf8": 1, "not_an_object": 1, "missing_field": 2, "duplicate_id": 1}
    assert report.skipped == 6
    assert "A duplicate of the first" not in set(papers["title"])  # the first occurrence wins
    assert report.bad_examples and "invalid_json" in report.bad_examples[0]
    assert "invalid_utf8 1" in str(report)


def test_sampling_skips_and_counts_bad_lines_too(dirty_snapshot):
    papers, report = sample_papers(dirty_snapshot, n=1000, progress=False)
    assert len(papers) == 30 and papers["id"].is_unique
    assert report.bad["invalid_json"] == 1 and report.bad["invalid_utf8"] == 1
    assert report.bad["missing_field"] == 2 and report.bad["duplicate_id"] == 1
    assert report.bad["not_an_object"] == 1


def test_category_filter_exact_and_prefix():
    papers, report = load_papers(SAMPLE_2K, categories="cs.*")
    assert len(papers) > 500
    assert all(any(c.startswith("cs.") for c in cats) for cats in papers["categories"])
    exact, _ = load_papers(SAMPLE_2K, categories=["cs.CL", "hep-th"])
    assert all({"cs.CL", "hep-th"} & set(cats) for cats in exact["categories"])
    assert set(exact["primary_category"]) >= {"cs.CL", "hep-th"}
    assert report.filtered_out + report.kept == report.lines


def test_prefix_is_not_a_substring_match(tmp_path):
    rec = json.loads(KAGGLE_HEAD.read_text().splitlines()[0])
    rows = [dict(rec, id="1", categories="physics.optics"), dict(rec, id="2", categories="cs.CV physics.optics"),
            dict(rec, id="3", categories="econ.GN"), dict(rec, id="4", categories="cs")]
    path = tmp_path / "cats.jsonl"
    path.write_text("\n".join(json.dumps(r, separators=(",", ":")) for r in rows) + "\n")
    assert list(load_papers(path, categories="cs.*")[0]["id"]) == ["2", "4"]
    assert list(sample_papers(path, n=10, categories="cs.*", progress=False)[0]["id"].sort_values()) == ["2", "4"]


def test_date_filter():
    papers, _ = load_papers(KAGGLE_HEAD, since="2009-01-01", until="2012-12-31")
    assert len(papers) > 0
    assert papers["update_date"].between("2009-01-01", "2012-12-31").all()
    sampled, _ = sample_papers(KAGGLE_HEAD, n=500, since="2009-01-01", until="2012-12-31", progress=False)
    assert set(sampled["id"]) == set(papers["id"])
    with pytest.raises(ValueError, match="2024-01-31"):
        load_papers(KAGGLE_HEAD, since="last year")


def test_limit_stops_early():
    papers, report = load_papers(SAMPLE_2K, categories="math.*", limit=7)
    assert len(papers) == 7 and report.lines < 1990


def test_sample_is_deterministic_and_uniform_subset():
    a, report = sample_papers(SAMPLE_2K, n=200, seed=1, progress=False)
    b, _ = sample_papers(SAMPLE_2K, n=200, seed=1, progress=False)
    c, _ = sample_papers(SAMPLE_2K, n=200, seed=2, progress=False)
    assert list(a["id"]) == list(b["id"])
    assert set(a["id"]) != set(c["id"])
    assert len(a) == 200 and a["id"].is_unique and report.kept == 200
    # only the winners are parsed: cheap on a 4 GB file
    assert report.parsed == 200


def test_sample_identical_whatever_the_worker_count(tmp_path):
    big = tmp_path / "snapshot.jsonl"
    big.write_bytes(SAMPLE_2K.read_bytes() + UNARXIVE.read_bytes() + KAGGLE_HEAD.read_bytes())
    one, _ = sample_papers(big, n=300, categories="cs.*", seed=5, workers=1, progress=False)
    for workers in (2, 3):
        many, _ = sample_papers(big, n=300, categories="cs.*", seed=5, workers=workers, progress=False)
        assert list(many["id"]) == list(one["id"])
    strat1, _ = sample_papers(big, n=150, stratify=True, seed=5, workers=1, progress=False)
    strat2, _ = sample_papers(big, n=150, stratify=True, seed=5, workers=2, progress=False)
    assert list(strat1["id"]) == list(strat2["id"])


def test_stratified_sample_balances_primary_categories():
    papers, _ = sample_papers(SAMPLE_2K, n=234, stratify=True, seed=0, progress=False)
    available = load_papers(SAMPLE_2K)[0]["primary_category"].value_counts()
    counts = papers["primary_category"].value_counts()
    assert len(papers) == 234 and set(counts.index) == set(available.index)
    # a category smaller than its share gives it all; the others are within one of each other
    exhausted = counts[counts == available[counts.index]]
    rest = counts.drop(exhausted.index)
    assert len(rest) > 50 and rest.max() - rest.min() <= 1
    assert (exhausted <= rest.max()).all()
    uniform, _ = sample_papers(SAMPLE_2K, n=234, seed=0, progress=False)
    assert uniform["primary_category"].value_counts().max() > counts.max()


def test_stratified_gives_small_categories_share_away(tmp_path):
    recs = [json.loads(x) for x in SAMPLE_2K.read_text().splitlines()]
    path = tmp_path / "skewed.jsonl"
    keep = [r for r in recs if r["categories"].split()[0] in ("cs.CL", "math.AG", "hep-th")]
    path.write_text("\n".join(json.dumps(r) for r in keep) + "\n")
    counts = {c: sum(r["categories"].split()[0] == c for r in keep) for c in ("cs.CL", "math.AG", "hep-th")}
    papers, _ = sample_papers(path, n=len(keep) - 5, stratify=True, progress=False)
    assert len(papers) == len(keep) - 5
    assert papers["primary_category"].value_counts().to_dict().keys() == counts.keys()


def test_gzip_and_zip_read_like_plain(tmp_path):
    gz = tmp_path / "snap.json.gz"
    with open(KAGGLE_HEAD, "rb") as src, gzip.open(gz, "wb") as dst:
        shutil.copyfileobj(src, dst)
    zp = tmp_path / "archive.zip"
    with zipfile.ZipFile(zp, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(KAGGLE_HEAD, "arxiv-metadata-oai-snapshot.json")
    plain, _ = sample_papers(KAGGLE_HEAD, n=50, seed=3, progress=False)
    for path in (gz, zp):
        other, _ = sample_papers(path, n=50, seed=3, progress=False)
        assert list(other["id"]) == list(plain["id"])
        assert len(load_papers(path)[0]) == 200


def test_clear_errors_for_wrong_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="Kaggle"):
        sample_papers(tmp_path / "nope.json")
    array = tmp_path / "array.json"
    array.write_text(json.dumps([json.loads(KAGGLE_HEAD.read_text().splitlines()[0])]))
    with pytest.raises(SnapshotFormatError, match="JSON array, not JSON Lines"):
        sample_papers(array)
    csv = tmp_path / "papers.csv"
    csv.write_text("id,title,abstract\n1,A,B\n")
    with pytest.raises(SnapshotFormatError, match="CSV"):
        load_papers(csv)
    pq = tmp_path / "papers.parquet"
    pd.DataFrame({"id": ["1"]}).to_parquet(pq)
    with pytest.raises(SnapshotFormatError, match="Parquet"):
        sample_papers(pq)
    with pytest.raises(SnapshotFormatError, match="folder"):
        load_papers(tmp_path)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(SnapshotFormatError, match="empty"):
        load_papers(empty)


def test_parquet_round_trip_and_read_papers_takes_both(tmp_path):
    papers, _ = load_papers(UNARXIVE)
    path = save_papers(papers, tmp_path / "papers.parquet")
    back = read_papers(path)
    assert back["id"].tolist() == papers["id"].tolist()
    assert back["categories"].tolist() == papers["categories"].tolist()
    assert back["text"].tolist() == papers["text"].tolist()
    assert read_papers(UNARXIVE)["id"].tolist() == papers["id"].tolist()


def test_iter_papers_streams_in_file_order():
    ids = [p["id"] for p in iter_papers(KAGGLE_HEAD, limit=3)]
    assert ids == ["0704.0001", "0704.0002", "0704.0003"]


def test_clean_equals_split_join_on_real_and_awkward_text(kaggle_records):
    from arxiv_reco.papers.corpus import clean

    texts = [r["abstract"] for r in kaggle_records] + [r["title"] for r in kaggle_records]
    texts += ["a\x1cb", "\xa0x\u2003y ", " \t\n", "a  b", "é\n f", "", "x\r\ny"]
    assert [clean(t) for t in texts] == [" ".join(t.split()) for t in texts]


def test_paper_text_is_the_one_recipe():
    assert paper_text("Deep  learning\n for X", " We study  X. ") == "Deep learning for X. We study X."
    assert paper_text("Why?", "Because.") == "Why? Because."


def test_the_category_filter_is_public_and_never_matches_by_substring():
    from arxiv_reco.papers.corpus import CategoryFilter

    flt = CategoryFilter.build("cs.*, stat.ML", since="2024-01-01")
    assert flt.category_ok(["math.ST", "stat.ML"]) and flt.category_ok(["cs"]) and flt.category_ok(["cs.CL"])
    assert not flt.category_ok(["physics.optics"]) and not flt.category_ok(["econ.cs"])
    assert flt.date_ok("2024-01-01") and not flt.date_ok("2023-12-31") and not flt.date_ok("")
    with pytest.raises(ValueError, match="dates must look like"):
        CategoryFilter.build(None, since="last week")
