"""Options declared once: a frozen dataclass whose fields carry their type, default, help and
limits. A TOML file's keys, the command line's flags and the docs' tables are made from it, so
an option is never re-typed (the idea of transformers' ``HfArgumentParser``, in a page of code).

    @dataclass(frozen=True)
    class DigestOptions:
        k: int = option(10, "papers per interest", minimum=1)
        method: str = option("svm", "how interests rank", choices=("svm", "mean"))

    options = from_mapping(DigestOptions, tomllib.load(f), where="digest.toml")   # typed; unknown keys refused
    add_arguments(parser, DigestOptions)                                          # --k, --method with their help
    options = from_args(DigestOptions, args, base=options)                        # the flags given win

Types a field may have: ``bool``, ``int``, ``float``, ``str``, ``tuple[str, ...]`` (a list; one
text is a list of one), any of them ``| None``, and ``float | str`` for a number or a word.
"""

from __future__ import annotations

import argparse
import difflib
import sys
import types
import typing
from collections.abc import Mapping
from dataclasses import MISSING, Field, field, fields, replace
from pathlib import Path


def option(default, help: str, *, minimum: float | None = None, maximum: float | None = None,
           choices: tuple | None = None, flag: str | None = None, short: str | None = None,
           metavar: str | None = None, cli: bool = True, file: bool = True, words: str | None = None,
           parse=None) -> Field:
    """A dataclass field with what the command line, a settings file and the docs need to know.

    ``flag``: the flag's name if not ``--field-name``; ``short``: e.g. ``-k``; ``cli``/``file``:
    whether a flag / a file key exists for it; ``words``: how the docs write the default when it is
    None or computed ("the index's newest paper, minus 3 days"); ``parse``: turns a text value into
the field's own form or raises ValueError (e.g. :func:`arxiv_reco.dates.day`).

    >>> k: int = option(10, "papers per interest", minimum=1, short="-k")
    """
    meta = {"help": help, "minimum": minimum, "maximum": maximum, "choices": choices, "flag": flag, "short": short,
            "metavar": metavar, "cli": cli, "file": file, "words": words, "parse": parse}
    return field(default=default, metadata=meta)


def read_toml(path: str | Path, what: str = "file") -> dict:
    """A TOML file as a dict, or one error naming the file: a missing file (FileNotFoundError) or
    one that is not TOML (ValueError). Python 3.10 reads it with tomli, later ones with tomllib.

    >>> read_toml("recipe.toml")["epochs"]
    """
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib

    path = Path(path).expanduser()
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"No {what} at {path}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path} is not valid TOML ({e})") from None


class Keep:
    """``KEEP``: "leave this field as it is" in ``but()``, where None is a real value."""

    _instance = None

    def __new__(cls):
        cls._instance = cls._instance or super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "KEEP"


KEEP = Keep()


def hints(cls) -> dict[str, object]:
    """Field name -> its resolved type annotation."""
    return typing.get_type_hints(cls)


def _parts(hint) -> tuple[set, bool]:
    """The base types a hint allows and whether None is one of them."""
    args = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    return {a for a in args if a is not type(None)}, type(None) in args


def _is_list(t) -> bool:
    """A list of texts (``tuple[str, ...]``); other tuples are structures their class checks itself."""
    return typing.get_origin(t) is tuple and typing.get_args(t)[:1] == (str,)


def coerce(name: str, value, hint, meta: Mapping, where: str = ""):
    """``value`` as the field's type, or a ValueError naming the field and what it got.

    >>> coerce("k", 3, int, {})
    3
    """
    allowed, nullable = _parts(hint)
    at = f"{where}: " if where else ""
    if value is None:
        if nullable:
            return None
        raise ValueError(f"{at}{name} needs a value")
    out = _as(value, allowed)
    if out is _NO:
        raise ValueError(f"{at}{name} must be {_describe(allowed, nullable)}, not {_show(value)}")
    if meta.get("parse") and isinstance(out, str):
        try:
            out = meta["parse"](out)
        except ValueError as e:
            raise ValueError(f"{at}{name}: {e}") from None
    choices = meta.get("choices")
    items = out if isinstance(out, tuple) else (out,)
    if choices and any(v not in choices for v in items):
        raise ValueError(f"{at}{name} must be one of {', '.join(map(str, choices))}, not {_show(value)}")
    lo, hi = meta.get("minimum"), meta.get("maximum")
    if isinstance(out, int | float) and not isinstance(out, bool):
        if lo is not None and out < lo:
            raise ValueError(f"{at}{name} must be at least {lo:g}, not {out:g}")
        if hi is not None and out > hi:
            raise ValueError(f"{at}{name} must be at most {hi:g}, not {out:g}")
    return out


_NO = object()


def _as(value, allowed: set):
    """``value`` converted to the first allowed type that takes it exactly (TOML and JSON give typed
    values; the command line gives text, converted by argparse before it reaches here)."""
    for t in sorted(allowed, key=_order):
        if t is bool and isinstance(value, bool):
            return value
        if t is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if t is float and isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if t is str and isinstance(value, str):
            return value
        if _is_list(t):
            if isinstance(value, str):
                return (value,)
            if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
                return tuple(value)
    return _NO


def _order(t) -> int:
    return {bool: 0, int: 1, float: 2, str: 4}.get(t, 3)


def _describe(allowed: set, nullable: bool) -> str:
    words = {bool: "true or false", int: "a whole number", float: "a number", str: "a text"}
    out = [words.get(t, "a text or a list of texts") for t in sorted(allowed, key=_order)]
    return " or ".join(out) + (" (or left out)" if nullable else "")


def _show(value) -> str:
    kind = {bool: "true/false", int: "the number", float: "the number", str: "the text", list: "a list",
            dict: "a table"}.get(type(value), type(value).__name__)
    return f"{kind} {value!r}" if not isinstance(value, list | dict) else kind


def validate(obj) -> None:
    """Check (and convert: a text to a list of one, a whole number to a float) every field of a frozen
    options value; its ``__post_init__`` calls this, so no value of it is ever out of range.

    >>> def __post_init__(self): validate(self)
    """
    types_ = hints(type(obj))
    for f in fields(obj):
        hint = types_[f.name]
        if not all(t in (bool, int, float, str) or _is_list(t) for t in _parts(hint)[0]):
            continue  # a structure its class checks itself
        value = coerce(f.name, getattr(obj, f.name), hint, f.metadata)
        if value is not getattr(obj, f.name):
            object.__setattr__(obj, f.name, value)


def but(obj, **changes):
    """``obj`` with some fields changed and checked; a change that is ``KEEP`` leaves the field as it
    is (None is a real value of many fields: "decide for me").

    >>> but(DigestOptions(), k=3, since=KEEP).k
    3
    """
    names = {f.name for f in fields(obj)}
    unknown = sorted(set(changes) - names)
    if unknown:
        raise TypeError(f"unknown field(s) {unknown} of {type(obj).__name__}; it has {sorted(names)}")
    return replace(obj, **{k: v for k, v in changes.items() if v is not KEEP})


def from_mapping(cls, data: Mapping, where: str = "", base=None, skip: tuple[str, ...] = ()):
    """An options value from a mapping (a TOML file's top level): every key a field that a file may
    set, every value checked; unknown keys refused with the nearest known one. ``base``: the value
    to start from (default: the class's defaults); ``skip``: keys the caller reads itself.

    >>> from_mapping(DigestOptions, {"k": 5}, where="digest.toml").k
    5
    """
    known = {f.name: f for f in fields(cls) if f.metadata.get("file", True)}
    unknown = [k for k in data if k not in known and k not in skip]
    if unknown:
        raise ValueError(f"{where + ': ' if where else ''}unknown setting{'s' * (len(unknown) > 1)} "
                         + ", ".join(_with_hint(k, known) for k in unknown) + f"; known: {', '.join(sorted(known))}")
    types_ = hints(cls)
    values = {k: coerce(k, v, types_[k], known[k].metadata, where) for k, v in data.items() if k in known}
    return replace(base if base is not None else cls(), **values)


def _with_hint(key: str, known) -> str:
    near = difflib.get_close_matches(str(key), list(known), n=1)
    return f"{key!r}" + (f" (did you mean {near[0]!r}?)" if near else "")


def flag_of(f: Field) -> str:
    """The command line's flag of a field: ``--keep-days`` for ``keep_days``."""
    return f.metadata.get("flag") or "--" + f.name.replace("_", "-")


def add_arguments(parser: argparse.ArgumentParser, cls, only: tuple[str, ...] | None = None,
                  defaults: bool = False) -> None:
    """A flag for every field of ``cls`` that has one (``only``: these fields), typed, with its help
    and its default in the help. Flags default to None (``defaults=False``) so that what the
    command line did not say can come from a file; :func:`from_args` then reads them.

    >>> add_arguments(sub.add_parser("daily"), DigestOptions)
    """
    types_ = hints(cls)
    for f in fields(cls):
        if not f.metadata.get("cli", True) or (only is not None and f.name not in only):
            continue
        allowed, _ = _parts(types_[f.name])
        meta = f.metadata
        names = [n for n in (meta.get("short"), flag_of(f)) if n]
        kw: dict = {"dest": f.name, "help": help_text(f)}
        if meta.get("metavar"):
            kw["metavar"] = meta["metavar"]
        if allowed == {bool}:
            # a file may have set it: --x and --no-x; a switch of this run only: --x
            kw["action"] = "store_true" if not meta.get("file", True) else argparse.BooleanOptionalAction
        elif any(_is_list(t) for t in allowed):
            kw["action"] = "append"
        else:
            kw["type"] = _parser_type(allowed)
            if meta.get("choices"):
                kw["choices"] = meta["choices"]
        kw["default"] = _default(f) if defaults else None
        parser.add_argument(*names, **kw)


def _parser_type(allowed: set):
    if allowed == {int}:
        return int
    if allowed == {float}:
        return float
    if allowed == {float, str}:
        return lambda text: float(text) if _is_number(text) else text
    if allowed == {int, str}:
        return lambda text: int(text) if text.strip().lstrip("-").isdigit() else text
    return str


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def default_of(cls, name: str):
    """The default of field ``name`` of ``cls`` (a factory's value made anew).

    >>> default_of(DigestOptions, "k")
    10
    """
    return _default(next(f for f in fields(cls) if f.name == name))


def _default(f: Field):
    if f.default is not MISSING:
        return f.default
    return f.default_factory() if f.default_factory is not MISSING else None


def help_text(f: Field) -> str:
    """A field's help with its default, as ``--help`` and the docs show it (``%`` escaped for argparse)."""
    meta, default = f.metadata, _default(f)
    said = meta.get("words") or ("" if default is None or isinstance(default, bool) or default == () else
                                 ", ".join(map(str, default)) if isinstance(default, tuple) else str(default))
    text = meta.get("help", "") + (f" (default: {said})" if said else "")
    return text.replace("%", "%%")


def from_args(cls, args: argparse.Namespace, base=None, where: str = "the command line",
              only: tuple[str, ...] | None = None):
    """``base`` (or the defaults) with every flag of ``cls`` the command line gave, checked
    (``only``: the fields :func:`add_arguments` made flags for, when it was given ``only``).

    >>> options = from_args(DigestOptions, args, base=from_mapping(DigestOptions, config))
    """
    types_ = hints(cls)
    given = {}
    for f in fields(cls):
        value = getattr(args, f.name, None) if only is None or f.name in only else None
        if value is None or (f.metadata.get("cli", True) is False):
            continue
        given[f.name] = coerce(flag_of(f), value, types_[f.name], f.metadata, where)
    return replace(base if base is not None else cls(), **given)


def options_table(cls, only: tuple[str, ...] | None = None) -> str:
    """The flags of ``cls`` as a Markdown table (option, what it does, default): docs/cli.md's option
    tables are these, and a test keeps them so.

    >>> print(options_table(DigestOptions))
    """
    types_ = hints(cls)
    rows = ["| option | what it does | default |", "|---|---|---|"]
    for f in fields(cls):
        meta = f.metadata
        if not meta.get("cli", True) or (only is not None and f.name not in only):
            continue
        allowed, _ = _parts(types_[f.name])
        flag = flag_of(f)
        if allowed == {bool}:
            name = f"`{flag}`" + (f", `--no-{flag[2:]}`" if meta.get("file", True) else "")
        else:
            shown_as = meta.get("metavar") or ("{" + ",".join(meta["choices"]) + "}" if meta.get("choices") else
                                               f.name.upper())
            name = f"`{flag} {shown_as}`"
        default = _default(f)
        shown = meta.get("words") or ("on" if default is True else "off" if default is False else
                                      "" if default in (None, ()) else ", ".join(map(str, default))
                                      if isinstance(default, tuple) else str(default))
        cells = [c.replace("|", "\\|") for c in (name, meta.get("help", ""), shown)]  # a | would end the cell
        rows.append(f"| {cells[0]} | {cells[1]} | {cells[2]} |")
    return "\n".join(rows)
