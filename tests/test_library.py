"""A reader's library from BibTeX (the shapes real exporters write), ids, URLs and the page's
reading list; the papers it lacks fetched from the (fake) arXiv API; BibTeX written back."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from fake_arxiv import FakeArxiv
from helpers import FIXTURES, SAMPLE_2K

from arxiv_reco.reader.arxiv_api import ArxivAPI
from arxiv_reco.reader.library import (
    arxiv_id,
    id_from_fields,
    load_library,
    read_bibtex,
    read_reading_list,
    save_reading_list,
    to_bibtex,
)

REAL_SHAPES = FIXTURES / "library_real_shapes.bib"


def test_bibtex_from_real_exporters():
    lib = load_library(REAL_SHAPES)
    assert lib.liked == [
        "2402.18225",  # arXiv's own export: eprint + archivePrefix
        "2205.06643",  # Zotero preprint: eprint/eprinttype, number arXiv:..., DOI 10.48550/arXiv...
        "1706.03762",  # older Zotero: only url, journal "arXiv:... [cs]" and note
        "1803.06373",  # Mendeley: arxivId
        "1810.04805",  # Google Scholar: journal={arXiv preprint arXiv:...}
        "2305.16291",  # Google Scholar variant "arXiv: Arxiv-2305.16291"
        "2005.14165",  # DBLP: journal CoRR, volume abs/...
        "2211.09108",  # DataCite: DOI in capitals, a URL as the key
        "2406.01491",  # NASA ADS: eid/pages arXiv:...
        "2509.09292",  # capitalised field names, "arXiv:" inside eprint
        "hep-th/9711200",  # old-style id, version dropped
        "math/0307245",  # old-style with a subject class (math.DG/...)
        "2101.00001",  # export.arxiv.org URL
    ]
    assert lib.duplicates == 2  # the same paper under another key, and a repeated key
    unmatched = {u.key: u for u in lib.unmatched}
    assert set(unmatched) == {"someone2024tba", "perez2024hybrid", "pubmed2020", "line 180"}
    assert "no arXiv id" in unmatched["perez2024hybrid"].reason  # "pages = 1234.5678" is no id
    assert "not valid BibTeX" in unmatched["line 180"].reason
    report = lib.report()
    assert "13 liked" in report and "2 duplicates merged" in report
    assert "perez2024hybrid 'Sparse Retrieval Meets Dense Re-ranking'" in report  # title, LaTeX decoded


@pytest.mark.parametrize(("text", "expected"), [
    ("2401.01234v2", "2401.01234"), ("arXiv:2401.01234", "2401.01234"), ("0704.0001", "0704.0001"),
    ("https://arxiv.org/abs/2401.01234v3", "2401.01234"), ("http://arxiv.org/pdf/2401.01234v1.pdf", "2401.01234"),
    ("https://arxiv.org/html/2401.01234v1", "2401.01234"), ("hep-th/9901001", "hep-th/9901001"),
    ("https://arxiv.org/abs/hep-th/9901001v2", "hep-th/9901001"), ("math.GT/0309136", "math/0309136"),
    ("doi:10.48550/arXiv.2401.01234", "2401.01234"),
    ("1234.5678 pages", None), ("2413.01234", None), ("not an id", None), ("", None)])
def test_ids_and_urls(text, expected):
    assert arxiv_id(text) == expected


def test_an_id_is_taken_only_where_arxiv_is_named():
    assert id_from_fields({"pages": "1801.1805", "journal": "Phys. Rev. D"}) is None
    assert id_from_fields({"eprint": "2401.01234", "archiveprefix": "arXiv"}) == "2401.01234"
    assert id_from_fields({"eprint": "2401.01234", "archiveprefix": "HAL"}) is None
    assert id_from_fields({"journal": "ArXiv", "volume": "abs/2005.14165"}) == "2005.14165"
    assert id_from_fields({"volume": "abs/2005.14165"}) is None


def test_ids_urls_json_and_dislikes_merge(tmp_path):
    ids = tmp_path / "ids.txt"
    ids.write_text("# my reading\n2401.01234v2\nhttps://arxiv.org/abs/2402.00002\n\nnot-an-id\n2401.01234\n")
    reading = save_reading_list(tmp_path / "reading_list.json", ["2403.00003", "2402.00002"], ["2404.00004"])
    lib = load_library([ids, reading], disliked="2405.00005,https://arxiv.org/abs/2401.01234")
    assert lib.liked == ["2401.01234", "2402.00002", "2403.00003"]
    assert lib.disliked == ["2404.00004", "2405.00005"]  # liked wins over disliked
    assert lib.duplicates == 3 and [u.key for u in lib.unmatched] == ["not-an-id"]
    assert load_library(["2401.01234", "hep-th/9901001v1"]).liked == ["2401.01234", "hep-th/9901001"]
    with pytest.raises(FileNotFoundError, match="No library file"):
        load_library(tmp_path / "missing.bib")
    assert read_reading_list(tmp_path / "none.json") == {"liked": [], "disliked": []}
    assert json.loads(reading.read_text()) == {"liked": ["2403.00003", "2402.00002"], "disliked": ["2404.00004"]}


def test_bibtex_written_back_reads_back():
    papers = pd.DataFrame({
        "id": ["2401.01234", "hep-th/9901001", "2401.05678"],
        "title": ["Sparse {BERT}: Ranking & 50% of $k$-NN", "Unbalanced } brace", "Sparse Again"],
        "authors": ["Ana Pérez, Bo Li and Chen Wei", "J. Maldacena", "Ana Pérez"],
        "primary_category": ["cs.IR", "hep-th", "cs.CL"], "update_date": ["2024-01-09", "1999-01-05", ""]})
    bib = to_bibtex(papers)
    assert bib.count("@misc{") == 3 and "archivePrefix={arXiv}" in bib and "year={1999}" in bib
    assert "author={Ana Pérez and Bo Li and Chen Wei}" in bib and "url={https://arxiv.org/abs/2401.01234}" in bib
    ids, unmatched, n, dups = read_bibtex(bib)
    assert ids == papers["id"].tolist() and not unmatched and n == 3 and dups == 0
    keys = [line.split("{", 1)[1].rstrip(",") for line in bib.splitlines() if line.startswith("@misc")]
    assert len(set(keys)) == 3 and keys[0] == "perez2024sparse"


def test_missing_library_papers_are_fetched_and_added(tmp_path):
    from arxiv_reco.index.paper_index import PaperIndex
    from arxiv_reco.papers.snapshot import load_papers
    from arxiv_reco.reader.update import abstracts_path, add_papers_by_id
    from arxiv_reco.vectors.models import load_model

    papers, _ = load_papers(SAMPLE_2K, limit=40)
    model = load_model("sentence-transformers/all-MiniLM-L6-v2", max_seq_length=32)
    index = PaperIndex.build(model, papers.head(30), show_progress=False)
    lib = load_library([*papers["id"].iloc[25:35], "2412.99999"])  # 5 indexed, 5 not, 1 unknown to arXiv
    assert lib.missing(index) == [*papers["id"].iloc[30:35], "2412.99999"]
    records = [json.loads(line) for line in SAMPLE_2K.read_text().splitlines()[:40]]
    with FakeArxiv(records) as fake:
        added = add_papers_by_id(index, lib.missing(index), ArxivAPI(fake.url, pace=0.01), save_to=tmp_path / "ix")
    assert added == papers["id"].iloc[30:35].tolist() and lib.missing(index) == ["2412.99999"]
    assert "id_list" in fake.log[0]["params"] and len(fake.log) == 1  # one request for all of them
    assert len(PaperIndex.load(tmp_path / "ix")) == 35
    # the fetched papers' abstracts are kept by the index itself, nothing beside it
    kept = PaperIndex.load(tmp_path / "ix").abstract_of(added)
    assert set(kept) == set(added) and all(kept.values()) and not abstracts_path(tmp_path / "ix").exists()
    # a published version's entry without an arXiv id, matched by its exact title
    title = papers["title"].iloc[3]
    lib = load_library(REAL_SHAPES)
    lib.unmatched[1].title = title.upper()
    assert lib.match_titles(index) == 1 and papers["id"].iloc[3] in lib.liked
