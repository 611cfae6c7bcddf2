"""A one-sentence TL;DR per delivered paper, written by Gemini (``daily --tldr``), as
zotero-arxiv-daily's readers have: what the paper does and finds, in words a researcher skims.

    tldrs = summarize(entries, settings, cache="index.tldr.json", cap=30)   # {paper id: sentence}

Each paper is summarised once: the sentences are kept per paper id beside the index (a version
of the paper is the same paper), so a paper delivered to two readers or on two days costs one
call. At most ``cap`` new sentences a day; off without a key; ``--dry-run`` prints what the day's
would cost and calls nothing. The model is the labelling model (``ARXIV_RECO_GEMINI_MODEL``), with
thinking off where the model allows, and a JSON answer of one field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..artifacts import write_json
from ..config import Settings
from ..labels.gemini import make_client
from ..labels.labeling import LabelConfig
from ..labels.prices import cost
from ..labels.request import thinking_budget
from ..papers.corpus import base_id, clean
from .digest_options import TLDR_CAP as CAP

MAX_WORDS = 30
MARK = "TL;DR request"  # the first line of every prompt (the loopback fake answers it)
PROMPT = (f"{MARK}\nIn one plain sentence of at most {MAX_WORDS} words, say what this paper does and what it finds, "
          "for a researcher deciding whether to read it. No hype, no 'this paper'. Answer as JSON: "
          '{{"tldr": "..."}}\n\nTitle: {title}\n\nAbstract: {abstract}')
SCHEMA = {"type": "object", "properties": {"tldr": {"type": "string"}}, "required": ["tldr"]}


@dataclass
class TldrReport:
    """What a day's summaries did: written now, found in the cache, left for tomorrow (the cap), their cost."""

    written: int = 0
    cached: int = 0
    capped: int = 0
    failed: int = 0
    cost_usd: float | None = 0.0

    def __str__(self) -> str:
        money = f"${self.cost_usd:.4f}" if self.cost_usd is not None else "cost unknown for this model"
        parts = [f"TL;DR: {self.written} written ({money}), {self.cached} from the cache"]
        if self.capped:
            parts.append(f"{self.capped} over today's cap (--tldr-cap)")
        if self.failed:
            parts.append(f"{self.failed} not written (Gemini failed; the digest goes without them)")
        return ", ".join(parts)


def tldr_path(index_dir: str | Path) -> Path:
    """``<index>.tldr.json`` beside the index: the sentences, per paper id."""
    index_dir = Path(index_dir).expanduser()
    return index_dir.with_name(f"{index_dir.name}.tldr.json")


def read_cache(path: str | Path) -> dict[str, str]:
    """{paper id: sentence} kept so far (empty when there is none, or it is not ours)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def plan(entries: list[dict], cache: dict[str, str], cap: int = CAP) -> tuple[list[dict], int]:
    """(the entries to summarise now, how many wait for tomorrow): those without a sentence, at most ``cap``."""
    todo = [e for e in entries if base_id(e["id"]) not in cache]
    return todo[:cap], max(0, len(todo) - cap)


def estimate(entries: list[dict], model: str, abstracts: dict[str, str] | None = None) -> float | None:
    """USD the calls for ``entries`` would cost at the model's list price (a dry run's figure; about
    4 characters a token)."""
    tokens_in = sum(len(PROMPT) + len(e.get("title", "")) + len((abstracts or {}).get(e["id"]) or e.get("abstract", ""))
                    for e in entries) // 4
    return cost(model, tokens_in, len(entries) * (MAX_WORDS * 2))


def summarize(entries: list[dict], settings: Settings, cache: str | Path, cap: int = CAP,
              abstracts: dict[str, str] | None = None, client=None) -> tuple[dict[str, str], TldrReport]:
    """A sentence for each of ``entries`` (new ones from Gemini, at most ``cap``; the rest from the
    cache), the cache saved after each one (a killed run keeps what it paid for), and the report.
    ``abstracts``: id -> the whole abstract (the entries carry its first sentences).

    >>> tldrs, report = summarize(report.entries, load_settings(), tldr_path("index"))
    """
    from google.genai import types

    kept = read_cache(cache)
    todo, capped = plan(entries, kept, cap)
    report = TldrReport(cached=len(entries) - len(todo) - capped, capped=capped)
    client = client or make_client(settings)
    budget = thinking_budget(LabelConfig(model=settings.gemini_model))  # thinking off where the model allows
    config = types.GenerateContentConfig(temperature=0.0, response_mime_type="application/json",
                                         response_json_schema=SCHEMA,
                                         thinking_config=None if budget is None else types.ThinkingConfig(
                                             thinking_budget=budget))
    spent_in = spent_out = 0
    for e in todo:
        abstract = (abstracts or {}).get(e["id"]) or e.get("abstract", "")
        try:
            response = client.models.generate_content(
                model=settings.gemini_model, contents=PROMPT.format(title=e["title"], abstract=abstract), config=config)
            sentence = clean(str(json.loads(response.text or "{}").get("tldr", ""))).strip()
        except Exception:  # a summary is a nicety: the digest goes out without it
            report.failed += 1
            continue
        if not sentence:
            report.failed += 1
            continue
        kept[base_id(e["id"])] = " ".join(sentence.split()[: MAX_WORDS + 10])
        u = getattr(response, "usage_metadata", None)
        spent_in += getattr(u, "prompt_token_count", 0) or 0
        spent_out += getattr(u, "candidates_token_count", 0) or 0
        report.written += 1
        write_json(cache, kept)
    report.cost_usd = cost(settings.gemini_model, spent_in, spent_out)
    return {e["id"]: kept[base_id(e["id"])] for e in entries if base_id(e["id"]) in kept}, report
