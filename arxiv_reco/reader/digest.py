"""A digest: the index's recent papers ranked for a reader's interests, only those above the
reader's bar, and why each one.

    lib = load_library("my.bib")
    feed(index, lib.liked, lib.disliked, since="2026-11-20", k=20)            # words, people and meaning
    feed(index, lib.liked, since="2026-11-20", method="mean")                 # the mean of the liked vectors
    digest(index, profiles, DigestOptions(since="2026-11-20", k=10, author=("Vaswani, Ashish",)))

Each interest (a library, a sentence, or both) ranks on its own (:mod:`.rank`): ``"svm"``, one
linear SVM over the papers' words, people and meaning (arxiv-sanity-lite's method on more than
its words), or ``"mean"``, the cosine to the mean of the liked vectors. Neither ever returns a
library paper (nor another version of one). A sentence alone ranks by its cosine.

Only papers above the reader's bar are shown, ``k`` at most: the bar lies on a 0-100 scale
calibrated on the library itself (0: a typical paper of the index; 100: as close as the reader's
own papers are to the rest of the library, each held out in turn), and an interest with nothing
above it says so. Every paper says why: the distinctive words it shares with the library, the
people, the closest library paper.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from ..dates import days_before
from .digest_options import BAR, METHODS, DigestOptions, K
from .rank import (
    RANKER,
    Features,
    Interest,
    Ranker,
    fit_interest,
    mean_interest,
    shared_people,
    shared_words,
)

DEFAULT_METHOD = "svm"
DIGEST_DAYS = 7
NO_WORDS = ("note: this index keeps no word counts (built before 0.3): ranking by meaning alone; `arxiv-reco index` "
            "on the same folder counts them once")


def default_since(index, days: int = DIGEST_DAYS) -> str | None:
    """``days`` before the index's newest paper: a digest of its last week by default."""
    newest = index.newest_date()
    return days_before(newest, days) if newest else None


def features_of(index, ranker: Ranker = RANKER) -> Features:
    """The feature rows an index ranks with: its words and people when it keeps them, else its
    embeddings alone (an index from before 0.3; `arxiv-reco index` on the same folder adds them).

    >>> features_of(index).ranker.describe()
    """
    if index.words is None:
        ranker = Ranker(words=0, people=0, meaning=ranker.meaning or 1.0, c=ranker.c,
                        max_negatives=ranker.max_negatives, seed=ranker.seed)
    return Features(index, index.words, ranker)


