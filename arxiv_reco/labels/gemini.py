"""Label pairs with Gemini online: as fast as the quota allows, without losing or corrupting a label.

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
import contextlib
import random
import time

from ..config import GEMINI_API_URL, Settings, check_endpoint, load_settings
from .labeling import (
    LabelConfig,
    LabelingAborted,
    LabelSummary,
    MissingKeyError,
    for_pairs,
    label_config,
    pending,
    requests_for,
    run_record,
)
from .prompts import AnswerError
from .request import judge_response, sdk_config, usage
from .store import LabelStore

RETRYABLE_STATUS = {408, 429, 500, 502, 503, 504}

FATAL_STATUS = {400, 401, 403, 404}

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


def make_client(settings: Settings | None = None, timeout: float = 60.0):
    """A google-genai client for the configured key, sent only to ``settings.gemini_base_url``
    (the environment's GOOGLE_GEMINI_BASE_URL, checked by load_settings) or Google's endpoint.

    >>> client = make_client(load_settings())
    """
    from google import genai
    from google.genai import types


    settings = settings or load_settings()
    if not settings.has_gemini_key:
        raise MissingKeyError(
            "No Gemini API key. Put GEMINI_API_KEY=... in .env (see .env.example) or export it; on Colab "
            "add GEMINI_API_KEY to the notebook's secrets (key icon). Without a key, label offline with "
            "the teacher model: --labeler teacher.")
    # always an explicit endpoint: the SDK would otherwise read one from wherever the process got it
    base_url = check_endpoint(settings.gemini_base_url or GEMINI_API_URL, "the Gemini endpoint")
    # the key goes to the SDK, which sends it in a header; it never enters our logs or files
    return genai.Client(api_key=settings.gemini_api_key.reveal(),
                        http_options=types.HttpOptions(base_url=base_url, timeout=int(timeout * 1000)))


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


# ---- the run -----------------------------------------------------------------------------------
class _Run:
    """The state of one online labelling run (queue, counters, progress, store)."""

    def __init__(self, client, store: LabelStore, cfg: LabelConfig, summary: LabelSummary, run_id: int, bar):
        self.client, self.store, self.cfg, self.summary, self.run_id, self.bar = client, store, cfg, summary, run_id, bar
        self.limiter = RateLimiter(cfg.rpm, cfg.tpm)
        self.gen_config = sdk_config(cfg)
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
        tin, tout = usage(response)
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

    ``overrides`` set LabelConfig fields. Raises LabelingAborted for errors no retry can fix. Safe
    to interrupt and re-run.

    >>> summary = await alabel_pairs(pairs, "labels.sqlite", concurrency=16, rpm=900)
    """
    from tqdm.auto import tqdm

    settings = settings or load_settings()
    cfg = label_config(settings, config, **overrides)
    cfg = for_pairs(cfg, pairs)
    st, todo, summary = pending(pairs, store, cfg.model, cfg.prompt_version)
    st.put_version(cfg.model, cfg.prompt_version, "gemini", cfg.prompt.abstract_tokens)
    if not todo:
        return summary
    client = client or make_client(settings, cfg.timeout)
    run_id = st.start_run({**run_record(cfg), "mode": "online", "pairs": len(todo)})
    bar = tqdm(total=len(todo), desc=f"labelling with {cfg.model}", unit="pair", disable=not progress)
    run = _Run(client, st, cfg, summary, run_id, bar)
    for unit in requests_for(todo, cfg):
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
    loop = asyncio.new_event_loop()
    task = loop.create_task(coro)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        done = pool.submit(loop.run_until_complete, task)
        try:
            return done.result()
        except KeyboardInterrupt:
            # the kernel's interrupt lands here, not in the thread: stop the run (labels already
            # committed stay; nothing more is asked or paid), then let the interrupt through
            loop.call_soon_threadsafe(task.cancel)
            with contextlib.suppress(asyncio.CancelledError, concurrent.futures.CancelledError):
                done.result()
            raise
        finally:
            loop.close()
