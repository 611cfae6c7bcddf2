"""A labelling run, whoever labels: its settings, the pairs still to label, the plan, the summary,
and the export that joins the label store with the pairs.

    config = label_config(settings, concurrency=16, rpm=900)      # Gemini's model from .env
    print(format_plan(plan_labeling(pairs, "labels.sqlite", config)))   # the dry run: prompt, cost
    labels = export_labels("labels.sqlite", pairs, "my_labeled_training_data.csv")

Who labels: :mod:`arxiv_reco.labels.gemini` (online, async), :mod:`arxiv_reco.labels.batch` (the Batch API,
half price) and :mod:`arxiv_reco.labels.teacher` (a local model, no API); all write the same store.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from ..artifacts import replace_file
from ..config import Settings, load_settings
from ..options import KEEP, but, option, validate
from .prices import cost, price
from .prompts import SYSTEM_INSTRUCTION, PromptSpec, check_pair_id
from .store import LabelStore

LABEL_COLUMNS = ["pair_id", "id_a", "id_b", "text_a", "text_b", "score", "split", "labeler", "model", "prompt_version",
                 "anchor", "reads"]


class LabelingAborted(RuntimeError):
    """An error no retry can fix (bad key, unknown model): the run stops before wasting quota."""


class MissingKeyError(RuntimeError):
    """No Gemini API key configured."""


LABELERS = ("auto", "gemini", "teacher")  # who labels; auto: Gemini with a key, else the offline teacher


def choose_labeler(labeler: str, settings: Settings) -> str:
    """Who labels, decided in one place: "auto" means Gemini when a key is configured, else the
    offline teacher.

    >>> choose_labeler("auto", settings)
    'teacher'
    """
    if labeler not in LABELERS:
        raise ValueError(f"labeler must be {', '.join(LABELERS)}, not {labeler!r}")
    if labeler != "auto":
        return labeler
    return "gemini" if settings.has_gemini_key else "teacher"


@dataclass(frozen=True)
class LabelConfig:
    """How to call Gemini. Defaults suit the free tier's flash models; raise rpm/tpm to your tier.

    >>> LabelConfig(concurrency=16, rpm=900).concurrency
    16
    """

    model: str | None = option(None, "the Gemini model", words="$ARXIV_RECO_GEMINI_MODEL, else gemini-2.5-flash")
    concurrency: int = option(8, "requests in flight", minimum=1)
    rpm: float | None = option(None, "requests per minute to stay under (your tier's quota)", minimum=1e-6,
                               words="no client-side pacing")
    tpm: float | None = option(None, "tokens per minute to stay under (input + output, estimated before, corrected "
                                     "after)", minimum=1e-6, words="none")
    timeout: float = option(60.0, "seconds per request", minimum=1e-3)
    max_attempts: int = option(6, "tries per request, retries included", minimum=1, cli=False)
    pairs_per_request: int = option(1, "pairs sharing one request's instruction tokens (about 20 is the sweet spot)",
                                    minimum=1, maximum=50, metavar="N",
                                    words="1; anchored pairs go one anchor per request")
    thinking_budget: int | None = option(0, "0 turns thinking off where the model allows; None: the model's default",
                                         minimum=0, cli=False)
    backoff_base: float = option(1.0, "seconds before the first retry; doubles per attempt, with full jitter",
                                 minimum=0, cli=False)
    backoff_max: float = option(60.0, "the longest wait between retries", minimum=0, cli=False)
    prompt: PromptSpec = option(PromptSpec(), "the prompt's layout and rubric", cli=False, file=False)
    prices: Mapping[str, tuple[float, float]] | None = option(None, "USD per 1M input/output tokens by model",
                                                              cli=False, file=False)

    def __post_init__(self):
        validate(self)

    @property
    def prompt_version(self) -> str:
        return self.prompt.version

    def price(self, batch: bool = False) -> tuple[float, float] | None:
        return price(self._model(), batch, self.prices)

    def cost(self, input_tokens: int, output_tokens: int, batch: bool = False) -> float | None:
        return cost(self._model(), input_tokens, output_tokens, batch, self.prices)

    def _model(self) -> str:
        if not self.model:
            raise ValueError("this LabelConfig names no model yet: make it with label_config(settings, config), "
                             "which takes the model from the settings")
        return self.model


@dataclass
class LabelSummary:
    """What a labelling run did; printed at the end of every run."""

    model: str
    prompt_version: str
    pairs: int = 0  # pairs asked for
    already_labeled: int = 0  # skipped: labelled by an earlier run
    labeled: int = 0  # labelled by this run
    failed: Counter = field(default_factory=Counter)  # failure reason -> pairs
    requests: int = 0
    retries: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = 0.0
    seconds: float = 0.0
    batch_job: str | None = None

    @property
    def remaining(self) -> int:
        return self.pairs - self.already_labeled - self.labeled

    def __str__(self) -> str:
        cost = "n/a (no price for this model)" if self.cost_usd is None else f"${self.cost_usd:.4f}"
        fails = ", ".join(f"{k} {v}" for k, v in self.failed.most_common()) or "none"
        rate = self.requests / self.seconds if self.seconds else 0.0
        return (
            f"{self.model} / prompt {self.prompt_version}: {self.labeled:,} labelled now, "
            f"{self.already_labeled:,} already in the store, {self.remaining:,} without a label "
            f"(failures: {fails}); {self.requests:,} requests ({self.retries:,} retries, {rate:.1f}/s) "
            f"in {self.seconds:.1f}s; {self.input_tokens:,} input + {self.output_tokens:,} output tokens, "
            f"cost {cost}"
        )

    def _repr_html_(self) -> str:
        return f"<pre>{self}</pre>"


def label_config(settings: Settings | None = None, config: LabelConfig | None = None, **overrides) -> LabelConfig:
    """The one resolution of a labelling run's configuration, used by the dry run, the online run
    and the batch run alike (so the price a dry run shows is the run's): ``config`` (default:
    LabelConfig()) with ``overrides`` applied as :func:`arxiv_reco.options.but` applies them (checked;
    ``KEEP`` keeps a field, None is a value: ``rpm=None`` is "no pacing"; prompt fields such as
    ``abstract_tokens`` or ``layout`` reach the PromptSpec), the model, when none is named, from
    ``settings`` (.env, the environment).

    >>> config = label_config(settings, concurrency=16, rpm=900)
    """
    cfg = config or LabelConfig()
    prompt_keys = {"abstract_tokens", "with_reason", "temperature", "layout"}
    prompt_over = {k: overrides.pop(k) for k in list(overrides) if k in prompt_keys and overrides[k] is not KEEP}
    if prompt_over:
        overrides["prompt"] = replace(cfg.prompt, **prompt_over)
    cfg = but(cfg, **overrides)
    if not cfg.model:
        cfg = replace(cfg, model=(settings or load_settings()).gemini_model)
    return cfg


def run_record(cfg: LabelConfig) -> dict:
    """A run's settings as the label store keeps them (never a key: the config holds none)."""
    d = asdict(cfg)
    d["prompt_version"] = cfg.prompt_version
    return d


