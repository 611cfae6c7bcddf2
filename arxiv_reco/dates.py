"""Days as a reader types them: ``2026-06-01``, ``today``, ``yesterday``, ``7d`` (seven days ago).

Every date option of the command line and the config files goes through :func:`day`, so a date
that is not one (``2026/06/01``, ``2026-13-45``) is refused in one line naming the forms, instead
of being compared as text and blamed on a weekend.
"""

from __future__ import annotations

import argparse
import re
from datetime import date, timedelta

FORMS = "YYYY-MM-DD, today, yesterday or Nd (N days ago, e.g. 7d)"
_AGO = re.compile(r"(\d{1,5})\s*d(ays?)?")


def day(text: str, today: date | None = None) -> str:
    """The ISO day ``text`` names, or a ValueError naming the forms a day may take.

    >>> day("7d", today=date(2026, 12, 7))
    '2026-11-30'
    """
    t = str(text).strip().lower()
    now = today or date.today()
    if t == "today":
        return now.isoformat()
    if t == "yesterday":
        return (now - timedelta(days=1)).isoformat()
    ago = _AGO.fullmatch(t)
    if ago:
        return (now - timedelta(days=int(ago.group(1)))).isoformat()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", t):
        try:
            return date.fromisoformat(t).isoformat()
        except ValueError:
            raise ValueError(f"{text!r} is not a day of the calendar; give {FORMS}") from None
    raise ValueError(f"{text!r} is not a date; give {FORMS}")


def days_before(day_: str, days: int) -> str:
    """The ISO day ``days`` before ``day_`` (every window's start is computed here).

    >>> days_before("2026-12-07", 3)
    '2026-12-04'
    """
    return (date.fromisoformat(str(day_)[:10]) - timedelta(days=days)).isoformat()


def day_arg(text: str) -> str:
    """:func:`day` for argparse's ``type=``: a bad date is the usage error of its flag.

    >>> parser.add_argument("--since", type=day_arg)
    """
    try:
        return day(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
