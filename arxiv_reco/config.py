"""Settings have one home: defaults here, then `.env`, then the environment, then overrides.

Nothing else in the package reads the environment. The CLI and the notebooks pass
overrides: ``settings = load_settings(gemini_model="gemini-2.5-flash-lite")``.
"""

from __future__ import annotations

import os
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
FINETUNED_DIR = "finetuned-arxiv-recommender"
ARXIV_API_URL = "http://export.arxiv.org/api/query"  # the export API's Atom feed (update, library fetches)

# environment variable -> Settings field. The Gemini SDK's own variables are honoured too.
ENV_VARS = {
    "GEMINI_API_KEY": "gemini_api_key",
    "GOOGLE_API_KEY": "gemini_api_key",
    "ARXIV_RECO_GEMINI_MODEL": "gemini_model",
    "ARXIV_RECO_SNAPSHOT": "snapshot",
    "ARXIV_RECO_WORK_DIR": "work_dir",
    "ARXIV_RECO_BASE_MODEL": "base_model",
    "ARXIV_RECO_TEACHER_MODEL": "teacher_model",
    "ARXIV_RECO_ARXIV_API": "arxiv_api_url",
}


class Secret:
    """A value that never prints itself: safe in reprs, logs, tracebacks and notebook outputs. Not a
    str subclass on purpose: json.dumps and f-string padding read a str's characters directly."""

    __slots__ = ("_value",)

    def __init__(self, value: str = ""):
        self._value = value.reveal() if isinstance(value, Secret) else str(value)

    def __repr__(self) -> str:
        return "Secret('****')" if self._value else "Secret('')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def reveal(self) -> str:
        return self._value


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

    # The files passed between the steps (README: "The files between the steps"), in work_dir.
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

    >>> settings = load_settings(work_dir="runs/cs")
    """
    if env_file and Path(env_file).is_file():
        from dotenv import load_dotenv

        # override=False: a variable set in the shell wins over the file. Loading into
        # os.environ also hands GOOGLE_GEMINI_BASE_URL and friends to the Gemini SDK.
        load_dotenv(env_file, override=False)
    values: dict = {}
    for var, name in ENV_VARS.items():
        if os.environ.get(var) and name not in values:
            values[name] = os.environ[var]
    values.update({k: v for k, v in overrides.items() if v is not None})
    known = {f.name for f in fields(Settings)}
    unknown = set(values) - known
    if unknown:
        raise TypeError(f"unknown setting(s) {sorted(unknown)}; known: {sorted(known)}")
    settings = Settings()
    coerced = {}
    for name, value in values.items():
        if name == "gemini_api_key":
            value = Secret(value)
        elif name in ("snapshot", "work_dir"):
            value = Path(value).expanduser()
        coerced[name] = value
    return replace(settings, **coerced)


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
