"""The digest by email: a multipart message (plain text and HTML, readable without images) sent
through the SMTP server the settings name.

    message = compose(entries, day="2026-12-05", sender="digest@example.org", to="me@example.org")
    send(message, settings)            # STARTTLS on smtp://, TLS on smtps://; one clear error if it fails

Settings (docs/getting-started.md): ARXIV_RECO_SMTP_URL (smtp://host:587 or smtps://host:465; plain
smtp:// without STARTTLS only to this machine), ARXIV_RECO_SMTP_USER / ARXIV_RECO_SMTP_PASSWORD
(or in the URL), ARXIV_RECO_EMAIL_FROM. The password is a Secret: never printed, logged or written.
"""

from __future__ import annotations

import base64
import html
import re
import smtplib
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from ..config import is_loopback, parse_smtp_url
from .deadline import MAIL_TIMEOUT, Deadline
from .digest import because_text

SENTENCES = 2  # of the abstract, in the mail
QUIET = "nothing today above your bar"  # an interest's section when no paper reached it


class DeliveryError(RuntimeError):
    """The digest could not be sent; nothing was marked as delivered."""


def first_sentences(text: str, n: int = SENTENCES, limit: int = 400) -> str:
    """The first ``n`` sentences of an abstract (cut at ``limit`` characters).

    >>> first_sentences("We study X. We find Y. We also Z.", 2)
    'We study X. We find Y.'
    """
    text = " ".join(str(text or "").split())
    parts = re.split(r"(?<=[.!?])\s+(?=[A-Z(\[])", text)
    out = " ".join(parts[:n])
    return out if len(out) <= limit else out[: limit - 1].rsplit(" ", 1)[0] + "…"


def subject(day: str, n: int, sections: int) -> str:
    """The subject line: the day and how many papers.

    >>> subject("2026-12-05", 12, 2)
    'arXiv digest 2026-12-05: 12 new papers for 2 interests'
    """
    if n == 0:
        return f"arXiv digest {day}: nothing new today"
    return f"arXiv digest {day}: {n} new paper{'s' * (n != 1)}" + (f" for {sections} interests" if sections > 1 else "")


def _sections(entries: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for e in entries:
        out.setdefault(e["profile"], []).append(e)
    return out


def compose(entries: list[dict], day: str, sender: str, to: str, note: str | None = None,
            quiet: Sequence[str] = ()) -> EmailMessage:
    """The digest as an email: per interest a section; per paper the title linked to arxiv.org/abs,
    authors, date, categories, its score (0-100), the first sentences of the abstract and why it
    was chosen; an interest of ``quiet`` (nothing above its bar) says so in its section, with its
    near miss when the entries hold one. Every field is escaped in the HTML part; nothing is
    fetched (no images, no remote styles).

    >>> compose(entries, "2026-12-05", "digest@example.org", "me@example.org")["Subject"]
    """
    sections = _sections(entries)
    for name in quiet:
        sections.setdefault(name, [])
    shown = [e for e in entries if not e.get("near_miss")]
    msg = EmailMessage()
    msg["Subject"] = subject(day, len(shown), len([n for n, papers in sections.items() if papers]))
    msg["From"], msg["To"] = sender, to
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "arxiv-reco")
    text, rich = [msg["Subject"], ""], [f"<h2 style=\"font-family:sans-serif\">{html.escape(msg['Subject'])}</h2>"]
    if note:
        text += [note, ""]
        rich.append(f"<p style=\"font-family:sans-serif\">{html.escape(note)}</p>")
    for name, papers in sections.items():
        count = len([e for e in papers if not e.get("near_miss")])
        text += [f"== {name} ({count}) ==", ""]
        rich.append(f"<h3 style=\"font-family:sans-serif;border-bottom:1px solid #ccc\">{html.escape(name)} "
                    f"({count})</h3>")
        if name in quiet:
            line = QUIET + ("; the nearest below it:" if papers else "")
            text += [line, ""]
            rich.append(f"<p style=\"font-family:sans-serif;color:#555\">{html.escape(line)}</p>")
        for e in papers:
            why = because_text(e.get("because") or [])
            followed = f" (you follow {e['followed']})" if e.get("followed") and e["profile"] != "followed authors" else ""
            cats = " ".join(e.get("categories") or [])
            score = f"score {e['score']:.0f}" if isinstance(e.get("score"), int | float) else ""
            meta = " · ".join(x for x in (e.get("authors", ""), e.get("date", "") or "no date", cats, score) if x)
            text += [f"* {e['title']}{followed}", f"  {e['url']}", f"  {meta}"]
            if e.get("tldr"):
                text.append(f"  TL;DR: {e['tldr']}")
            if e.get("abstract"):
                text.append(f"  {e['abstract']}")
            if why:
                text.append(f"  {why}")
            text.append("")
            rich.append(
                "<div style=\"font-family:sans-serif;margin:0 0 1.1em 0\">"
                f"<a href=\"{html.escape(e['url'], quote=True)}\" style=\"font-size:1.05em\">{html.escape(e['title'])}</a>"
                f"{html.escape(followed)}<br><span style=\"color:#555;font-size:.9em\">{html.escape(meta)}</span>"
                + (f"<br><b>TL;DR:</b> {html.escape(e['tldr'])}" if e.get("tldr") else "")
                + (f"<br><span>{html.escape(e['abstract'])}</span>" if e.get("abstract") else "")
                + (f"<br><i style=\"color:#555;font-size:.9em\">{html.escape(why)}</i>" if why else "")
                + "</div>")
    text.append("-- arxiv-reco daily")
    rich.append("<p style=\"font-family:sans-serif;color:#777;font-size:.8em\">arxiv-reco daily</p>")
    msg.set_content("\n".join(text))
    msg.add_alternative("<html><body>" + "\n".join(rich) + "</body></html>", subtype="html")
    return msg


