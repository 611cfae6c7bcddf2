"""Label with the Gemini Batch API: half the price of online calls, results within 24 hours.

    summary = label_pairs_batch(pairs, "labels.sqlite")      # submit, wait, collect; a re-run resumes

A batch job outlives the process that submitted it, so everything about it is made to survive:
- the job is written to the label store *before* it is created, under a display name unique to
  that submission; a process killed at any moment (even while the service was accepting the job)
  finds the same job again by that name instead of paying for it twice;
- while it waits, every call (the upload of a large request file, each poll of ``batches.get``,
  the download of the results) is retried with backoff on 429/5xx, dropped connections and
  timeouts, honouring the server's ``RetryInfo``; a transient fault never ends the wait;
- the answers are validated exactly as online ones and land in the same store (labeler
  ``gemini-batch``); pairs the job could not label stay unlabelled for the next run.
"""

from __future__ import annotations

import json
import logging
import os
import random
import tempfile
import time
import uuid

from ..config import load_settings
from .gemini import classify, fatal_message, make_client, retry_delay
from .labeling import (
    LabelConfig,
    LabelingAborted,
    LabelSummary,
    for_pairs,
    label_config,
    pending,
    records,
    requests_for,
    run_record,
)
from .prompts import AnswerError
from .request import enum_name, judge_response, rest_request, sdk_config, usage
from .store import LabelStore

log = logging.getLogger("arxiv_reco")

INLINE_LIMIT_BYTES = 15 << 20  # the Batch API takes up to 20 MB inline; above, upload a JSONL file
TERMINAL = {"JOB_STATE_SUCCEEDED", "JOB_STATE_PARTIALLY_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED",
            "JOB_STATE_EXPIRED"}
MAX_WAIT_SECONDS = 26 * 3600  # the service finishes or expires a job within 24 h; polling stops after this
PENDING = "pending/"  # store name of a job being submitted, until the service names it
_GONE = "JOB_STATE_NOT_FOUND"  # the service no longer knows the job (deleted, or expired long ago)


class BatchError(RuntimeError):
    """A batch call that kept failing; the job stays in the store and a re-run resumes it."""


def label_pairs_batch(pairs, store: str | LabelStore = "labels.sqlite", config: LabelConfig | None = None,
                      settings=None, client=None, poll_seconds: float = 30.0, progress: bool = True,
                      wait: bool = True, max_wait: float = MAX_WAIT_SECONDS, **overrides) -> LabelSummary:
    """Label with the Gemini Batch API: half price, results within 24 h.

    Submits one job for the pairs without a label (or finds the job an earlier run submitted),
    waits for it (``wait=False``: check once and return), and writes its answers to the store.
    Calling it again after any interruption resumes the same job instead of paying twice.

    >>> summary = label_pairs_batch(pairs, "labels.sqlite")
    """
    from tqdm.auto import tqdm

    settings = settings or load_settings()
    cfg = label_config(settings, config, **overrides)
    cfg = for_pairs(cfg, pairs)
    st, todo, summary = pending(pairs, store, cfg.model, cfg.prompt_version)
    st.put_version(cfg.model, cfg.prompt_version, "gemini-batch", cfg.prompt.abstract_tokens)
    t0 = time.monotonic()
    jobs = st.open_batch_jobs(cfg.model, cfg.prompt_version)
    if not todo and not jobs:
        return summary
    client = client or make_client(settings, cfg.timeout)
    run_id = st.start_run({**run_record(cfg), "mode": "batch", "pairs": len(todo)})
    by_id = {p["pair_id"]: p for p in records(pairs)}
    asked = {pid for _, units in jobs for unit in units.values() for pid in unit}
    fresh = [p for p in todo if p["pair_id"] not in asked]  # pairs no open job asks about
    if fresh:
        jobs.append(_register(st, cfg, fresh))
    for name, units in jobs:
        if name.startswith(PENDING):
            name = _submit(client, st, cfg, name, units, by_id, summary)
            if name is None:
                continue
        summary.batch_job = name
        job = _poll(client, cfg, name, poll_seconds, progress, tqdm, wait, t0 + max_wait)
        state = _GONE if job is None else enum_name(job.state)
        st.set_batch_state(name, state)
        if state in ("JOB_STATE_SUCCEEDED", "JOB_STATE_PARTIALLY_SUCCEEDED"):
            _collect(client, st, cfg, job, units, summary, run_id)
            st.set_batch_state(name, "collected")
        elif state in TERMINAL or state == _GONE:
            summary.failed[f"batch_{state.removeprefix('JOB_STATE_').lower()}"] += sum(map(len, units.values()))
    summary.seconds = time.monotonic() - t0
    summary.cost_usd = cfg.cost(summary.input_tokens, summary.output_tokens, batch=True)
    return summary