def interest_of(features: Features, pos: Sequence[int], neg: Sequence[int] = (), sentence: str | None = None,
                method: str = DEFAULT_METHOD) -> Interest:
    """One interest's ranking, fitted and calibrated: the SVM over the features (the sentence one
    more positive beside a library), the mean of the liked vectors, or a sentence alone by its cosine.

    >>> interest_of(features_of(index), index.rows(lib.liked), sentence="dark matter halos")
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    index = features.index
    query = index.embed_text(sentence)[None, :] if sentence else None
    # a sentence alone: its cosine (bench/feed.py, cold start: nDCG@20 0.270 against the SVM's 0.244 with one
    # positive); beside a library, the sentence is one more positive for the SVM (+0.019 over the library)
    if method == "mean" or not len(pos) or len(index) <= len(pos) + len(neg) + 1:
        return mean_interest(features, pos, neg, extra=query)
    extra = features.text_rows([sentence], query) if sentence else None
    return fit_interest(features, pos, neg, extra)


def feed(index, liked: Sequence[str], disliked: Sequence[str] = (), since: str | None = None,
         until: str | None = None, k: int = K, method: str = DEFAULT_METHOD, categories=None, bar: float = BAR,
         ranker: Ranker = RANKER, abstracts=None) -> pd.DataFrame:
    """The papers of ``index`` dated ``since``..``until`` that fit the library, best first, at most
    ``k`` and only those scoring ``bar`` or more (0-100; 0 keeps the best ``k`` whatever they score);
    the columns of :meth:`PaperIndex.recommend` (``score`` on the 0-100 scale) and ``because``. Never
    a liked or disliked paper. Library ids missing from the index are ignored (add them first:
    update.add_papers_by_id).

    >>> feed(index, lib.liked, lib.disliked, since="2026-11-20", k=20)
    """
    known = [p for p in liked if index.contains(p)]
    if not known:
        raise ValueError("none of the library's liked papers is in this index; add them "
                         "(arxiv-reco feed fetches them unless --no-fetch) or like a few papers")
    bad = [p for p in disliked if index.contains(p)]
    pos, neg = index.rows(known, "liked"), (index.rows(bad, "disliked") if bad else [])
    keep = index.mask(categories, since, until)
    keep = np.ones(len(index), dtype=bool) if keep is None else keep.copy()
    keep[list(index.same_papers(pos + neg))] = False
    cand = np.flatnonzero(keep)
    interest = interest_of(features_of(index, ranker), pos, neg, method=method)
    picked, _ = _best(interest, cand, index.check_k(k), bar)
    frame = index.frame([(r, m) for r, m, _ in picked])
    return frame.assign(because=[because(interest, r, None, abstracts) for r, _, _ in picked])


# ---- the digest: several interests, followed authors, word filters, why each paper ----------------
def digest(index, profiles: Sequence, options: DigestOptions | None = None, *, until: str | None = None,
           categories=None, abstracts=None, skip: Iterable[str] = (), ranker: Ranker = RANKER) -> pd.DataFrame:
    """The papers of ``index`` dated ``options.since``..``until`` for each profile (its own ranking,
    at most ``options.k`` above ``options.bar``), and every paper by a followed author; each paper
    once (in the first profile that ranks it), never a paper of any library, never one of ``skip``
    (delivered before; any version). ``options.include``/``exclude``: words a title or abstract
    must (not) contain; ``abstracts``: ids -> {id: abstract} (update.abstract_lookup). Columns:
    those of :func:`feed` (``score`` 0-100), then ``profile``, ``because`` (a list: {"words"},
    {"people"}, {"id", "title", "cosine"}, {"interest", "cosine"}, {"author"}), ``followed`` (the
    author followed, or "") and ``near_miss`` (True for the best paper below the bar of an interest
    with nothing above it, when ``options.near_miss``). ``frame.attrs``: "quiet", the interests with
    nothing above their bar; "window", how many new papers were ranked.

    >>> digest(index, profiles_of(options), options)
    """
    o = options or DigestOptions()
    keep = index.mask(categories, o.since, until)
    keep = np.ones(len(index), dtype=bool) if keep is None else keep.copy()
    rated = [p for prof in profiles for p in prof.liked + prof.disliked_ids if index.contains(p)]
    gone = [s for s in skip if index.contains(s)]
    keep[list(index.same_papers(index.rows(rated + gone)))] = False
    cand = np.flatnonzero(keep)
    window = cand  # a followed author's paper comes whatever the word filters say: every one was asked for
    text = _texts(index, cand, abstracts) if (o.include or o.exclude) else None
    if o.include:
        cand = cand[[_has_any(text[r], o.include) for r in cand]]
    if o.exclude:
        cand = cand[[not _has_any(text[r], o.exclude) for r in cand]]
    features = features_of(index, ranker)
    picked: list[dict] = []
    taken: set[int] = set()
    quiet: list[str] = []
    for prof in profiles:
        pos = index.rows([p for p in prof.liked if index.contains(p)]) if prof.liked else []
        neg = index.rows([p for p in prof.disliked_ids if index.contains(p)]) if prof.disliked_ids else []
        if not pos and not prof.interest:
            raise ValueError(f"profile {prof.name!r}: none of the library's liked papers is in this index, and it has "
                             "no interest sentence; add them (feed and daily fetch them unless --no-fetch), like a few "
                             "papers, or give --interest")
        rows = np.array([r for r in cand if r not in taken], dtype=np.int64)
        if not len(rows):
            continue
        interest = interest_of(features, pos, neg, prof.interest, o.method)
        best, near = _best(interest, rows, o.k, o.bar)
        if not best:
            quiet.append(prof.name)
            best = [near] if (o.near_miss and near) else []
        for r, match, miss in best:
            taken.add(r)
            picked.append({"row": r, "score": match, "profile": prof.name, "near_miss": miss,
                           "because": because(interest, r, prof.interest, abstracts)})
    followed = {r: who for r in window for who in o.author if _wrote(str(index.meta["authors"].iloc[r]), who)}
    for entry in picked:
        entry["followed"] = followed.get(entry["row"], "")
    for r, who in followed.items():
        if r not in taken:
            picked.append({"row": r, "score": float("nan"), "profile": "followed authors", "followed": who,
                           "because": [{"author": who}], "near_miss": False})
    frame = index.frame([(e["row"], e["score"]) for e in picked])
    frame = frame.assign(profile=[e["profile"] for e in picked], because=[e["because"] for e in picked],
                         followed=[e["followed"] for e in picked], near_miss=[e["near_miss"] for e in picked])
    frame.attrs["quiet"], frame.attrs["window"] = quiet, int(len(window))
    return frame


def _best(interest: Interest, rows: np.ndarray, k: int, bar: float) -> tuple[list, tuple | None]:
    """The ``k`` best rows at or above the bar as (row, score 0-100, near miss), and the best row
    below it (the near miss, or None)."""
    if not len(rows):
        return [], None
    match = interest.match(interest.scores(rows))
    order = np.argsort(-match, kind="stable")
    above = [i for i in order[:k] if match[i] >= bar]
    below = next((i for i in order if match[i] < bar), None)
    near = (int(rows[below]), round(float(match[below]), 1), True) if below is not None else None
    return [(int(rows[i]), round(float(match[i]), 1), False) for i in above], near


# ---- why a paper was chosen ------------------------------------------------------------------------------
def because(interest: Interest, row: int, sentence: str | None = None, abstracts=None) -> list[dict]:
    """Why a paper ranks for an interest: the distinctive words it shares with the library that
    lifted it most, the library's people among its authors, the closest library paper (cosine), and
    a sentence's cosine.

    >>> because_text(because(interest, 17))
    'because it shares "graph neural", "molecules" and Ada Lovelace with your library; closest to ...'
    """
    index = interest.features.index
    v = np.asarray(index.embeddings[row], dtype=np.float32)
    out: list[dict] = []
    paper_id = str(index.meta["id"].iloc[row])
    abstract = (abstracts([paper_id]) if abstracts is not None else {}).get(paper_id, "")
    words = shared_words(interest, row, str(index.meta["title"].iloc[row]), abstract)
    if words:
        out.append({"words": words})
    people = shared_people(interest, row)
    if people:
        out.append({"people": people})
    pos = list(interest.pos)
    if pos:
        cos = np.asarray(index.embeddings[np.sort(pos)], dtype=np.float32) @ v
        best = int(np.argmax(cos))
        meta = index.meta.iloc[int(np.sort(pos)[best])]
        out.append({"id": str(meta["id"]), "title": str(meta["title"]), "cosine": round(float(cos[best]), 3)})
    if sentence:
        out.append({"interest": sentence, "cosine": round(float(index.embed_text(sentence) @ v), 3)})
    return out


def because_text(because: list[dict]) -> str:
    """A because list in one line, as the email, the feed and the page show it.

    >>> because_text([{"words": ["graph neural", "molecules"]}, {"id": "2401.01234", "title": "GNNs", "cosine": 0.71}])
    'because it shares "graph neural" and "molecules" with your library; closest to "GNNs" (arXiv:2401.01234, cosine 0.71)'
    """
    parts = [f"you follow {b['author']}" for b in because if "author" in b]
    shared = [f'"{w}"' for b in because if "words" in b for w in b["words"]]
    shared += [p for b in because if "people" in b for p in b["people"]]
    if shared:
        parts.append(f"it shares {_and(shared)} with your library")
    liked = [f"\"{b['title']}\" (arXiv:{b['id']}, cosine {b['cosine']:.2f})" for b in because if "id" in b]
    if liked:
        parts.append(("closest to " if shared else "you liked ") + " and ".join(liked))
    parts += [f"it matches \"{b['interest']}\" (cosine {b['cosine']:.2f})" for b in because if "interest" in b]
    return ("because " + "; ".join(parts)) if parts else ""


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _texts(index, rows: np.ndarray, abstracts) -> dict[int, str]:
    """Title and abstract of each row, lower-cased, for the word filters."""
    ids = index.meta["id"].iloc[rows].astype(str).tolist()
    found = abstracts(ids) if abstracts is not None else {}
    return {int(r): f"{index.meta['title'].iloc[r]} {found.get(i, '')}".lower() for r, i in zip(rows, ids)}


def _has_any(text: str, words: Sequence[str]) -> bool:
    return any(re.search(rf"(?<!\w){re.escape(w.lower())}(?!\w)", text) for w in words)


def _fold(s: str) -> str:
    return unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode().lower().strip()


def _wrote(authors: str, who: str) -> bool:
    """Whether ``who`` ("Surname, Given" or "Given Surname") is among ``authors`` (as arXiv lists
    them: "Given Surname, ..."): the surname in full, the given name's initial, accents ignored."""
    surname, _, given = who.partition(",") if "," in who else (who.rsplit(" ", 1)[-1], "", who.rsplit(" ", 1)[0])
    surname, initial = _fold(surname), _fold(given)[:1]
    for name in re.split(r",\s*|\s+and\s+", authors):
        words = _fold(name).replace(".", " ").split()
        if words and words[-1] == surname and (not initial or words[0][:1] == initial):
            return True
    return False
