"""Label pairs with Gemini: fast as the quota allows, and without losing or corrupting a label.

    summary = label_pairs(pairs, store="labels.sqlite", model="gemini-2.5-flash")   # script or notebook
    summary = await alabel_pairs(pairs, store="labels.sqlite")                        # notebook, top-level await

What happens to each request:
- a client-side pacer keeps requests/minute and tokens/minute under the configured quota, and
  a bounded number of requests are in flight;
- every request has a timeout (the SDK has none);
- 408/429/5xx, timeouts and connection errors are retried with exponential backoff and jitter,
  honouring the server's ``RetryInfo.retryDelay`` on 429 (the SDK ignores it), up to
  ``max_attempts``;
- a bad key (400/401/403) or an unknown model (404) stops the run at once with one message;
- every answer is validated (JSON, one finite score in [0, 1] per pair); an empty,
  blocked, malformed or out-of-range answer is retried, then recorded as a failure with its
  reason, never as a label; with several pairs per request, a pair missing or repeated in the
  answer is retried on its own;
- each label is committed to the SQLite store as it arrives; a re-run resumes.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import random
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

from .config import DEFAULT_GEMINI_MODEL, Settings, load_settings
from .prompts import SYSTEM_INSTRUCTION, AnswerError, PromptSpec, parse_answer, response_schema
from .store import LabelStore

# USD per 1M tokens (input, output), paid tier, text prompts up to 200k tokens. Batch mode is
# half price. Override with `prices={"model": (input, output)}`; check ai.google.dev/pricing.
PRICES: dict[str, tuple[float, float]] = {
    "gemini-2.5-flash": (0.30, 2.50),
    "gemini-2.5-flash-lite": (0.10, 0.40),
    "gemini-2.5-pro": (1.25, 10.00),
    "gemini-2.0-flash": (0.10, 0.40),
    "gemini-2.0-flash-lite": (0.075, 0.30),
}
BATCH_DISCOUNT = 0.5
RETRYABLE_STATUS = {408, 429, 500, 502, 503, 504}
FATAL_STATUS = {400, 401, 403, 404}
BLOCKED_FINISH = {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY"}


class LabelingAborted(RuntimeError):
    """An error no retry can fix (bad key, unknown model): the run stops before wasting quota."""


class MissingKeyError(RuntimeError):
    """No Gemini API key configured."""


@dataclass
class LabelConfig:
    """How to call Gemini. Defaults suit the free tier's flash models; raise rpm/tpm to your tier."""

    model: str = DEFAULT_GEMINI_MODEL
    concurrency: int = 8  # requests in flight
    rpm: float | None = None  # requests per minute the client allows itself (None: no pacing)
    tpm: float | None = None  # tokens per minute (input + output, estimated before, corrected after)
    timeout: float = 60.0  # seconds per request
    max_attempts: int = 6  # per request, retries included
    pairs_per_request: int = 1  # several pairs share the instruction tokens (up to ~20)
    thinking_budget: int | None = 0  # 0 turns thinking off where the model allows; None: the model's default
    backoff_base: float = 1.0  # seconds; doubles per attempt, with full jitter
    backoff_max: float = 60.0
    prompt: PromptSpec = field(default_factory=PromptSpec)
    prices: Mapping[str, tuple[float, float]] | None = None

    def __post_init__(self):
        if not 1 <= self.pairs_per_request <= 50:
            raise ValueError("pairs_per_request must be between 1 and 50 (about 20 is the sweet spot)")
        if self.concurrency < 1 or self.max_attempts < 1 or self.timeout <= 0:
            raise ValueError("concurrency and max_attempts must be >= 1 and timeout > 0")

    @property
    def prompt_version(self) -> str:
        return self.prompt.version

    def price(self, batch: bool = False) -> tuple[float, float] | None:
        table = {**PRICES, **(self.prices or {})}
        name = self.model.removeprefix("models/")
        prefixes = sorted((k for k in table if name.startswith(k + "-")), key=len, reverse=True)  # most specific
        p = table.get(name) or (table[prefixes[0]] if prefixes else None)
        if p is None:
            return None
        f = BATCH_DISCOUNT if batch else 1.0
        return p[0] * f, p[1] * f

    def cost(self, input_tokens: int, output_tokens: int, batch: bool = False) -> float | None:
        p = self.price(batch)
        return None if p is None else (input_tokens * p[0] + output_tokens * p[1]) / 1e6


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


