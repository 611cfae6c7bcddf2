"""A person's own judgment of a few pairs: the gold set a labeller's scores are audited against.

    todo = pairs_to_rate(pairs, n=40)                  # stratified over TF-IDF cosine, seeded
    rater = Rater(todo, "my_ratings.csv"); rater.widget  # buttons in JupyterLab or Colab
    rate_in_terminal(todo, "my_ratings.csv")           # the same at a prompt (`arxiv-reco rate`)
    ratings = read_ratings("my_ratings.csv")           # pair_id, rating, rated_at

Which pairs: a labeller is trusted on the whole scale only if it is checked on the whole scale,
and most sampled pairs are unrelated; so the pairs are drawn evenly from bands of their TF-IDF
cosine (a cheap score every machine has), seeded. Every answer is saved at once, atomically: a
restarted kernel or a closed terminal resumes at the next unrated pair. The rated pairs are kept
out of training (``export_labels(gold=...)``): they are the person's, to measure labels against.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from ..artifacts import replace_file
from ..config import RATINGS_CSV
from ..vectors.embed import tfidf_matrix
from .prompts import ANCHORS

RATING_COLUMNS = ["pair_id", "rating", "rated_at"]
BANDS = 5  # equal-width bands of TF-IDF cosine, drawn from evenly


def pairs_to_rate(pairs: pd.DataFrame, n: int = 40, seed: int = 0) -> pd.DataFrame:
    """``n`` pairs drawn evenly from BANDS equal-width bands of their TF-IDF cosine, from the least
    to the most similar pair (a band short of pairs leaves its share to the others), in a seeded
    random order; a ``tfidf`` column says each pair's cosine.

    >>> todo = pairs_to_rate(read_pairs("pairs.csv"), n=40)
    """
    from ..pairs.sampling import pair_texts

    if not len(pairs):
        raise ValueError("no pairs to rate: sample some first (arxiv-reco pairs)")
    text_a, text_b = pair_texts(pairs)
    texts = list(dict.fromkeys(list(text_a) + list(text_b)))
    row = {t: i for i, t in enumerate(texts)}
    x = tfidf_matrix(texts)
    a, b = x[[row[t] for t in text_a]], x[[row[t] for t in text_b]]
    cos = np.asarray(a.multiply(b).sum(axis=1)).ravel()
    # equal-width bands from the least to the most similar pair: the rare close pairs get their share
    edges = np.linspace(cos.min(), cos.max(), BANDS + 1)[1:-1]
    band = np.digitize(cos, edges)
    rng = np.random.default_rng(seed)
    by_band = [rng.permutation(np.flatnonzero(band == k)).tolist() for k in range(BANDS)]
    chosen: list[int] = []
    while len(chosen) < min(n, len(pairs)):  # round robin over the bands: evenly, as far as each goes
        for rows in by_band:
            if rows and len(chosen) < n:
                chosen.append(rows.pop())
    out = pairs.iloc[rng.permutation(chosen)].reset_index(drop=True)
    return out.assign(tfidf=_cos_of(out, pairs, cos))


def _cos_of(chosen: pd.DataFrame, pairs: pd.DataFrame, cos: np.ndarray) -> np.ndarray:
    where = dict(zip(pairs["pair_id"], cos))
    return np.round([where[p] for p in chosen["pair_id"]], 3)


def read_ratings(path: str | os.PathLike) -> pd.DataFrame:
    """The ratings saved so far (none: an empty table).

    >>> read_ratings("my_ratings.csv")["rating"].describe()
    """
    path = Path(path)
    if not path.exists():
        return pd.DataFrame(columns=RATING_COLUMNS)
    try:
        df = pd.read_csv(path, dtype={"pair_id": str})
    except (ValueError, UnicodeDecodeError) as e:
        raise ValueError(f"{path} is not a ratings file (CSV with {', '.join(RATING_COLUMNS)}): {e}") from None
    missing = [c for c in RATING_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{path} is not a ratings file: it lacks {missing}; give --out a file of its own")
    bad = ~df["rating"].between(0, 1)
    if bad.any():
        raise ValueError(f"{path}: ratings must be between 0 and 1; line(s) {list(df.index[bad] + 2)[:5]} are not")
    return df[RATING_COLUMNS]


def save_rating(path: str | os.PathLike, pair_id: str, rating: float) -> pd.DataFrame:
    """Add (or replace) one pair's rating, the file replaced atomically; returns every rating.

    >>> save_rating("my_ratings.csv", "2401.01234|2402.05678", 0.7)
    """
    if not 0 <= float(rating) <= 1:
        raise ValueError(f"a rating is between 0 and 1, not {rating}")
    df = read_ratings(path)
    df = pd.concat([df[df["pair_id"] != pair_id],
                    pd.DataFrame([{"pair_id": pair_id, "rating": float(rating),
                                   "rated_at": time.strftime("%Y-%m-%dT%H:%M:%S")}])], ignore_index=True)
    with replace_file(path) as tmp:
        df.to_csv(tmp, index=False)
    return df


def _side(pair, side: str, papers: pd.DataFrame | None) -> dict:
    pid = str(pair[f"id_{side}"])
    cats = ""
    if papers is not None:
        hit = papers.loc[papers["id"].astype(str) == pid, "categories"]
        if len(hit):
            c = hit.iloc[0]
            cats = " ".join(c) if not isinstance(c, str) else c
    return {"id": pid, "title": str(pair[f"title_{side}"]), "abstract": str(pair[f"abstract_{side}"]),
            "categories": cats}


class Rater:
    """Rating pairs in a notebook (ipywidgets: JupyterLab and Colab): a pair's titles and
    categories, its abstracts folded, and the rubric's anchors as buttons with their meanings.
    A click saves the rating and shows the next pair; "Skip" leaves a pair unrated.

    >>> rater = Rater(pairs_to_rate(pairs, n=40), "my_ratings.csv", papers); rater.widget
    """

    def __init__(self, todo: pd.DataFrame, out: str | os.PathLike = RATINGS_CSV, papers: pd.DataFrame | None = None):
        try:
            import ipywidgets as w
        except ImportError:
            raise ImportError("the rater needs ipywidgets (Colab has it): pip install 'arxiv-reco[notebooks]', or "
                              "rate in a terminal: arxiv-reco rate") from None

        self.out, self.papers = Path(out), papers
        done = set(read_ratings(self.out)["pair_id"])
        self.todo = todo[~todo["pair_id"].isin(done)].reset_index(drop=True)
        self.total, self.position, self.skipped = len(todo), 0, 0
        self.rated = len(todo) - len(self.todo)
        self.buttons = [w.Button(description=label, tooltip=meaning, layout=w.Layout(width="auto"))
                        for label, _, meaning in ANCHORS]
        for button, (_, value, _) in zip(self.buttons, ANCHORS):
            button.on_click(lambda _b, v=value: self.rate(v))
        self.skip = w.Button(description="Skip", button_style="warning")
        self.skip.on_click(lambda _b: self.next(skipped=True))
        legend = "<br>".join(f"<b>{label}</b>: {meaning}" for label, _, meaning in ANCHORS)
        self.status = w.HTML()
        self.pair = w.VBox()
        self.widget = w.VBox([self.status, self.pair, w.HBox(self.buttons + [self.skip]),
                              w.HTML(f"<small>{legend}</small>")])
        self._show()

    @property
    def current(self) -> pd.Series | None:
        return self.todo.iloc[self.position] if self.position < len(self.todo) else None

    def rate(self, value: float) -> None:
        """Save ``value`` for the pair shown, then show the next."""
        pair = self.current
        if pair is None:
            return
        save_rating(self.out, str(pair["pair_id"]), value)
        self.rated += 1
        self.next()

    def next(self, skipped: bool = False) -> None:
        self.skipped += int(skipped)
        self.position += 1
        self._show()

    def _show(self) -> None:
        import html

        import ipywidgets as w

        pair = self.current
        if pair is None:
            self.status.value = (f"<b>Done</b>: {self.rated} of {self.total} pairs rated, in {html.escape(str(self.out))}"
                                 + (f" ({self.skipped} skipped)" if self.skipped else ""))
            self.pair.children = ()
            for b in [*self.buttons, self.skip]:
                b.disabled = True
            return
        self.status.value = f"Pair {self.rated + self.skipped + 1} of {self.total}: how related is the second paper?"
        sides = []
        for side in ("a", "b"):
            p = _side(pair, side, self.papers)
            head = w.HTML(f"<b>{html.escape(p['title'])}</b> <small>arXiv:{html.escape(p['id'])} "
                          f"{html.escape(p['categories'])}</small>")
            fold = w.Accordion(children=[w.HTML(f"<p>{html.escape(p['abstract'])}</p>")], selected_index=None)
            fold.set_title(0, "Abstract")
            sides.append(w.VBox([head, fold]))
        self.pair.children = tuple(sides)

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


def rate_in_terminal(todo: pd.DataFrame, out: str | os.PathLike = RATINGS_CSV, papers: pd.DataFrame | None = None,
                     ask: Callable[[str], str] = input, say: Callable[[str], None] = print) -> pd.DataFrame:
    """Rate pairs at a prompt: the anchor's number (or its value), s to skip, q to quit (what was
    rated is kept). Returns every rating saved.

    >>> rate_in_terminal(pairs_to_rate(pairs, n=40), "my_ratings.csv")
    """
    import textwrap

    done = set(read_ratings(out)["pair_id"])
    left = todo[~todo["pair_id"].isin(done)].reset_index(drop=True)
    say(f"{len(todo) - len(left)} of {len(todo)} pairs rated already; {len(left)} to go. "
        "For each pair: how related is the second paper, for someone working on the first?")
    say("\n".join(f"  {i}  {label:>7}  {meaning}" for i, (label, _, meaning) in enumerate(ANCHORS)))
    say("  s  skip this pair    q  quit (what is rated is kept)")
    for n, pair in left.iterrows():
        say(f"\n--- pair {len(todo) - len(left) + n + 1} of {len(todo)} ---")
        for side in ("a", "b"):
            p = _side(pair, side, papers)
            say(f"[{side.upper()}] {p['title']}  (arXiv:{p['id']} {p['categories']})".rstrip())
            say(textwrap.fill(p["abstract"][:600] + ("…" if len(p["abstract"]) > 600 else ""), 100,
                              initial_indent="    ", subsequent_indent="    "))
        while True:
            try:
                answer = ask("rating (0-6, s, q)> ").strip().lower()
            except EOFError:
                answer = "q"
            if answer == "q":
                say(f"stopped; {len(read_ratings(out))} ratings kept in {out}")
                return read_ratings(out)
            if answer == "s":
                break
            value = _anchor_value(answer)
            if value is None:
                say(f"  '{answer}' is not one of 0-{len(ANCHORS) - 1}, s or q")
                continue
            save_rating(out, str(pair["pair_id"]), value)
            break
    said = read_ratings(out)
    say(f"done: {len(said)} ratings in {out}")
    return said


def _anchor_value(answer: str) -> float | None:
    if answer.isdigit() and int(answer) < len(ANCHORS):
        return ANCHORS[int(answer)][1]
    try:
        value = float(answer)
    except ValueError:
        return None
    return value if 0 <= value <= 1 and "." in answer else None
