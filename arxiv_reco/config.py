"""Settings have one home: defaults here, then `.env`, then the environment, then overrides.

Nothing else in the package reads the environment. The CLI and the notebooks pass
overrides: ``settings = load_settings(gemini_model="gemini-2.5-flash-lite")``.
"""

from __future__ import annotations

import ipaddress
import os
import urllib.parse
import warnings
from dataclasses import dataclass, field, fields, replace
from importlib.resources import files
from pathlib import Path

# ---- defaults (nanoGPT style: all at the top, overridable) ---------------------------------
# The bundled 1,990-paper sample ships inside the package (a wheel, Colab, a checkout alike).
SAMPLE_PAPERS = Path(str(files("arxiv_reco") / "samples" / "arxiv_sample_2k.jsonl"))

CACHE_DIR = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "arxiv-reco"

DEFAULT_BASE_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
DEFAULT_TEACHER_MODEL = "sentence-transformers/all-mpnet-base-v2"
DEFAULT_GEMINI_MODEL = "gemini-2.5-flash"
LABELED_CSV = "my_labeled_training_data.csv"
RATINGS_CSV = "my_ratings.csv"  # a person's own ratings of a few pairs: the gold set labels are audited against
FINETUNED_DIR = "finetuned-arxiv-recommender"
ARXIV_API_URL = "https://export.arxiv.org/api/query"  # the export API's Atom feed (update, library fetches)
GEMINI_API_URL = "https://generativelanguage.googleapis.com/"  # where the Gemini key goes, unless told otherwise
ZOTERO_API_URL = "https://api.zotero.org"  # the Zotero Web API: where a reader's library is read, with their key

# variable -> Settings field: what `.env` and the environment may set. The Gemini SDK's own key
# variables are honoured too.
ENV_VARS = {
    "GEMINI_API_KEY": "gemini_api_key",
    "GOOGLE_API_KEY": "gemini_api_key",
    "ARXIV_RECO_GEMINI_MODEL": "gemini_model",
    "ARXIV_RECO_SNAPSHOT": "snapshot",
    "ARXIV_RECO_WORK_DIR": "work_dir",
    "ARXIV_RECO_BASE_MODEL": "base_model",
    "ARXIV_RECO_TEACHER_MODEL": "teacher_model",
    "ARXIV_RECO_ARXIV_API": "arxiv_api_url",
    "ARXIV_RECO_SMTP_URL": "smtp_url",
    "ARXIV_RECO_SMTP_USER": "smtp_user",
    "ARXIV_RECO_SMTP_PASSWORD": "smtp_password",
    "ARXIV_RECO_EMAIL_FROM": "email_from",
    "ZOTERO_API_KEY": "zotero_api_key",
}
# Set only by the process environment (or a call's argument), never by a `.env` file: an endpoint
# decides where a secret from the shell is sent, and a `.env` comes with any cloned or shared
# folder. GOOGLE_GEMINI_BASE_URL is the SDK's own name for it.
ENV_ONLY = {
    "GOOGLE_GEMINI_BASE_URL": "gemini_base_url",
    "ARXIV_RECO_ZOTERO_API": "zotero_api_url",
}


class SecretDropped(RuntimeError):
    """A secret was used after a pickle or copy that, on purpose, left its value behind."""


class Secret:
    """A value that never prints itself: safe in reprs, logs, tracebacks and notebook outputs. Not a
    str subclass on purpose: json.dumps and f-string padding read a str's characters directly."""

    __slots__ = ("_value", "_dropped")

    def __init__(self, value: str = ""):
        self._value = value.reveal() if isinstance(value, Secret) else str(value)
        self._dropped = False

    def __reduce__(self):
        # pickling (multiprocessing, joblib, a cache) never writes the value out: the copy is a
        # placeholder that says so the moment it is used
        return (_dropped_secret, ())

    def __copy__(self) -> Secret:
        return self  # immutable: a copy in this process may share the value

    def __deepcopy__(self, memo) -> Secret:
        return self

    def __repr__(self) -> str:
        return "Secret('****')" if self._value else "Secret('')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value) or self._dropped

    def __eq__(self, other) -> bool:
        return isinstance(other, Secret) and (other._value, other._dropped) == (self._value, self._dropped)

    def __hash__(self) -> int:
        return hash(self._value)

    def reveal(self) -> str:
        """The value itself, for the one call that sends it (never for printing).

        >>> Secret("abc").reveal()
        'abc'
        """
        if self._dropped:
            raise SecretDropped("this secret was pickled or sent to another process, which never carries its "
                                "value; load the settings again there (load_settings() reads .env and the "
                                "environment)")
        return self._value