# ---- pacing ------------------------------------------------------------------------------------
class RateLimiter:
    """Client-side requests/minute and tokens/minute pacing (GCRA: evenly spaced slots).

    Slots are reserved without awaiting, so concurrent tasks get distinct ones; a server's
    retryDelay pauses everyone, not just the task that was told.
    """

    def __init__(self, rpm: float | None, tpm: float | None):
        self.rpm, self.tpm = rpm, tpm
        self._next_request = 0.0
        self._next_tokens = 0.0
        self._paused_until = 0.0

    async def acquire(self, tokens: int) -> None:
        now = time.monotonic()
        start = max(now, self._next_request, self._paused_until)
        if self.tpm:
            # token slots may run up to one request ahead, so one large request is not stalled
            start = max(start, self._next_tokens - tokens * 60.0 / self.tpm)
            self._next_tokens = max(self._next_tokens, start) + tokens * 60.0 / self.tpm
        if self.rpm:
            self._next_request = start + 60.0 / self.rpm
        if start > now:
            await asyncio.sleep(start - now)

    def correct(self, estimated: int, actual: int) -> None:
        """Charge the real token count once the answer says it."""
        if self.tpm and actual:
            self._next_tokens += (actual - estimated) * 60.0 / self.tpm

    def pause(self, seconds: float) -> None:
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)


# ---- one request -----------------------------------------------------------------------------
def _thinking_budget(cfg: LabelConfig) -> int | None:
    """The budget to send, or None to leave the model's default (2.5 Pro cannot turn thinking off:
    its minimum budget is 128; models before 2.5 have no budget)."""
    if cfg.thinking_budget is None or "2.5" not in cfg.model:
        return None
    if "pro" in cfg.model and cfg.thinking_budget == 0:
        return None
    return cfg.thinking_budget


def _generate_config(cfg: LabelConfig):
    from google.genai import types

    budget = _thinking_budget(cfg)
    thinking = types.ThinkingConfig(thinking_budget=budget) if budget is not None else None
    return types.GenerateContentConfig(
        system_instruction=SYSTEM_INSTRUCTION,
        temperature=cfg.prompt.temperature,
        response_mime_type="application/json",
        response_json_schema=response_schema(cfg.prompt.with_reason),
        thinking_config=thinking,
    )


def judge_response(response, pair_ids: Sequence[str]) -> tuple[dict[str, float], dict[str, str], dict[str, str]]:
    """A GenerateContentResponse -> (scores, reasons, per-pair failures); AnswerError when the
    whole answer is unusable (blocked, empty, not JSON). Shared by online and batch mode."""
    feedback = getattr(response, "prompt_feedback", None)
    if feedback is not None and getattr(feedback, "block_reason", None):
        raise AnswerError("blocked", f"prompt blocked: {_enum_name(feedback.block_reason)}")
    candidates = getattr(response, "candidates", None) or []
    if not candidates:
        raise AnswerError("no_candidate")
    finish = _enum_name(getattr(candidates[0], "finish_reason", None))
    if finish in BLOCKED_FINISH:
        raise AnswerError("blocked", f"finish reason {finish}")
    content = getattr(candidates[0], "content", None)
    parts = getattr(content, "parts", None) or []
    text = "".join(p.text for p in parts if getattr(p, "text", None) and not getattr(p, "thought", False))
    if finish == "MAX_TOKENS" and text:
        raise AnswerError("truncated", "the answer hit the output token limit")
    return parse_answer(text, pair_ids)