def send(message: EmailMessage, settings, timeout: float = MAIL_TIMEOUT) -> None:
    """Send through ``settings.smtp_url``: implicit TLS for smtps://, STARTTLS for smtp:// (refused
    without it, except to this machine); log in when a user is set. The whole delivery has
    ``timeout`` seconds, however slowly the server talks. Every failure (refused, timeout, TLS,
    authentication) is one DeliveryError naming the server, never the password.

    >>> send(compose(entries, day, sender, to), load_settings())
    """

    if not settings.smtp_url:
        raise DeliveryError("no mail server: set ARXIV_RECO_SMTP_URL (smtp://host:587 or smtps://host:465), and "
                            "ARXIV_RECO_SMTP_USER / ARXIV_RECO_SMTP_PASSWORD, in the environment or .env")
    server = parse_smtp_url(settings.smtp_url)
    host, port, tls, where = server.host, server.port, server.scheme == "smtps", server.url
    context = ssl.create_default_context()
    deadline = Deadline(timeout, where)
    try:
        with deadline:
            kind = _watched(smtplib.SMTP_SSL if tls else smtplib.SMTP, deadline)
            with kind(host, port, timeout=timeout, **({"context": context} if tls else {})) as client:
                client.ehlo()
                if not tls:
                    if client.has_extn("starttls"):
                        client.starttls(context=context)
                        client.ehlo()
                    elif not is_loopback(host):
                        raise DeliveryError(f"{where} offers no STARTTLS; refusing to send the password and the "
                                            "digest in clear text (use smtps://, or a server with STARTTLS)")
                if settings.smtp_user:
                    _login(client, settings, where)
                refused = client.send_message(message)
                if refused:
                    raise DeliveryError(f"{where} refused the recipient(s) {sorted(refused)}")
    except DeliveryError:
        raise
    except (smtplib.SMTPException, OSError) as e:
        if deadline.expired:  # the watchdog closed the socket: whatever error that caused, this is why
            raise DeliveryError(f"{where} did not finish the delivery within {timeout:g} s") from None
        raise DeliveryError(_failure(e, settings, where, timeout)) from None


def _watched(kind: type[smtplib.SMTP], deadline: Deadline) -> type[smtplib.SMTP]:
    """``kind`` whose connection ``deadline`` closes when its time is up (the greeting included)."""
    class Watched(kind):
        def connect(self, *args, **kwargs):
            deadline.watch(lambda: getattr(self, "sock", None))
            return super().connect(*args, **kwargs)

    return Watched


def _login(client: smtplib.SMTP, settings, where: str) -> None:
    """AUTH with the settings' user and password. smtplib encodes credentials as ASCII; one with other
    characters goes as AUTH PLAIN in UTF-8 (RFC 4616), never into an error message."""
    if not settings.smtp_password:
        raise DeliveryError(f"{where}: ARXIV_RECO_SMTP_USER is set but no password (ARXIV_RECO_SMTP_PASSWORD)")
    user, password = str(settings.smtp_user), settings.smtp_password.reveal()
    if (user + password).isascii():
        client.login(user, password)
        return
    offered = (client.esmtp_features.get("auth") or "").upper().split()
    if "PLAIN" not in offered:
        raise DeliveryError(f"{where}: the SMTP user or password has characters outside ASCII, which only AUTH "
                            f"PLAIN carries, and this server offers {' '.join(offered) or 'no AUTH'}")
    token = base64.b64encode(f"\0{user}\0{password}".encode()).decode("ascii")
    code, said = client.docmd("AUTH", f"PLAIN {token}")
    if code != 235:
        raise smtplib.SMTPAuthenticationError(code, said)


def _failure(e: Exception, settings, where: str, timeout: float) -> str:
    """One line for a failed delivery (never the password: smtplib's own messages may quote input)."""
    if isinstance(e, smtplib.SMTPAuthenticationError):
        return (f"{where} refused the login of {settings.smtp_user!r} ({e.smtp_code}); check "
                "ARXIV_RECO_SMTP_USER / ARXIV_RECO_SMTP_PASSWORD")
    if isinstance(e, smtplib.SMTPRecipientsRefused):
        return f"{where} refused the recipient(s) {sorted(e.recipients)}"
    if isinstance(e, smtplib.SMTPResponseException):
        return f"{where} answered {e.smtp_code}: {_said(e.smtp_error)}"
    if isinstance(e, ssl.SSLError | ssl.CertificateError):
        return f"TLS with {where} failed ({e.__class__.__name__}: {getattr(e, 'reason', '') or e})"
    if isinstance(e, TimeoutError):
        return f"{where} did not answer within {timeout:g} s"
    return f"could not send through {where}: {e.__class__.__name__}: {e}"


def _said(raw) -> str:
    return (raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw))[:200]
