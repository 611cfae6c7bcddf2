"""A loopback fake of the arXiv export API (GET /api/query), answering real Atom XML.

Its papers are real records (the bundled sample's Kaggle-format JSON), served in the feed shape
arXiv has used since its 2025-11 backend (namespaced extension elements, primary category first
or not, versioned entry ids, links without rel on every other entry). It understands what the
client sends: ``search_query`` with ``cat:`` OR-groups and a ``submittedDate:[A TO B]`` range,
``id_list``, ``start``, ``max_results``, ``sortBy=submittedDate``/``sortOrder``. Faults are
scripted, consumed by consecutive requests:

    fake.script.extend(["503", "429:2", "slow:1.5", "empty", "hang:30"])
    # 503 with no Retry-After; 429 with Retry-After: 2; answer after 1.5 s; a page with no
    # entries but the true totalResults (the API's known quirk); never answer in 30 s
    fake.script.extend(["same"] * 50)     # the first page again, claiming 10^9 results
    fake.script.append("endless")         # new made-up papers at any offset, claiming 10^9 results
    fake.script.append("drip:0.2")        # the answer one byte every 0.2 s
Every request is logged with its time, the parameters and the fault applied.
"""

from __future__ import annotations

import re
import threading
import time
import urllib.parse
from collections import deque
from xml.sax.saxutils import escape, quoteattr

from loopback import Loopback, QuietHandler

HEAD = """<?xml version='1.0' encoding='UTF-8'?>
<feed xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns="http://www.w3.org/2005/Atom">
  <id>https://arxiv.org/api/fakeQueryId0000</id>
  <title>arXiv Query: {title}</title>
  <updated>2026-11-27T05:00:12Z</updated>
  <link href={link} type="application/atom+xml"/>
  <opensearch:itemsPerPage>{size}</opensearch:itemsPerPage>
  <opensearch:totalResults>{total}</opensearch:totalResults>
  <opensearch:startIndex>{start}</opensearch:startIndex>
"""


def version(rec: dict) -> str:
    """A paper's served version: v2 for every third one, so clients must strip versions."""
    return "v2" if int(re.sub(r"\D", "", rec["id"]) or 0) % 3 == 0 else "v1"


def entry_xml(rec: dict, i: int) -> str:
    """One <entry> of a Kaggle-format record, in the post-2025-11 shape (old-shape links on odd i)."""
    pid = rec["id"] + version(rec)
    cats = rec["categories"].split()
    # a few sample records carry no date; "shown_date": what the entry says, when not the submission day
    when = f"{rec.get('shown_date') or rec['update_date'] or '2010-01-04'}T18:00:00Z"
    if i % 2:
        links = (f'    <link href="https://arxiv.org/abs/{pid}" rel="alternate" type="text/html"/>\n'
                 f'    <link title="pdf" href="https://arxiv.org/pdf/{pid}" rel="related" type="application/pdf"/>\n')
    else:
        links = f'    <link href="https://arxiv.org/abs/{pid}"/>\n    <link href="https://arxiv.org/pdf/{pid}"/>\n'
    authors = "".join(f"    <author>\n      <name>{escape(a.strip())}</name>\n    </author>\n"
                      for a in re.split(r",\s*|\s+and\s+", rec["authors"]) if a.strip())
    # categories: not always primary first (the client must use arxiv:primary_category)
    shown = cats[1:] + cats[:1] if i % 3 == 0 else cats
    return (f"  <entry>\n    <id>http://arxiv.org/abs/{pid}</id>\n"
            f"    <title>{escape(rec['title'])}</title>\n    <updated>{when}</updated>\n{links}"
            f"    <summary>{escape(rec['abstract'])}</summary>\n"
            + "".join(f'    <category term="{c}" scheme="http://arxiv.org/schemas/atom"/>\n' for c in shown)
            + f"    <published>{when}</published>\n"
            + (f"    <arxiv:comment>{escape(rec['comments'])}</arxiv:comment>\n" if rec.get("comments") else "")
            + f'    <arxiv:primary_category term="{cats[0]}"/>\n{authors}  </entry>\n')


PORTAL = """<?xml version="1.0" encoding="UTF-8"?>
<html xmlns="http://www.w3.org/1999/xhtml"><head><title>Hotel Wi-Fi: sign in</title></head>
<body><p>Please accept the terms to continue.</p></body></html>
"""


def error_feed(message: str) -> str:
    return (HEAD.format(title="error", link=quoteattr("https://arxiv.org/api/errors"), size=1, total=1, start=0)
            + f"  <entry>\n    <id>http://arxiv.org/api/errors#{escape(message.replace(' ', '_'))}</id>\n"
            f"    <title>Error</title>\n    <summary>{escape(message)}</summary>\n  </entry>\n</feed>\n")


