"""The page to browse: search, paper cards, more like this, like / dislike, "new for you", BibTeX.

    demo = build_app(index, papers=papers, reading_list="reading_list.json")
    launch(demo)                                    # inline in a notebook (Colab too: share=False)
    serve("index/", library="my.bib", port=7860)    # what `arxiv-reco serve --index index/` runs

Gradio is optional (``pip install 'arxiv-reco[app]'``); it is imported only here, on first use.
The page is a personal one: likes and dislikes go to one reading list (JSON beside the index,
replaced atomically on every click), seeded by a library (BibTeX, ids). Liking a paper takes it
out of the results and re-ranks "New for you" (the digest of feed.feed). Nothing is fetched from
outside the machine: no analytics, no CDN, the theme's fonts are bundled with gradio.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

from ..artifacts import write_text
from ..index.paper_index import PaperIndex
from ..papers.corpus import base_id, canonical_id, valid_date
from .digest import DEFAULT_METHOD, because_text, default_since, feed
from .digest_options import K
from .library import (
    Library,
    complete_library,
    load_library,
    read_reading_list,
    reading_list_path,
    save_reading_list,
    to_bibtex,
)
from .update import abstract_lookup

CSS = """
.card { border-radius: 10px; }
.card-title a { font-size: 1.15rem; }  /* regular weight: the bundled bold faces draw some capitals small */
.card-meta { opacity: .8; font-size: .9em; }
.card-because { opacity: .8; font-size: .88em; }
"""


def _gradio():
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no telemetry, no version check calls
    try:
        import gradio as gr
    except ImportError:
        raise ImportError("the page needs gradio, an optional extra: pip install 'arxiv-reco[app]'") from None
    return gr


def _slug(pid: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "-", pid)


def _md(text) -> str:
    """Any field as plain text in Markdown: Markdown's specials backslash-escaped, HTML's as
    entities, so no title, id, date or category from a feed or a file becomes a link, an image
    or a tag (gradio's sanitizer drops scripts, not outside requests).

    >>> _md("<img src=x> [a](https://b)")
    '&lt;img src=x&gt; \\[a\\]\\(https\\://b\\)'
    """
    text = " ".join(str("" if text is None else text).split())
    # ":" and "@" too: gradio's renderer turns bare URLs, www. names and e-mail addresses into links
    text = re.sub(r"([\\`*_\[\]()#|!~{}+\-.:@])", r"\\\1", text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _link(title: str, pid: str) -> str:
    """The title as a link to its arXiv page when ``pid`` is an arXiv id; plain text otherwise."""

    canon = canonical_id(pid)
    return f"[{_md(title)}](https://arxiv.org/abs/{canon})" if canon else _md(title)


# $...$ and $$...$$ in titles and abstracts render as math (KaTeX, bundled with gradio)
LATEX = [{"left": "$$", "right": "$$", "display": True}, {"left": "$", "right": "$", "display": False}]


def card_markdown(paper, abstract: str | None = None, because: str = "") -> dict[str, str]:
    """The Markdown of a paper's card: {"title", "meta", "abstract"}. Every field is escaped (a
    title, id, date or category from a feed or a hand-edited file stays text); the title links to
    arxiv.org only for a canonical arXiv id; an impossible date shows as "no date".

    >>> card_markdown(index.paper("2401.01234"))["title"]
    '[Attention Is All You Need](https://arxiv.org/abs/2401.01234)'
    """

    pid = str(paper["id"])
    authors = str(paper.get("authors") or "")
    authors = authors if len(authors) < 160 else authors[:157] + "…"
    return {
        "title": _link(paper["title"], pid),
        "meta": f"{_md(authors)} · {_md(valid_date(paper.get('update_date')) or 'no date')} · "
                f"{_md(paper.get('primary_category') or '')} · arXiv:{_md(pid)}",
        "abstract": _md(abstract or "Not stored here: read it on arXiv (the title links there)."),
        "because": f"*{_md(because)}*" if because else "",
    }


def _n(count: int, what: str) -> str:
    return f"{count:,} {what}{'' if count == 1 else 's'}"


def build_app(index, papers=None, library: Library | str | list | None = None, reading_list: str | Path | None = None,
              since: str | None = None, k: int = K, method: str = DEFAULT_METHOD, index_dir: str | Path | None = None):
    """The page as a ``gradio.Blocks`` (launch it with :func:`launch`, or ``demo.launch()``).

    ``papers``: the corpus (DataFrame or file) for the abstracts; ``library``: liked papers to
    start from (a Library or what load_library takes); ``reading_list``: the JSON file the likes
    are kept in (None: only for this session); ``since``: the first date of "New for you"
    (default: the week before the index's newest paper).

    >>> demo = build_app(index, papers=papers, reading_list="reading_list.json")
    """
    gr = _gradio()

    seed = library if isinstance(library, Library) else load_library(library) if library else Library()
    index_dir = Path(index_dir) if index_dir else None
    abstracts = abstract_lookup(papers, index_dir)
    since = since or default_since(index)

    def row(pid: str):
        return index.paper(pid)

    def rated(p: dict) -> set[str]:
        return {base_id(x) for x in seed.liked + seed.disliked + p["liked"] + p["disliked"]}

    def load_prefs() -> dict:
        try:
            return read_reading_list(reading_list) if reading_list else {"liked": [], "disliked": []}
        except ValueError as e:  # edited by hand since the page started: say so, overwrite nothing
            raise gr.Error(str(e)) from None

    if reading_list:
        read_reading_list(reading_list)  # a file that is not a reading list: one clear error now

    def rate(p: dict, pid: str, how: str | None) -> dict:
        liked = [x for x in p["liked"] if x != pid] + ([pid] if how == "like" else [])
        disliked = [x for x in p["disliked"] if x != pid] + ([pid] if how == "dislike" else [])
        if reading_list:
            save_reading_list(reading_list, liked, disliked)
        return {"liked": liked, "disliked": disliked}

    def search(q: str, p: dict) -> dict:
        if not str(q).strip():
            return {"heading": "Type a few words to search.", "ids": []}
        hits = index.search(q, k=2 * k + len(rated(p)))  # spares: liked cards leave the list
        return {"heading": f"Results for “{_md(q)}”", "ids": hits["id"].tolist()}

    def more_like(pid: str, p: dict):
        hits = index.similar(pid, k=2 * k + len(rated(p)))
        title = row(pid)["title"] if row(pid) is not None else pid
        return {"heading": f"More like “{_md(title)}”", "ids": hits["id"].tolist()}, gr.Tabs(selected="search")

    def cards(ids: list[str], p: dict, where: str, because: dict[str, str] | None = None) -> None:
        text = abstracts(ids)
        for pid in ids:
            r = row(pid)
            if r is None:
                continue
            md = card_markdown(r, text.get(pid), (because or {}).get(pid, ""))
            with gr.Column(variant="panel", elem_classes=["card"], elem_id=f"{where}-card-{_slug(pid)}", key=f"{where}-{pid}"):
                gr.Markdown(md["title"], elem_classes=["card-title"], key=f"{where}-t-{pid}", latex_delimiters=LATEX)
                gr.Markdown(md["meta"], elem_classes=["card-meta"], key=f"{where}-m-{pid}")
                if md["because"]:
                    gr.Markdown(md["because"], elem_classes=["card-because"], key=f"{where}-b-{pid}",
                                latex_delimiters=LATEX)
                with gr.Accordion("Abstract", open=False, elem_classes=["card-abstract"], key=f"{where}-a-{pid}"):
                    gr.Markdown(md["abstract"], key=f"{where}-ab-{pid}", latex_delimiters=LATEX)
                with gr.Row(key=f"{where}-r-{pid}"):
                    more = gr.Button("More like this", size="sm", elem_classes=["more-btn"], key=f"{where}-more-{pid}")
                    like = gr.Button("Like", size="sm", variant="primary", elem_classes=["like-btn"],
                                     key=f"{where}-like-{pid}")
                    dislike = gr.Button("Not for me", size="sm", elem_classes=["dislike-btn"],
                                        key=f"{where}-dislike-{pid}")
            more.click(lambda p, pid=pid: more_like(pid, p), prefs, [results, tabs])
            like.click(lambda p, pid=pid: rate(p, pid, "like"), prefs, prefs)
            dislike.click(lambda p, pid=pid: rate(p, pid, "dislike"), prefs, prefs)

    with gr.Blocks(title="arXiv recommender", analytics_enabled=False) as demo:
        prefs = gr.State({"liked": [], "disliked": []})
        results = gr.State({"heading": "", "ids": []})
        gr.Markdown(f"## arXiv recommender\n{len(index):,} papers indexed"
                    + (f"; your library: {len(seed.liked)} liked" if len(seed) else ""), elem_id="header")
        with gr.Tabs(elem_id="tabs") as tabs:
            with gr.Tab("Search", id="search", elem_id="tab-search"):
                with gr.Row():
                    query = gr.Textbox(placeholder="e.g. contrastive learning of scientific document embeddings",
                                       show_label=False, elem_id="query", scale=5)
                    go = gr.Button("Search", variant="primary", elem_id="search-btn", scale=1)

                @gr.render(inputs=[results, prefs])
                def show_results(res: dict, p: dict):
                    skip = rated(p)
                    ids = [i for i in res["ids"] if base_id(i) not in skip][:k]
                    if res["heading"]:
                        gr.Markdown(res["heading"], elem_id="results-heading")
                    if res["heading"] and not ids:
                        gr.Markdown("No papers left to show.", elem_id="no-results")
                    cards(ids, p, "res")

            with gr.Tab("New for you", id="new", elem_id="tab-new"):
                @gr.render(inputs=[prefs])
                def show_new(p: dict):
                    liked = seed.liked + p["liked"]
                    if not liked:
                        gr.Markdown("Like a few papers and the new ones that fit them show up here.",
                                    elem_id="new-heading")
                        return
                    try:
                        df = feed(index, liked, seed.disliked + p["disliked"], since=since, k=k, method=method,
                                  abstracts=abstracts)
                    except ValueError as e:  # e.g. no liked paper is in the index
                        gr.Markdown(str(e), elem_id="new-heading")
                        return
                    above = "above your bar, " if len(df) else "above your bar "
                    gr.Markdown(f"{_n(len(df), 'paper')} since {since} {above}ranked for your "
                                f"{_n(len(liked), 'liked paper')} ({method})", elem_id="new-heading")
                    if not len(df):
                        gr.Markdown("Nothing new reaches your bar yet: like a few more papers to sharpen it.",
                                    elem_id="new-empty")
                    why = {pid: f"score {score:.0f} · {because_text(b)}"
                           for pid, score, b in zip(df["id"], df["score"], df["because"])}
                    cards(df["id"].tolist(), p, "new", why)

            with gr.Tab("Reading list", id="list", elem_id="tab-list"):
                @gr.render(inputs=[prefs])
                def show_list(p: dict):
                    if not (p["liked"] or p["disliked"]):
                        gr.Markdown("Nothing liked yet.", elem_id="reading-list")
                    for what, ids in (("liked", p["liked"]), ("disliked", p["disliked"])):
                        if not ids:
                            continue
                        gr.Markdown(f"**{what.capitalize()}** ({len(ids)})", elem_id=f"{what}-heading")
                        for pid in ids:
                            r = row(pid)
                            title = r["title"] if r is not None else pid
                            with gr.Row(elem_classes=[f"{what}-item"], key=f"l-{what}-{pid}"):
                                gr.Markdown(f"{_link(title, pid)} · arXiv:{_md(pid)}", key=f"lt-{pid}")
                                forget = gr.Button("Remove", size="sm", elem_classes=["remove-btn"], key=f"rm-{pid}",
                                                   scale=0, min_width=90)
                            forget.click(lambda p, pid=pid: rate(p, pid, None), prefs, prefs)

                export = gr.Button("Export likes as BibTeX", elem_id="export-btn")
                bib = gr.File(label="reading_list.bib", elem_id="bib-file", interactive=False)

        go.click(search, [query, prefs], results)
        query.submit(search, [query, prefs], results)
        export.click(lambda p: _export(p["liked"], index), prefs, bib)
        demo.load(load_prefs, None, prefs)
    return demo


def _export(liked: list[str], index) -> str | None:
    """The liked papers as a .bib file in a fresh temporary folder (gradio serves files from there)."""

    papers = index.papers(liked)
    if papers.empty:
        return None
    path = Path(tempfile.mkdtemp(prefix="arxiv-reco-")) / "reading_list.bib"
    return str(write_text(path, to_bibtex(papers)))


def launch(demo, port: int | None = None, host: str = "127.0.0.1", inline: bool | None = None, block: bool | None = None,
           quiet: bool = False):
    """Start the page: a local server on ``host:port`` (inline in a notebook, where the call
    returns at once). Never shared through gradio.live (share=False: Colab would default to it).

    >>> launch(build_app(index))
    """
    gr = _gradio()
    in_notebook = inline if inline is not None else _in_notebook()
    block = (not in_notebook) if block is None else block
    return demo.launch(server_name=host, server_port=port, inline=in_notebook, share=False,
                       prevent_thread_lock=not block, quiet=quiet, css=CSS, theme=gr.themes.Default())


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ != "TerminalInteractiveShell"


def serve(index_dir: str | Path, library=None, papers=None, reading_list: str | Path | None = None, port: int | None = None,
          host: str = "127.0.0.1", since: str | None = None, k: int = K, method: str = DEFAULT_METHOD, model=None,
          api=None, block: bool = True, say: Callable[[str], None] = print):
    """Open the index, fetch the library's papers it lacks, and serve the page (what
    ``arxiv-reco serve`` runs). Returns the running Blocks when ``block`` is False.

    >>> serve("index/", library="my.bib", port=7860)
    """

    index_dir = Path(index_dir)
    index = PaperIndex.load(index_dir, model)
    lib = complete_library(load_library(library), index, index_dir, api=api, say=say) if library else Library()
    reading_list = Path(reading_list) if reading_list else reading_list_path(index_dir)
    demo = build_app(index, papers=papers, library=lib, reading_list=reading_list, since=since, k=k, method=method,
                     index_dir=index_dir)
    say(f"reading list: {reading_list}")
    launch(demo, port=port, host=host, inline=False, block=False, quiet=True)
    say(f"the page is at {demo.local_url}  (Ctrl+C stops it)")
    if not block:
        return demo
    try:
        demo.block_thread()
    finally:
        demo.close()
    return demo
