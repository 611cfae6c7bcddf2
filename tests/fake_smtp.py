"""Mail servers on loopback for the digest's tests: a real SMTP server (aiosmtpd) with STARTTLS
and AUTH on any loopback address (127.0.0.2 plays "another host", ::1 an IPv6 one), and a server
that talks too slowly to ever finish.

    with SmtpServer("127.0.0.1", cert=cert, user=USER, password=PASSWORD) as server:
        ...  # server.url, server.box.messages, server.box.passwords
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import subprocess
import threading
import time
from pathlib import Path


def certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, 127.0.0.2 and ::1 (the servers' STARTTLS)."""
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(folder / "key.pem"),
                    "-out", str(folder / "cert.pem"), "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1,IP:127.0.0.2,IP:::1"], check=True, capture_output=True)
    return folder / "cert.pem", folder / "key.pem"


class Mailbox:
    """What the server received: the messages, and every login tried (user and password)."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.logins: list[str] = []
        self.passwords: list[str] = []
        self.arrived = threading.Event()  # set when a message's data has come in
        self.hold: threading.Event | None = None  # when set: the answer to DATA waits for it

    async def handle_DATA(self, server, session, envelope):
        self.arrived.set()
        if self.hold is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.hold.wait)
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"


def free_port(host: str = "127.0.0.1") -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class SmtpServer:
    """aiosmtpd on ``host``: STARTTLS required when a certificate is given, AUTH when a user is."""

    def __init__(self, host: str = "127.0.0.1", cert: tuple[Path, Path] | None = None, user: str | None = None,
                 password: str | None = None, mechanisms_left_out: tuple[str, ...] = ()):
        import ssl

        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult

        self.box = Mailbox()
        box = self.box

        def authenticator(server, session, envelope, mechanism, auth_data):
            login, secret = auth_data.login.decode("utf-8"), auth_data.password.decode("utf-8")
            box.logins.append(login)
            box.passwords.append(secret)
            return AuthResult(success=(login, secret) == (user, password), handled=False)  # False: it answers 535

        kw = {}
        if cert:
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(*map(str, cert))
            kw.update(tls_context=ctx, require_starttls=True, auth_require_tls=True)
        if user:
            kw.update(authenticator=authenticator, auth_required=True, auth_exclude_mechanism=list(mechanisms_left_out))
        else:
            kw.update(auth_require_tls=False)
        self.port = free_port(host)
        self.host = host
        self._controller = Controller(box, hostname=host, port=self.port, **kw)
        shown = f"[{host}]" if ":" in host else host
        self.url = f"smtp://{shown}:{self.port}"

    def __enter__(self) -> SmtpServer:
        self._controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self._controller.stop()
        asyncio.set_event_loop(asyncio.new_event_loop())  # aiosmtpd closed its loop


class DrippingServer:
    """A mail server that greets with a continuation line every ``every`` seconds and never ends:
    each read of the client succeeds well within any per-read timeout."""

    def __init__(self, every: float = 0.3):
        self.every = every
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(8)
        self.port = self._sock.getsockname()[1]
        self.url = f"smtp://127.0.0.1:{self.port}"
        self._stop = threading.Event()
        self.connections = 0

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn: socket.socket) -> None:
        with conn:
            while not self._stop.is_set():
                try:
                    conn.sendall(b"220-still greeting you\r\n")
                except OSError:
                    return
                time.sleep(self.every)

    def __enter__(self) -> DrippingServer:
        threading.Thread(target=self._serve, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._sock.close()
