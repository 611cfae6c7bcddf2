"""The part every loopback fake shares: a threaded HTTP server on a loopback address (127.0.0.1
unless told; 127.0.0.2 plays "another host") at a free port,
serving while the fake is used as a context manager."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Loopback:
    """Base of the fakes: ``self._listen(handler, backlog)`` in ``__init__`` gives the port."""

    def _listen(self, handler_class, backlog: int, host: str = "127.0.0.1") -> int:
        self._server = ThreadingHTTPServer((host, 0), handler_class, bind_and_activate=False)
        self._server.request_queue_size = backlog  # the default backlog of 5 drops concurrent clients
        self._server.daemon_threads = True
        self._server.server_bind()
        self._server.server_activate()
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        return self._server.server_address[1]

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()


class QuietHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 keep-alive as the real services speak it, without a log line per request."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass
