"""A reader's interests: one profile each, from a library, a sentence, or both.

    profiles = parse_profiles(["ml=my.bib", "astro=2401.01234,2312.04567"], interest="dark matter halos")
    profiles = profiles_of(read_config("digest.toml"))        # --library, --profile, [profiles.NAME], ...

A profile ranks the new papers on its own (its own SVM against the rest of the index), gets its
own section in the digest and its own ``k`` papers. A sentence alone is a profile too: a reader
with no library yet starts from what they would type in a search box.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .library import Library, complete_library, load_library, read_reading_list


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
            self.library = load_library(self.sources, self.disliked) if self.sources or self.disliked else Library()
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
    files = [p for p in parts if Path(p).expanduser().is_file() or p.lower().endswith((".bib", ".json", ".txt"))
             or p.lower().startswith("zotero:")]
    ids = [p for p in parts if p not in files]
    return Profile(name.strip(), files + ([",".join(ids)] if ids else []))


def parse_profiles(specs: Sequence[str] = (), library: Sequence[str] = (), disliked: Sequence[str] = (),
                   interest: Sequence[str] | str = (), tables: Mapping | None = None) -> list[Profile]:
    """The profiles a command line (and a config file's ``[profiles.NAME]`` tables) names:
    ``library`` is the profile "library", each ``specs`` entry (``--profile``) its own, each
    ``interest`` a sentence profile (named "interest", "interest 2", ...); ``tables``: name ->
    ProfileTable (digest_options.read_config). A name given twice is one profile.

    >>> [p.name for p in parse_profiles(["ml=my.bib"], interest="dark matter halos")]
    ['ml', 'interest']
    """
    out: dict[str, Profile] = {}
    for name, table in (tables or {}).items():
        out[name] = Profile(name, list(table.library), list(table.disliked), table.interest)
    if library:
        out["library"] = Profile("library", [library] if isinstance(library, str) else list(library),
                                 [disliked] if isinstance(disliked, str) else list(disliked or []))
    for spec in specs or []:
        p = parse_profile(spec)
        out[p.name] = p
    sentences = [interest] if isinstance(interest, str) else list(interest or [])
    for i, text in enumerate(t for t in sentences if t and t.strip()):
        name = "interest" if i == 0 else f"interest {i + 1}"
        out[name] = Profile(name, interest=text.strip())
    return list(out.values())


def profiles_of(options) -> list[Profile]:
    """The profiles a digest's options name (DigestOptions: --library, --profile, --interest and
    the file's [profiles.NAME] tables).

    >>> profiles_of(read_config("digest.toml"))
    """
    library = tuple(options.library) + tuple(f"zotero:{z.removeprefix('zotero:')}" for z in options.zotero)
    return parse_profiles(options.profile, library, options.disliked, options.interest, options.profiles)


def complete_profiles(profiles: Sequence[Profile], index, index_dir: str | Path | None, api=None, fetch: bool = True,
                      say=print) -> None:
    """Make every profile's library fit ``index`` (its missing papers fetched and saved to
    ``index_dir`` unless ``fetch`` is False; see :func:`complete_library`): `feed` and `daily` alike.

    >>> complete_profiles(profiles, index, "index/", api)
    """
    for profile in profiles:
        library = profile.load().library
        if library is not None and len(library):
            complete_library(library, index, index_dir, api=api, fetch=fetch, say=say)


def with_reading_list(profiles: Sequence[Profile], path: str | Path) -> list[Profile]:
    """The profiles with the page's likes and dislikes (its ``reading_list.json``) in them: a paper
    liked on the page joins the "library" interest (made when there is none), a paper marked "not
    for me" is a dislike of every interest. So a click on the page shapes the next digest, no flag.

    >>> profiles = with_reading_list(profiles_of(options), reading_list_path("index"))
    """
    page = read_reading_list(path)
    out = list(profiles)
    if page["liked"]:
        library = next((p for p in out if p.name == "library"), None)
        if library is None:
            library = Profile("library")
            out.insert(0, library)
        if str(path) not in map(str, library.sources):
            library.sources.append(str(path))
            library.library = None  # read again, with the page's likes
    for profile in out:
        new = [d for d in page["disliked"] if d not in profile.disliked]
        if new:
            profile.disliked.extend(new)
            profile.library = None
    return out
