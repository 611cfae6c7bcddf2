"""The reader's side: fresh listings from arXiv, a library, the digest, the page.

    update_index("index", "cs.CL,cs.IR"); lib = load_library("my.bib")
    feed(PaperIndex.load("index"), lib.liked, since="2026-11-20")

One module a job; import a name from its module (what this layer offers most):

    from arxiv_reco.reader.app import build_app
    from arxiv_reco.reader.atom import write_atom
    from arxiv_reco.reader.daily import run_daily
    from arxiv_reco.reader.digest import digest, feed
    from arxiv_reco.reader.digest_options import DigestOptions, read_config
    from arxiv_reco.reader.library import load_library, to_bibtex
    from arxiv_reco.reader.mail import compose, send
    from arxiv_reco.reader.memory import DigestMemory
    from arxiv_reco.reader.profiles import Profile, parse_profiles, profiles_of
    from arxiv_reco.reader.update import update_index

The modules:

- ``app``: The page to browse: search, paper cards, more like this, like / dislike, "new for you", BibTeX.
- ``arxiv_api``: A small client of the arXiv export API (the Atom feed at export.arxiv.org/api/query)
- ``atom``: The digest as an Atom 1.0 feed: a file any feed reader subscribes to (locally, or wherever it is …
- ``daily``: The whole morning in one call: fetch the new listings, rank them for each interest, deliver by …
- ``deadline``: An overall deadline for one network exchange (an arXiv API request, a mail delivery)
- ``digest``: A digest: the index's recent papers ranked for a reader's interests, only those above the reader's …
- ``digest_options``: The daily digest's options, declared once: `arxiv-reco daily`'s flags, the keys of its TOML file …
- ``library``: A reader's library: the papers they liked (and disliked), from BibTeX, ids or the page's likes
- ``mail``: The digest by email: a multipart message (plain text and HTML, readable without images) sent …
- ``memory``: What the daily digest delivered: each paper once, whatever its version, across days and interests
- ``profiles``: A reader's interests: one profile each, from a library, a sentence, or both
- ``rank``: How an interest ranks the new papers: one linear SVM (arxiv-sanity-lite's method) over what a …
- ``zotero``: A reader's Zotero library, read straight from Zotero through its Web API (v3)
- ``tldr``: A one-sentence TL;DR per delivered paper, written by Gemini, each paper once
- ``update``: Fresh papers into an index: the arXiv listings since its newest paper, appended without re-encoding …
"""