def _enum_name(value) -> str:
    if value is None:
        return ""
    return str(getattr(value, "name", value)).split(".")[-1]


def _usage(response) -> tuple[int, int]:
    u = getattr(response, "usage_metadata", None)
    if u is None:
        return 0, 0
    out = (getattr(u, "candidates_token_count", 0) or 0) + (getattr(u, "thoughts_token_count", 0) or 0)
    return getattr(u, "prompt_token_count", 0) or 0, out


def retry_delay(error) -> float | None:
    """The server's RetryInfo.retryDelay ("17s", "1.5s") from an APIError, if any."""
    details = getattr(error, "details", None)
    if isinstance(details, dict):
        details = details.get("error", details).get("details")
    for d in details or []:
        if isinstance(d, dict) and str(d.get("@type", "")).endswith("RetryInfo"):
            delay = str(d.get("retryDelay", "")).strip()
            try:
                return float(delay.rstrip("s")) if delay else None
            except ValueError:
                return None
    return None


def classify(error: BaseException) -> tuple[str, int | None]:
    """('fatal'|'retry'|'fail', http status) for an exception raised by a request."""
    from google.genai import errors

    if isinstance(error, errors.APIError):
        code = int(error.code or 0)
        if code in FATAL_STATUS:
            return "fatal", code
        return ("retry" if code in RETRYABLE_STATUS else "fail"), code
    if isinstance(error, asyncio.TimeoutError | TimeoutError | ConnectionError):
        return "retry", None
    # The SDK's transport (httpx or httpx2) raises its own timeout/connection errors
    name = type(error).__name__
    module = type(error).__module__.split(".")[0]
    if module in ("httpx", "httpx2", "httpcore", "httpcore2", "aiohttp") or "Timeout" in name:
        return "retry", None
    return "fail", None


def fatal_message(error, model: str) -> str:
    """One actionable sentence for errors no retry fixes."""
    code = getattr(error, "code", None)
    msg = getattr(error, "message", None) or str(error)
    if code == 404:
        return (f"Gemini model {model!r} was not found (404: {msg}). Check the model name "
                "(e.g. gemini-2.5-flash, gemini-2.5-flash-lite) in --model or ARXIV_RECO_GEMINI_MODEL.")
    if code in (401, 403) or (code == 400 and "key" in msg.lower()):
        return (f"Gemini rejected the API key ({code}: {msg}). Create a key at "
                "https://aistudio.google.com/apikey and set GEMINI_API_KEY in .env (or Colab secrets).")
    return f"Gemini refused the request ({code}: {msg}); retrying cannot fix this."


# ---- the run -----------------------------------------------------------------------------------
def make_client(settings: Settings | None = None, timeout: float = 60.0):
    """A google-genai client for the configured key; honours GOOGLE_GEMINI_BASE_URL."""
    from google import genai
    from google.genai import types

    settings = settings or load_settings()
    if not settings.has_gemini_key:
        raise MissingKeyError(
            "No Gemini API key. Put GEMINI_API_KEY=... in .env (see .env.example) or export it; on Colab "
            "add GEMINI_API_KEY to the notebook's secrets (key icon). Without a key, label offline with "
            "the teacher model: --labeler teacher.")
    # the key goes to the SDK, which sends it in a header; it never enters our logs or files
    return genai.Client(api_key=settings.gemini_api_key.reveal(),
                        http_options=types.HttpOptions(timeout=int(timeout * 1000)))


def _units(todo: list[dict], k: int) -> list[list[dict]]:
    return [todo[i : i + k] for i in range(0, len(todo), k)]


def _records(pairs) -> list[dict]:
    if hasattr(pairs, "to_dict"):
        missing = {"pair_id", "title_a", "abstract_a", "title_b", "abstract_b"} - set(pairs.columns)
        if missing:
            raise ValueError(f"pairs lack column(s) {sorted(missing)}; expected pairs.csv from `arxiv-reco pairs`")
        pairs = pairs.to_dict("records")
    seen, out = set(), []
    for p in pairs:
        if p["pair_id"] not in seen:  # a pair asked twice would be paid twice
            seen.add(p["pair_id"])
            out.append(p)
    return out