def for_pairs(cfg: LabelConfig, pairs) -> LabelConfig:
    """The config with its prompt layout settled for these pairs: "auto" is the anchored layout
    when every pair names an anchor (``sample_pairs(strategy="anchored")``), else one pair at a time."""
    if cfg.prompt.layout != "auto":
        return cfg
    rows = records(pairs)
    anchored = bool(rows) and all(str(p.get("anchor") or "") for p in rows)
    return replace(cfg, prompt=replace(cfg.prompt, layout="anchored" if anchored else "pairs"))


def requests_for(todo: list[dict], cfg: LabelConfig) -> list[list[dict]]:
    """The pairs of each request: pairs_per_request pairs each, or in the anchored layout one
    anchor with up to max(pairs_per_request, ANCHOR_PARTNERS) of its candidates."""
    k = cfg.pairs_per_request
    if cfg.prompt.layout != "anchored":
        return [todo[i : i + k] for i in range(0, len(todo), k)]
    from ..pairs.sampling import ANCHOR_PARTNERS

    groups: dict[str, list[dict]] = {}
    for p in todo:
        groups.setdefault(str(p.get("anchor") or p["id_a"]), []).append(p)
    size = max(k, ANCHOR_PARTNERS)
    return [g[i : i + size] for g in groups.values() for i in range(0, len(g), size)]


