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
- turns an error feed (``/api/errors#...``) into :class:`ArxivAPIError` with arXiv's message;
- gives each request ``timeout`` seconds from connecting to its last byte (a watchdog closes a
  connection that drips), and a run an overall ``deadline``;
- treats every answer as hostile: it must be an Atom ``feed`` with ``totalResults`` (a captive
  portal's page is an error naming what came back, never "nothing new"), is read up to
  MAX_ANSWER_BYTES, parsed with defusedxml (no entity expansion), and an entry whose id is not
  an arXiv id is dropped and counted, never stored.
Entries come back in the corpus schema (corpus.PAPER_COLUMNS) with canonical versionless ids.
"""

from __future__ import annotations

import email.utils
import errno
import http.client
import logging
import re
import socket
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone

from .. import __version__
from ..config import ARXIV_API_URL, check_endpoint
from ..papers.corpus import canonical_id, clean, paper_text, valid_date
from .deadline import Deadline

log = logging.getLogger("arxiv_reco")

PACE = 3.0  # seconds between requests: arXiv's API terms of use
TIMEOUT = 30.0  # seconds one request may take, from connecting to its last byte
PAGE_SIZE = 200  # arXiv serves up to 2,000 a page; smaller pages fail (and are retried) less often
IDS_PER_REQUEST = 100  # id_list entries per request: keeps the URL short
RETRYABLE = {408, 429, 500, 502, 503, 504}
MAX_ANSWER_BYTES = 32 << 20  # a full 2,000-entry page is ~5 MB; more is not an arXiv answer
DEADLINE = 3600.0  # seconds a client (one command's run) may spend in all; pages fetched are kept
NS = {"atom": "http://www.w3.org/2005/Atom", "arxiv": "http://arxiv.org/schemas/atom",
      "opensearch": "http://a9.com/-/spec/opensearch/1.1/"}


class ArxivAPIError(RuntimeError):
    """The arXiv API refused the request or could not be reached after the retries."""


class ArxivUnreachable(ArxivAPIError):
    """The API's host cannot be reached at all (no such name, connection refused, no route):
    waiting does not heal that, so it is said at once instead of after minutes of retries."""


# failures of the network itself rather than of the server: offline, a wrong host or port
_CANNOT_HEAL = {errno.ECONNREFUSED, errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN}


def cannot_heal(e: BaseException) -> bool:
    """Whether a failed request is one no retry will fix (DNS, refused, unreachable).

    >>> cannot_heal(socket.gaierror(-2, "Name or service not known"))
    True
    """
    reason = getattr(e, "reason", e)
    return isinstance(reason, socket.gaierror) or (isinstance(reason, OSError) and reason.errno in _CANNOT_HEAL)


class EmptyPageError(ArxivAPIError):
    """A page kept coming back empty although the feed's totalResults says there is more."""


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
@dataclass
class FeedPage:
    """One Atom answer: its papers (corpus schema), the feed's totalResults, how many entries it
    held, and how many of them were dropped (an id that is not an arXiv id)."""

    papers: list[dict] = field(default_factory=list)
    total: int = 0
    entries: int = 0
    dropped: int = 0


def parse_feed(data: bytes) -> FeedPage:
    """The papers of an arXiv API answer, which must be an Atom feed with totalResults; anything
    else raises ArxivAPIError naming what came back.

    >>> page = parse_feed(open("query.xml", "rb").read()); page.papers, page.total
    """
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import fromstring

    try:
        root = fromstring(data)
    except (ET.ParseError, DefusedXmlException) as e:
        raise ArxivAPIError(f"the arXiv API answered something that is not an Atom feed ({_glimpse(data)}; {e})") from None
    if root.tag != f"{{{NS['atom']}}}feed":
        raise ArxivAPIError(f"the arXiv API answered a <{root.tag.split('}')[-1]}> document, not an Atom feed "
                            f"({_glimpse(data)}); a proxy or captive portal in the way?")
    page = FeedPage()
    for entry in root.findall("atom:entry", NS):
        eid = (entry.findtext("atom:id", default="", namespaces=NS) or "").strip()
        if "/api/errors" in eid:
            summary = clean(entry.findtext("atom:summary", default="", namespaces=NS))
            raise ArxivAPIError(f"the arXiv API refused the query: {summary or eid}")
        page.entries += 1
        paper = _paper(entry, eid)
        if paper is None:
            page.dropped += 1
        elif paper:
            page.papers.append(paper)
    total = (root.findtext("opensearch:totalResults", default="", namespaces=NS) or "").strip()
    if not total.isdigit():
        raise ArxivAPIError(f"the arXiv API answered an Atom feed without totalResults ({_glimpse(data)}); "
                            "not an answer of the export API")
    page.total = int(total)
    return page


def _glimpse(data: bytes) -> str:
    """What came back, in a few words: its size and first characters."""
    text = " ".join(data[:200].decode("utf-8", "replace").split())[:80]
    return f"{len(data):,} bytes starting {text!r}"


def _paper(entry: ET.Element, eid: str) -> dict | None:
    """The entry in the corpus schema; {} for an entry without a title (an id_list lookup of an
    unknown id); None for one whose id is not an arXiv id (dropped and counted)."""
    pid = canonical_id(eid)
    if pid is None:
        return None
    title = clean(entry.findtext("atom:title", default="", namespaces=NS))
    abstract = clean(entry.findtext("atom:summary", default="", namespaces=NS))
    if not title:
        return {}
    primary = entry.find("arxiv:primary_category", NS)
    cats = [c.get("term", "") for c in entry.findall("atom:category", NS)]
    first = primary.get("term") if primary is not None else (cats[0] if cats else "")
    categories = list(dict.fromkeys(c for c in [first, *cats] if c))  # primary first, as the snapshot has it
    authors = [clean(a.findtext("atom:name", default="", namespaces=NS)) for a in entry.findall("atom:author", NS)]
    updated = entry.findtext("atom:updated", default="", namespaces=NS) or entry.findtext(
        "atom:published", default="", namespaces=NS)
    return {"id": pid, "title": title, "abstract": abstract, "categories": categories,
            "primary_category": categories[0] if categories else "", "authors": ", ".join(a for a in authors if a),
            "update_date": valid_date(updated.strip()[:10]) or "", "text": paper_text(title, abstract)}


# ---- requests ---------------------------------------------------------------------------------
def watched_opener(deadline: Deadline) -> urllib.request.OpenerDirector:
    """A urllib opener whose connections ``deadline`` closes when its time is up (proxies from the
    environment still apply): ``timeout`` bounds each read, the deadline the whole request."""
    class Watched:
        def connect(self):
            super().connect()
            sock = self.sock  # urllib drops the connection's reference once the headers are in; the answer reads on
            deadline.watch(lambda: sock)

    http_conn = type("WatchedHTTP", (Watched, http.client.HTTPConnection), {})
    https_conn = type("WatchedHTTPS", (Watched, http.client.HTTPSConnection), {})

    class HTTP(urllib.request.HTTPHandler):
        def http_open(self, req):
            return self.do_open(http_conn, req)

    class HTTPS(urllib.request.HTTPSHandler):
        def https_open(self, req):
            return self.do_open(https_conn, req, context=ssl.create_default_context())

    return urllib.request.build_opener(HTTP, HTTPS)


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

    def __init__(self, url: str = ARXIV_API_URL, pace: float = PACE, timeout: float = TIMEOUT, tries: int = 5,
                 backoff: float = 15.0, max_wait: float = 300.0, empty_tries: int = 3, deadline: float = DEADLINE):
        self.url = check_endpoint(url, "the arXiv API URL")
        self.pace, self.timeout, self.tries = pace, timeout, tries
        self.backoff, self.max_wait, self.empty_tries, self.deadline = backoff, max_wait, empty_tries, deadline
        self.requests = 0  # sent, retries included
        self.dropped = 0  # entries whose id is not an arXiv id: never stored
        self._last = float("-inf")
        self._started: float | None = None
        self._agent = f"arxiv-reco/{__version__} (+https://github.com/arxiv-reco/arxiv-reco)"

    def __repr__(self) -> str:
        return f"ArxivAPI({self.url!r}, pace={self.pace}s, timeout={self.timeout}s, tries={self.tries})"

    def _wait_turn(self) -> None:
        gap = self._last + self.pace - time.monotonic()
        if gap > 0:
            self._check_deadline(gap)
            time.sleep(gap)
        self._last = time.monotonic()

    def _check_deadline(self, more: float = 0.0) -> None:
        if self._left() < more:
            raise ArxivAPIError(f"stopped after {self.deadline:.0f} s, this run's deadline for the arXiv API; "
                                "what was fetched so far is kept, run the same command again to continue")

    def _read(self, resp) -> bytes:
        """The answer's body, up to MAX_ANSWER_BYTES, within the run's deadline."""
        parts, size = [], 0
        while True:
            self._check_deadline()
            chunk = resp.read(1 << 16)
            if not chunk:
                return b"".join(parts)
            size += len(chunk)
            if size > MAX_ANSWER_BYTES:
                raise ArxivAPIError(f"the arXiv API answered more than {MAX_ANSWER_BYTES >> 20} MB for one page; "
                                    "that is not an answer of the export API (a proxy in the way?)")
            parts.append(chunk)

    def get(self, params: dict) -> bytes:
        """One paced GET of the feed with retries; the Atom document's bytes. Each request has
        ``timeout`` seconds from connecting to its last byte (and no more than the run has left).
        """
        url = f"{self.url}{'&' if '?' in self.url else '?'}{urllib.parse.urlencode(params)}"
        why = ""
        for attempt in range(self.tries):
            self._check_deadline()
            self._wait_turn()
            self.requests += 1
            deadline = Deadline(max(0.001, min(self.timeout, self._left())), "the arXiv API")
            try:
                with deadline:
                    status, body, retry_after = self._request(url, deadline)
                if deadline.expired:  # the watchdog closed the connection: what came is cut short
                    raise TimeoutError(f"no complete answer within {deadline.seconds:g} s")
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError, http.client.HTTPException) as e:
                self._check_deadline()  # the run's own deadline cut it short: say that, not "no answer"
                reason = getattr(e, "reason", e)
                why = f"{type(reason).__name__}: {reason}" if str(reason) else type(reason).__name__
                if cannot_heal(e):
                    host = urllib.parse.urlsplit(self.url).hostname  # never the URL: it may carry a key
                    raise ArxivUnreachable(f"cannot reach the arXiv API at {host} ({why}): offline, or "
                                           "ARXIV_RECO_ARXIV_API names a wrong address") from None
                if deadline.expired:
                    why = f"no complete answer within {deadline.seconds:g} s"
                status = retry_after = None
            if status == 200:
                return body
            if status is not None:
                if status not in RETRYABLE:
                    try:  # arXiv explains a 400 in an error feed
                        parse_feed(body)
                    except ArxivAPIError as err:
                        raise ArxivAPIError(f"{err} (HTTP {status})") from None
                    raise ArxivAPIError(f"the arXiv API answered HTTP {status} for {url}") from None
                why = f"HTTP {status}"
            if attempt + 1 == self.tries:
                break
            wait = min(self.max_wait, retry_after if retry_after is not None else self.backoff * 2**attempt)
            self._check_deadline(wait)
            log.info("arXiv API: %s; retrying in %.1fs (attempt %d of %d)", why, wait, attempt + 2, self.tries)
            time.sleep(wait)
        raise ArxivAPIError(f"the arXiv API did not answer after {self.tries} tries (last: {why}); "
                            "what was fetched so far is kept, run the same command again later")

    def _request(self, url: str, deadline: Deadline) -> tuple[int, bytes, float | None]:
        """(status, body, Retry-After seconds) of one GET; the body of an error answer too."""
        req = urllib.request.Request(url, headers={"User-Agent": self._agent})
        try:
            with watched_opener(deadline).open(req, timeout=self.timeout) as resp:
                return 200, self._read(resp), None
        except urllib.error.HTTPError as e:
            with e:
                return e.code, self._read(e), _retry_after(e.headers.get("Retry-After"))

    def _left(self) -> float:
        """Seconds this run may still spend on the API."""
        if self._started is None:
            self._started = time.monotonic()
        return self.deadline - (time.monotonic() - self._started)

    def page(self, query: str, start: int = 0, size: int = PAGE_SIZE, ascending: bool = True) -> FeedPage:
        """One page of a search, oldest submissions first. An empty page before the end is asked
        again (``empty_tries`` times) before :class:`EmptyPageError`.

        >>> page = api.page(category_query("cs.CL", since="2026-11-20"), start=0); page.papers, page.total
        """
        params = {"search_query": query, "start": start, "max_results": size, "sortBy": "submittedDate",
                  "sortOrder": "ascending" if ascending else "descending"}
        for attempt in range(self.empty_tries):
            page = parse_feed(self.get(params))
            if page.entries or start >= page.total:
                self.dropped += page.dropped
                return page
            log.info("arXiv API: empty page at start=%d of %d; asking again (%d of %d)", start, page.total,
                     attempt + 2, self.empty_tries)
        raise EmptyPageError(f"the arXiv API kept answering an empty page at {start} of {page.total} results "
                             "(a known sporadic fault of the API); run the same command again later to continue")

    def fetch_ids(self, ids: Sequence[str]) -> list[dict]:
        """The papers of these arXiv ids (versions ignored); unknown ids and what is not an arXiv id
        are left out.

        >>> api.fetch_ids(["2401.01234", "hep-th/9901001v2"])
        """
        ids = list(dict.fromkeys(i for i in map(canonical_id, ids) if i))
        found: dict[str, dict] = {}
        for start in range(0, len(ids), IDS_PER_REQUEST):
            chunk = ids[start : start + IDS_PER_REQUEST]
            page = parse_feed(self.get({"id_list": ",".join(chunk), "start": 0, "max_results": len(chunk)}))
            self.dropped += page.dropped
            found.update((p["id"], p) for p in page.papers)
        return [found[i] for i in ids if i in found]
