"""A reader's Zotero library, read straight from Zotero: the Web API (v3) pages through the items
of a user's or a group's library, or of one collection, and each item's arXiv id is found where
Zotero keeps it (``archiveID``, the arXiv DOI, the URL, ``extra``); an item with none (a journal
article with only a DOI) is matched to the index by its title later, like a BibTeX entry.

    items = zotero_items("zotero:1234567")                               # your user id
    items = zotero_items("zotero:groups/98765/collections/ABCD2345")    # one collection of a group
    load_library(["my.bib", "zotero:1234567"])        # a source like any other (library.py reads the ids)

A private library needs a key with read access, ``ZOTERO_API_KEY`` in the environment or `.env`
(zotero.org/settings/keys; held in a type that never prints). Where the key is sent,
``ARXIV_RECO_ZOTERO_API``, is set only in the environment, never by a `.env`.

Why not pyzotero: every release since 1.7 pins bibtexparser below 2, and the BibTeX reader here
needs 2; reading a library is one paginated GET, done with the standard library like the arXiv
client (retries that honour ``Retry-After``/``Backoff``, a deadline per request, no retry where
none can help).
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request

from .. import __version__
from ..config import load_settings
from .arxiv_api import cannot_heal, watched_opener
from .deadline import Deadline

PAGE = 100  # the most the API returns per request
TIMEOUT = 30.0  # seconds one request may take, from connecting to its last byte
TRIES = 4
SKIPPED_TYPES = {"attachment", "note", "annotation"}  # children and notes are not papers
# zotero:ID (a user), zotero:users/ID, zotero:groups/ID, each optionally /collections/KEY
SOURCE = re.compile(r"^zotero:(?:(?P<kind>users|groups)/)?(?P<id>\d+)(?:/collections/(?P<collection>[A-Za-z0-9]{8}))?/?$")


class ZoteroError(RuntimeError):
    """Zotero refused the request or could not be reached."""


def items_path(source: str) -> str:
    """The API path of a source's top-level items, or a ValueError saying the forms it takes.

    >>> items_path("zotero:groups/98765/collections/ABCD2345")
    '/groups/98765/collections/ABCD2345/items/top'
    """
    m = SOURCE.match(source.strip())
    if not m:
        raise ValueError(f"{source!r} is not a Zotero library: give zotero:USER_ID, zotero:groups/GROUP_ID, either "
                         "followed by /collections/KEY (your user id is on zotero.org/settings/keys)")
    collection = f"/collections/{m['collection']}" if m["collection"] else ""
    return f"/{m['kind'] or 'users'}/{m['id']}{collection}/items/top"


def zotero_items(source: str, settings=None, timeout: float = TIMEOUT, tries: int = TRIES) -> list[dict]:
    """Every paper of a Zotero library (``source`` as :func:`items_path` takes it): each item's
    key, title and the fields an arXiv id hides in, as BibTeX names them (``arxivid``, ``doi``,
    ``url``, ``note``, ``journal``); notes and attachments left out.

    >>> [item["title"] for item in zotero_items("zotero:1234567")]
    """
    settings = settings or load_settings()
    path = items_path(source)
    out: list[dict] = []
    start = 0
    while True:
        items, total = _page(settings, path, start, timeout, tries)
        for item in items:
            data = item.get("data") or {}
            if data.get("itemType") not in SKIPPED_TYPES:
                fields = {"arxivid": data.get("archiveID"), "doi": data.get("DOI"), "url": data.get("url"),
                          "note": data.get("extra"), "journal": data.get("publicationTitle") or data.get("repository")}
                out.append({"key": str(item.get("key") or data.get("key") or "?"), "title": str(data.get("title") or ""),
                            "fields": {k: str(v) for k, v in fields.items() if v}})
        start += len(items)
        if not items or total is None or start >= total:
            return out


def _page(settings, path: str, start: int, timeout: float, tries: int) -> tuple[list[dict], int | None]:
    """One page of items and the library's Total-Results, with retries where waiting can help."""
    query = urllib.parse.urlencode({"format": "json", "limit": PAGE, "start": start, "sort": "dateAdded"})
    url = f"{settings.zotero_api_url.rstrip('/')}{path}?{query}"
    headers = {"Zotero-API-Version": "3", "User-Agent": f"arxiv-reco/{__version__}"}
    if settings.zotero_api_key:
        headers["Zotero-API-Key"] = settings.zotero_api_key.reveal()
    host = urllib.parse.urlsplit(url).hostname  # said in errors; never the URL or the key
    why = ""
    for attempt in range(tries):
        wait = 2.0 ** attempt
        try:
            with Deadline(timeout, "Zotero") as deadline:
                opener = watched_opener(deadline)
                opener.add_handler(_NoRedirect())
                with opener.open(urllib.request.Request(url, headers=headers), timeout=timeout) as resp:
                    body = resp.read()
                    total = resp.headers.get("Total-Results")
                    backoff = _seconds(resp.headers.get("Backoff"))
            if deadline.expired:
                raise TimeoutError(f"no complete answer within {timeout:g} s")
            if backoff:
                time.sleep(min(backoff, 60.0))  # Zotero asks clients under load to slow down
            items = json.loads(body)
            if not isinstance(items, list):
                raise ZoteroError(f"Zotero at {host} answered something that is not a list of items")
            return items, int(total) if total and total.isdigit() else None
        except urllib.error.HTTPError as e:
            if e.code in (401, 403):
                raise ZoteroError(f"Zotero refused to read {path.split('/items')[0]} (HTTP {e.code}): a private "
                                  "library needs ZOTERO_API_KEY, a key with read access to it "
                                  "(zotero.org/settings/keys)") from None
            if e.code == 404:
                raise ZoteroError(f"Zotero has no library or collection at {path.split('/items')[0]} (HTTP 404): "
                                  "check the user or group id and the collection key") from None
            if e.code not in (429, 500, 502, 503, 504):
                raise ZoteroError(f"Zotero answered HTTP {e.code} for {path}") from None
            why = f"HTTP {e.code}"
            wait = _seconds(e.headers.get("Retry-After")) or _seconds(e.headers.get("Backoff")) or wait
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError, json.JSONDecodeError) as e:
            if cannot_heal(e):
                raise ZoteroError(f"cannot reach Zotero at {host} ({getattr(e, 'reason', e)}): offline, or "
                                  "ARXIV_RECO_ZOTERO_API names a wrong address") from None
            why = type(getattr(e, "reason", e)).__name__
        if attempt + 1 < tries:
            time.sleep(min(wait, 60.0))
    raise ZoteroError(f"Zotero at {host} did not answer after {tries} tries (last: {why}); run it again later")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is not followed: the request carries the key, and it goes to the API's host alone."""

    handler_order = 100  # before urllib's own redirect handler

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        raise urllib.error.HTTPError(req.full_url, code, "a redirect, not followed (the key stays with the API)",
                                     headers, fp)


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None
