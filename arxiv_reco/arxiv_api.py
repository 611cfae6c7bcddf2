"""A small client of the arXiv export API (the Atom feed at export.arxiv.org/api/query).

    api = ArxivAPI()                                             # one request every 3 s, as arXiv asks
    papers, total = api.page(category_query(["cs.CL", "cs.IR"], since="2026-11-20"), start=0)
    papers = api.fetch_ids(["2401.01234", "hep-th/9901001"])     # by id, any version

Why not the `arxiv` package: it has no request timeout, ignores ``Retry-After`` and gives no
PDF link on the 2025-11 feed shape. This client is stdlib only (urllib + ElementTree) and:
- keeps one request every ``pace`` seconds (arXiv's terms: "no more than one request every
  three seconds", one connection at a time), retries included;
- retries 429/5xx, timeouts and dropped connections with backoff, honouring ``Retry-After``
  (arXiv answers 429 even below the documented rate);
- retries a page that comes back empty although totalResults says there is more (a known
  sporadic fault of the API) before giving up with :class:`EmptyPageError`;
- parses by namespace, never by element order or prefix (the feed's shape changed in 2025);
- turns an error feed (``/api/errors#...``) into :class:`ArxivAPIError` with arXiv's message.
Entries come back in the corpus schema (corpus.PAPER_COLUMNS) with versionless ids.
"""

from __future__ import annotations

import email.utils
import logging
import re
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone

from . import __version__
from .config import ARXIV_API_URL
from .corpus import clean, paper_text

log = logging.getLogger("arxiv_reco")

PACE = 3.0  # seconds between requests: arXiv's API terms of use
PAGE_SIZE = 200  # arXiv serves up to 2,000 a page; smaller pages fail (and are retried) less often
IDS_PER_REQUEST = 100  # id_list entries per request: keeps the URL short
RETRYABLE = {408, 429, 500, 502, 503, 504}
NS = {"atom": "http://www.w3.org/2005/Atom", "arxiv": "http://arxiv.org/schemas/atom",
      "opensearch": "http://a9.com/-/spec/opensearch/1.1/"}


class ArxivAPIError(RuntimeError):
    """The arXiv API refused the request or could not be reached after the retries."""


class EmptyPageError(ArxivAPIError):
    """A page kept coming back empty although the feed's totalResults says there is more."""


def base_arxiv_id(entry_id: str) -> str:
    """'http://arxiv.org/abs/2401.01234v2' -> '2401.01234'; 'hep-th/9901001v1' -> 'hep-th/9901001'.

    >>> base_arxiv_id("http://arxiv.org/abs/hep-th/9901001v3")
    'hep-th/9901001'
    """
    from .corpus import base_id

    return base_id(str(entry_id).strip().split("/abs/")[-1])


def category_query(categories: str | Iterable[str], since: str | None = None, until: str | None = None) -> str:
    """The search_query for papers submitted to any of ``categories`` between two dates (GMT,
    inclusive). OR-groups are parenthesised: without it AND binds to the last term only.

    >>> category_query("cs.CL,cs.IR", since="2026-11-20")
    '(cat:cs.CL OR cat:cs.IR) AND submittedDate:[202611200000 TO 209912312359]'
    """
    cats = [c for c in re.split(r"[,\s]+", categories) if c] if isinstance(categories, str) else list(categories)
    if not cats:
        raise ValueError("name at least one arXiv category, e.g. --categories 'cs.CL,cs.IR'")
    q = " OR ".join(f"cat:{c}" for c in cats)
    q = f"({q})" if len(cats) > 1 else q
    if since or until:
        lo = (since or "1991-01-01").replace("-", "") + "0000"
        hi = (until or "2099-12-31").replace("-", "") + "2359"
        q += f" AND submittedDate:[{lo} TO {hi}]"
    return q


# ---- parsing ----------------------------------------------------------------------------------
def parse_feed(data: bytes) -> tuple[list[dict], int | None]:
    """(papers in the corpus schema, the feed's totalResults or None) from an Atom document.

    >>> papers, total = parse_feed(open("query.xml", "rb").read())
    """
    try:
        root = ET.fromstring(data)
    except ET.ParseError as e:
        raise ArxivAPIError(f"the arXiv API answered something that is not an Atom feed ({e})") from None
    total = root.findtext("opensearch:totalResults", default=None, namespaces=NS)
    papers = []
    for entry in root.findall("atom:entry", NS):
        eid = (entry.findtext("atom:id", default="", namespaces=NS) or "").strip()
        if "/api/errors" in eid:
            summary = clean(entry.findtext("atom:summary", default="", namespaces=NS))
            raise ArxivAPIError(f"the arXiv API refused the query: {summary or eid}")
        paper = _paper(entry, eid)
        if paper is not None:
            papers.append(paper)
    return papers, int(total) if total and total.strip().isdigit() else None


