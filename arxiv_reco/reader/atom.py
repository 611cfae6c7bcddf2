"""The digest as an Atom 1.0 feed: a file any feed reader subscribes to (locally, or wherever it
is served), holding the last days' papers, replaced atomically on every run.

    write_atom("digest.atom", memory.recent(), title="arXiv digest")

Entries have stable ids (the arXiv abstract page's URL, whatever the version), the arXiv link,
and a summary with the abstract's first sentences and why the paper was chosen.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from pathlib import Path

from ..artifacts import write_text
from .digest import because_text

ATOM = "http://www.w3.org/2005/Atom"
GENERATOR = "arxiv-reco"  # how a feed this program wrote is known again (check_atom_target)


def write_atom(path: str | Path, entries: list[dict], title: str = "arXiv digest (arxiv-reco)",
               now: datetime | None = None) -> Path:
    """Write ``entries`` (DigestMemory.recent(): newest first) as an Atom feed at ``path`` (a new
    file, or a feed this program wrote: see :func:`check_atom_target`).

    >>> write_atom("digest.atom", memory.recent())
    """
    path = check_atom_target(path)
    now = now or datetime.now(timezone.utc)
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")
    _text(feed, "title", title)
    _text(feed, "id", f"urn:arxiv-reco:digest:{path.name}")
    _text(feed, "updated", _stamp(now.date().isoformat(), now))
    author = ET.SubElement(feed, f"{{{ATOM}}}author")
    _text(author, "name", "arxiv-reco daily")
    _text(feed, "generator", GENERATOR)
    # where the feed lives (a reader subscribing to the file, or the URL a server publishes it at)
    ET.SubElement(feed, f"{{{ATOM}}}link", {"href": path.resolve().as_uri(), "rel": "self",
                                          "type": "application/atom+xml"})
    for e in entries:
        entry = ET.SubElement(feed, f"{{{ATOM}}}entry")
        _text(entry, "title", e["title"])
        # the abstract page: stable across days and versions
        _text(entry, "id", e["url"] or f"urn:arxiv-reco:paper:{e['id']}")
        if e["url"]:
            ET.SubElement(entry, f"{{{ATOM}}}link", {"href": _clean(e["url"]), "rel": "alternate", "type": "text/html"})
        _text(entry, "updated", _stamp(e.get("delivered") or now.date().isoformat(), now))
        if e.get("date"):
            _text(entry, "published", _stamp(e["date"], now))
        for name in [a.strip() for a in str(e.get("authors") or "").split(",") if a.strip()][:20]:
            _text(ET.SubElement(entry, f"{{{ATOM}}}author"), "name", name)
        for cat in e.get("categories") or []:
            ET.SubElement(entry, f"{{{ATOM}}}category", {"term": _clean(cat)})
        tldr = f"TL;DR: {e['tldr']}" if e.get("tldr") else ""
        summary = " ".join(x for x in (f"[{e['profile']}]", tldr, e.get("abstract", ""),
                                       because_text(e.get("because") or [])) if x)
        _text(entry, "summary", summary)
    body = ET.tostring(feed, encoding="unicode", xml_declaration=False)
    return write_text(path, "<?xml version='1.0' encoding='utf-8'?>\n" + body + "\n")


def check_atom_target(path: str | Path, state: str | Path | None = None) -> Path:
    """``path`` when the feed may be written there: a new file, or an Atom feed this program wrote.
    Anything else (the page's reading list, an index's JSON, the memory itself) is refused before any
    work is done, and left as it is.

    >>> check_atom_target("digest.atom")
    """
    path = Path(path).expanduser()
    if state is not None and path.resolve() == Path(state).expanduser().resolve():
        raise ValueError(f"--atom {path} is the digest's memory file; give the feed a file of its own")
    if path.is_dir():
        raise ValueError(f"--atom {path} is a folder; give the feed a file name, e.g. digest.atom")
    if not path.exists():
        return path
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import parse

    try:
        root = parse(str(path)).getroot()
        ours = root.tag == f"{{{ATOM}}}feed" and root.findtext(f"{{{ATOM}}}generator") == GENERATOR
    except (ET.ParseError, DefusedXmlException, OSError, UnicodeDecodeError):
        ours = False
    if not ours:
        raise ValueError(f"--atom {path} exists and is not an Atom feed written by arxiv-reco; it is left as it is: "
                         "give the feed a file of its own")
    return path


def _text(parent: ET.Element, tag: str, value: str) -> ET.Element:
    el = ET.SubElement(parent, f"{{{ATOM}}}{tag}")
    el.text = _clean(value)
    return el


def _clean(value) -> str:
    """Text XML 1.0 can hold: control characters a feed or a file may carry are dropped."""
    return "".join(ch for ch in str(value or "") if ch in "\t\n\r" or ord(ch) >= 32)


def _stamp(day: str, now: datetime) -> str:
    """An RFC 3339 time for a day (noon UTC), or now."""
    try:
        return datetime.fromisoformat(str(day)[:10]).replace(hour=12, tzinfo=timezone.utc).isoformat()
    except ValueError:
        return now.replace(microsecond=0).isoformat()
