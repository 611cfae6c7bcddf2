"""One Gemini request, built in one place: what a run asks besides the prompt (in a neutral form
the SDK's config and the REST body both come from), and how an answer is read back (validated
the same way online and in batch).

    config = sdk_config(cfg)                          # online, and inlined batch requests
    body = rest_request(cfg, cfg.prompt.render(unit)) # the Batch API's JSONL file
    scores, reasons, failures = judge_response(response, pair_ids)
"""

from __future__ import annotations

from collections.abc import Sequence

from .labeling import LabelConfig
from .prompts import SYSTEM_INSTRUCTION, AnswerError, parse_answer, response_schema

BLOCKED_FINISH = {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY"}


# ---- one request -----------------------------------------------------------------------------
def thinking_budget(cfg: LabelConfig) -> int | None:
    """The budget to send, or None to leave the model's default (2.5 Pro cannot turn thinking off:
    its minimum budget is 128; models before 2.5 have no budget)."""
    if cfg.thinking_budget is None or "2.5" not in cfg.model:
        return None
    if "pro" in cfg.model and cfg.thinking_budget == 0:
        return None
    return cfg.thinking_budget


def generation(cfg: LabelConfig) -> dict:
    """What every request of a run asks besides its prompt, in neutral form: the instruction, the
    temperature, the answer's JSON schema and the thinking budget (None: the model's default)."""
    return {"system": SYSTEM_INSTRUCTION, "temperature": cfg.prompt.temperature,
            "schema": response_schema(cfg.prompt.with_reason), "thinking_budget": thinking_budget(cfg)}


def sdk_config(cfg: LabelConfig):
    """The run's ``GenerateContentConfig`` for the SDK (online calls, inlined batch requests).

    >>> client.models.generate_content(model=cfg.model, contents=prompt, config=sdk_config(cfg))
    """
    from google.genai import types

    g = generation(cfg)
    thinking = types.ThinkingConfig(thinking_budget=g["thinking_budget"]) if g["thinking_budget"] is not None else None
    return types.GenerateContentConfig(system_instruction=g["system"], temperature=g["temperature"],
                                       response_mime_type="application/json", response_json_schema=g["schema"],
                                       thinking_config=thinking)


def rest_request(cfg: LabelConfig, prompt: str) -> dict:
    """One GenerateContentRequest as the REST API spells it (the Batch API's JSONL file mode).

    >>> rest_request(cfg, cfg.prompt.render(unit))["generationConfig"]["responseMimeType"]
    'application/json'
    """
    g = generation(cfg)
    gen = {"temperature": g["temperature"], "responseMimeType": "application/json", "responseJsonSchema": g["schema"]}
    if g["thinking_budget"] is not None:
        gen["thinkingConfig"] = {"thinkingBudget": g["thinking_budget"]}
    return {"contents": [{"role": "user", "parts": [{"text": prompt}]}],
            "systemInstruction": {"parts": [{"text": g["system"]}]}, "generationConfig": gen}


def judge_response(response, pair_ids: Sequence[str]) -> tuple[dict[str, float], dict[str, str], dict[str, str]]:
    """A GenerateContentResponse -> (scores, reasons, per-pair failures); AnswerError when the
    whole answer is unusable (blocked, empty, not JSON). Shared by online and batch mode."""
    feedback = getattr(response, "prompt_feedback", None)
    if feedback is not None and getattr(feedback, "block_reason", None):
        raise AnswerError("blocked", f"prompt blocked: {enum_name(feedback.block_reason)}")
    candidates = getattr(response, "candidates", None) or []
    if not candidates:
        raise AnswerError("no_candidate")
    finish = enum_name(getattr(candidates[0], "finish_reason", None))
    if finish in BLOCKED_FINISH:
        raise AnswerError("blocked", f"finish reason {finish}")
    content = getattr(candidates[0], "content", None)
    parts = getattr(content, "parts", None) or []
    text = "".join(p.text for p in parts if getattr(p, "text", None) and not getattr(p, "thought", False))
    if finish == "MAX_TOKENS" and text:
        raise AnswerError("truncated", "the answer hit the output token limit")
    return parse_answer(text, pair_ids)


def enum_name(value) -> str:
    if value is None:
        return ""
    return str(getattr(value, "name", value)).split(".")[-1]


def usage(response) -> tuple[int, int]:
    u = getattr(response, "usage_metadata", None)
    if u is None:
        return 0, 0
    out = (getattr(u, "candidates_token_count", 0) or 0) + (getattr(u, "thoughts_token_count", 0) or 0)
    return getattr(u, "prompt_token_count", 0) or 0, out


