"""The page in a real browser: headless Chromium (Debian's) driven by Playwright through search ->
abstract -> more like this -> like -> "new for you" -> dislike -> export, checking what a reader
sees, on real papers of the bundled sample. Every request that leaves 127.0.0.1 is refused and
recorded: the page must work offline.

Set ARXIV_RECO_SCREENSHOT=path.png to keep a screenshot of the page."""

from __future__ import annotations

import os
import re
import shutil
import socket
from pathlib import Path

import pandas as pd
import pytest
from helpers import FAST, FAST_SKIP

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or "/usr/bin/chromium"
MINILM = "sentence-transformers/all-MiniLM-L6-v2"
SINCE = "2026-01-01"
TOPICS = {"cs.IR", "cs.CL", "astro-ph.GA", "math.AG", "q-bio.NC"}
EVIL_ID = "2401.00002)[Download PDF](https://evil.example/x)("
EVIL_TITLE = "Quokka <img src=https://evil.example/t.png> marmalade [click me](https://evil.example/a)"
# gradio's queue trips pandas 3's deprecation warnings: theirs, not ours
pytestmark = pytest.mark.filterwarnings("ignore::Warning:gradio.*")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _requirements() -> str | None:
    if FAST:
        return f"a browser: {FAST_SKIP}"
    try:
        import gradio  # noqa: F401
    except ImportError:
        return "gradio is not installed (pip install 'arxiv-reco[app]')"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install playwright; requirements-dev.txt has it)"
    if not Path(CHROMIUM).exists():
        return "no Chromium at /usr/bin/chromium (apt-get install chromium; .ci/run does)"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def site(tmp_path_factory, sample_papers_df):
    """The page served from a real index of 200-odd sample papers, in this process."""
    why = _requirements()
    if why:
        pytest.skip(why)
    from arxiv_reco.index.paper_index import PaperIndex
    from arxiv_reco.reader.app import serve
    from arxiv_reco.vectors.models import load_model

    work = tmp_path_factory.mktemp("site")
    papers = sample_papers_df[sample_papers_df["primary_category"].isin(TOPICS)].reset_index(drop=True)
    # a hostile record, as a feed or a hand-edited file could hand it over: every field must stay text
    evil = {"id": EVIL_ID, "title": EVIL_TITLE, "abstract": "Quokka zebra xylophone marmalade " * 8,
            "categories": ["cs.IR"], "primary_category": "<img src=https://evil.example/c.png>",
            "authors": "<img src=https://evil.example/a.png>", "update_date": "<b>2026-13-45</b>"}
    papers = pd.concat([papers, pd.DataFrame([{**evil, "text": evil["title"] + ". " + evil["abstract"]}])],
                       ignore_index=True)
    papers.to_parquet(work / "papers.parquet")
    model = load_model(MINILM, max_seq_length=32)
    PaperIndex.build(model, papers, show_progress=False, model_name=MINILM).save(work / "index")
    demo = serve(work / "index", papers=work / "papers.parquet", port=_free_port(), since=SINCE, model=model,
                 block=False, say=lambda _: None)
    try:
        yield demo.local_url, PaperIndex.load(work / "index", model), papers, work
    finally:
        demo.close()


def _ids(page, where: str) -> list[str]:
    """The arXiv ids of the cards a reader sees, in order (from their links to arXiv)."""
    links = page.locator(f"[id^={where}-card-] .card-title a")
    return [h.rsplit("/abs/", 1)[1] for h in links.evaluate_all("els => els.map(e => e.href)")]