def records(pairs) -> list[dict]:
    """The pairs (a DataFrame or dicts) as dicts, each pair_id checked and each pair once."""
    if hasattr(pairs, "to_dict"):
        missing = {"pair_id", "title_a", "abstract_a", "title_b", "abstract_b"} - set(pairs.columns)
        if missing:
            raise ValueError(f"pairs lack column(s) {sorted(missing)}; expected pairs.csv from `arxiv-reco pairs`")
        pairs = pairs.to_dict("records")

    seen, out = set(), []
    for i, p in enumerate(pairs):
        try:
            check_pair_id(p["pair_id"])
        except ValueError as e:
            raise ValueError(f"pair {i + 1} (pairs.csv line {i + 2}): {e}") from None
        if p["pair_id"] not in seen:  # a pair asked twice would be paid twice
            seen.add(p["pair_id"])
            out.append(p)
    return out


def pending(pairs, store: str | LabelStore, model: str, version: str) -> tuple[LabelStore, list[dict], LabelSummary]:
    """The store, the pairs it has no score for (model, version), and the run's summary to fill.

    >>> store, todo, summary = pending(pairs, "labels.sqlite", "gemini-2.5-flash", config.prompt_version)
    """
    st = store if isinstance(store, LabelStore) else LabelStore(store)
    rows = records(pairs)
    done = st.labeled(model, version)
    todo = [p for p in rows if p["pair_id"] not in done]
    return st, todo, LabelSummary(model, version, pairs=len(rows), already_labeled=len(rows) - len(todo))


def plan_labeling(pairs, store: str | LabelStore | None = None, config: LabelConfig | None = None,
                  settings: Settings | None = None) -> dict:
    """The dry run: what a run would send and cost, without calling the API (the model from
    ``settings`` unless ``config`` names one, as the run itself resolves it).

    >>> plan = plan_labeling(pairs, "labels.sqlite"); print(plan["first_prompt"])
    """
    cfg = for_pairs(label_config(settings, config), pairs)
    if store is not None:
        _, todo, summary = pending(pairs, store, cfg.model, cfg.prompt_version)
        total = summary.pairs
    else:
        todo = records(pairs)
        total = len(todo)
    units = requests_for(todo, cfg)
    tokens_in = tokens_out = 0
    for u in units:
        i, o = cfg.prompt.estimate_tokens(u)
        tokens_in, tokens_out = tokens_in + i, tokens_out + o
    return {
        "model": cfg.model, "prompt_version": cfg.prompt_version, "pairs": total, "to_label": len(todo),
        "requests": len(units), "input_tokens": tokens_in, "output_tokens": tokens_out,
        "cost_usd": cfg.cost(tokens_in, tokens_out), "batch_cost_usd": cfg.cost(tokens_in, tokens_out, batch=True),
        "first_prompt": cfg.prompt.render(units[0]) if units else "",
        "system_instruction": SYSTEM_INSTRUCTION,
    }


def format_plan(plan: dict) -> str:
    """A labelling plan as the dry run prints it: the first prompt, the pairs to label, the cost.

    >>> print(format_plan(plan_labeling(pairs, "labels.sqlite", config)))
    """
    def usd(x):
        return "n/a" if x is None else f"${x:,.4f}"

    per_1000 = (plan["cost_usd"] / plan["to_label"] * 1000) if plan["to_label"] and plan["cost_usd"] is not None else None
    return (
        f"dry run: {plan['to_label']:,} of {plan['pairs']:,} pairs to label with {plan['model']} "
        f"(prompt {plan['prompt_version']}) in {plan['requests']:,} requests\n"
        f"estimated tokens: {plan['input_tokens']:,} input + {plan['output_tokens']:,} output; "
        f"cost {usd(plan['cost_usd'])} online ({usd(per_1000)} per 1,000 pairs), "
        f"{usd(plan['batch_cost_usd'])} in batch mode\n"
        f"--- system instruction ---\n{plan['system_instruction']}\n"
        f"--- first prompt ---\n{plan['first_prompt']}"
    )