def _paper(entry: ET.Element, eid: str) -> dict | None:
    title = clean(entry.findtext("atom:title", default="", namespaces=NS))
    abstract = clean(entry.findtext("atom:summary", default="", namespaces=NS))
    if not (eid and title):
        return None  # an id_list lookup of an unknown id comes back as an entry without a title
    primary = entry.find("arxiv:primary_category", NS)
    cats = [c.get("term", "") for c in entry.findall("atom:category", NS)]
    first = primary.get("term") if primary is not None else (cats[0] if cats else "")
    categories = list(dict.fromkeys(c for c in [first, *cats] if c))  # primary first, as the snapshot has it
    authors = [clean(a.findtext("atom:name", default="", namespaces=NS)) for a in entry.findall("atom:author", NS)]
    updated = entry.findtext("atom:updated", default="", namespaces=NS) or entry.findtext(
        "atom:published", default="", namespaces=NS)
    return {"id": base_arxiv_id(eid), "title": title, "abstract": abstract, "categories": categories,
            "primary_category": categories[0] if categories else "", "authors": ", ".join(a for a in authors if a),
            "update_date": updated.strip()[:10], "text": paper_text(title, abstract)}


# ---- requests ---------------------------------------------------------------------------------
def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header: a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


class ArxivAPI:
    """The export API at ``url``, paced and retried (state: when the last request went out).

    ``pace``: seconds between requests (arXiv asks for 3); ``timeout``: seconds per request;
    ``tries``: attempts per request; ``backoff``: first wait after a failure without
    Retry-After, doubled each time; ``max_wait``: the longest single wait accepted.

    >>> api = ArxivAPI(pace=3.0)
    """

    def __init__(self, url: str = ARXIV_API_URL, pace: float = PACE, timeout: float = 30.0, tries: int = 5,
                 backoff: float = 15.0, max_wait: float = 300.0, empty_tries: int = 3):
        self.url, self.pace, self.timeout, self.tries = url, pace, timeout, tries
        self.backoff, self.max_wait, self.empty_tries = backoff, max_wait, empty_tries
        self.requests = 0  # sent, retries included
        self._last = float("-inf")
        self._agent = f"arxiv-reco/{__version__} (+https://github.com/arxiv-reco/arxiv-reco)"

    def __repr__(self) -> str:
        return f"ArxivAPI({self.url!r}, pace={self.pace}s, timeout={self.timeout}s, tries={self.tries})"

    def _wait_turn(self) -> None:
        gap = self._last + self.pace - time.monotonic()
        if gap > 0:
            time.sleep(gap)
        self._last = time.monotonic()

    def get(self, params: dict) -> bytes:
        """One paced GET of the feed with retries; the Atom document's bytes."""
        url = f"{self.url}?{urllib.parse.urlencode(params)}"
        why = ""
        for attempt in range(self.tries):
            self._wait_turn()
            self.requests += 1
            wait = None
            try:
                req = urllib.request.Request(url, headers={"User-Agent": self._agent})
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                    return resp.read()
            except urllib.error.HTTPError as e:
                body = e.read()
                if e.code not in RETRYABLE:
                    try:  # arXiv explains a 400 in an error feed
                        parse_feed(body)
                    except ArxivAPIError as err:
                        raise ArxivAPIError(f"{err} (HTTP {e.code})") from None
                    raise ArxivAPIError(f"the arXiv API answered HTTP {e.code} for {url}") from None
                why = f"HTTP {e.code}"
                wait = _retry_after(e.headers.get("Retry-After"))
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as e:
                reason = getattr(e, "reason", e)
                why = f"{type(reason).__name__}: {reason}" if str(reason) else type(reason).__name__
            if attempt + 1 == self.tries:
                break
            wait = min(self.max_wait, wait if wait is not None else self.backoff * 2**attempt)
            log.info("arXiv API: %s; retrying in %.1fs (attempt %d of %d)", why, wait, attempt + 2, self.tries)
            time.sleep(wait)
        raise ArxivAPIError(f"the arXiv API did not answer after {self.tries} tries (last: {why}); "
                            "what was fetched so far is kept, run the same command again later")

    def page(self, query: str, start: int = 0, size: int = PAGE_SIZE, ascending: bool = True) -> tuple[list[dict], int]:
        """One page of a search, oldest submissions first: (papers, totalResults). An empty page
        before the end is asked again (``empty_tries`` times) before :class:`EmptyPageError`.

        >>> papers, total = api.page(category_query("cs.CL", since="2026-11-20"), start=0)
        """
        params = {"search_query": query, "start": start, "max_results": size, "sortBy": "submittedDate",
                  "sortOrder": "ascending" if ascending else "descending"}
        for attempt in range(self.empty_tries):
            papers, total = parse_feed(self.get(params))
            total = total if total is not None else start + len(papers)
            if papers or start >= total:
                return papers, total
            log.info("arXiv API: empty page at start=%d of %d; asking again (%d of %d)", start, total,
                     attempt + 2, self.empty_tries)
        raise EmptyPageError(f"the arXiv API kept answering an empty page at {start} of {total} results "
                             "(a known sporadic fault of the API); run the same command again later to continue")

    def fetch_ids(self, ids: Sequence[str]) -> list[dict]:
        """The papers of these arXiv ids (versions ignored); unknown ids are left out.

        >>> api.fetch_ids(["2401.01234", "hep-th/9901001v2"])
        """
        ids = list(dict.fromkeys(base_arxiv_id(i) for i in ids if str(i).strip()))
        found: dict[str, dict] = {}
        for start in range(0, len(ids), IDS_PER_REQUEST):
            chunk = ids[start : start + IDS_PER_REQUEST]
            papers, _ = parse_feed(self.get({"id_list": ",".join(chunk), "start": 0, "max_results": len(chunk)}))
            found.update((p["id"], p) for p in papers)
        return [found[i] for i in ids if i in found]