@pytest.mark.slow
def test_search_more_like_this_like_new_for_you_export(site):
    from playwright.sync_api import expect, sync_playwright

    from arxiv_reco.reader.digest import feed
    from arxiv_reco.reader.library import read_bibtex, read_reading_list

    url, index, papers, work = site
    target = papers[(papers["primary_category"] == "cs.IR") & ~papers["title"].str.contains(r"[$\\]")].iloc[0]
    outside = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = browser.new_page(accept_downloads=True, viewport={"width": 1100, "height": 1300})

        def offline(route):
            if route.request.url.startswith((url, "data:", "blob:")):
                return route.continue_()
            outside.append(route.request.url)
            return route.abort()

        page.route("**/*", offline)
        page.goto(url, wait_until="domcontentloaded")

        # search: the paper whose title is typed comes first, as a card with its authors and a folded abstract
        page.locator("#query textarea, #query input").first.fill(target["title"])
        page.locator("#search-btn").click()
        expect(page.locator("#results-heading").first).to_contain_text("Results for", timeout=20_000)
        expect(page.locator("[id^=res-card-]")).to_have_count(10)
        first = page.locator("[id^=res-card-]").first
        expect(first.locator(".card-title a")).to_have_text(target["title"])
        expect(first.locator(".card-meta").first).to_contain_text(target["authors"].split(",")[0])
        expect(first.locator(".card-meta").first).to_contain_text(f"arXiv:{target['id']}")
        assert _ids(page, "res") == index.search(target["title"], k=10)["id"].tolist()
        words = " ".join(target["abstract"].split()[:6])
        expect(first.get_by_text(words)).to_be_hidden()
        first.get_by_role("button", name="Abstract").click()
        expect(first.get_by_text(words)).to_be_visible()

        # more like this
        first.locator(".more-btn").click()
        expect(page.locator("#results-heading").first).to_contain_text(f"More like “{target['title']}”")
        similar = index.similar(target["id"], k=10)["id"].tolist()
        expect(page.locator("[id^=res-card-]").first.locator(".card-title a")).to_have_attribute(
            "href", f"https://arxiv.org/abs/{similar[0]}")
        assert _ids(page, "res") == similar

        # like: the paper leaves the results and is saved in the reading list
        liked = similar[0]
        page.locator(f"#res-card-{liked.replace('.', '-')} .like-btn").click()
        expect(page.locator(f"#res-card-{liked.replace('.', '-')}")).to_have_count(0)
        assert _ids(page, "res") == index.similar(target["id"], k=11)["id"].tolist()[1:]  # the next one moved up
        assert read_reading_list(work / "reading_list.json")["liked"] == [liked]

        # new for you: the digest since SINCE for the liked paper, never the liked paper itself
        page.get_by_role("tab", name="New for you").click()
        expect(page.locator("#new-heading").first).to_contain_text("ranked for your 1 liked paper (svm)")
        digest = feed(index, [liked], since=SINCE, k=10)["id"].tolist()
        expect(page.locator("[id^=new-card-]")).to_have_count(len(digest))
        assert _ids(page, "new") == digest and liked not in digest
        # each card says why: its score, the words it shares with the library, the liked paper it is closest to
        expect(page.locator("[id^=new-card-] .card-because").first).to_contain_text("score")
        expect(page.locator("[id^=new-card-] .card-because").first).to_contain_text("because")
        assert page.locator("[id^=new-card-]").filter(has=page.locator(".card-because")).count() == len(digest)
        # not for me: it goes, and the digest re-ranks away from it
        meh = digest[0]
        page.locator(f"#new-card-{meh.replace('.', '-')} .dislike-btn").click()
        expect(page.locator(f"#new-card-{meh.replace('.', '-')}")).to_have_count(0)
        # (the re-ranked digest may hold fewer papers: those the dislike pushed under the bar leave)
        again = feed(index, [liked], [meh], since=SINCE, k=10)["id"].tolist()
        expect(page.locator("#new-heading").first).to_have_text(re.compile(rf"^\s*{len(again)} papers? since"))
        expect(page.locator("[id^=new-card-]")).to_have_count(len(again))
        assert _ids(page, "new") == again and meh not in again
        assert read_reading_list(work / "reading_list.json") == {"liked": [liked], "disliked": [meh]}
        shot = os.environ.get("ARXIV_RECO_SCREENSHOT")
        if shot:
            page.screenshot(path=shot)

        # the reading list, exported as BibTeX
        page.get_by_role("tab", name="Reading list").click()
        expect(page.locator(".liked-item")).to_have_count(1)
        title = index.meta.set_index("id").loc[liked, "title"]
        expect(page.locator(".liked-item a").first).to_have_attribute("href", f"https://arxiv.org/abs/{liked}")
        page.locator("#export-btn").click()
        link = page.locator("#bib-file a").first
        expect(link).to_be_visible(timeout=10_000)
        with page.expect_download() as download:
            link.click()
        bib = Path(download.value.path()).read_text()
        assert f"eprint={{{liked}}}" in bib and read_bibtex(bib)[0] == [liked]
        assert " ".join(title.split())[:30] in bib

        # a new visit starts from the saved reading list
        page.reload(wait_until="domcontentloaded")
        page.get_by_role("tab", name="Reading list").click()
        expect(page.locator(".liked-item")).to_have_count(1)
        expect(page.locator(".disliked-item")).to_have_count(1)
        page.locator(".disliked-item .remove-btn").click()
        expect(page.locator(".disliked-item")).to_have_count(0)

        # LaTeX in a title is rendered as math (KaTeX, bundled: nothing fetched)
        maths = papers[papers["title"].str.contains(r"\$\\mathcal")].iloc[0]
        page.get_by_role("tab", name="Search").click()
        page.locator("#query textarea, #query input").first.fill(maths["title"])
        page.locator("#search-btn").click()
        card = page.locator(f"#res-card-{maths['id'].replace('.', '-')}")
        expect(card.locator(".card-title .katex").first).to_be_visible(timeout=20_000)
        assert "\\mathcal" not in card.locator(".card-title").first.inner_text()

        # a hostile paper is shown as text: no link out, no image, no tag, nothing fetched
        page.get_by_role("tab", name="Search").click()
        page.locator("#query textarea, #query input").first.fill("quokka marmalade xylophone zebra")
        page.locator("#search-btn").click()
        expect(page.locator("#results-heading").first).to_contain_text("Results for", timeout=20_000)
        card = page.locator("[id^=res-card-]").first
        expect(card.locator(".card-title").first).to_contain_text("[click me](https://evil.example/a)")
        expect(card.locator(".card-meta").first).to_contain_text("no date")
        assert page.locator('a[href*="evil.example"]').count() == 0
        assert page.locator('img[src*="evil.example"]').count() == 0
        browser.close()
    assert read_reading_list(work / "reading_list.json") == {"liked": [liked], "disliked": []}
    assert not outside, f"the page asked for things outside the machine: {outside[:5]}"


