"""Screenshots of the page for the docs, with real data: the bundled 1,990-paper sample indexed by
all-MiniLM-L6-v2, served by `arxiv_reco.reader.app.serve`, driven by headless Chromium (Playwright).

    python scripts/app_screenshot.py                 # writes docs/app.png and docs/app-new-for-you.png

Needs the app extra, playwright and a system Chromium (see requirements-dev.txt, .ci/run). The
index is kept in bench/_data/app_index (git-ignored) for the next run.
"""

from __future__ import annotations

import shutil
import socket
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

QUERY = "retrieval-augmented generation for question answering"
SINCE = "2026-05-01"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def shot(page, dest: Path) -> None:
    from arxiv_reco.artifacts import replace_file

    with replace_file(dest) as tmp:  # ".app.partial.png": the suffix tells Playwright the format
        page.screenshot(path=str(tmp))


def main() -> None:
    from playwright.sync_api import expect, sync_playwright

    from arxiv_reco.config import SAMPLE_PAPERS
    from arxiv_reco.index.build import index_papers
    from arxiv_reco.papers.snapshot import load_papers
    from arxiv_reco.reader.app import serve
    from arxiv_reco.vectors.models import load_model

    papers, _ = load_papers(SAMPLE_PAPERS)
    model = load_model("sentence-transformers/all-MiniLM-L6-v2", max_seq_length=128)
    index_dir = REPO / "bench" / "_data" / "app_index"
    index, _ = index_papers(model, papers, index_dir, model_name="sentence-transformers/all-MiniLM-L6-v2")
    liked = index.search(QUERY, k=3)["id"].tolist()  # a reader who follows retrieval-augmented generation
    work = Path(tempfile.mkdtemp())
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo = serve(index_dir, library=liked, papers=papers, reading_list=work / "reading_list.json", port=port,
                 since=SINCE, model=model, block=False)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
                "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"])
            page = browser.new_page(viewport={"width": 1100, "height": 1250}, device_scale_factor=1)
            page.goto(demo.local_url, wait_until="domcontentloaded")
            page.locator("#query textarea, #query input").first.fill("contrastive learning of sentence embeddings")
            page.locator("#search-btn").click()
            expect(page.locator("[id^=res-card-]").first).to_be_visible(timeout=30_000)
            page.locator("[id^=res-card-]").first.get_by_role("button", name="Abstract").click()
            shot(page, REPO / "docs" / "app.png")
            page.get_by_role("tab", name="New for you").click()
            expect(page.locator("[id^=new-card-]").first).to_be_visible(timeout=30_000)
            shot(page, REPO / "docs" / "app-new-for-you.png")
            browser.close()
    finally:
        demo.close()
    print(f"wrote docs/app.png and docs/app-new-for-you.png ({len(index):,} papers, liked {liked})")


if __name__ == "__main__":
    main()