def plan_labeling(pairs, store: str | LabelStore | None = None, config: LabelConfig | None = None) -> dict:
    """The dry run: what a run would send and cost, without calling the API.

    >>> plan = plan_labeling(pairs, "labels.sqlite"); print(plan["first_prompt"])
    """
    cfg = config or LabelConfig()
    if store is not None:
        _, todo, summary = _todo(pairs, store, cfg.model, cfg.prompt_version)
        total = summary.pairs
    else:
        todo = _records(pairs)
        total = len(todo)
    units = _units(todo, cfg.pairs_per_request)
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


class _Run:
    """The state of one online labelling run (queue, counters, progress, store)."""

    def __init__(self, client, store: LabelStore, cfg: LabelConfig, summary: LabelSummary, run_id: int, bar):
        self.client, self.store, self.cfg, self.summary, self.run_id, self.bar = client, store, cfg, summary, run_id, bar
        self.limiter = RateLimiter(cfg.rpm, cfg.tpm)
        self.gen_config = _generate_config(cfg)
        self.queue: asyncio.Queue[tuple[list[dict], int]] = asyncio.Queue()
        self.retrying = 0
        self.t0 = time.monotonic()

    async def worker(self) -> None:
        while True:
            unit, attempt = await self.queue.get()
            try:
                await self.handle(unit, attempt)
            finally:
                self.queue.task_done()

    async def handle(self, unit: list[dict], attempt: int) -> None:
        cfg, s = self.cfg, self.summary
        ids = [p["pair_id"] for p in unit]
        est_in, est_out = cfg.prompt.estimate_tokens(unit)
        await self.limiter.acquire(est_in + est_out)
        s.requests += 1
        t = time.monotonic()
        try:
            response = await asyncio.wait_for(
                self.client.aio.models.generate_content(model=cfg.model, contents=cfg.prompt.render(unit),
                                                        config=self.gen_config),
                timeout=cfg.timeout + 5)  # the SDK's own timeout first; this one if it hangs anyway
        except asyncio.CancelledError:
            raise
        except Exception as e:  # classified below: nothing is swallowed
            kind, code = classify(e)
            if kind == "fatal":
                raise LabelingAborted(fatal_message(e, cfg.model)) from None
            reason = f"http_{code}" if code else type(e).__name__
            delay = retry_delay(e)
            if code == 429 and delay is not None:
                self.limiter.pause(delay)  # everyone waits: the quota is shared
            await self.retry_or_fail(unit, attempt, reason, retryable=kind == "retry", server_delay=delay)
            return
        latency = time.monotonic() - t
        tin, tout = _usage(response)
        self.limiter.correct(est_in + est_out, tin + tout)
        s.input_tokens += tin
        s.output_tokens += tout
        try:
            scores, reasons, failed = judge_response(response, ids)
        except AnswerError as e:
            await self.retry_or_fail(unit, attempt, e.reason, retryable=True)
            return
        share_in, share_out = tin // len(unit), tout // len(unit)
        for pid, score in scores.items():
            self.store.put_label(pid, cfg.model, cfg.prompt_version, score, labeler="gemini",
                                 reason=reasons.get(pid), attempts=attempt, input_tokens=share_in,
                                 output_tokens=share_out, latency_s=latency, run_id=self.run_id)
            s.labeled += 1
            self.bar.update(1)
        if failed:
            rest = [p for p in unit if p["pair_id"] in failed]
            if len(unit) > 1:
                for p in rest:  # retried on its own, with a fresh count of attempts
                    self.queue.put_nowait(([p], 1))
            else:
                await self.retry_or_fail(rest, attempt, failed[rest[0]["pair_id"]], retryable=True)
        self.refresh()

    async def retry_or_fail(self, unit, attempt, reason, retryable, server_delay=None) -> None:
        cfg, s = self.cfg, self.summary
        if retryable and attempt < cfg.max_attempts:
            s.retries += 1
            delay = server_delay if server_delay is not None else \
                random.uniform(0, min(cfg.backoff_max, cfg.backoff_base * 2 ** (attempt - 1)))
            self.retrying += 1
            self.refresh()
            try:
                await asyncio.sleep(delay)
            finally:
                self.retrying -= 1
            self.queue.put_nowait((unit, attempt + 1))
            return
        for p in unit:
            self.store.put_failure(p["pair_id"], cfg.model, cfg.prompt_version, reason, labeler="gemini",
                                   attempts=attempt, run_id=self.run_id)
            s.failed[reason] += 1
            self.bar.update(1)
        self.refresh()

    def refresh(self) -> None:
        s = self.summary
        s.seconds = time.monotonic() - self.t0
        s.cost_usd = self.cfg.cost(s.input_tokens, s.output_tokens)
        self.bar.set_postfix_str(
            f"ok={s.labeled} failed={sum(s.failed.values())} retrying={self.retrying} "
            f"{s.requests / max(s.seconds, 1e-9):.1f} req/s tokens={s.input_tokens + s.output_tokens:,}"
            + ("" if s.cost_usd is None else f" ${s.cost_usd:.4f}"), refresh=False)


