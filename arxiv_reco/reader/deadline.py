"""An overall deadline for one network exchange (an arXiv API request, a mail delivery).

    with Deadline(60, "the mail server") as deadline:
        client = smtplib.SMTP(timeout=30)
        deadline.watch(lambda: client.sock)      # closed when time is up, whatever it is doing
        client.connect(host, port)
        ...
    # past 60 s: the exchange fails (the caller sees an OSError) and deadline.expired is True

Why a watchdog: a socket timeout bounds each read, not the exchange. A server that sends one
line every 20 s never trips a 30 s timeout and can hold a morning's run for ever. When the time
is up, the watchdog shuts the socket down from another thread; the blocked read returns at once
and the exchange fails with the caller's usual error handling.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable

MAIL_TIMEOUT = 60.0  # seconds a whole mail delivery may take (connect, TLS, login, the message)


class Deadline:
    """Shuts a watched socket down ``seconds`` after ``__enter__`` (state: the watched sockets)."""

    def __init__(self, seconds: float, what: str = "the server"):
        if not seconds > 0:
            raise ValueError(f"a deadline must be a positive number of seconds, not {seconds!r}")
        self.seconds, self.what = float(seconds), what
        self.expired = False
        self._sockets: list[Callable[[], socket.socket | None]] = []
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = 0.0

    def watch(self, get_socket: Callable[[], socket.socket | None]) -> None:
        """Close what ``get_socket()`` returns when time is up (asked then: the socket may be made later).

        >>> deadline.watch(lambda: client.sock)
        """
        self._sockets.append(get_socket)

    def remaining(self) -> float:
        """Seconds left (0 once expired)."""
        return max(0.0, self.seconds - (time.monotonic() - self._started))

    def __enter__(self) -> Deadline:
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="arxiv-reco deadline", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        if self._done.wait(self.seconds):
            return
        self.expired = True
        # a socket made after this moment (a connect still under way) is closed as soon as it exists
        while not self._done.is_set():
            for get in self._sockets:
                sock = get()
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)
            self._done.wait(0.05)