def test_the_core_never_imports_gradio():
    import subprocess
    import sys

    import arxiv_reco

    code = ("import sys, arxiv_reco.cli, arxiv_reco.reader.app, arxiv_reco.reader.digest, arxiv_reco.reader.library, arxiv_reco.reader.update; "
            "assert 'gradio' not in sys.modules, 'gradio imported'")
    env = {**os.environ, "PYTHONPATH": str(Path(arxiv_reco.__file__).parent.parent)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr


def test_without_gradio_the_error_says_how_to_install(monkeypatch):
    import builtins

    from arxiv_reco.reader.app import _gradio

    real = builtins.__import__

    def no_gradio(name, *a, **kw):
        if name == "gradio":
            raise ImportError("No module named 'gradio'")
        return real(name, *a, **kw)

    monkeypatch.setattr(builtins, "__import__", no_gradio)
    with pytest.raises(ImportError, match=r"pip install 'arxiv-reco\[app\]'"):
        _gradio()


@pytest.mark.slow
def test_bibtex_export_of_likes(site):
    from arxiv_reco.reader.library import read_bibtex, to_bibtex

    _, index, _, _ = site
    ids = index.meta["id"].head(3).tolist()
    bib = to_bibtex(index.papers([*ids, "2412.99999"]))  # an id not indexed is left out
    assert read_bibtex(bib)[0] == ids
    assert index.papers([]).empty


@pytest.mark.slow
@pytest.mark.skipif(FAST, reason=f"a notebook: {FAST_SKIP}")
def test_notebook_03_serves_the_page_inline(tmp_path, monkeypatch, sample_papers_df):
    """The app cell of notebook 03, with SERVE_APP = True, in a real kernel: the page inline."""
    why = _requirements()
    if why and "gradio" in why:  # no browser needed here
        pytest.skip(why)
    from test_notebooks import outputs_text, run

    import arxiv_reco

    monkeypatch.setenv("PYTHONPATH", str(Path(arxiv_reco.__file__).parent.parent))  # the kernel's arxiv_reco: ours
    sample_papers_df.head(40).to_parquet(tmp_path / "papers.parquet")
    nb = run("03_recommend.ipynb", {"MODEL_DIR": MINILM, "PAPERS": str(tmp_path / "papers.parquet"),
                                    "INDEX_DIR": str(tmp_path / "index"), "K": 3, "SERVE_APP": True}, tmp_path)
    last = nb.cells[-1]
    assert "SERVE_APP" in last.source and last.outputs, "the app cell showed nothing"
    html = outputs_text(nb)
    assert "<iframe" in html and ("127.0.0.1" in html or "localhost" in html)
