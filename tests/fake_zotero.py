"""A loopback stand-in for the Zotero Web API (v3), as reader/zotero.py uses it: GET a library's
(or a collection's) top-level items as JSON, paged by ``start``/``limit`` with ``Total-Results``
and a ``Link: rel="next"`` header, ``Zotero-API-Key`` for a private library (403 without it), 404
for a library that does not exist, and scripted faults (``429:SECONDS`` with Retry-After, ``503``)."""

from __future__ import annotations

import json
import re
from collections import deque
from urllib.parse import parse_qs, urlsplit

from loopback import Loopback, QuietHandler

MAX_LIMIT = 100


def zotero_item(record: dict, how: str, n: int = 0) -> dict:
    """A Zotero item for an arXiv record, saved the way Zotero's connectors save it:
    "preprint" (arXiv's own page: archiveID and the abs URL), "doi" (the arXiv DOI only),
    "journal" (the published version: a journal DOI and the title, no arXiv id), "note"."""
    key = f"K{n:07d}"
    data = {"key": key, "title": record["title"], "creators": [], "date": record.get("update_date", "")}
    if how == "preprint":
        data.update(itemType="preprint", archiveID=f"arXiv:{record['id']}", repository="arXiv",
                    url=f"http://arxiv.org/abs/{record['id']}v1", extra=f"arXiv:{record['id']} [cs]")
    elif how == "doi":
        data.update(itemType="journalArticle", DOI=f"10.48550/arXiv.{record['id']}", publicationTitle="")
    elif how == "journal":
        data.update(itemType="journalArticle", DOI=f"10.1000/j.{n}", publicationTitle="Journal of Things",
                    url=f"https://doi.org/10.1000/j.{n}")
    elif how == "note":
        data = {"key": key, "itemType": "note", "note": "<p>read this again</p>"}
    return {"key": key, "version": 1, "library": {"type": "user", "id": 1}, "data": data}


class FakeZotero(Loopback):
    """``libraries``: API path (``/users/123``, ``/groups/9/collections/ABCD2345``) -> items;
    ``private``: the paths that need ``key``."""

    def __init__(self, libraries: dict[str, list[dict]], key: str = "", private: tuple[str, ...] = ()):
        self.libraries, self.key, self.private = libraries, key, set(private)
        self.faults: deque[str] = deque()
        self.log: list[dict] = []
        self.port = self._listen(self._handler_class(), backlog=16)
        self.url = f"http://127.0.0.1:{self.port}"

    def _handler_class(self):
        fake = self

        class Handler(QuietHandler):
            def _json(self, status: int, body, headers: dict | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                url = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                fake.log.append({"path": url.path, "query": query, "key": self.headers.get("Zotero-API-Key"),
                                 "version": self.headers.get("Zotero-API-Version")})
                if fake.faults:
                    kind, _, arg = fake.faults.popleft().partition(":")
                    if kind == "429":
                        return self._json(429, "Too Many Requests", {"Retry-After": arg or "1"})
                    return self._json(int(kind), "Service Unavailable")
                m = re.fullmatch(r"(/(?:users|groups)/\d+(?:/collections/\w{8})?)/items/top", url.path)
                if not m or m[1] not in fake.libraries:
                    return self._json(404, "Not found")
                if m[1] in fake.private and self.headers.get("Zotero-API-Key") != fake.key:
                    return self._json(403, "Forbidden")
                items = fake.libraries[m[1]]
                start, limit = int(query.get("start", 0)), min(int(query.get("limit", 25)), MAX_LIMIT)
                page = items[start : start + limit]
                headers = {"Total-Results": str(len(items)), "Zotero-API-Version": "3", "Last-Modified-Version": "7"}
                if start + limit < len(items):
                    headers["Link"] = (f'<{fake.url}{url.path}?format=json&limit={limit}&start={start + limit}>; '
                                       'rel="next"')
                self._json(200, page, headers)

        return Handler