# ---- my_labeled_training_data.csv ------------------------------------------------------------------
def export_labels(store: str | os.PathLike | LabelStore, pairs, out: str | os.PathLike, model: str | None = None,
                  prompt_version: str | None = None, gold: str | os.PathLike | Iterable[str] | None = None):
    """Write my_labeled_training_data.csv (replaced atomically): every pair of ``pairs`` that has a
    score in the store, with the texts every model reads, less the pairs of ``gold`` (a person's
    ratings file, or pair ids: what labels are audited against never trains). With several (model,
    prompt_version) in the store, name the one to export: labels of different prompts are never
    mixed silently.

    >>> labels = export_labels("labels.sqlite", pairs, "my_labeled_training_data.csv", gold="my_ratings.csv")
    """
    import pandas as pd

    from ..pairs.sampling import pair_texts

    st = store if isinstance(store, LabelStore) else LabelStore(store)
    scores = st.scores(model, prompt_version)
    df = pairs.merge(scores, on="pair_id", how="inner")
    if gold is not None:
        from .rating import read_ratings

        held = set(read_ratings(gold)["pair_id"]) if isinstance(gold, str | os.PathLike) else set(gold)
        df = df[~df["pair_id"].isin(held)]
    if "anchor" not in df.columns:  # pairs from before anchored sampling
        df["anchor"] = ""
    df["text_a"], df["text_b"] = pair_texts(df)
    # how much of each paper the labeller read, as the store recorded it for the version
    reads = {(m, v): (st.version_info(m, v) or (None, None))[1] for m, v in set(zip(df["model"], df["prompt_version"]))}
    df["reads"] = pd.array([reads[(m, v)] for m, v in zip(df["model"], df["prompt_version"])], dtype="Int64")
    df = df[LABEL_COLUMNS]
    with replace_file(out) as tmp:
        df.to_csv(tmp, index=False)
    return df


def read_labels(path: str | os.PathLike, required: Iterable[str] = ("text_a", "text_b", "score")):
    """my_labeled_training_data.csv, checked: the columns exist and scores are finite in [0, 1].

    >>> labels = read_labels("my_labeled_training_data.csv")
    """
    import pandas as pd

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No labels at {path}; run the labelling notebook or `arxiv-reco label` first")
    try:
        df = pd.read_csv(path, dtype={"pair_id": str, "id_a": str, "id_b": str, "anchor": str},
                         keep_default_na=False, na_values=[""], encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"{path} is not UTF-8 text (byte {e.start}: {e.reason}); save the labels CSV as UTF-8, "
                         "as `arxiv-reco label` writes it") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        raise ValueError(f"{path} is not a labels CSV ({e})") from None
    if "anchor" in df.columns:
        df["anchor"] = df["anchor"].fillna("")
    return validate_labels(df, required, str(path))


def validate_labels(df, required: Iterable[str] = ("text_a", "text_b", "score"), source: str = "labels"):
    """The one check of a labels table, before any model is loaded: the columns exist, scores are
    finite in [0, 1], no text is empty, no pair_id repeats, and no paper sits in two splits (a
    test paper trained on inflates every test figure). Each refusal names the CSV lines.

    >>> validate_labels(pd.read_csv("my_labeled_training_data.csv"))
    """
    import numpy as np
    import pandas as pd

    missing = [c for c in required if c not in df.columns]
    if missing:
        raise ValueError(
            f"{source} lacks column(s) {missing} (has {list(df.columns)}); expected the CSV written by "
            f"`arxiv-reco label` with columns {', '.join(LABEL_COLUMNS)}")
    df = df.reset_index(drop=True)

    def refuse(bad, what: str) -> None:
        bad = np.asarray(bad, dtype=bool)
        if bad.any():
            rows = (np.flatnonzero(bad)[:5] + 2).tolist()  # +2: header line, 1-based
            raise ValueError(f"{source}: {int(bad.sum())} row(s) {what} (CSV lines {rows}); fix or drop those rows")

    scores = pd.to_numeric(df["score"], errors="coerce")
    refuse(~np.isfinite(scores) | (scores < 0) | (scores > 1), "have a score missing, not a number or outside [0, 1]")
    for col in ("text_a", "text_b"):
        if col in df.columns:
            refuse(df[col].isna() | (df[col].astype(str).str.strip() == ""), f"have an empty {col}")
    if "pair_id" in df.columns:
        refuse(df["pair_id"].duplicated(keep=False), "repeat a pair_id (one pair, one label)")
    if {"split", "id_a", "id_b"} <= set(df.columns):
        sides = pd.concat([df[["id_a", "split"]].set_axis(["id", "split"], axis=1),
                           df[["id_b", "split"]].set_axis(["id", "split"], axis=1)])
        splits = sides.groupby("id")["split"].nunique()
        shared = set(splits[splits > 1].index)
        if shared:
            example = sorted(shared)[:3]
            refuse(df["id_a"].isin(shared) | df["id_b"].isin(shared),
                   f"hold a paper that is in more than one split ({len(shared)} papers, e.g. {', '.join(example)}); "
                   "the split is by paper so that no test paper is trained on")
    return df.assign(score=scores.astype(float))