async def alabel_pairs(
    pairs,
    store: str | LabelStore = "labels.sqlite",
    config: LabelConfig | None = None,
    settings: Settings | None = None,
    client=None,
    progress: bool = True,
    **overrides,
) -> LabelSummary:
    """Label every pair of ``pairs`` (DataFrame or records) that the store has no score for.

    ``overrides`` set LabelConfig fields: ``await alabel_pairs(pairs, concurrency=16, rpm=900)``.
    Raises LabelingAborted for errors no retry can fix. Safe to interrupt and re-run.
    """
    from tqdm.auto import tqdm

    settings, cfg = _gemini_config(config, settings, overrides)
    st, todo, summary = _todo(pairs, store, cfg.model, cfg.prompt_version)
    if not todo:
        return summary
    client = client or make_client(settings, cfg.timeout)
    run_id = st.start_run({**_settings_record(cfg), "mode": "online", "pairs": len(todo)})
    bar = tqdm(total=len(todo), desc=f"labelling with {cfg.model}", unit="pair", disable=not progress)
    run = _Run(client, st, cfg, summary, run_id, bar)
    for unit in _units(todo, cfg.pairs_per_request):
        run.queue.put_nowait((unit, 1))
    workers = [asyncio.create_task(run.worker()) for _ in range(cfg.concurrency)]
    joined = asyncio.create_task(run.queue.join())
    try:
        # the first worker to fail (a fatal error) ends the run; otherwise the queue drains
        await asyncio.wait([joined, *workers], return_when=asyncio.FIRST_COMPLETED)
        for w in workers:
            if w.done() and w.exception():
                raise w.exception()
    finally:
        for task in [joined, *workers]:
            task.cancel()
        await asyncio.gather(joined, *workers, return_exceptions=True)
        run.refresh()
        bar.close()
    return summary


def label_pairs(pairs, store: str | LabelStore = "labels.sqlite", config: LabelConfig | None = None,
                settings: Settings | None = None, client=None, progress: bool = True, **overrides) -> LabelSummary:
    """The one sync entry point: works in a script and inside a notebook's running event loop.

    >>> summary = label_pairs(pairs, "labels.sqlite", model="gemini-2.5-flash", rpm=900)
    """
    coro = alabel_pairs(pairs, store, config, settings, client, progress, **overrides)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    # A loop is running (Jupyter): asyncio.run would fail, so the run gets its own loop in a thread.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _gemini_config(config: LabelConfig | None, settings: Settings | None, overrides: dict) -> tuple[Settings, LabelConfig]:
    """Settings and the run's LabelConfig: the model from settings unless config/overrides name one."""
    settings = settings or load_settings()
    if config is None:
        config = LabelConfig(model=overrides.pop("model", None) or settings.gemini_model)
    return settings, _with(config, overrides)


