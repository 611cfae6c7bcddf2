"""A reader's interests: one profile each, from a library, a sentence, or both; and the digest's
settings file.

    profiles = parse_profiles(["ml=my.bib", "astro=2401.01234,2312.04567"], interest="dark matter halos")
    config = read_config("digest.toml")          # [profiles.NAME] tables, every option of `daily`

A profile ranks the new papers on its own (its own SVM against the rest of the index), gets its
own section in the digest and its own ``k`` papers. A sentence alone is a profile too: a reader
with no library yet starts from what they would type in a search box.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from .library import Library, load_library


@dataclass
class Profile:
    """One interest: its name, the liked (and disliked) papers, and/or a sentence."""

    name: str
    sources: list = field(default_factory=list)  # what load_library takes: .bib, ids, a reading list
    disliked: list = field(default_factory=list)
    interest: str | None = None  # free text: a profile without a library, or a push beside one
    library: Library | None = None  # the sources read (load), then matched to an index (complete)

    def load(self) -> Profile:
        """Read the sources (once).

        >>> Profile("ml", ["my.bib"]).load().library.liked
        """
        if self.library is None:
            self.library = load_library(self.sources, self.disliked) if self.sources else Library()
        return self

    @property
    def liked(self) -> list[str]:
        return self.load().library.liked

    @property
    def disliked_ids(self) -> list[str]:
        return self.load().library.disliked


def parse_profile(spec: str) -> Profile:
    """``NAME=SOURCE[,SOURCE...]`` (a source as ``--library`` takes it: a .bib, a reading list, a
    file of ids, or ids) -> a Profile.

    >>> parse_profile("astro=2401.01234,hep-th/9901001").sources
    ['2401.01234,hep-th/9901001']
    """
    name, sep, rest = spec.partition("=")
    if not sep or not name.strip() or not rest.strip():
        raise ValueError(f"--profile takes NAME=SOURCE[,SOURCE...], e.g. ml=my.bib or astro=2401.01234,2312.04567; "
                         f"got {spec!r}")
    parts = [p.strip() for p in rest.split(",") if p.strip()]
    files = [p for p in parts if Path(p).expanduser().is_file() or p.lower().endswith((".bib", ".json", ".txt"))]
    ids = [p for p in parts if p not in files]
    return Profile(name.strip(), files + ([",".join(ids)] if ids else []))


def parse_profiles(specs: list[str] | None = None, library: list[str] | None = None, disliked: list[str] | None = None,
                   interest: list[str] | str | None = None, config: dict | None = None) -> list[Profile]:
    """The profiles a command line (and a config file's ``[profiles.NAME]`` tables) names:
    ``--library`` is the profile "library", each ``--profile`` its own, each ``--interest`` a
    sentence profile (named "interest", "interest 2", ...); a config table may hold ``library``
    (a source or a list), ``disliked`` and ``interest``. A name given twice is one profile.

    >>> [p.name for p in parse_profiles(["ml=my.bib"], interest="dark matter halos")]
    ['ml', 'interest']
    """
    out: dict[str, Profile] = {}
    for name, table in ((config or {}).get("profiles") or {}).items():
        if not isinstance(table, dict):
            raise ValueError(f"[profiles.{name}] must be a table, e.g. library = [\"my.bib\"], interest = \"...\"")
        sources = table.get("library") or []
        out[name] = Profile(name, [sources] if isinstance(sources, str) else list(sources),
                            [table["disliked"]] if isinstance(table.get("disliked"), str) else list(table.get("disliked") or []),
                            table.get("interest"))
    if library:
        out["library"] = Profile("library", list(library), list(disliked or []))
    for spec in specs or []:
        p = parse_profile(spec)
        out[p.name] = p
    sentences = [interest] if isinstance(interest, str) else list(interest or [])
    for i, text in enumerate(t for t in sentences if t and t.strip()):
        name = "interest" if i == 0 else f"interest {i + 1}"
        out[name] = Profile(name, interest=text.strip())
    return list(out.values())


def read_config(path: str | Path) -> dict:
    """A digest's TOML settings file (see arxiv_reco/reader/digest.example.toml), read and checked
    against the options `daily` knows.

    >>> config = read_config("digest.toml"); config["categories"]
    """
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib

    path = Path(path).expanduser()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"No digest config at {path}; start from `arxiv-reco daily --example-config`") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path} is not valid TOML ({e})") from None
    unknown = set(data) - CONFIG_KEYS
    if unknown:
        raise ValueError(f"{path}: unknown setting(s) {sorted(unknown)}; known: {sorted(CONFIG_KEYS)}")
    return data


# what a config file may set: the options of `arxiv-reco daily`, spelled with underscores
CONFIG_KEYS = {"index", "categories", "library", "disliked", "profiles", "interest", "author", "include", "exclude",
               "k", "email", "atom", "keep_days", "state", "method", "since", "send_empty", "papers", "model",
               "max_seq_length", "pace", "timeout", "subject"}


def example_config() -> str:
    """The commented example of a digest config that ships with the package."""
    from importlib.resources import files

    return (files("arxiv_reco.reader") / "digest.example.toml").read_text(encoding="utf-8")