# ---- calls that must not end a long wait ----------------------------------------------------------
def _retrying(call, what: str, cfg: LabelConfig, deadline: float | None = None, on_retry=None):
    """``call()``, retried with backoff on transient errors: until ``deadline`` (monotonic) when
    given, else up to ``cfg.max_attempts`` times. Errors no retry can fix are raised at once."""
    attempt = 0
    while True:
        attempt += 1
        try:
            return call()
        except Exception as e:  # classified: transient ones are retried, the rest raised
            kind, code = classify(e)
            if kind == "fatal" and code != 404:
                raise LabelingAborted(fatal_message(e, cfg.model)) from None
            out_of_time = time.monotonic() >= deadline if deadline is not None else attempt >= cfg.max_attempts
            if kind != "retry" or out_of_time:
                raise BatchError(f"{what} failed ({_describe(e)}); the job is kept in the label store, "
                                 "so running the same command again resumes it") from e
            delay = retry_delay(e)
            if delay is None:
                delay = random.uniform(0, min(cfg.backoff_max, cfg.backoff_base * 2 ** (attempt - 1)))
            log.info("%s: %s; retrying in %.1fs", what, _describe(e), delay)
            if on_retry is not None:
                on_retry(_describe(e))
            time.sleep(delay)


def _describe(e: BaseException) -> str:
    code = getattr(e, "code", None)
    return f"HTTP {code}" if code else type(e).__name__


def _is_not_found(e: BaseException) -> bool:
    return getattr(e, "code", None) == 404


# ---- submitting, exactly once ---------------------------------------------------------------------
def _register(st: LabelStore, cfg: LabelConfig, todo: list[dict]) -> tuple[str, dict[str, list[str]]]:
    """Record the job in the store before it exists, under a display name unique to it."""
    units = {f"u{i}": [p["pair_id"] for p in unit] for i, unit in enumerate(requests_for(todo, cfg))}
    display = f"arxiv-reco-{cfg.prompt_version}-{len(todo)}pairs-{uuid.uuid4().hex[:12]}"
    st.add_batch_job(PENDING + display, cfg.model, cfg.prompt_version, "SUBMITTING", units)
    return PENDING + display, units


def _find_job(client, display: str, cfg: LabelConfig):
    """The job with this display name, if the service has one (it may have accepted a create
    whose answer never arrived)."""
    def look():
        for job in client.batches.list(config={"page_size": 100}):
            if getattr(job, "display_name", None) == display:
                return job
        return None

    return _retrying(look, "listing batch jobs", cfg)


def _submit(client, st: LabelStore, cfg: LabelConfig, pending: str, ids: dict[str, list[str]], by_id: dict,
            summary: LabelSummary) -> str | None:
    """Create the registered job (or adopt it, if an earlier attempt's create went through);
    returns the job's name, or None when its pairs are no longer at hand to submit."""
    display = pending.removeprefix(PENDING)
    job = _find_job(client, display, cfg)
    if job is None:
        if not all(pid in by_id for unit in ids.values() for pid in unit):
            # registered by a run over other pairs and never created: nothing was billed
            st.set_batch_state(pending, "abandoned")
            return None
        units = {key: [by_id[pid] for pid in unit] for key, unit in ids.items()}
        src = _source(client, cfg, units, display)
        for attempt in range(1, cfg.max_attempts + 1):
            try:
                job = client.batches.create(model=cfg.model, src=src, config={"display_name": display})
                break
            except Exception as e:  # create is not idempotent: after a transient error, look before retrying
                kind, code = classify(e)
                if kind == "fatal":
                    raise LabelingAborted(fatal_message(e, cfg.model)) from None
                if kind != "retry" or attempt == cfg.max_attempts:
                    raise BatchError(f"submitting the batch job failed ({_describe(e)}); nothing was billed twice: "
                                     "running the same command again looks the job up before submitting") from e
                time.sleep(retry_delay(e) or random.uniform(0, min(cfg.backoff_max, cfg.backoff_base * 2 ** (attempt - 1))))
                job = _find_job(client, display, cfg)
                if job is not None:
                    break
        summary.requests += len(ids)
    st.rename_batch_job(pending, job.name, enum_name(job.state))
    return job.name