def _todo(pairs, store: str | LabelStore, model: str, version: str) -> tuple[LabelStore, list[dict], LabelSummary]:
    """The store, the pairs it has no score for (model, version), and the run's summary to fill."""
    st = store if isinstance(store, LabelStore) else LabelStore(store)
    rows = _records(pairs)
    done = st.labeled(model, version)
    todo = [p for p in rows if p["pair_id"] not in done]
    return st, todo, LabelSummary(model, version, pairs=len(rows), already_labeled=len(rows) - len(todo))


def _with(cfg: LabelConfig, overrides: dict) -> LabelConfig:
    from dataclasses import replace

    prompt_keys = {"abstract_tokens", "with_reason", "temperature"}
    prompt_over = {k: overrides.pop(k) for k in list(overrides) if k in prompt_keys}
    if prompt_over:
        overrides["prompt"] = replace(cfg.prompt, **prompt_over)
    overrides = {k: v for k, v in overrides.items() if v is not None}
    return replace(cfg, **overrides) if overrides else cfg


def _settings_record(cfg: LabelConfig) -> dict:
    d = asdict(cfg)
    d["prompt_version"] = cfg.prompt_version
    return d


# ---- the offline teacher ----------------------------------------------------------------------------
def teacher_version(teacher_model: str) -> str:
    """The teacher's 'prompt version': its scoring rule and the text recipe it reads."""
    from .data import TEXT_RECIPE

    return f"teacher-clip-cos|{TEXT_RECIPE}"


def label_pairs_teacher(pairs, store: str | LabelStore = "labels.sqlite", teacher_model: str | None = None,
                        settings: Settings | None = None, batch_size: int = 32, max_seq_length: int | None = None,
                        progress: bool = True) -> LabelSummary:
    """Label pairs without an API: a stronger local sentence-transformers model scores each pair.

    score = clip(cosine(teacher(text_a), teacher(text_b)), 0, 1). For all-mpnet-base-v2 this
    sits close to the Gemini rubric's scale: unrelated arXiv papers land near 0.0-0.15, same
    field ~0.3-0.4, closely related work 0.6 and up. Each paper is encoded once, so tens of
    thousands of pairs cost little more than the papers they contain. Labels go to the same
    store and CSV as Gemini's, with labeler "teacher".

    >>> label_pairs_teacher(pairs, "labels.sqlite", "sentence-transformers/all-mpnet-base-v2")
    """
    from .data import paper_text
    from .models import load_model

    settings = settings or load_settings()
    name = teacher_model or settings.teacher_model
    st, todo, summary = _todo(pairs, store, name, teacher_version(name))
    summary.cost_usd = None  # no API, no bill
    if not todo:
        return summary
    t0 = time.monotonic()
    model = load_model(name, max_seq_length=max_seq_length)
    texts: dict[str, str] = {}
    for p in todo:
        texts.setdefault(p.get("id_a") or p["title_a"], paper_text(p["title_a"], p["abstract_a"]))
        texts.setdefault(p.get("id_b") or p["title_b"], paper_text(p["title_b"], p["abstract_b"]))
    keys = list(texts)
    emb = model.encode([texts[k] for k in keys], batch_size=batch_size, normalize_embeddings=True,
                       convert_to_numpy=True, show_progress_bar=progress)
    where = {k: i for i, k in enumerate(keys)}
    run_id = st.start_run({"mode": "teacher", "teacher_model": name, "source": getattr(model, "arxiv_reco_source", ""),
                           "pairs": len(todo)})
    for p in todo:
        a, b = where[p.get("id_a") or p["title_a"]], where[p.get("id_b") or p["title_b"]]
        score = float(min(1.0, max(0.0, float(emb[a] @ emb[b]))))
        st.put_label(p["pair_id"], name, summary.prompt_version, score, labeler="teacher", run_id=run_id)
        summary.labeled += 1
    summary.seconds = time.monotonic() - t0
    return summary