def _dropped_secret() -> Secret:
    secret = Secret("")
    secret._dropped = True
    return secret


def check_endpoint(url: str, what: str) -> str:
    """``url`` when it is HTTPS, or plain HTTP to this machine (a local fake or proxy); a ValueError
    otherwise: a key or password sent over plain HTTP to another host can be read on the way.

    >>> check_endpoint("https://export.arxiv.org/api/query", "the arXiv API")
    'https://export.arxiv.org/api/query'
    """
    parts = urllib.parse.urlsplit(str(url).strip())
    if parts.scheme == "https" and parts.hostname:
        return str(url).strip()
    if parts.scheme == "http" and parts.hostname and is_loopback(parts.hostname):
        return str(url).strip()
    raise ValueError(f"{what} must be an https:// URL (plain http only to this machine), not {url!r}")


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine (localhost, 127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Settings:
    """Every knob a user may set in `.env` (see `.env.example`)."""

    gemini_api_key: Secret = field(default_factory=lambda: Secret(""))
    gemini_model: str = DEFAULT_GEMINI_MODEL
    snapshot: Path = SAMPLE_PAPERS  # the Kaggle arxiv-metadata-oai-snapshot.json, or the sample
    work_dir: Path = Path(".")  # where the pipeline's files go
    base_model: str = DEFAULT_BASE_MODEL
    teacher_model: str = DEFAULT_TEACHER_MODEL
    arxiv_api_url: str = ARXIV_API_URL  # a mirror, or a local fake in tests
    gemini_base_url: str | None = None  # the environment's GOOGLE_GEMINI_BASE_URL only (ENV_ONLY)
    # the daily digest's mail: smtp://host:587 (STARTTLS) or smtps://host:465; credentials never in the URL kept
    smtp_url: str | None = None
    smtp_user: str | None = None
    smtp_password: Secret = field(default_factory=lambda: Secret(""))
    email_from: str | None = None
    # a reader's Zotero library (reader/zotero.py): the key reads a private one; where it goes, the environment's alone
    zotero_api_key: Secret = field(default_factory=lambda: Secret(""))
    zotero_api_url: str = ZOTERO_API_URL

    # The files passed between the steps (docs/artifacts.md), in work_dir.
    @property
    def papers(self) -> Path:
        return self.work_dir / "papers.parquet"

    @property
    def pairs(self) -> Path:
        return self.work_dir / "pairs.csv"

    @property
    def label_store(self) -> Path:
        return self.work_dir / "labels.sqlite"

    @property
    def labeled_csv(self) -> Path:
        return self.work_dir / LABELED_CSV

    @property
    def ratings(self) -> Path:
        return self.work_dir / RATINGS_CSV

    @property
    def model_dir(self) -> Path:
        return self.work_dir / FINETUNED_DIR

    @property
    def index_dir(self) -> Path:
        return self.work_dir / "index"

    @property
    def has_gemini_key(self) -> bool:
        return bool(self.gemini_api_key)


def load_settings(env_file: str | os.PathLike | None = ".env", **overrides) -> Settings:
    """Defaults < `.env` < environment < ``overrides``.

    `.env` is read, never loaded into the process environment, and only the names in ENV_VARS are
    taken from it; ENV_ONLY names (where the Gemini key is sent) come from the environment alone.
    An endpoint that is not HTTPS (or plain HTTP to this machine) is refused.

    >>> settings = load_settings(work_dir="runs/cs")
    """
    values: dict = {}
    from_file: dict = {}
    if env_file and Path(env_file).is_file():
        from dotenv import dotenv_values

        # literal text: python-dotenv would fill ${VAR} from the process environment, and a cloned
        # folder's .env could then send the shell's password or key to a server of its choosing
        found = {k: v for k, v in dotenv_values(env_file, interpolate=False).items() if v}
        templated = sorted(k for k, v in found.items() if k in ENV_VARS and "${" in v)
        if templated:
            warnings.warn(f"{env_file}: {', '.join(templated)} hold '${{...}}', which is kept as literal text: "
                          "a .env value is never filled in from your environment", stacklevel=2)
        ignored = sorted(set(found) & set(ENV_ONLY))
        if ignored:
            warnings.warn(f"{env_file}: ignored {', '.join(ignored)}: where a key is sent is set "
                          "only in the environment (export it in your shell), never by a .env file",
                          stacklevel=2)
        for var, name in ENV_VARS.items():
            if found.get(var) and name not in values:
                values[name] = from_file[name] = found[var]
    from_env: dict = {}
    for var, name in {**ENV_VARS, **ENV_ONLY}.items():
        if os.environ.get(var) and name not in from_env:
            from_env[name] = os.environ[var]  # a variable set in the shell wins over the file
    values.update(from_env)
    values.update({k: v for k, v in overrides.items() if v is not None})
    values.update(_smtp_credentials(values, from_file))
    known = {f.name for f in fields(Settings)}
    unknown = set(values) - known
    if unknown:
        raise TypeError(f"unknown setting(s) {sorted(unknown)}; known: {sorted(known)}")
    coerced = {}
    for name, value in values.items():
        if name in ("gemini_api_key", "smtp_password", "zotero_api_key"):
            value = Secret(value)
        elif name in ("snapshot", "work_dir"):
            value = Path(value).expanduser()
        elif name == "arxiv_api_url":
            value = check_endpoint(value, "ARXIV_RECO_ARXIV_API (the arXiv API)")
        elif name == "gemini_base_url":
            value = check_endpoint(value, "GOOGLE_GEMINI_BASE_URL (where the Gemini key is sent)")
        elif name == "zotero_api_url":
            value = check_endpoint(value, "ARXIV_RECO_ZOTERO_API (where the Zotero key is sent)")
        coerced[name] = value
    return replace(Settings(), **coerced)


def _smtp_credentials(values: dict, from_file: dict) -> dict:
    """The SMTP URL without credentials, and the user and password from it or from their own
    settings. A `.env` that names the mail server gets only a password from the same `.env` (or
    the URL it wrote): the password in the shell is never sent to a host a cloned folder chose."""
    url = values.get("smtp_url")
    if not url:
        return {}
    smtp = parse_smtp_url(url)
    out = {"smtp_url": smtp.url}
    if smtp.user is not None:
        out["smtp_user"] = smtp.user
    if smtp.password is not None:
        out["smtp_password"] = smtp.password
    elif (from_file.get("smtp_url") == url and values.get("smtp_password")
          and from_file.get("smtp_password") != values.get("smtp_password")):
        raise ValueError("ARXIV_RECO_SMTP_URL comes from .env but the SMTP password from your environment: set "
                         "both in the same place (a .env never decides where a password from the shell goes)")
    return out


@dataclass(frozen=True)
class SmtpURL:
    """A mail server's address, read from ``smtp[s]://[user[:password]@]host[:port]``."""

    scheme: str
    host: str
    port: int
    user: str | None = None
    password: str | None = None

    @property
    def url(self) -> str:
        """The address without credentials (an IPv6 host in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


def parse_smtp_url(url: str) -> SmtpURL:
    """The parts of an SMTP URL. The credentials end at the *last* ``@``, so a password holding
    ``/``, ``#``, ``?`` or ``@`` unencoded is read whole (urllib would end the host at the first
    ``/`` and then print the password as a bad port); no error message ever holds the credentials.

    >>> parse_smtp_url("smtps://me%40example.org:p/w#1@mail.example.org").url
    'smtps://mail.example.org:465'
    """
    scheme, sep, rest = str(url).strip().partition("://")
    scheme = scheme.lower()
    userinfo, at, hostport = rest.rpartition("@")
    shown = f"{scheme}://{'…@' if at else ''}{hostport}"  # what a message may show: never the credentials
    if not sep or scheme not in ("smtp", "smtps"):
        raise ValueError("ARXIV_RECO_SMTP_URL must look like smtp://host:587 (STARTTLS) or smtps://host:465, "
                         f"not {scheme + '://' if sep else 'a URL without a scheme'}…")
    hostport = hostport.split("/", 1)[0]  # a trailing slash or path says nothing to SMTP
    if hostport.startswith("["):  # an IPv6 literal: [::1]:2525
        host, _, tail = hostport[1:].partition("]")
        port = tail[1:] if tail.startswith(":") else ("" if not tail else "bad")
    else:
        host, _, port = hostport.partition(":")
    if not host or (port and not port.isdigit()) or (port and not 0 < int(port) < 65536):
        raise ValueError(f"ARXIV_RECO_SMTP_URL {shown!r}: expected host or host:port after the scheme "
                         "(an IPv6 address in brackets: smtp://[::1]:25); percent-encode the user and password "
                         "if they hold ':' or '@'")
    user = password = None
    if at:
        name, colon, secret = userinfo.partition(":")
        user = urllib.parse.unquote(name) or None
        password = urllib.parse.unquote(secret) if colon else None
    return SmtpURL(scheme, host.lower(), int(port) if port else (465 if scheme == "smtps" else 587), user, password)


def hf_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes")


def in_colab() -> bool:
    try:
        import google.colab  # noqa: F401
    except ImportError:
        return False
    return True


COLAB_DRIVE = Path("/content/drive")  # where Colab mounts Google Drive


def notebook_settings(ask: bool = True, drive_folder: str | None = None, **overrides) -> Settings:
    """Settings for a notebook: the key from the environment or `.env`, else Colab's secrets,
    else (when ``ask``) a hidden getpass prompt. The key is never echoed or printed.

    ``drive_folder``: on Colab, mount Google Drive and keep the work in ``MyDrive/<drive_folder>``
    (a recycled runtime wipes /content; the label store's resume needs the files to survive).
    The work folder is created.

    >>> settings = notebook_settings(drive_folder="arxiv-reco")
    """
    settings = load_settings(**overrides)
    if drive_folder:
        settings = replace(settings, work_dir=_drive_work_dir(drive_folder, settings.work_dir))
    settings.work_dir.mkdir(parents=True, exist_ok=True)
    if settings.has_gemini_key:
        return settings
    key = ""
    if in_colab():
        try:
            from google.colab import userdata

            key = userdata.get("GEMINI_API_KEY") or ""
        except Exception:  # secret missing or notebook access not granted: ask instead
            key = ""
    if not key and ask:
        import getpass

        key = getpass.getpass("Gemini API key (input hidden; Enter to label offline with the teacher): ").strip()
    if key:
        # the SDK's own variable, so every client this kernel makes finds it
        os.environ["GEMINI_API_KEY"] = key
    return replace(settings, gemini_api_key=Secret(key)) if key else settings


def _drive_work_dir(folder: str, work_dir: Path) -> Path:
    if not in_colab():
        import warnings

        warnings.warn(f"drive_folder={folder!r} is for Colab (Google Drive is mounted there); "
                      f"keeping the work in {work_dir}", stacklevel=3)
        return work_dir
    from google.colab import drive

    drive.mount(str(COLAB_DRIVE))  # asks for access the first time; a no-op once mounted
    return COLAB_DRIVE / "MyDrive" / folder