def _source(client, cfg: LabelConfig, units: dict[str, list[dict]], display: str):
    """Inlined requests, or (above the inline limit) an uploaded JSONL file's name."""
    from google.genai import types

    requests = {key: rest_request(cfg, cfg.prompt.render(unit)) for key, unit in units.items()}
    if sum(len(json.dumps(r)) for r in requests.values()) <= INLINE_LIMIT_BYTES:
        return [types.InlinedRequest(model=cfg.model, contents=cfg.prompt.render(unit), metadata={"key": key},
                                     config=sdk_config(cfg)) for key, unit in units.items()]
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
        for key, req in requests.items():
            f.write(json.dumps({"key": key, "request": req}) + "\n")
    try:
        uploaded = _retrying(lambda: client.files.upload(
            file=f.name, config=types.UploadFileConfig(display_name=display, mime_type="jsonl")),
            "uploading the batch requests", cfg)
    finally:
        os.unlink(f.name)
    return uploaded.name


# ---- waiting ------------------------------------------------------------------------------------------
def _poll(client, cfg: LabelConfig, name: str, poll_seconds: float, progress: bool, tqdm, wait: bool, deadline: float):
    """The job once it ends (or as it is, with ``wait=False``); None if the service lost it."""
    bar = tqdm(desc=f"batch {name}", bar_format="{desc}: {postfix} [{elapsed}]", disable=not progress)

    def get():
        return client.batches.get(name=name)

    def retrying(why: str) -> None:
        bar.set_postfix_str(f"{why}: retrying")

    try:
        while True:
            try:
                job = _retrying(get, f"polling {name}", cfg, deadline=max(deadline, time.monotonic() + 60),
                                on_retry=retrying)
            except BatchError as e:
                if e.__cause__ is not None and _is_not_found(e.__cause__):
                    log.warning("batch job %s is not known to the service any more", name)
                    return None
                raise
            state = enum_name(job.state)
            bar.set_postfix_str(state)
            if state in TERMINAL or not wait:
                return job
            if time.monotonic() >= deadline:
                raise BatchError(f"batch job {name} is still {state} after {(MAX_WAIT_SECONDS / 3600):.0f} h; "
                                 "run the same command again to keep waiting for it")
            time.sleep(poll_seconds)
    finally:
        bar.close()


# ---- collecting -----------------------------------------------------------------------------------------
def _collect(client, st: LabelStore, cfg: LabelConfig, job, units: dict[str, list[str]], summary: LabelSummary,
             run_id: int) -> None:
    """Write a finished job's answers into the store, validated exactly as online answers are."""
    from google.genai import types

    answers: list[tuple[str | None, object, object]] = []  # (key, response or None, error)
    dest = job.dest
    if dest is not None and dest.inlined_responses:
        keys = list(units)
        for i, r in enumerate(dest.inlined_responses):
            key = (r.metadata or {}).get("key") if getattr(r, "metadata", None) else (keys[i] if i < len(keys) else None)
            answers.append((key, r.response, r.error))
    elif dest is not None and dest.file_name:
        raw = _retrying(lambda: client.files.download(file=dest.file_name), "downloading the batch results", cfg)
        for line in raw.decode().splitlines():
            if line.strip():
                item = json.loads(line)
                # the REST JSON (camelCase) validates into the SDK's own type: the same object online calls give
                resp = types.GenerateContentResponse.model_validate(item["response"]) if "response" in item else None
                answers.append((item.get("key"), resp, item.get("error")))
    asked = {pid for ids in units.values() for pid in ids}
    answered = set()
    for key, response, error in answers:
        ids = units.get(key or "", [])
        if not ids:
            continue
        answered.update(ids)
        if error is not None or response is None:
            for pid in ids:
                st.put_failure(pid, cfg.model, cfg.prompt_version, "batch_error", labeler="gemini-batch", run_id=run_id)
                summary.failed["batch_error"] += 1
            continue
        tin, tout = usage(response)
        summary.input_tokens += tin
        summary.output_tokens += tout
        try:
            scores, reasons, failed = judge_response(response, ids)
        except AnswerError as e:
            scores, reasons, failed = {}, {}, dict.fromkeys(ids, e.reason)
        for pid, score in scores.items():
            st.put_label(pid, cfg.model, cfg.prompt_version, score, labeler="gemini-batch", reason=reasons.get(pid),
                         input_tokens=tin // len(ids), output_tokens=tout // len(ids), run_id=run_id)
            summary.labeled += 1
        for pid, why in failed.items():
            st.put_failure(pid, cfg.model, cfg.prompt_version, why, labeler="gemini-batch", run_id=run_id)
            summary.failed[why] += 1
    for pid in asked - answered:  # the job returned nothing for these: a re-run asks again
        st.put_failure(pid, cfg.model, cfg.prompt_version, "batch_no_answer", labeler="gemini-batch", run_id=run_id)
        summary.failed["batch_no_answer"] += 1