class FakeArxiv(Loopback):
    def __init__(self, records: list[dict], host: str = "127.0.0.1"):
        self.records = [r for r in records if r.get("update_date")]  # what searches by date can find
        self.by_id = {r["id"]: r for r in records}  # what id_list finds
        self.script: deque[str] = deque()
        self.log: list[dict] = []
        self._lock = threading.Lock()
        port = self._listen(self._handler_class(), backlog=64, host=host)
        self.url = f"http://{host}:{port}/api/query"

    def matching(self, query: str) -> list[dict]:
        """The records a search_query selects, oldest submission first (ties by id)."""
        cats = set(re.findall(r"cat:([\w.\-*]+)", query))
        span = re.search(r"submittedDate:\[(\d{8})\d{4} TO (\d{8})\d{4}\]", query)
        out = []
        for r in self.records:
            rc = r["categories"].split()
            if cats and not any(c in cats or any(p.endswith("*") and c.startswith(p[:-1]) for p in cats) for c in rc):
                continue
            day = r["update_date"].replace("-", "")
            if span and not (span[1] <= day <= span[2]):
                continue
            out.append(r)
        return sorted(out, key=lambda r: (r["update_date"], r["id"]))

    def answer(self, params: dict, path: str = "") -> tuple[int, str, dict]:
        """(status, body, headers) for one request's parameters (``path``: as requested, for the log)."""
        with self._lock:
            fault = self.script.popleft() if self.script else None
            self.log.append({"t": time.monotonic(), "params": params, "fault": fault, "path": path})
        kind, _, arg = (fault or "").partition(":")
        if kind == "503":
            return 503, "Service Unavailable", {}
        if kind == "429":
            return 429, "Rate exceeded.", {"Retry-After": arg or "1"}
        if kind in ("slow", "hang"):
            time.sleep(float(arg or 1))
        if kind == "portal":  # a captive portal's sign-in page, with a cheerful 200
            return 200, PORTAL, {"Content-Type": "application/xhtml+xml"}
        if kind == "nototal":  # an Atom feed, but not the export API's
            return 200, HEAD.replace("  <opensearch:totalResults>{total}</opensearch:totalResults>\n", "").format(
                title="x", link=quoteattr("https://example.org"), size=0, start=0) + "</feed>\n", {}
        if kind == "huge":  # a valid head, then megabytes of padding
            return 200, HEAD.format(title="x", link=quoteattr("https://example.org"), size=0, total=0, start=0) \
                + "<!--" + "x" * (int(arg or 64) << 20) + "-->\n</feed>\n", {}
        start, size = int(params.get("start", 0)), int(params.get("max_results", 10))
        if kind in ("same", "endless"):  # a feed that never ends: the same page, or new papers at every offset
            page = self.records[:size] if kind == "same" else [self.made_up(start + i) for i in range(size)]
            body = HEAD.format(title="x", link=quoteattr("https://example.org"), size=len(page), total=10**9,
                               start=start)
            return 200, body + "".join(entry_xml(r, start + i) for i, r in enumerate(page)) + "</feed>\n", {}
        if params.get("id_list"):
            wanted = [re.sub(r"v\d+$", "", i) for i in params["id_list"].split(",")]
            for w in wanted:
                if not re.fullmatch(r"(\d{4}\.\d{4,5}|[a-z\-]+(\.[A-Z]{2})?/\d{7})", w):
                    return 400, error_feed(f"incorrect id format for {w}"), {}
            hits = [self.by_id[w] for w in wanted if w in self.by_id]
        else:
            hits = self.matching(params.get("search_query", ""))
            if params.get("sortOrder") == "descending":
                hits = hits[::-1]
        page = [] if kind == "empty" else hits[start : start + size]
        query = urllib.parse.urlencode(params)
        body = HEAD.format(title=escape(query), link=quoteattr(f"https://arxiv.org/api/query?{query}"),
                           size=len(page), total=len(hits), start=start)
        body += "".join(entry_xml(r, start + i) for i, r in enumerate(page)) + "</feed>\n"
        return 200, body, ({"X-Drip": arg or "0.2"} if kind == "drip" else {})

    @staticmethod
    def made_up(n: int) -> dict:
        """A paper that does not exist, numbered n (for feeds that never end)."""
        return {"id": f"2609.{n % 100000:05d}", "title": f"Made-up paper {n}", "abstract": f"Abstract {n}.",
                "categories": "cs.CL", "authors": "A. Nobody", "update_date": "2026-09-01"}

    def _handler_class(self):
        fake = self

        class Handler(QuietHandler):
            def do_GET(self):
                url = urllib.parse.urlsplit(self.path)
                if url.path != "/api/query":
                    status, body, headers = 404, "not found", {}
                else:
                    params = dict(urllib.parse.parse_qsl(url.query))
                    status, body, headers = fake.answer(params, self.path)
                data = body.encode()
                drip = float(headers.pop("X-Drip", 0))
                try:
                    self.send_response(status)
                    if "Content-Type" not in headers:
                        self.send_header("Content-Type", "application/atom+xml; charset=utf-8")
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    if drip:  # one byte at a time: every read of the client succeeds, the answer never ends
                        for i in range(len(data)):
                            self.wfile.write(data[i : i + 1])
                            self.wfile.flush()
                            time.sleep(drip)
                    else:
                        self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client timed out and gave up

        return Handler
