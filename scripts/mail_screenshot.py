"""A screenshot of the daily digest's email, its HTML part as a mail client shows it (headless
Chromium, no images, nothing fetched), from real data: the bundled sample indexed by
all-MiniLM-L6-v2, two interests (a library of three retrieval-augmented-generation papers, and a
sentence), the papers since SINCE.

    python scripts/mail_screenshot.py                # writes docs/email.png

Needs playwright and a system Chromium (requirements-dev.txt, .ci/run). The index is shared with
scripts/app_screenshot.py (bench/_data/app_index, git-ignored).
"""

from __future__ import annotations

import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
QUERY = "retrieval-augmented generation for question answering"
SINCE = "2026-05-01"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def main() -> None:
    from playwright.sync_api import sync_playwright

    from arxiv_reco.artifacts import replace_file
    from arxiv_reco.config import SAMPLE_PAPERS
    from arxiv_reco.index.build import index_papers
    from arxiv_reco.papers.snapshot import load_papers
    from arxiv_reco.reader.daily import entries
    from arxiv_reco.reader.digest import digest
    from arxiv_reco.reader.digest_options import DigestOptions
    from arxiv_reco.reader.mail import compose
    from arxiv_reco.reader.profiles import parse_profiles
    from arxiv_reco.vectors.models import load_model

    papers, _ = load_papers(SAMPLE_PAPERS)
    model = load_model("sentence-transformers/all-MiniLM-L6-v2", max_seq_length=128)
    index, _ = index_papers(model, papers, REPO / "bench" / "_data" / "app_index",
                            model_name="sentence-transformers/all-MiniLM-L6-v2")
    liked = index.search(QUERY, k=3)["id"].tolist()
    profiles = parse_profiles([f"rag={','.join(liked)}"], interest="dark matter halos in galaxy simulations")
    frame = digest(index, profiles, DigestOptions(since=SINCE, k=3))
    abstracts = dict(zip(papers["id"], papers["abstract"]))
    message = compose(entries(index, frame, abstracts), "2026-12-05", "digest@example.org", "you@example.org")
    html = message.get_body(preferencelist=("html",)).get_content()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        page = browser.new_page(viewport={"width": 900, "height": 1000}, device_scale_factor=1)
        page.route("**/*", lambda route: route.abort())  # a mail client that loads nothing remote
        page.set_content(html)
        with replace_file(REPO / "docs" / "email.png") as tmp:
            page.screenshot(path=str(tmp), full_page=True)
        browser.close()
    print(f"wrote docs/email.png: {message['Subject']}")


if __name__ == "__main__":
    main()
